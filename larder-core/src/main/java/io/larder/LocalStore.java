package io.larder;

import io.larder.LarderException.Kind;
import io.larder.internal.AccessRecorder;
import io.larder.internal.CorruptionGuard;
import io.larder.internal.Errors;
import io.larder.internal.Hasher;
import io.larder.internal.ReadAheadVerifyingInputStream;
import io.larder.internal.VerifyingInputStream;
import io.larder.spi.BlobStore;
import io.larder.spi.Index;
import io.larder.spi.Index.BlobRecord;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The local store: blob files and the index in one directory, with the write protocol (content first,
 * then its entry in one transaction) and the read protocol (every read verified, or trusted as
 * {@link ReadTrust} allows; bad content removed with its entries, never served).
 */
final class LocalStore implements Store {
  private static final long READ_AHEAD_THRESHOLD = 8L << 20;
  private static final long MISSING_RETRY_MILLIS = 20;

  private final Path root;
  private final LarderOptions options;
  private final Algorithm algorithm;
  private final BlobStore blobs;
  private final Index index;
  private final ReadTrust trust;
  private final AccessRecorder accesses; // null when access tracking is off

  LocalStore(Path root, LarderOptions options, BlobStore blobs, Index index) {
    this.root = root;
    this.options = options;
    this.algorithm = options.algorithm();
    this.blobs = blobs;
    this.index = index;
    this.trust = new ReadTrust(blobs);
    this.accesses = options.trackAccess() && !options.readOnly() ? new AccessRecorder(index, options.clock()) : null;
  }

  Path root() {
    return root;
  }

  LarderOptions options() {
    return options;
  }

  BlobStore blobs() {
    return blobs;
  }

  Index index() {
    return index;
  }

  ReadTrust trust() {
    return trust;
  }

  Instant now() {
    return options.clock().instant();
  }

  /** Writes the access times this process recorded (eviction orders by them). */
  void flushAccesses() {
    if (accesses != null) {
      accesses.flushNow();
    }
  }

  // ------------------------------------------------------------------ put

  @Override
  public Entry put(String key, InputStream in, PutOptions put) {
    int threshold = options.inlineThreshold();
    BlobRecord record;
    if (threshold > 0 && put.size() <= threshold) {
      byte[] buf = readUpTo(in, threshold + 1); // grows as it reads: small content allocates little
      int n = buf.length;
      if (n <= threshold) {
        Hasher h = new Hasher(algorithm, put.integrity(), put.size());
        h.update(buf, 0, n);
        record = new BlobRecord(h.finish(), n, buf);
      } else {
        record = storeFile(new SequenceInputStream(new ByteArrayInputStream(buf, 0, n), in), put);
      }
    } else {
      record = storeFile(in, put);
    }
    if (record.inline() == null) {
      trust.trustFileNow(record.digest()); // its bytes were hashed as they were written (or matched the upload)
    }
    Entry entry = newEntry(key, record.digest(), record.size(), put);
    if (record.inline() != null) {
      index.put(entry, record);
      return entry;
    }
    // A collector (in any process) may take the file between its publication and this commit: it removes
    // content that no entry references at once. So the put holds the file's bytes (a second link), the index
    // asks inside its transaction whether the file is still there, and if it is gone the held bytes are
    // published again and the commit tried again.
    Optional<BlobStore.Hold> hold = blobs.hold(record.digest());
    try {
      for (int attempt = 1; ; attempt++) {
        if (index.putIfStored(entry, record, () -> blobs.exists(record.digest()))) {
          return entry;
        }
        boolean restored = hold.map(BlobStore.Hold::restore).orElse(false);
        if (attempt == 5) {
          trust.forget(record.digest());
          throw new LarderException.StorageFailure(Kind.BUSY, "the content of '" + key
              + "' was collected while it was being stored (a collection removed the same content at that moment); try again", null);
        }
        if (!restored) {
          LockSupport.parkNanos(20_000_000L); // set aside for an instant by a collector that will put it back
        }
      }
    } finally {
      hold.ifPresent(BlobStore.Hold::close);
    }
  }

  /** The entry a put of {@code key} makes now: its digest, size, metadata and expiry (its TTL or the default). */
  Entry newEntry(String key, Integrity digest, long size, PutOptions put) {
    Instant now = now();
    Duration ttl = put.ttl() != null ? put.ttl() : options.defaultTtl();
    return new Entry(key, digest, size, now, now, ttl == null ? null : now.plus(ttl), put.metadata());
  }

  private BlobRecord storeFile(InputStream in, PutOptions put) {
    if (isStoredAndTrusted(put.integrity())) {
      return hashOnly(in, put);
    }
    BlobStore.StoredBlob b = blobs.put(in, put.integrity(), put.size());
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
    return expected.hash(algorithm).map(h -> trust.touchIfTrusted(new Integrity(List.of(h)))).orElse(false);
  }

