package io.larder;

import io.larder.LarderException.Kind;
import io.larder.internal.AccessRecorder;
import io.larder.internal.FileBlobStore;
import io.larder.internal.FileOps;
import io.larder.internal.Hasher;
import io.larder.internal.Keys;
import io.larder.internal.CorruptionGuard;
import io.larder.internal.ReadAheadVerifyingInputStream;
import io.larder.internal.SqliteIndex;
import io.larder.internal.VerifyingInputStream;
import io.larder.spi.BlobStore;
import io.larder.spi.Index;
import io.larder.spi.Index.BlobRecord;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A content-addressable cache in a directory: bytes stored under keys, named by their digest, verified on
 * every read.
 *
 * <pre>{@code
 * try (Larder cache = Larder.open(Path.of("/var/cache/myapp"))) {
 *   cache.put("build:mylib:1.0.0:linux-x86_64", Path.of("out/mylib.jar"), PutOptions.defaults());
 *   Optional<byte[]> jar = cache.getBytes("build:mylib:1.0.0:linux-x86_64");
 * }
 * }</pre>
 *
 * <p><b>Concurrency.</b> A {@code Larder} is thread-safe, and any number of processes may open the same
 * directory at once. A reader never sees part of a blob; an entry never becomes visible before its content
 * is complete. Two puts of one key race; the last to commit wins, whole.
 *
 * <p><b>Failures.</b> Every error is a {@link LarderException} whose {@link LarderException#kind() kind}
 * says what happened. A failed put leaves the store as it was. A read that finds content not matching its
 * digest removes that content and the entries pointing at it, and throws: bad bytes are never served.
 *
 * <p><b>Keys</b> are non-empty Unicode strings of at most 4096 UTF-8 bytes without control characters;
 * they are opaque ({@code /} and {@code ..} are ordinary characters) and ordered by code point.
 * By convention they are {@code :}-separated namespaces, so that a prefix is a query.
 */
public final class Larder implements AutoCloseable {
  private static final int PAGE = 512;
  private static final long READ_AHEAD_THRESHOLD = 8L << 20;
  private static final long MISSING_RETRY_MILLIS = 20;
  /** How many verified blobs are remembered for range reads (about 20 MB at most). */
  private static final int MAX_VERIFIED = 65_536;

  private final Path root;
  private final LarderOptions options;
  private final Algorithm algorithm;
  private final BlobStore blobs;
  private final Index index;
  /**
   * Blobs verified whole since their file last changed (value: the file's stamp), range reads of them are
   * trusted; and inline content verified in memory (value: a weak reference to the verified array).
   */
  private final ConcurrentHashMap<Integrity, Object> verified = new ConcurrentHashMap<>();

  private final AccessRecorder accesses; // null when access tracking is off
  private final io.larder.spi.RemoteTier tier; // null without a remote tier
  // what the remote tier did (see TierStats)
  private final LongAdder localHits = new LongAdder();
  private final LongAdder remoteHits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder remoteErrors = new LongAdder();
  private final LongAdder remoteCorrupt = new LongAdder();
  private final LongAdder tierWrites = new LongAdder();
  private final LongAdder localCopyFailures = new LongAdder();
  private final java.util.Set<java.util.concurrent.ExecutorService> scheduled = ConcurrentHashMap.newKeySet();

  private io.larder.internal.WriteBehindQueue queue; // null unless the tier is written behind
  /**
   * Striped locks: uploads of queued keys and removals of keys from the tier, one at a time per key; the
   * check-and-touch of stored content, one at a time per digest.
   */
  private final Object[] tierLocks = new Object[64];

  private Larder(Path root, LarderOptions options, BlobStore blobs, Index index, io.larder.spi.RemoteTier tier) {
    this.tier = tier;
    for (int i = 0; i < tierLocks.length; i++) {
      tierLocks[i] = new Object();
    }
    this.root = root;
    this.options = options;
    this.algorithm = options.algorithm();
    this.blobs = blobs;
    this.index = index;
    this.accesses = options.trackAccess() ? new AccessRecorder(index, options.clock()) : null;
  }

  /** Opens (creating if needed) the store at {@code root} with default options. */
  public static Larder open(Path root) {
    return open(root, LarderOptions.defaults());
  }

  /**
   * Opens (creating if needed) the store at {@code root}. Temporary files that crashed writers left behind
   * more than {@link LarderOptions#tmpGrace()} ago are removed.
   *
   * @throws LarderException with kind {@code IO} if the directory cannot be created or written
   */
  public static Larder open(Path root, LarderOptions options) {
    return open(root, options, FileOps.REAL, UnaryOperator.identity());
  }

  /**
   * Opens the store at {@code root} as the local tier in front of a shared remote tier (see
   * {@link io.larder.spi.RemoteTier}): a read by key that misses locally is answered from the remote tier
   * (verified, and kept locally), and every put is written through to it — acknowledged once it is there
   * (the local copy, a cache of the tier's, is written right after; this node's own reads and changes of
   * the key wait for it). If the remote tier is unreachable, local content is still served and its misses
   * are misses.
   */
  public static Larder open(Path root, LarderOptions options, io.larder.spi.RemoteTier tier) {
    return open(root, options, tier, TierOptions.defaults());
  }

  /**
   * {@link #open(Path, LarderOptions, io.larder.spi.RemoteTier)}, writing to the tier as {@code tierOptions}
   * say: through (each put waits for the tier) or behind (puts are queued on disk and uploaded in the
   * background; see {@link TierOptions#writeBehind()} for what that risks). Keys an earlier process queued
   * and did not upload are uploaded now.
   */
  public static Larder open(Path root, LarderOptions options, io.larder.spi.RemoteTier tier, TierOptions tierOptions) {
    Larder l = open(root, options, FileOps.REAL, UnaryOperator.identity(), java.util.Objects.requireNonNull(tier));
    Path q = l.root.resolve("tier-queue");
    if (tierOptions.writeBehind() || Files.isDirectory(q)) {
      // also when writing through now: what an earlier write-behind process left is still owed to the tier
      l.queue = new io.larder.internal.WriteBehindQueue(q, tierOptions.writeBehind() ? tierOptions.queueLimit() : 0,
          options.durability() == Durability.POWER_SAFE, l::uploadQueued);
    }
    return l;
  }

  /** What the remote tier did (all zero without one). */
  public TierStats tierStats() {
    return new TierStats(localHits.sum(), remoteHits.sum(), misses.sum(), remoteErrors.sum(), remoteCorrupt.sum(),
        tierWrites.sum(), queue == null ? 0 : queue.depth(), localCopyFailures.sum());
  }

  /**
   * Waits until every put queued for the remote tier (write-behind) is uploaded, or {@code timeout} passes.
   *
   * @return whether nothing waits any more
   */
  public boolean awaitTierWrites(Duration timeout) throws InterruptedException {
    return queue == null || queue.await(timeout);
  }

  private Object tierLock(String key) {
    return tierLocks[(key.hashCode() & 0x7fffffff) % tierLocks.length];
  }

  /** The write-behind uploader: sends the key's current local entry, if it still has one. */
  private boolean uploadQueued(String key) {
    synchronized (tierLock(key)) {
      Optional<Index.Hit> hit = index.get(key, false);
      if (hit.isEmpty() || hit.get().entry().isExpired(options.clock().instant())) {
        return true; // removed, replaced by nothing, or expired before its upload: nothing to send
      }
      try {
        storeInTier(hit.get().entry());
        return true;
      } catch (LarderException e) {
        if (e instanceof LarderException.NotFound) {
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
    tier.store(e, () -> index.get(key, true)
        .filter(h -> h.entry().integrity().equals(e.integrity()))
        .map(h -> open(h.entry(), h.entry().integrity(), h.entry().size(), h.inline(), 0, h.entry().size(), true))
        .map(Content::stream).orElseThrow(() -> new LarderException.NotFound(
            "'" + key + "' went from the local store before it reached " + tier.describe())));
    tierWrites.increment();
  }

  /**
   * Collects the remote tier (not the local store: see {@link #gc}): entries expired there, content no
   * entry there references and that nobody wrote or re-referenced within {@code grace}, abandoned uploads.
   * Run it from one node at a time, with a grace longer than a collection and any upload take (a day).
   *
   * @throws LarderException.InvalidInput without a remote tier
   */
  public GcReport collectTier(Duration grace, boolean dryRun) {
    if (tier == null) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "this store has no remote tier to collect");
    }
    return tier.collect(options.clock().instant(), grace, dryRun);
  }

  /** Where the remote tier is, if there is one. */
  public Optional<String> remoteTier() {
    return Optional.ofNullable(tier).map(io.larder.spi.RemoteTier::describe);
  }

  /**
   * On a local miss: fetches the content of the tier's entry {@code r} into the local store (verified as any
   * put is). Returns the key's local entry now, or empty (counted) if that failed.
   */
  private Optional<Index.Hit> fetchFromTier(String key, io.larder.spi.RemoteTier.RemoteEntry r) {
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
        putLocally(key, s, po.get());
      }
      remoteHits.increment();
      return index.get(key, true);
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment(); // a damaged or truncated object: not served, not kept
      return Optional.empty();
    } catch (LarderException | IOException e) {
      remoteErrors.increment();
      return Optional.empty();
    }
  }

  /** Remote content up to this size is fetched into memory, served from there and kept locally in the background. */
  private static final int SERVE_FROM_MEMORY = 8 * 1024 * 1024;

  /** Local copies of fetched content being written in the background, by key. */
  private final ConcurrentHashMap<String, java.util.concurrent.FutureTask<Void>> keeping = new ConcurrentHashMap<>();

  /** At most this many background copies at once (then the reader writes its copy itself). */
  private final java.util.concurrent.Semaphore keepSlots = new java.util.concurrent.Semaphore(64);

  /**
   * A whole read by key that missed locally: the tier's entry, then its content into memory (up to
   * {@link #SERVE_FROM_MEMORY}), checked against its size and digest before anything is served; the local
   * copy is written in the background, so the reader does not wait for it. Larger content is fetched into
   * the local store first and read from there.
   */
  private Optional<Content> getFromTier(String key) {
    Optional<io.larder.spi.RemoteTier.RemoteEntry> re = remoteEntry(key);
    if (re.isEmpty()) {
      misses.increment();
      return Optional.empty();
    }
    io.larder.spi.RemoteTier.RemoteEntry r = re.get();
    if (r.size() > SERVE_FROM_MEMORY || r.size() < 0) {
      return fetchFromTier(key, r).map(h -> open(h.entry(), h.entry().integrity(), h.entry().size(), h.inline(), 0,
          h.entry().size(), true));
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
      Hasher h = new Hasher(algorithm, r.integrity(), r.size());
      h.update(bytes, 0, bytes.length);
      d = h.finish();
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment(); // a damaged or truncated object: not served, not kept
      return Optional.empty();
    }
    remoteHits.increment();
    keepLocally(key, bytes, r, d);
    return Optional.of(new Content(remoteEntryOf(key, r), r.integrity(), r.size(), 0, r.size(),
        new ByteArrayInputStream(bytes)));
  }

  /** Stores fetched, verified content in the local store: in the background when a slot is free. */
  private void keepLocally(String key, byte[] bytes, io.larder.spi.RemoteTier.RemoteEntry r, Integrity d) {
    Optional<PutOptions> put = keepOptions(r, d);
    if (put.isEmpty()) {
      return; // expired while it was fetched: served once, not kept
    }
    keepLocally(key, bytes, put.get(), false);
  }

  /**
   * Writes a local copy of content the tier has: in the background when a slot is free. {@code replace}: a
   * put's copy, which must land after any copy of the key already under way (a read's copy is skipped
   * then instead: the other one is as good).
   */
  private void keepLocally(String key, byte[] bytes, PutOptions put, boolean replace) {
    Runnable keep = () -> {
      try {
        putLocally(key, new ByteArrayInputStream(bytes), put);
      } catch (LarderException failed) {
        localCopyFailures.increment(); // only a cache copy: the next read fetches it again
      }
    };
    if (!keepSlots.tryAcquire()) {
      awaitKeeping(key);
      keep.run();
      return;
    }
    java.util.concurrent.FutureTask<Void> task = new java.util.concurrent.FutureTask<>(keep, null);
    while (keeping.putIfAbsent(key, task) != null) {
      if (!replace) {
        keepSlots.release(); // another reader is keeping it already
        return;
      }
      awaitKeeping(key);
    }
    Thread.ofVirtual().name("larder-keep").start(() -> {
      try {
        task.run();
      } finally {
        keeping.remove(key, task);
        keepSlots.release();
      }
    });
  }

  /** How to keep a local copy of the tier's entry {@code r}: its digest, size, metadata and what is left of its TTL. */
  private Optional<PutOptions> keepOptions(io.larder.spi.RemoteTier.RemoteEntry r, Integrity d) {
    PutOptions po = PutOptions.defaults().integrity(d).size(r.size()).metadata(r.metadata());
    if (r.expires() == null) {
      return Optional.of(po);
    }
    Duration left = Duration.between(options.clock().instant(), r.expires());
    return left.isNegative() || left.isZero() ? Optional.empty() : Optional.of(po.ttl(left));
  }

  /**
   * Waits for a background copy of {@code key} in progress (a read's or a put's), so that what this node
   * does next with the key sees it: a read after a read is a local hit, a read after a put sees the put.
   * Without a remote tier there are none, and this is a lookup in an empty map.
   */
  private void awaitKeeping(String key) {
    java.util.concurrent.FutureTask<Void> t = keeping.get(key);
    if (t != null) {
      try {
        t.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (java.util.concurrent.ExecutionException ignored) {
        // the copy failed: the read goes to the tier again
      }
    }
  }

  /** {@link #awaitKeeping} for every key (before reads by digest, listings and removals by prefix). */
  private void awaitAllKeeping() {
    for (String key : keeping.keySet()) {
      awaitKeeping(key);
    }
  }

  /** The unexpired local entry for a read by key (counted as a local hit when there is a remote tier). */
  private Optional<Index.Hit> localHit(String key) {
    Instant now = options.clock().instant();
    Optional<Index.Hit> hit = index.get(key, true).filter(h -> !h.entry().isExpired(now));
    if (tier != null && hit.isPresent()) {
      localHits.increment();
    }
    return hit;
  }

  /** For tests: the same store with its file operations and index wrapped (fault injection). */
  static Larder open(Path root, LarderOptions options, FileOps ops, UnaryOperator<Index> indexWrapper) {
    return open(root, options, ops, indexWrapper, null);
  }

  private static Larder open(Path root, LarderOptions options, FileOps ops, UnaryOperator<Index> indexWrapper,
      io.larder.spi.RemoteTier tier) {
    Path r = root.toAbsolutePath();
    try {
      Files.createDirectories(r);
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("creating the store directory " + r, e);
    }
    FileBlobStore blobs = new FileBlobStore(r, options.algorithm(), options.durability(), options.compression(), ops);
    Index index = indexWrapper.apply(new SqliteIndex(r.resolve("index.db"), options.durability()));
    blobs.removeTmpOlderThan(options.clock().instant().minus(options.tmpGrace()));
    return new Larder(r, options, blobs, index, tier);
  }

  /** The store's directory. */
  public Path root() {
    return root;
  }

  /** The options the store was opened with. */
  public LarderOptions options() {
    return options;
  }

  // ------------------------------------------------------------------ put

  /** Stores {@code data} under {@code key}; see {@link #put(String, InputStream, PutOptions)}. */
  public Entry put(String key, byte[] data) {
    return put(key, data, PutOptions.defaults());
  }

  /** Stores {@code data} under {@code key}; see {@link #put(String, InputStream, PutOptions)}. */
  public Entry put(String key, byte[] data, PutOptions options) {
    return put(key, new ByteArrayInputStream(data), options);
  }

  /** Stores the file's content under {@code key}; see {@link #put(String, InputStream, PutOptions)}. */
  public Entry put(String key, Path file, PutOptions options) {
    try (InputStream in = Files.newInputStream(file)) {
      return put(key, in, options);
    } catch (NoSuchFileException e) {
      throw new LarderException.NotFound("no such file: " + file);
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("reading " + file, e);
    }
  }

  /**
   * Stores the stream's bytes under {@code key}, replacing any entry the key had. The stream is read to its
   * end in constant memory whatever its size, and is not closed.
   *
   * <p>When this returns the entry is committed (as durably as {@link LarderOptions#durability()} says). If
   * it throws, nothing became visible: no entry, no partial content, no temporary file.
   *
   * @throws LarderException.IntegrityFailure {@code DIGEST_MISMATCH} or {@code SIZE_MISMATCH} when the bytes
   *     are not what {@code options} expected
   * @throws LarderException.InvalidInput for a key Larder does not accept
   * @throws LarderException.StorageFailure {@code INSUFFICIENT_STORAGE}, {@code IO} or {@code BUSY}
   */
  public Entry put(String key, InputStream in, PutOptions options) {
    if (tier != null) {
      Keys.check(key);
      awaitKeeping(key); // a local copy of this key under way lands before this put's
      rangeEntries.remove(key);
      if (queue == null && options.size() <= BOTH_TIERS_AT_ONCE) { // write-through (size -1: unknown)
        byte[] buf = readUpTo(in, BOTH_TIERS_AT_ONCE + 1);
        if (buf.length <= BOTH_TIERS_AT_ONCE) {
          return putBothTiers(key, buf, options);
        }
        in = new SequenceInputStream(new ByteArrayInputStream(buf), in);
      }
    }
    Entry e = putLocally(key, in, options);
    if (tier != null) {
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
    }
    return e;
  }

  /**
   * Content up to this size is held in memory by a write-through put, so that it is acknowledged once
   * uploaded and written locally in the background (measured in BENCHMARKS.md); larger content is stored
   * locally, then read back for the upload.
   */
  private static final int BOTH_TIERS_AT_ONCE = 8 * 1024 * 1024;

  /**
   * A write-through put of content in memory: checked first (nothing is stored anywhere if it is not what
   * {@code options} expect), uploaded, and acknowledged once the tier has it. The local copy is a cache of
   * the tier's: it is written in the background (as a read that misses keeps its copy), and every read or
   * change of the key on this node waits for it first, so the node reads its own writes. If the local write
   * fails (a full disk), the put stands (the tier has it) and the next read fetches it.
   */
  private Entry putBothTiers(String key, byte[] buf, PutOptions options) {
    Hasher h = new Hasher(algorithm, options.integrity(), options.size());
    h.update(buf, 0, buf.length);
    Integrity d = h.finish();
    Instant now = this.options.clock().instant();
    Duration ttl = options.ttl() != null ? options.ttl() : this.options.defaultTtl();
    Entry forTier = new Entry(key, d, buf.length, now, now, ttl == null ? null : now.plus(ttl), options.metadata());
    try {
      tier.store(forTier, () -> new ByteArrayInputStream(buf));
    } catch (LarderException ex) {
      remoteErrors.increment();
      throw new LarderException.StorageFailure(Kind.IO, "'" + key + "' was not stored: writing it to "
          + tier.describe() + " failed (write-through; nothing was stored locally either): " + ex.getMessage(), ex);
    }
    tierWrites.increment();
    keepLocally(key, buf, options.integrity(d).size(buf.length), true);
    return forTier;
  }

  private Entry putLocally(String key, InputStream in, PutOptions options) {
    Keys.check(key);
    int threshold = this.options.inlineThreshold();
    BlobRecord record;
    if (threshold > 0 && options.size() <= threshold) {
      byte[] buf = readUpTo(in, threshold + 1); // grows as it reads: small content allocates little
      int n = buf.length;
      if (n <= threshold) {
        Hasher h = new Hasher(algorithm, options.integrity(), options.size());
        h.update(buf, 0, n);
        record = new BlobRecord(h.finish(), n, buf);
      } else {
        record = storeFile(new SequenceInputStream(new ByteArrayInputStream(buf, 0, n), in), options);
      }
    } else {
      record = storeFile(in, options);
    }
    if (record.inline() == null) {
      trust(record.digest()); // its bytes were hashed as they were written (or, stored already, matched the upload)
    }
    Instant now = this.options.clock().instant();
    Duration ttl = options.ttl() != null ? options.ttl() : this.options.defaultTtl();
    Entry entry = new Entry(key, record.digest(), record.size(), now, now, ttl == null ? null : now.plus(ttl),
        options.metadata());
    index.put(entry, record);
    return entry;
  }

  private BlobRecord storeFile(InputStream in, PutOptions options) {
    if (isStoredAndTrusted(options.integrity())) {
      return hashOnly(in, options);
    }
    BlobStore.StoredBlob b = blobs.put(in, options.integrity(), options.size());
    return new BlobRecord(b.digest(), b.size(), null);
  }

  /**
   * Whether a put declaring {@code expected} can skip writing (only with {@code verifyEveryRead(false)}):
   * a blob with that digest is stored, verified since its file last changed, and its time was just
   * refreshed (so a collector keeps it). The upload is still read and hashed whole, and refused if it does
   * not match; only the write of bytes already on disk is skipped.
   */
  private boolean isStoredAndTrusted(Integrity expected) {
    if (expected == null || options.verifyEveryRead()) {
      return false;
    }
    Optional<Integrity.Hash> h = expected.hash(algorithm);
    if (h.isEmpty()) {
      return false;
    }
    Integrity d = new Integrity(List.of(h.get()));
    // One check-and-touch at a time per digest: concurrent uploads of the same content (CI runners storing
    // the same outputs) otherwise each saw the stamp the other's touch had just moved, and took the slow
    // path — a whole rewrite — most of the time (found by profiling PUTs of one blob on two connections).
    synchronized (digestLock(d)) {
      Object was = verified.get(d);
      if (was == null || !was.equals(blobs.stamp(d).orElse(null)) || !blobs.touch(d)) {
        return false;
      }
      // the touch moved only the file's times, which this process just set: the file is still the one verified
      blobs.stamp(d).ifPresent(s -> remember(d, s));
      return true;
    }
  }

  private BlobRecord hashOnly(InputStream in, PutOptions options) {
    Hasher h = new Hasher(algorithm, options.integrity(), options.size());
    byte[] buf = new byte[256 * 1024];
    try {
      for (int n; (n = in.read(buf)) > 0; ) {
        h.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("reading the content to store", e);
    }
    return new BlobRecord(h.finish(), h.count(), null);
  }

  private static byte[] readUpTo(InputStream in, int max) {
    try {
      return in.readNBytes(max);
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("reading the content to store", e);
    }
  }

  // ------------------------------------------------------------------ get

  /**
   * Opens the content stored under {@code key}, verified while it is read (see {@link Content}).
   *
   * @return empty on a miss (no entry, or an expired one)
   * @throws LarderException.IntegrityFailure {@code CORRUPT} when inline content fails its check or a blob
   *     file has gone; the entry has then been removed
   */
  public Optional<Content> get(String key) {
    Keys.check(key);
    awaitKeeping(key);
    Optional<Index.Hit> hit = localHit(key);
    if (hit.isEmpty()) {
      return tier == null ? Optional.empty() : getFromTier(key);
    }
    Entry e = hit.get().entry();
    recordAccess(e);
    return Optional.of(open(e, e.integrity(), e.size(), hit.get().inline(), 0, e.size(), true));
  }

  /** The verified bytes stored under {@code key}; empty on a miss. For content that fits in memory. */
  public Optional<byte[]> getBytes(String key) {
    return get(key).map(Content::readAllBytes);
  }

  /**
   * Writes the content stored under {@code key} to {@code target} atomically, only once verified.
   *
   * @return whether there was an entry
   */
  public boolean copyTo(String key, Path target) {
    Optional<Content> c = get(key);
    c.ifPresent(content -> content.copyTo(target));
    return c.isPresent();
  }

  /**
   * Opens content by its digest, whichever keys point at it. The integrity must include a digest in the
   * store's algorithm (SHA-256 by default); otherwise this is a miss.
   */
  public Optional<Content> getByDigest(Integrity integrity) {
    return blobRecord(integrity).map(r -> open(null, r.digest(), r.size(), r.inline(), 0, r.size(), true));
  }

  /**
   * Opens {@code length} bytes of the content under {@code key} starting at {@code offset} (clipped to the
   * end of the content).
   *
   * <p><b>Verification of ranges.</b> Content kept inline is checked whole on every read. A blob file is
   * checked whole (read and hashed) the first time this process reads a range of it, and again whenever
   * its size, modification time, change time or inode differ from when it was last checked; in between,
   * ranges are served from the checked file without re-hashing. A change that leaves all four as they were
   * (bit rot under the file system) is caught by whole reads and by {@link #verify()}.
   *
   * @throws LarderException.InvalidInput if {@code offset} is past the end or either number is negative
   */
  public Optional<Content> getRange(String key, long offset, long length) {
    Keys.check(key);
    awaitKeeping(key);
    Optional<Index.Hit> hit = localHit(key);
    if (hit.isEmpty()) {
      return tier == null ? Optional.empty() : rangeFromTier(key, offset, length);
    }
    Entry e = hit.get().entry();
    recordAccess(e);
    return Optional.of(openRange(e, e.integrity(), e.size(), hit.get().inline(), offset, length));
  }

  /**
   * A range read that missed locally, answered with ranged GETs of the chunks that hold it (each verified
   * against the chunk digests the tier keeps with the entry) instead of fetching the whole blob; nothing is
   * kept locally. An entry without chunk digests (small content, or written before they were kept) has its
   * whole content fetched into the local store, and the range is read from there.
   */
  private Optional<Content> rangeFromTier(String key, long offset, long length) {
    Instant now = options.clock().instant();
    RangeEntry cached = rangeEntries.get(key);
    Optional<io.larder.spi.RemoteTier.RemoteEntry> re;
    if (cached != null && cached.fetched().plus(RANGE_ENTRY_TTL).isAfter(now)
        && (cached.entry().expires() == null || cached.entry().expires().isAfter(now))) {
      re = Optional.of(cached.entry());
    } else {
      re = remoteEntry(key);
      re.ifPresent(r -> keepForRanges(key, r));
    }
    if (re.isEmpty()) {
      misses.increment();
      return Optional.empty();
    }
    io.larder.spi.RemoteTier.RemoteEntry r = re.get();
    io.larder.spi.Chunks chunks = r.chunks();
    if (chunks == null || r.inline() != null || !chunks.fits(r.size())) {
      return fetchFromTier(key, r).map(h -> openRange(h.entry(), h.entry().integrity(), h.entry().size(), h.inline(),
          offset, length));
    }
    if (offset < 0 || length < 0 || offset > r.size()) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "range " + offset + "+" + length
          + " is not within the content (" + r.size() + " bytes)");
    }
    Entry e = remoteEntryOf(key, r);
    long len = Math.min(length, r.size() - offset);
    long start = io.larder.internal.ChunkVerifyingInputStream.start(chunks, offset);
    long span = io.larder.internal.ChunkVerifyingInputStream.span(chunks, r.size(), offset, len);
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
    return Optional.of(new Content(e, r.integrity(), r.size(), offset, len,
        new io.larder.internal.ChunkVerifyingInputStream(raw.get(), chunks, r.size(), offset, len, what,
            remoteCorrupt::increment)));
  }

  /** Keeps a remote entry with chunk digests for range reads of its key in the next seconds. */
  private void keepForRanges(String key, io.larder.spi.RemoteTier.RemoteEntry r) {
    if (r.chunks() != null) {
      if (rangeEntries.size() >= 1024) {
        rangeEntries.clear(); // bounded: forgetting costs one entry request
      }
      rangeEntries.put(key, new RangeEntry(r, options.clock().instant()));
    }
  }

  /** A remote entry kept for further range reads of its key (one request less per range). */
  private record RangeEntry(io.larder.spi.RemoteTier.RemoteEntry entry, Instant fetched) {}

  /** How long a remote entry is reused for range reads: what another node re-puts shows after this at most. */
  private static final Duration RANGE_ENTRY_TTL = Duration.ofSeconds(10);

  private final ConcurrentHashMap<String, RangeEntry> rangeEntries = new ConcurrentHashMap<>();

  /** The tier's entry for {@code key}, unexpired; empty on a miss or when the tier cannot be reached (counted). */
  private Optional<io.larder.spi.RemoteTier.RemoteEntry> remoteEntry(String key) {
    return remoteEntry(key, true);
  }

  /** {@link #remoteEntry(String)}; without content kept with the entry unless {@code content}. */
  private Optional<io.larder.spi.RemoteTier.RemoteEntry> remoteEntry(String key, boolean content) {
    try {
      Instant now = options.clock().instant();
      return tier.lookup(key, content).filter(r -> r.expires() == null || r.expires().isAfter(now));
    } catch (LarderException.IntegrityFailure e) {
      remoteCorrupt.increment();
      return Optional.empty();
    } catch (LarderException e) {
      remoteErrors.increment();
      return Optional.empty();
    }
  }

  private static Entry remoteEntryOf(String key, io.larder.spi.RemoteTier.RemoteEntry r) {
    return new Entry(key, r.integrity(), r.size(), r.created(), r.created(), r.expires(), r.metadata());
  }

  /** A range of content by digest; see {@link #getRange(String, long, long)}. */
  public Optional<Content> getRangeByDigest(Integrity integrity, long offset, long length) {
    return blobRecord(integrity).map(r -> openRange(null, r.digest(), r.size(), r.inline(), offset, length));
  }

  private void recordAccess(Entry e) {
    if (accesses != null) {
      accesses.record(e.key(), e.accessed());
    }
  }

  private Optional<BlobRecord> blobRecord(Integrity integrity) {
    Optional<Integrity.Hash> h = integrity.hash(algorithm);
    if (h.isEmpty()) {
      return Optional.empty();
    }
    Integrity d = new Integrity(List.of(h.get()));
    Optional<BlobRecord> r = index.blob(d, true);
    if (r.isEmpty() && !keeping.isEmpty()) {
      awaitAllKeeping(); // content a put acknowledged from the tier may still be on its way here
      r = index.blob(d, true);
    }
    return r;
  }

  private Content openRange(Entry e, Integrity d, long size, byte[] inline, long offset, long length) {
    if (offset < 0 || length < 0) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "a range needs a non-negative offset and length");
    }
    if (offset > size) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT,
          "range starts at " + offset + ", past the end of the content (" + size + " bytes)");
    }
    long len = Math.min(length, size - offset);
    if (inline == null && !isTrusted(d)) {
      // Check the whole blob once; its stamp is then recorded and later ranges are served directly.
      try (InputStream whole = open(e, d, size, null, 0, size, true).stream()) {
        whole.transferTo(OutputStream.nullOutputStream());
      } catch (IOException ex) {
        throw io.larder.internal.Errors.io("verifying " + d, ex);
      }
    }
    return open(e, d, size, inline, offset, len, false);
  }

  private void trust(Integrity d) {
    synchronized (digestLock(d)) { // not between another put's check of the stamp and its touch (see isStoredAndTrusted)
      blobs.stamp(d).ifPresent(s -> remember(d, s));
    }
  }

  private Object digestLock(Integrity d) {
    return tierLocks[(d.hashCode() & 0x7fffffff) % tierLocks.length];
  }

  private void remember(Integrity d, Object stamp) {
    if (verified.size() >= MAX_VERIFIED) {
      verified.clear(); // bounded memory: forgetting only costs a re-check on the next read
    }
    verified.put(d, stamp);
  }

  /**
   * Whether {@code inline} is the very array (not merely equal bytes) this process verified against
   * {@code d}. The index hands out one array per hot hit, as long as nothing is committed anywhere (see
   * {@link io.larder.internal.SqliteIndex}); a fresh read from the database is a new array and is hashed.
   * Nothing writes into these arrays: {@link Content} only reads them. Remembered weakly, so that the trust
   * map never keeps content alive that the index has let go.
   */
  private boolean isVerifiedInline(Integrity d, byte[] inline) {
    return verified.get(d) instanceof java.lang.ref.WeakReference<?> w && w.get() == inline;
  }

  private boolean isTrusted(Integrity d) {
    Object was = verified.get(d);
    return was != null && was.equals(blobs.stamp(d).orElse(null));
  }

  private Content open(Entry e, Integrity d, long size, byte[] inline, long offset, long length, boolean whole) {
    // for error messages only: built when one is (every read building it cost a base64 of the digest)
    java.util.function.Supplier<String> what = () -> e == null ? "content " + d
        : "the content of '" + e.key() + "' (" + d + ")";
    if (inline != null) {
      if (options.verifyEveryRead() || !isVerifiedInline(d, inline)) {
        byte[] actual = algorithm.newDigest().digest(inline);
        if (inline.length != size || !MessageDigest.isEqual(actual, d.hash(algorithm).orElseThrow().bytes())) {
          quarantine(d);
          throw new LarderException.IntegrityFailure(Kind.CORRUPT,
              what.get() + " does not match its digest in the index: it was corrupted and has been removed (put it again)");
        }
        if (!options.verifyEveryRead()) {
          remember(d, new java.lang.ref.WeakReference<>(inline));
        }
      }
      return new Content(e, d, size, offset, length, new ByteArrayInputStream(inline, (int) offset, (int) length));
    }
    if (whole && !options.verifyEveryRead() && isTrusted(d)) {
      // verified since the file last changed (see LarderOptions.verifyEveryRead)
      Optional<java.nio.channels.FileChannel> file = blobs.openFile(d);
      if (file.isPresent()) {
        InputStream in = java.nio.channels.Channels.newInputStream(file.get());
        return new Content(e, d, size, 0, size, new CorruptionGuard(in, what, () -> quarantine(d)), file.get());
      }
      whole = false; // a compressed file: its frames' checksums still guard what is read
    }
    Object stampBefore = whole ? blobs.stamp(d).orElse(null) : null;
    Optional<InputStream> raw = blobs.open(d, offset, whole ? Long.MAX_VALUE : length);
    if (raw.isEmpty()) {
      // The collector moves a blob aside for an instant before deciding (see deleteIfUnchangedSince):
      // look once more before concluding that it is gone.
      try {
        Thread.sleep(MISSING_RETRY_MILLIS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
      raw = blobs.open(d, offset, whole ? Long.MAX_VALUE : length);
    }
    if (raw.isEmpty()) {
      quarantine(d);
      throw new LarderException.IntegrityFailure(Kind.CORRUPT,
          what.get() + " is missing from " + root + "/content-v2: the entry has been removed (put it again)");
    }
    if (!whole) {
      return new Content(e, d, size, offset, length, new CorruptionGuard(raw.get(), what, () -> quarantine(d)));
    }
    Runnable onVerified = () -> {
      if (stampBefore != null && stampBefore.equals(blobs.stamp(d).orElse(null))) {
        remember(d, stampBefore);
      }
    };
    Integrity.Hash expected = d.hash(algorithm).orElseThrow();
    // Large blobs are read ahead and hashed on a second thread (see ReadAheadVerifyingInputStream).
    InputStream verifying = size >= READ_AHEAD_THRESHOLD
        ? new ReadAheadVerifyingInputStream(raw.get(), expected, size, what, () -> quarantine(d), onVerified)
        : new VerifyingInputStream(raw.get(), expected, size, what, () -> quarantine(d), onVerified);
    return new Content(e, d, size, offset, length, verifying);
  }

  /** Removes a bad copy: the entries pointing at it first, so no entry ever points at nothing. */
  private void quarantine(Integrity d) {
    verified.remove(d);
    try {
      index.removeBlob(d);
    } finally {
      blobs.delete(d);
    }
  }

  // ------------------------------------------------------------------ index

  /** The entry for {@code key} from the index alone (no content is read); empty on a miss. */
  public Optional<Entry> info(String key) {
    Keys.check(key);
    awaitKeeping(key);
    Instant now = options.clock().instant();
    Optional<Entry> local = index.get(key, false).map(Index.Hit::entry).filter(e -> !e.isExpired(now));
    if (local.isPresent() || tier == null) {
      return local;
    }
    // with a remote tier: its entry (one small request), without fetching the content; kept for a range
    // read that usually follows (the server answers a Range request with info, then getRange)
    Optional<io.larder.spi.RemoteTier.RemoteEntry> r = remoteEntry(key, false);
    r.ifPresent(e -> keepForRanges(key, e));
    return r.map(e -> remoteEntryOf(key, e));
  }

  /** Whether {@code key} has an unexpired entry (the content is not checked). */
  public boolean contains(String key) {
    return info(key).isPresent();
  }

  /**
   * The unexpired entries whose keys start with {@code prefix} ({@code ""} for all), in key order. Streamed
   * in pages: O(log n + k) in the index, whatever else it holds, and safe to consume slowly (no lock is
   * held between pages; entries written meanwhile may or may not appear).
   *
   * <p>With a remote tier the keys come from the tier (so they include what other nodes stored), in the
   * tier's order (see {@link io.larder.spi.RemoteTier#keys}); an entry this node lacks is read from the tier
   * (not its content). If the tier cannot be reached, this node's own entries are listed.
   */
  public Stream<Entry> list(String prefix) {
    return list(prefix, null);
  }

  /**
   * The entries of {@link #list(String)} whose keys come strictly after {@code afterKey} (or all of them if
   * it is {@code null}): a cursor for paging.
   */
  public Stream<Entry> list(String prefix, String afterKey) {
    String p = Keys.checkPrefix(prefix);
    java.util.function.Function<String, List<Entry>> scan = after -> index.scan(p, after, PAGE);
    if (tier != null) {
      awaitAllKeeping();
      try {
        List<Entry> first = remotePage(p, afterKey);
        return pages(first, after -> remotePage(p, after));
      } catch (LarderException e) {
        remoteErrors.increment(); // unreachable: list what this node has
      }
    }
    return pages(scan.apply(afterKey), scan);
  }

  /** A page of the remote tier's keys, with their entries (this node's, or the tier's when it has none). */
  private List<Entry> remotePage(String prefix, String afterKey) {
    List<String> keys = tier.keys(prefix, afterKey, PAGE);
    Entry[] entries = new Entry[keys.size()];
    List<java.util.concurrent.Future<?>> fetches = new java.util.ArrayList<>();
    java.util.concurrent.ExecutorService pool = null;
    try {
      for (int i = 0; i < entries.length; i++) {
        String key = keys.get(i);
        Optional<Index.Hit> local = index.get(key, false);
        if (local.isPresent()) {
          entries[i] = local.get().entry();
          continue;
        }
        if (pool == null) {
          pool = java.util.concurrent.Executors.newFixedThreadPool(16, Thread.ofVirtual().factory());
        }
        int at = i;
        fetches.add(pool.submit(() -> tier.lookup(key, false).ifPresent(r -> entries[at] = remoteEntryOf(key, r))));
      }
      for (java.util.concurrent.Future<?> f : fetches) {
        f.get();
      }
    } catch (java.util.concurrent.ExecutionException e) {
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
    List<Entry> page = new java.util.ArrayList<>(entries.length);
    for (int i = 0; i < entries.length; i++) {
      // an entry removed between the listing and its lookup is left out; the page keeps its last key as cursor
      page.add(entries[i] != null ? entries[i] : new Entry(keys.get(i), null, -1, null, null, null, null));
    }
    return page;
  }

  private Stream<Entry> pages(List<Entry> first, java.util.function.Function<String, List<Entry>> next) {
    Iterator<Entry> pages = new Iterator<>() {
      private List<Entry> page = first;
      private int i;

      @Override
      public boolean hasNext() {
        if (i < page.size()) {
          return true;
        }
        if (page.size() < PAGE) {
          return false;
        }
        page = next.apply(page.get(page.size() - 1).key());
        i = 0;
        return !page.isEmpty();
      }

      @Override
      public Entry next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return page.get(i++);
      }
    };
    Instant now = options.clock().instant();
    return StreamSupport.stream(Spliterators.spliteratorUnknownSize(pages,
        Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.DISTINCT), false)
        .filter(e -> e.integrity() != null && !e.isExpired(now));
  }

  /** Removes the entry for {@code key}. Its content stays until collected if other keys point at it. */
  public boolean remove(String key) {
    Keys.check(key);
    if (tier == null) {
      return index.remove(key);
    }
    awaitKeeping(key); // a local copy under way would bring it back
    synchronized (tierLock(key)) { // not while a queued upload of the key is under way (it would bring it back)
      rangeEntries.remove(key);
      boolean local = index.remove(key);
      try {
        return tier.remove(key) || local;
      } catch (LarderException e) {
        remoteErrors.increment();
        throw new LarderException.StorageFailure(Kind.IO, "'" + key + "' was removed locally but not from "
            + tier.describe() + ": " + e.getMessage(), e);
      }
    }
  }

  /** Removes every entry whose key starts with {@code prefix}, in one transaction; returns how many. */
  public long removePrefix(String prefix) {
    if (prefix == null || prefix.isEmpty()) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT,
          "removePrefix needs a non-empty prefix (to empty the store, remove its directory)");
    }
    awaitAllKeeping();
    long local = index.removePrefix(Keys.checkPrefix(prefix));
    if (tier == null) {
      return local;
    }
    rangeEntries.keySet().removeIf(k -> k.startsWith(prefix));
    try {
      return Math.max(local, tier.removePrefix(prefix));
    } catch (LarderException e) {
      remoteErrors.increment();
      throw new LarderException.StorageFailure(Kind.IO, local + " entries under '" + prefix
          + "' were removed locally, but not those in " + tier.describe() + ": " + e.getMessage(), e);
    }
  }

  /** Removes content and every entry pointing at it; returns whether there was any. */
  public boolean removeContent(Integrity integrity) {
    Optional<Integrity.Hash> h = integrity.hash(algorithm);
    if (h.isEmpty()) {
      return false;
    }
    awaitAllKeeping();
    Integrity d = new Integrity(List.of(h.get()));
    verified.remove(d);
    boolean known = index.blob(d, false).isPresent();
    index.removeBlob(d);
    boolean file = blobs.delete(d);
    return known || file;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Collects garbage once: removes expired entries; evicts entries by age and size as {@code options} say
   * (least recently accessed first, keeping the newest of each group); removes content no entry references
   * any more; removes abandoned temporary files. Safe while other threads and processes put and get: an
   * entry read or rewritten meanwhile is kept, and content a concurrent put republishes or references is
   * kept. One collection runs at a time per store (a lock file); works in small transactions and constant
   * memory.
   *
   * @throws LarderException.StorageFailure {@code BUSY} if another process is collecting this store
   */
  public GcReport gc(GcOptions options) {
    Path lockFile = root.resolve("gc.lock");
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lockFile,
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        java.nio.channels.FileLock lock = ch.tryLock()) {
      if (lock == null) {
        throw new LarderException.StorageFailure(Kind.BUSY,
            "another process is collecting garbage in " + root + "; try again when it is done", null);
      }
      return collect(options);
    } catch (java.nio.channels.OverlappingFileLockException e) {
      throw new LarderException.StorageFailure(Kind.BUSY, "a collection of " + root + " is already running", e);
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("locking " + lockFile, e);
    }
  }

  /**
   * Collects garbage every {@code interval} on a background thread until the returned handle (or the
   * store) is closed: what a long-running process such as the server does. A collection that fails (the
   * store busy, another process collecting) is reported to {@code onError} and tried again next time.
   */
  public Schedule collectEvery(java.time.Duration interval, GcOptions options,
      java.util.function.Consumer<GcReport> onReport, java.util.function.Consumer<LarderException> onError) {
    java.util.concurrent.ScheduledExecutorService executor = java.util.concurrent.Executors
        .newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("larder-gc").unstarted(r));
    long millis = Math.max(1, interval.toMillis());
    executor.scheduleWithFixedDelay(() -> {
      try {
        onReport.accept(gc(options));
      } catch (LarderException e) {
        if (e.kind() == Kind.CLOSED) {
          executor.shutdown();
        } else {
          onError.accept(e);
        }
      }
    }, millis, millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    scheduled.add(executor);
    return () -> {
      executor.shutdownNow();
      scheduled.remove(executor);
    };
  }

  /** A running schedule; closing it stops it (a collection under way finishes). */
  public interface Schedule extends AutoCloseable {
    @Override
    void close();
  }

  private GcReport collect(GcOptions o) {
    if (accesses != null) {
      accesses.flushNow(); // eviction orders by access time: this process's recent reads count
    }
    Instant now = this.options.clock().instant();
    boolean dry = o.dryRun();
    long expired = 0;
    if (dry) {
      expired = index.removeExpired(now, Integer.MAX_VALUE, true);
    } else {
      long n;
      do {
        n = index.removeExpired(now, 1000, false);
        expired += n;
      } while (n == 1000);
    }
    // keys queued for a write-behind upload (by any process of this store) stay until uploaded: evicting one
    // would mean it never reaches the tier
    java.util.Set<String> queued = io.larder.internal.WriteBehindQueue.queuedKeys(root.resolve("tier-queue"));
    long[] ev = index.evict(o.maxAge() == null ? null : now.minus(o.maxAge()), o.maxSize(),
        o.maxSize() < 0 ? -1 : (long) (o.maxSize() * o.lowWater()), o.keepPerGroup(), o.groupSegments(), queued, dry);
    long[] inline = index.removeUnreferencedInline(dry);
    long blobsRemoved = inline[0];
    long bytesFreed = inline[1];
    Instant writtenBefore = now.minus(o.grace());
    Pacer pacer = new Pacer(o.deletesPerSecond());
    String after = null;
    while (true) {
      List<BlobRecord> page = index.unreferencedFiles(after, 256);
      for (BlobRecord rec : page) {
        boolean gone = dry || blobs.deleteIfUnchangedSince(rec.digest(), writtenBefore,
            () -> index.forgetIfUnreferenced(rec.digest()));
        if (gone) {
          verified.remove(rec.digest());
          blobsRemoved++;
          bytesFreed += rec.size();
          pacer.tick(dry);
        }
      }
      if (page.size() < 256) {
        break;
      }
      after = page.get(page.size() - 1).digest().strongest().sri();
    }
    // Blob files with no record at all: a put killed between publishing its file and committing its entry.
    long[] orphans = new long[1];
    blobs.forEach(d -> {
      if (index.blob(d, false).isEmpty() && (dry
          || blobs.deleteIfUnchangedSince(d, writtenBefore, () -> index.blob(d, false).isEmpty()))) {
        orphans[0]++;
        pacer.tick(dry);
      }
    });
    blobsRemoved += orphans[0];
    long tmp = dry ? 0 : blobs.removeTmpOlderThan(now.minus(this.options.tmpGrace()));
    return new GcReport(expired, ev[0], blobsRemoved, bytesFreed, tmp, ev[2], dry);
  }

  /** Spaces out deletions to at most {@code perSecond} (in real time: this is about the disk, not the clock). */
  private static final class Pacer {
    private final int perSecond;
    private final long start = System.nanoTime();
    private long count;

    Pacer(int perSecond) {
      this.perSecond = perSecond;
    }

    void tick(boolean dry) {
      count++;
      if (dry || perSecond <= 0 || count % 32 != 0) {
        return;
      }
      long due = start + count * 1_000_000_000L / perSecond;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(wait);
      }
    }
  }

  // ------------------------------------------------------------------ health

  /**
   * Re-hashes every blob: those the index records and any blob file it does not. Corrupt blobs are removed
   * with the entries that point at them; records of blob files that have gone are dropped with theirs.
   */
  public VerifyReport verify() {
    return verify(n -> { });
  }

  /** {@link #verify()}, telling {@code progress} how many bytes each step re-hashed (for progress displays). */
  public VerifyReport verify(java.util.function.LongConsumer progress) {
    long[] r = new long[5]; // checked, bytes, corrupt, missing, entries
    String after = null;
    while (true) {
      List<BlobRecord> page = index.blobs(after, 64, true);
      for (BlobRecord rec : page) {
        checkBlob(rec.digest(), rec.size(), rec.inline(), r);
        progress.accept(rec.size());
      }
      if (page.size() < 64) {
        break;
      }
      after = page.get(page.size() - 1).digest().strongest().sri();
    }
    blobs.forEach(d -> {
      if (index.blob(d, false).isEmpty()) {
        checkBlob(d, -1, null, r); // a blob file the index never recorded (a writer crashed before commit)
      }
    });
    return new VerifyReport(r[0], r[1], r[2], r[3], r[4]);
  }

  private void checkBlob(Integrity d, long size, byte[] inline, long[] r) {
    MessageDigest md = algorithm.newDigest();
    long n;
    boolean damaged = false;
    if (inline != null) {
      md.update(inline);
      n = inline.length;
    } else {
      Optional<InputStream> in = blobs.open(d, 0, Long.MAX_VALUE);
      if (in.isEmpty()) {
        r[3]++;
        r[4] += index.removeBlob(d);
        return;
      }
      n = 0;
      byte[] buf = new byte[256 * 1024];
      try (InputStream s = in.get()) {
        int k;
        while ((k = s.read(buf)) > 0) {
          md.update(buf, 0, k);
          n += k;
        }
      } catch (io.larder.internal.ZstdSeekable.CorruptBlobException e) {
        damaged = true; // a compressed file whose format is broken
      } catch (IOException e) {
        throw io.larder.internal.Errors.io("verifying " + d, e);
      }
    }
    r[0]++;
    r[1] += n;
    boolean ok = !damaged && MessageDigest.isEqual(md.digest(), d.hash(algorithm).orElseThrow().bytes()) && (size < 0 || n == size);
    if (!ok) {
      r[2]++;
      verified.remove(d);
      r[4] += index.removeBlob(d);
      blobs.delete(d);
    }
  }

  /** Counts of entries, blobs and bytes. */
  public Stats stats() {
    long[] c = index.counts();
    return new Stats(c[0], c[1], c[2], c[3], c[4], root);
  }

  /** Writes pending access times and closes the index. Content streams already open may still be read. */
  @Override
  public void close() {
    for (java.util.concurrent.ExecutorService e : scheduled) {
      e.shutdownNow();
    }
    try {
      if (accesses != null) {
        accesses.flushNow(); // best effort: a failure keeps the times unwritten, it does not fail close
      }
      awaitAllKeeping(); // local copies of the tier's content being written
      if (queue != null) {
        queue.close(); // uploads what waits while the tier takes it (10 s at most); the rest stays queued
      }
      index.close();
      if (tier != null) {
        tier.close();
      }
    } catch (IOException e) {
      throw io.larder.internal.Errors.io("closing the index", e);
    } finally {
      try {
        blobs.close();
      } catch (IOException ignored) {
        // nothing to release in the file store
      }
    }
  }
}
