package io.larder;

import io.larder.LarderException.Kind;
import io.larder.internal.ChunkVerifyingInputStream;
import io.larder.internal.Hasher;
import io.larder.internal.WriteBehindQueue;
import io.larder.spi.Chunks;
import io.larder.spi.Index;
import io.larder.spi.RemoteTier;
import io.larder.spi.RemoteTier.RemoteEntry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The local store in front of a shared remote tier (a decorator of {@link LocalStore}): a read by key that
 * misses locally is answered from the tier (verified, and kept locally); every put is written through to the
 * tier (acknowledged once it is there) or behind it (queued on disk, uploaded in the background). If the tier
 * cannot be reached, local content is still served and its misses are misses. Counts what the tier did.
 */
final class TieredStore implements Store {
  /** Remote content up to this size is fetched into memory, served from there and kept locally in the background. */
  private static final int SERVE_FROM_MEMORY = 8 * 1024 * 1024;

  /**
   * Content up to this size is held in memory by a write-through put, so that it is acknowledged once
   * uploaded and written locally in the background (measured in BENCHMARKS.md); larger content is stored
   * locally, then read back for the upload.
   */
  private static final int BOTH_TIERS_AT_ONCE = 8 * 1024 * 1024;

  /** How long a remote entry is reused for range reads: what another node re-puts shows after this at most. */
  private static final Duration RANGE_ENTRY_TTL = Duration.ofSeconds(10);

  private final LocalStore local;
  private final RemoteTier tier;
  private final WriteBehindQueue queue; // null unless writing behind (or an earlier process's queue is left)

  // what the tier did (see TierStats)
  private final LongAdder localHits = new LongAdder();
  private final LongAdder remoteHits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder remoteErrors = new LongAdder();
  private final LongAdder remoteCorrupt = new LongAdder();
  private final LongAdder tierWrites = new LongAdder();

  /** Uploads of queued keys and removals of keys from the tier: one at a time per key. */
  private final Object[] keyLocks = new Object[64];

  /** Local copies of the tier's content, written in the background. */
  private final LocalCopies copies;

  /** Remote entries kept for further range reads of their keys (one request less per range). */
  private final ConcurrentHashMap<String, RangeEntry> rangeEntries = new ConcurrentHashMap<>();

  private record RangeEntry(RemoteEntry entry, Instant fetched) {}

  /**
   * The local store in front of {@code tier}, writing as {@code tierOptions} say. Keys an earlier process
   * queued and did not upload are uploaded now (also when writing through now).
   */
  TieredStore(LocalStore local, RemoteTier tier, TierOptions tierOptions) {
    this.local = local;
    this.tier = tier;
    this.copies = new LocalCopies(local);
    for (int i = 0; i < keyLocks.length; i++) {
      keyLocks[i] = new Object();
    }
    Path q = queueDirectory(local.root());
    this.queue = tierOptions.writeBehind() || Files.isDirectory(q)
        ? new WriteBehindQueue(q, tierOptions.writeBehind() ? tierOptions.queueLimit() : 0,
            local.options().durability() == Durability.POWER_SAFE, this::uploadQueued)
        : null;
  }

  /** Where the write-behind queue of the store at {@code root} is (any process's: the collector spares its keys). */
  static Path queueDirectory(Path root) {
    return root.resolve("tier-queue");
  }

  private Object keyLock(String key) {
    return keyLocks[(key.hashCode() & 0x7fffffff) % keyLocks.length];
  }

  // ------------------------------------------------------------------ writes

  @Override
  public Entry put(String key, InputStream in, PutOptions options) {
    copies.await(key); // a local copy of this key under way lands before this put's
    rangeEntries.remove(key);
    if (queue == null && options.size() <= BOTH_TIERS_AT_ONCE) { // write-through (size -1: unknown)
      byte[] buf = LocalStore.readUpTo(in, BOTH_TIERS_AT_ONCE + 1);
      if (buf.length <= BOTH_TIERS_AT_ONCE) {
        return putBothTiers(key, buf, options);
      }
      in = new SequenceInputStream(new ByteArrayInputStream(buf), in);
    }
    Entry e = local.put(key, in, options);
    if (queue != null && queue.offer(key)) {
      return e; // write-behind: uploaded in the background
    }
    try {
      storeInTier(e);
    } catch (LarderException ex) {
      remoteErrors.increment();
      throw new LarderException.StorageFailure(Kind.IO, "'" + key + "' is stored locally but not in "
          + tier.describe() + " (write-through): " + ex.getMessage(), ex);
    }
    return e;
  }