  private BlobRecord hashOnly(InputStream in, PutOptions put) {
    Hasher h = new Hasher(algorithm, put.integrity(), put.size());
    byte[] buf = new byte[256 * 1024];
    try {
      for (int n; (n = in.read(buf)) > 0; ) {
        h.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw Errors.io("reading the content to store", e);
    }
    return new BlobRecord(h.finish(), h.count(), null);
  }

  static byte[] readUpTo(InputStream in, int max) {
    try {
      return in.readNBytes(max);
    } catch (IOException e) {
      throw Errors.io("reading the content to store", e);
    }
  }

  // ------------------------------------------------------------------ get

  /** The unexpired entry for a read by key, with its inline bytes. */
  Optional<Index.Hit> hit(String key) {
    Instant now = now();
    return index.get(key, true).filter(h -> !h.entry().isExpired(now));
  }

  /** The key's entry as recorded, expired or not, without content. */
  Optional<Entry> recorded(String key) {
    return index.get(key, false).map(Index.Hit::entry);
  }

  @Override
  public Optional<Content> get(String key) {
    return unlessVanished(() -> hit(key).map(this::read));
  }

  /**
   * Thrown by a read whose content file is gone because its entry was removed or replaced meanwhile (by
   * another thread or process, and the content collected at once): a miss, or a new entry to read, not
   * damage.
   */
  static final class Vanished extends RuntimeException {
    Vanished() {
      super(null, null, false, false);
    }
  }

  /** Runs a read again (a few times) when its entry changed under it; then reports a miss. */
  static <T> Optional<T> unlessVanished(Supplier<Optional<T>> read) {
    for (int attempt = 1; ; attempt++) {
      try {
        return read.get();
      } catch (Vanished v) {
        if (attempt == 3) {
          return Optional.empty();
        }
      }
    }
  }

  /** Reads a hit whole, recording the access. */
  Content read(Index.Hit hit) {
    recordAccess(hit.entry());
    return open(hit);
  }

  /** Opens a hit whole, verified, without recording an access (e.g. to upload it). */
  Content open(Index.Hit hit) {
    Entry e = hit.entry();
    return open(e, e.integrity(), e.size(), hit.inline(), 0, e.size(), true);
  }

  @Override
  public Optional<Content> getRange(String key, long offset, long length) {
    return unlessVanished(() -> hit(key).map(h -> readRange(h, offset, length)));
  }

  /** Reads a range of a hit, recording the access. */
  Content readRange(Index.Hit hit, long offset, long length) {
    Entry e = hit.entry();
    recordAccess(e);
    return openRange(e, e.integrity(), e.size(), hit.inline(), offset, length);
  }

  @Override
  public Optional<Content> getByDigest(Integrity d) {
    return unlessVanished(() -> index.blob(d, true).map(r -> open(null, r.digest(), r.size(), r.inline(), 0, r.size(), true)));
  }

  @Override
  public Optional<Content> getRangeByDigest(Integrity d, long offset, long length) {
    return unlessVanished(() -> index.blob(d, true).map(r -> openRange(null, r.digest(), r.size(), r.inline(), offset, length)));
  }

  private void recordAccess(Entry e) {
    if (accesses != null) {
      accesses.record(e.key(), e.accessed());
    }
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
    if (inline == null && !trust.mayReadUnverified(d)) {
      // Check the whole blob once; its stamp is then recorded and later ranges are served directly.
      try (InputStream whole = open(e, d, size, null, 0, size, true, false).stream()) {
        whole.transferTo(OutputStream.nullOutputStream());
      } catch (IOException ex) {
        throw Errors.io("verifying " + d, ex);
      }
    }
    return open(e, d, size, inline, offset, len, false);
  }

  private Content open(Entry e, Integrity d, long size, byte[] inline, long offset, long length, boolean whole) {
    return open(e, d, size, inline, offset, length, whole, true);
  }

  /** @param mayTrust whether a trusted file may be read unverified (false: verify it whatever is trusted) */
  private Content open(Entry e, Integrity d, long size, byte[] inline, long offset, long length, boolean whole,
      boolean mayTrust) {
    // for error messages only: built when one is (every read building it cost a base64 of the digest)
    Supplier<String> what = () -> e == null ? "content " + d : "the content of '" + e.key() + "' (" + d + ")";
    if (inline != null) {
      if (options.verifyEveryRead() || !trust.isInlineTrusted(d, inline)) {
        byte[] actual = algorithm.newDigest().digest(inline);
        if (inline.length != size || !d.hash(algorithm).orElseThrow().matches(actual)) {
          quarantine(d);
          throw new LarderException.IntegrityFailure(Kind.CORRUPT,
              what.get() + " does not match its digest in the index: it was corrupted and has been removed (put it again)");
        }
        if (!options.verifyEveryRead()) {
          trust.trustInline(d, inline);
        }
      }
      return new Content(e, d, size, offset, length, new ByteArrayInputStream(inline, (int) offset, (int) length));
    }
    if (whole && mayTrust && !options.verifyEveryRead() && trust.mayReadUnverified(d)) {
      // verified since the file last changed (see LarderOptions.verifyEveryRead)
      Optional<FileChannel> file = blobs.openFile(d);
      if (file.isPresent()) {
        InputStream in = Channels.newInputStream(file.get());
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
      // Gone because its entry went (removed or replaced, and the content collected at once), or damage?
      boolean wanted = e == null ? index.blob(d, false).isPresent()
          : index.get(e.key(), false).filter(h -> h.entry().integrity().equals(e.integrity())).isPresent();
      if (!wanted) {
        throw new Vanished();
      }
      quarantine(d);
      throw new LarderException.IntegrityFailure(Kind.CORRUPT,
          what.get() + " is missing from " + root + "/content-v2: the entry has been removed (put it again)");
    }
    if (!whole) {
      return new Content(e, d, size, offset, length, new CorruptionGuard(raw.get(), what, () -> quarantine(d)));
    }
    Runnable onVerified = () -> {
      if (stampBefore != null && stampBefore.equals(blobs.stamp(d).orElse(null))) {
        trust.trustFile(d, stampBefore);
      }
    };
    Integrity.Hash expected = d.hash(algorithm).orElseThrow();
    // Large blobs are read ahead and hashed on a second thread (see ReadAheadVerifyingInputStream).
    InputStream verifying = size >= READ_AHEAD_THRESHOLD
        ? new ReadAheadVerifyingInputStream(raw.get(), expected, size, what, () -> quarantine(d), onVerified)
        : new VerifyingInputStream(raw.get(), expected, size, what, () -> quarantine(d), onVerified);
    return new Content(e, d, size, offset, length, verifying);
  }

  /**
   * Removes a bad or missing copy: the entries pointing at it first, so no entry ever points at nothing.
   * Returns how many entries went (none in a read-only store: the copy is never served, and is left for a
   * writable process, or its verify, to remove).
   */
  long quarantine(Integrity d) {
    trust.forget(d);
    if (options.readOnly()) {
      return 0;
    }
    try {
      return index.removeBlob(d);
    } finally {
      blobs.delete(d);
    }
  }

  // ------------------------------------------------------------------ index

  @Override
  public Optional<Entry> info(String key) {
    Instant now = now();
    return recorded(key).filter(e -> !e.isExpired(now));
  }

  @Override
  public java.util.Set<String> touch(java.util.Collection<String> keys) {
    Instant now = now();
    java.util.Set<String> found = new java.util.HashSet<>();
    for (Entry e : index.entries(keys)) {
      if (!e.isExpired(now)) {
        recordAccess(e);
        found.add(e.key());
      }
    }
    return found;
  }

  @Override
  public Stream<Entry> list(String prefix, String afterKey) {
    Function<String, Pages.Page> page = after -> Pages.Page.of(index.scan(prefix, after, Pages.SIZE));
    return Pages.stream(page.apply(afterKey), page, now());
  }

  @Override
  public boolean remove(String key) {
    return index.remove(key);
  }

  @Override
  public long removePrefix(String prefix) {
    return index.removePrefix(prefix);
  }

  @Override
  public boolean removeContent(Integrity d) {
    trust.forget(d);
    boolean known = index.blob(d, false).isPresent();
    index.removeBlob(d);
    boolean file = blobs.delete(d);
    return known || file;
  }

  // ------------------------------------------------------------------ no remote tier

  @Override
  public TierStats tierStats() {
    return new TierStats(0, 0, 0, 0, 0, 0, 0, 0);
  }

  @Override
  public boolean awaitTierWrites(Duration timeout) {
    return true;
  }

  @Override
  public GcReport collectTier(Duration grace, boolean dryRun) {
    throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "this store has no remote tier to collect");
  }

  @Override
  public Optional<String> remoteTier() {
    return Optional.empty();
  }

  /** Writes pending access times and closes the index. */
  @Override
  public void close() {
    try {
      flushAccesses(); // best effort: a failure keeps the times unwritten, it does not fail close
      index.close();
    } catch (IOException e) {
      throw Errors.io("closing the index", e);
    } finally {
      try {
        blobs.close();
      } catch (IOException ignored) {
        // nothing to release in the file store
      }
    }
  }
}