  /**
   * A write-through put of content in memory: checked first (nothing is stored anywhere if it is not what
   * {@code options} expect), uploaded, and acknowledged once the tier has it. The local copy is a cache of
   * the tier's: it is written in the background (as a read that misses keeps its copy), and every read or
   * change of the key on this node waits for it first, so the node reads its own writes. If the local write
   * fails (a full disk), the put stands (the tier has it) and the next read fetches it.
   */
  private Entry putBothTiers(String key, byte[] buf, PutOptions options) {
    Hasher h = new Hasher(local.options().algorithm(), options.integrity(), options.size());
    h.update(buf, 0, buf.length);
    Integrity d = h.finish();
    Entry forTier = local.newEntry(key, d, buf.length, options);
    try {
      tier.store(forTier, () -> new ByteArrayInputStream(buf));
    } catch (LarderException ex) {
      remoteErrors.increment();
      throw new LarderException.StorageFailure(Kind.IO, "'" + key + "' was not stored: writing it to "
          + tier.describe() + " failed (write-through; nothing was stored locally either): " + ex.getMessage(), ex);
    }
    tierWrites.increment();
    copies.keep(key, buf, options.integrity(d).size(buf.length), true);
    return forTier;
  }

  /** The write-behind uploader: sends the key's current local entry, if it still has one. */
  private boolean uploadQueued(String key) {
    synchronized (keyLock(key)) {
      Optional<Entry> e = local.recorded(key);
      if (e.isEmpty() || e.get().isExpired(local.now())) {
        return true; // removed, replaced by nothing, or expired before its upload: nothing to send
      }
      try {
        storeInTier(e.get());
        return true;
      } catch (LarderException ex) {
        if (ex instanceof LarderException.NotFound) {
          return true; // went from the local store meanwhile
        }
        remoteErrors.increment();
        return false;
      }
    }
  }

  /** Stores the local entry {@code e} (and its content, read from the local store) in the tier. */
  private void storeInTier(Entry e) {
    String key = e.key();
    tier.store(e, () -> local.index().get(key, true)
        .filter(h -> h.entry().integrity().equals(e.integrity()))
        .map(local::open)
        .map(Content::stream).orElseThrow(() -> new LarderException.NotFound(
            "'" + key + "' went from the local store before it reached " + tier.describe())));
    tierWrites.increment();
  }

  // ------------------------------------------------------------------ local copies

  /** Stores fetched, verified content in the local store: in the background when a slot is free. */
  private void keepLocally(String key, byte[] bytes, RemoteEntry r, Integrity d) {
    keepOptions(r, d).ifPresent(put -> copies.keep(key, bytes, put, false)); // expired meanwhile: served once, not kept
  }

  /** How to keep a local copy of the tier's entry {@code r}: its digest, size, metadata and what is left of its TTL. */
  private Optional<PutOptions> keepOptions(RemoteEntry r, Integrity d) {
    PutOptions po = PutOptions.defaults().integrity(d).size(r.size()).metadata(r.metadata());
    if (r.expires() == null) {
      return Optional.of(po);
    }
    Duration left = Duration.between(local.now(), r.expires());
    return left.isNegative() || left.isZero() ? Optional.empty() : Optional.of(po.ttl(left));
  }

  // ------------------------------------------------------------------ reads

  /** The unexpired local entry for a read by key, counted as a local hit. */
  private Optional<Index.Hit> localHit(String key) {
    copies.await(key);
    Optional<Index.Hit> hit = local.hit(key);
    if (hit.isPresent()) {
      localHits.increment();
    }
    return hit;
  }

  @Override
  public Optional<Content> get(String key) {
    return LocalStore.unlessVanished(() -> {
      Optional<Index.Hit> hit = localHit(key);
      return hit.isPresent() ? hit.map(local::read) : getFromTier(key);
    });
  }

  /**
   * A whole read by key that missed locally: the tier's entry, then its content into memory (up to
   * {@link #SERVE_FROM_MEMORY}), checked against its size and digest before anything is served; the local
   * copy is written in the background, so the reader does not wait for it. Larger content is fetched into
   * the local store first and read from there.
   */
  private Optional<Content> getFromTier(String key) {
    Optional<RemoteEntry> re = remoteEntry(key, true);
    if (re.isEmpty()) {
      misses.increment();
      return Optional.empty();
    }
    RemoteEntry r = re.get();
    if (r.size() > SERVE_FROM_MEMORY || r.size() < 0) {
      return fetchFromTier(key, r).map(local::open);
    }
    byte[] bytes = r.inline();
    if (bytes == null) {
      try {
        Optional<InputStream> in = tier.open(r.integrity(), 0, Long.MAX_VALUE);
        if (in.isEmpty()) {
          misses.increment(); // an entry whose content is not (yet) there: a miss
          return Optional.empty();
        }
        try (InputStream s = in.get()) {
          bytes = s.readNBytes((int) r.size() + 1);
        }
      } catch (LarderException | IOException e) {
        remoteErrors.increment();
        return Optional.empty();
      }
    }
    Integrity d;
    try {
      Hasher h = new Hasher(local.options().algorithm(), r.integrity(), r.size());
      h.update(bytes, 0, bytes.length);
      d = h.finish();
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment(); // a damaged or truncated object: not served, not kept
      return Optional.empty();
    }
    remoteHits.increment();
    keepLocally(key, bytes, r, d);
    return Optional.of(new Content(entryOf(key, r), r.integrity(), r.size(), 0, r.size(),
        new ByteArrayInputStream(bytes)));
  }

  /**
   * On a local miss: fetches the content of the tier's entry {@code r} into the local store (verified as any
   * put is). Returns the key's local entry now, or empty (counted) if that failed.
   */
  private Optional<Index.Hit> fetchFromTier(String key, RemoteEntry r) {
    try {
      Optional<InputStream> in = r.inline() != null ? Optional.of(new ByteArrayInputStream(r.inline()))
          : tier.open(r.integrity(), 0, Long.MAX_VALUE);
      if (in.isEmpty()) {
        misses.increment(); // an entry whose content is not (yet) there
        return Optional.empty();
      }
      Optional<PutOptions> po = keepOptions(r, r.integrity());
      if (po.isEmpty()) {
        return Optional.empty(); // expired meanwhile
      }
      try (InputStream s = in.get()) {
        local.put(key, s, po.get());
      }
      remoteHits.increment();
      return local.index().get(key, true);
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment(); // a damaged or truncated object: not served, not kept
      return Optional.empty();
    } catch (LarderException | IOException e) {
      remoteErrors.increment();
      return Optional.empty();
    }
  }

  @Override
  public Optional<Content> getRange(String key, long offset, long length) {
    return LocalStore.unlessVanished(() -> {
      Optional<Index.Hit> hit = localHit(key);
      return hit.isPresent() ? hit.map(h -> local.readRange(h, offset, length)) : rangeFromTier(key, offset, length);
    });
  }

  /**
   * A range read that missed locally, answered with ranged GETs of the chunks that hold it (each verified
   * against the chunk digests the tier keeps with the entry) instead of fetching the whole blob; nothing is
   * kept locally. An entry without chunk digests (small content, or written before they were kept) has its
   * whole content fetched into the local store, and the range is read from there.
   */
  private Optional<Content> rangeFromTier(String key, long offset, long length) {
    Instant now = local.now();
    RangeEntry cached = rangeEntries.get(key);
    Optional<RemoteEntry> re;
    if (cached != null && cached.fetched().plus(RANGE_ENTRY_TTL).isAfter(now)
        && (cached.entry().expires() == null || cached.entry().expires().isAfter(now))) {
      re = Optional.of(cached.entry());
    } else {
      re = remoteEntry(key, true);
      re.ifPresent(r -> keepForRanges(key, r));
    }
    if (re.isEmpty()) {
      misses.increment();
      return Optional.empty();
    }
    RemoteEntry r = re.get();
    Chunks chunks = r.chunks();
    if (chunks == null || r.inline() != null || !chunks.fits(r.size())) {
      return fetchFromTier(key, r).map(h -> local.readRange(h, offset, length));
    }
    if (offset < 0 || length < 0 || offset > r.size()) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "range " + offset + "+" + length
          + " is not within the content (" + r.size() + " bytes)");
    }
    long len = Math.min(length, r.size() - offset);
    long start = ChunkVerifyingInputStream.start(chunks, offset);
    long span = ChunkVerifyingInputStream.span(chunks, r.size(), offset, len);
    Optional<InputStream> raw;
    try {
      raw = span == 0 ? Optional.of(InputStream.nullInputStream()) : tier.open(r.integrity(), start, span);
    } catch (LarderException ex) {
      remoteErrors.increment();
      return Optional.empty();
    }
    if (raw.isEmpty()) {
      misses.increment();
      return Optional.empty();
    }
    remoteHits.increment();
    String what = "the content of '" + key + "' (" + r.integrity() + ") from " + tier.describe();
    return Optional.of(new Content(entryOf(key, r), r.integrity(), r.size(), offset, len,
        new ChunkVerifyingInputStream(raw.get(), chunks, r.size(), offset, len, what, remoteCorrupt::increment)));
  }

  /** Keeps a remote entry with chunk digests for range reads of its key in the next seconds. */
  private void keepForRanges(String key, RemoteEntry r) {
    if (r.chunks() != null) {
      if (rangeEntries.size() >= 1024) {
        rangeEntries.clear(); // bounded: forgetting costs one entry request
      }
      rangeEntries.put(key, new RangeEntry(r, local.now()));
    }
  }

  /**
   * The tier's entry for {@code key}, unexpired (with the content kept with it if {@code content}); empty on a
   * miss or when the tier cannot be reached (counted).
   */
  private Optional<RemoteEntry> remoteEntry(String key, boolean content) {
    try {
      Instant now = local.now();
      return tier.lookup(key, content).filter(r -> r.expires() == null || r.expires().isAfter(now));
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment();
      return Optional.empty();
    } catch (LarderException e) {
      remoteErrors.increment();
      return Optional.empty();
    }
  }

  private static Entry entryOf(String key, RemoteEntry r) {
    return new Entry(key, r.integrity(), r.size(), r.created(), r.created(), r.expires(), r.metadata());
  }

  @Override
  public Optional<Content> getByDigest(Integrity d) {
    return afterKeeping(() -> local.getByDigest(d));
  }

  @Override
  public Optional<Content> getRangeByDigest(Integrity d, long offset, long length) {
    return afterKeeping(() -> local.getRangeByDigest(d, offset, length));
  }

  /** A read by digest: again once local copies under way are written, if it missed (a put may have acknowledged it from the tier). */
  private Optional<Content> afterKeeping(java.util.function.Supplier<Optional<Content>> read) {
    Optional<Content> c = read.get();
    if (c.isEmpty() && !copies.isEmpty()) {
      copies.awaitAll();
      c = read.get();
    }
    return c;
  }

  // ------------------------------------------------------------------ index

  @Override
  public java.util.Set<String> touch(java.util.Collection<String> keys) {
    java.util.Set<String> found = new java.util.HashSet<>(local.touch(keys));
    for (String k : keys) {
      if (!found.contains(k) && info(k).isPresent()) { // the tier keeps what it holds by its own rules
        found.add(k);
      }
    }
    return found;
  }

  @Override
  public Optional<Entry> info(String key) {
    copies.await(key);
    Optional<Entry> found = local.info(key);
    if (found.isPresent()) {
      return found;
    }
    // the tier's entry (one small request), without fetching the content; kept for a range read that
    // usually follows (the server answers a Range request with info, then getRange)
    Optional<RemoteEntry> r = remoteEntry(key, false);
    r.ifPresent(e -> keepForRanges(key, e));
    return r.map(e -> entryOf(key, e));
  }

  /**
   * The keys come from the tier (so they include what other nodes stored), in the tier's order; an entry this
   * node lacks is read from the tier (not its content). If the tier cannot be reached, this node's own
   * entries are listed.
   */
  @Override
  public Stream<Entry> list(String prefix, String afterKey) {
    copies.awaitAll();
    Pages.Page first;
    try {
      first = remotePage(prefix, afterKey);
    } catch (LarderException e) {
      remoteErrors.increment(); // unreachable: list what this node has
      return local.list(prefix, afterKey);
    }
    return Pages.stream(first, after -> remotePage(prefix, after), local.now());
  }

  /** A page of the tier's keys, with their entries (this node's, or the tier's when it has none). */
  private Pages.Page remotePage(String prefix, String afterKey) {
    List<String> keys = tier.keys(prefix, afterKey, Pages.SIZE);
    Entry[] entries = new Entry[keys.size()];
    List<Future<?>> fetches = new ArrayList<>();
    ExecutorService pool = null;
    try {
      for (int i = 0; i < entries.length; i++) {
        String key = keys.get(i);
        Optional<Entry> own = local.recorded(key);
        if (own.isPresent()) {
          entries[i] = own.get();
          continue;
        }
        if (pool == null) {
          pool = Executors.newFixedThreadPool(16, Thread.ofVirtual().factory());
        }
        int at = i;
        fetches.add(pool.submit(() -> tier.lookup(key, false).ifPresent(r -> entries[at] = entryOf(key, r))));
      }
      for (Future<?> f : fetches) {
        f.get();
      }
    } catch (ExecutionException e) {
      throw e.getCause() instanceof LarderException le ? le
          : new LarderException.StorageFailure(Kind.IO, "listing " + tier.describe() + ": " + e.getCause(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.StorageFailure(Kind.IO, "interrupted while listing " + tier.describe(), e);
    } finally {
      if (pool != null) {
        pool.shutdownNow();
      }
    }
    // an entry removed between the listing and its lookup is left out; the page goes on after its last key
    List<Entry> page = new ArrayList<>(entries.length);
    for (Entry e : entries) {
      if (e != null) {
        page.add(e);
      }
    }
    return new Pages.Page(page, keys.size() < Pages.SIZE ? null : keys.get(keys.size() - 1));
  }

  @Override
  public boolean remove(String key) {
    copies.await(key); // a local copy under way would bring it back
    synchronized (keyLock(key)) { // not while a queued upload of the key is under way (it would bring it back)
      rangeEntries.remove(key);
      boolean removedHere = local.remove(key);
      try {
        return tier.remove(key) || removedHere;
      } catch (LarderException e) {
        remoteErrors.increment();
        throw new LarderException.StorageFailure(Kind.IO, "'" + key + "' was removed locally but not from "
            + tier.describe() + ": " + e.getMessage(), e);
      }
    }
  }

  @Override
  public long removePrefix(String prefix) {
    copies.awaitAll();
    long removedHere = local.removePrefix(prefix);
    rangeEntries.keySet().removeIf(k -> k.startsWith(prefix));
    try {
      return Math.max(removedHere, tier.removePrefix(prefix));
    } catch (LarderException e) {
      remoteErrors.increment();
      throw new LarderException.StorageFailure(Kind.IO, removedHere + " entries under '" + prefix
          + "' were removed locally, but not those in " + tier.describe() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public boolean removeContent(Integrity d) {
    copies.awaitAll();
    return local.removeContent(d);
  }

  // ------------------------------------------------------------------ the tier itself

  @Override
  public TierStats tierStats() {
    return new TierStats(localHits.sum(), remoteHits.sum(), misses.sum(), remoteErrors.sum(), remoteCorrupt.sum(),
        tierWrites.sum(), queue == null ? 0 : queue.depth(), copies.failures());
  }

  @Override
  public boolean awaitTierWrites(Duration timeout) throws InterruptedException {
    return queue == null || queue.await(timeout);
  }

  @Override
  public GcReport collectTier(Duration grace, boolean dryRun) {
    return tier.collect(local.now(), grace, dryRun);
  }

  @Override
  public Optional<String> remoteTier() {
    return Optional.of(tier.describe());
  }

  @Override
  public void close() {
    try {
      copies.awaitAll(); // local copies of the tier's content being written
      if (queue != null) {
        queue.close(); // uploads what waits while the tier takes it (10 s at most); the rest stays queued
      }
      local.close();
    } finally {
      try {
        tier.close();
      } catch (IOException ignored) {
        // the tier's connections: nothing of the store's depends on closing them
      }
    }
  }
}
