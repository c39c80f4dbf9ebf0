package io.larder;

import io.larder.LarderException.Kind;
import io.larder.internal.Errors;
import io.larder.internal.FileBlobStore;
import io.larder.internal.FileOps;
import io.larder.internal.IndexSalvage;
import io.larder.internal.Keys;
import io.larder.internal.SqliteIndex;
import io.larder.internal.WriteBehindQueue;
import io.larder.spi.Index;
import io.larder.spi.RemoteTier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

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
  private final LocalStore local;
  private final Store store; // the local store, or the tiered store in front of it
  private final Collector collector;
  private final Scrubber scrubber;
  private final KeyMemo memo; // null: no memo (see LarderOptions.memo)

  private Larder(LocalStore local, Store store) {
    this.local = local;
    this.store = store;
    Memo m = local.options().memo();
    this.memo = m == null ? null : new KeyMemo(m, local.options().clock());
    // keys queued for a write-behind upload (by any process of this store) stay until uploaded: evicting one
    // would mean it never reaches the tier
    Path queue = TieredStore.queueDirectory(local.root());
    this.collector = new Collector(local, () -> WriteBehindQueue.queuedKeys(queue));
    this.scrubber = new Scrubber(local);
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
    LocalStore local = openLocal(root, options, FileOps.REAL, UnaryOperator.identity());
    return new Larder(local, local);
  }

  /**
   * Opens the store at {@code root} as the local tier in front of a shared remote tier (see
   * {@link RemoteTier}): a read by key that misses locally is answered from the remote tier (verified, and
   * kept locally), and every put is written through to it — acknowledged once it is there (the local copy, a
   * cache of the tier's, is written right after; this node's own reads and changes of the key wait for it).
   * If the remote tier is unreachable, local content is still served and its misses are misses.
   */
  public static Larder open(Path root, LarderOptions options, RemoteTier tier) {
    return open(root, options, tier, TierOptions.defaults());
  }

  /**
   * {@link #open(Path, LarderOptions, RemoteTier)}, writing to the tier as {@code tierOptions} say: through
   * (each put waits for the tier) or behind (puts are queued on disk and uploaded in the background; see
   * {@link TierOptions#writeBehind()} for what that risks). Keys an earlier process queued and did not upload
   * are uploaded now.
   */
  public static Larder open(Path root, LarderOptions options, RemoteTier tier, TierOptions tierOptions) {
    Objects.requireNonNull(tier);
    LocalStore local = openLocal(root, options, FileOps.REAL, UnaryOperator.identity());
    return new Larder(local, new TieredStore(local, tier, tierOptions));
  }

  /** For tests: the same store with its file operations and index wrapped (fault injection). */
  static Larder open(Path root, LarderOptions options, FileOps ops, UnaryOperator<Index> indexWrapper) {
    LocalStore local = openLocal(root, options, ops, indexWrapper);
    return new Larder(local, local);
  }

  private static LocalStore openLocal(Path root, LarderOptions options, FileOps ops, UnaryOperator<Index> wrapper) {
    Path r = root.toAbsolutePath();
    if (options.readOnly()) {
      if (!Files.isRegularFile(r.resolve("index.db"))) {
        throw new LarderException.StorageFailure(Kind.IO, "there is no store at " + r
            + " (no index.db) to open read-only", null);
      }
    } else {
      try {
        Files.createDirectories(r);
      } catch (IOException e) {
        throw Errors.io("creating the store directory " + r, e);
      }
    }
    FileBlobStore blobs = new FileBlobStore(r, options.algorithm(), options.durability(), options.compression(), ops);
    Index index = wrapper.apply(new SqliteIndex(r.resolve("index.db"), options.durability(), options.readOnly(),
        options.readTable()));
    if (!options.readOnly()) {
      blobs.removeTmpOlderThan(options.clock().instant().minus(options.tmpGrace()));
    }
    return new LocalStore(r, options, blobs, index);
  }

  /** What {@link #repair} did. */
  public record RepairReport(long recovered, long contentMissing, long contentCorrupt, boolean wholeIndexRead,
      Path damagedIndex) {}

  /**
   * Rebuilds the index of a store whose index is damaged (what {@code verify} reports as a damaged index):
   * the index files are set aside in {@code index.damaged-<time>/} (kept, for sqlite3's {@code .recover}),
   * a new index is made, and every entry that can still be read from the old one is put again — its content
   * from the old index (inline) or from its blob file, verified against its digest; expired entries are
   * dropped, creation and access times restart. Content files no recovered entry references are left for
   * garbage collection. The store must not be in use by any other process.
   */
  public static RepairReport repair(Path root) {
    Path r = root.toAbsolutePath();
    Path aside = r.resolve("index.damaged-" + System.currentTimeMillis());
    try {
      Files.createDirectories(aside);
      Path index = r.resolve("index.db");
      for (Path db : List.of(index, SqliteIndex.accessFile(index))) {
        for (String suffix : List.of("", "-wal", "-shm")) {
          Path f = Path.of(db + suffix);
          if (Files.exists(f)) {
            Files.move(f, aside.resolve(f.getFileName()));
          }
        }
      }
      Files.deleteIfExists(r.resolve("index.reserve"));
    } catch (IOException e) {
      throw Errors.io("setting the damaged index of " + r + " aside", e);
    }
    long[] n = new long[3];
    boolean whole;
    try (Larder fresh = Larder.open(r)) {
      Instant now = fresh.local.now();
      whole = IndexSalvage.read(aside.resolve("index.db"), s -> {
        Entry e = s.entry();
        if (e.isExpired(now)) {
          return;
        }
        PutOptions po = PutOptions.defaults().integrity(e.integrity()).size(e.size()).metadata(e.metadata());
        if (e.expires() != null) {
          po = po.ttl(Duration.between(now, e.expires()));
        }
        try {
          if (s.inline() != null) {
            fresh.put(e.key(), s.inline(), po);
          } else {
            Optional<InputStream> in = fresh.local.blobs().open(e.integrity(), 0, Long.MAX_VALUE);
            if (in.isEmpty()) {
              n[1]++;
              return;
            }
            try (InputStream content = in.get()) {
              fresh.put(e.key(), content, po);
            }
          }
          n[0]++;
        } catch (LarderException.IntegrityFailure bad) {
          n[2]++;
        } catch (IOException io) {
          n[1]++;
        }
      });
    }
    return new RepairReport(n[0], n[1], n[2], whole, aside);
  }

  /** The store's directory. */
  public Path root() {
    return local.root();
  }

  /** The options the store was opened with. */
  public LarderOptions options() {
    return local.options();
  }

  // ------------------------------------------------------------------ the remote tier

  /** What the remote tier did (all zero without one). */
  public TierStats tierStats() {
    return store.tierStats();
  }

  /**
   * Waits until every put queued for the remote tier (write-behind) is uploaded, or {@code timeout} passes.
   *
   * @return whether nothing waits any more
   */
  public boolean awaitTierWrites(Duration timeout) throws InterruptedException {
    return store.awaitTierWrites(timeout);
  }

  /**
   * Collects the remote tier (not the local store: see {@link #gc}): entries expired there, content no
   * entry there references and that nobody wrote or re-referenced within {@code grace}, abandoned uploads.
   * Run it from one node at a time, with a grace longer than a collection and any upload take (a day).
   *
   * @throws LarderException.InvalidInput without a remote tier
   */
  public GcReport collectTier(Duration grace, boolean dryRun) {
    writable("collecting the tier");
    return store.collectTier(Objects.requireNonNull(grace), dryRun);
  }

  /** Where the remote tier is, if there is one. */
  public Optional<String> remoteTier() {
    return store.remoteTier();
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
      throw Errors.io("reading " + file, e);
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
    writable("putting");
    Entry e = store.put(Keys.check(key), Objects.requireNonNull(in), Objects.requireNonNull(options));
    forget(key);
    return e;
  }

  /** Refuses {@code what} (a change) when the store is open read-only. */
  private void writable(String what) {
    if (local.options().readOnly()) {
      throw new LarderException.StorageFailure(Kind.READ_ONLY, what + " refused: the store at " + local.root()
          + " is open read-only (--read-only, the read-only setting, or a store this user cannot write)", null);
    }
  }

  private void forget(String key) {
    if (memo != null) {
      memo.forget(key);
    }
  }

  private void forgetAll() {
    if (memo != null) {
      memo.forgetAll();
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
    String k = Keys.check(key);
    return memo == null ? store.get(k) : memo.get(k, () -> store.get(k));
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
    return ownDigest(integrity).flatMap(store::getByDigest);
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
    return store.getRange(Keys.check(key), offset, length);
  }

  /** A range of content by digest; see {@link #getRange(String, long, long)}. */
  public Optional<Content> getRangeByDigest(Integrity integrity, long offset, long length) {
    return ownDigest(integrity).flatMap(d -> store.getRangeByDigest(d, offset, length));
  }

  /** The digest in the store's algorithm that {@code integrity} names, if it names one. */
  private Optional<Integrity> ownDigest(Integrity integrity) {
    return integrity.hash(local.options().algorithm()).map(h -> new Integrity(List.of(h)));
  }

  // ------------------------------------------------------------------ index

  /** The entry for {@code key} from the index alone (no content is read); empty on a miss. */
  public Optional<Entry> info(String key) {
    return store.info(Keys.check(key));
  }

  /**
   * Which of {@code keys} have an unexpired entry (the content is not checked), looked up in one index query
   * for the whole batch. Each one found counts as read: its access time is refreshed as a {@link #get} would,
   * so that a collection keeps it. For callers whose entries only make sense together (a build cache's action
   * result and the outputs it names): touching them all on every use keeps eviction from cutting them apart.
   * With a remote tier, a key this node lacks is looked up in the tier (and not touched: the tier keeps what
   * it holds by its own rules). In a read-only store nothing is recorded (as for a {@code get}).
   */
  public java.util.Set<String> touch(java.util.Collection<String> keys) {
    for (String k : keys) {
      Keys.check(k);
    }
    return store.touch(keys);
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
   * tier's order (see {@link RemoteTier#keys}); an entry this node lacks is read from the tier (not its
   * content). If the tier cannot be reached, this node's own entries are listed.
   */
  public Stream<Entry> list(String prefix) {
    return list(prefix, null);
  }

  /**
   * The entries of {@link #list(String)} whose keys come strictly after {@code afterKey} (or all of them if
   * it is {@code null}): a cursor for paging.
   */
  public Stream<Entry> list(String prefix, String afterKey) {
    return store.list(Keys.checkPrefix(prefix), afterKey);
  }

  /** Removes the entry for {@code key}. Its content stays until collected if other keys point at it. */
  public boolean remove(String key) {
    writable("removing an entry");
    boolean removed = store.remove(Keys.check(key));
    forget(key);
    return removed;
  }

  /** Removes every entry whose key starts with {@code prefix}, in one transaction; returns how many. */
  public long removePrefix(String prefix) {
    writable("removing entries");
    if (prefix == null || prefix.isEmpty()) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT,
          "removePrefix needs a non-empty prefix (to empty the store, remove its directory)");
    }
    long n = store.removePrefix(Keys.checkPrefix(prefix));
    forgetAll();
    return n;
  }

  /**
   * Empties the store while other processes may use it: every entry is removed in one transaction, then a
   * collection removes the content they referenced (at once) and abandoned temporary files. What another
   * process puts afterwards stays. Refused when a remote tier is attached: it would empty the shared tier
   * for every node (remove prefixes there, or collect the bucket, instead).
   *
   * @return the entries removed
   */
  public long clear() {
    writable("clearing the store");
    if (remoteTier().isPresent()) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "clearing a store with a shared tier ("
          + remoteTier().get() + ") would empty the tier for every node; remove prefixes instead");
    }
    long removed = local.removePrefix("");
    forgetAll();
    try {
      collector.gc(GcOptions.defaults());
    } catch (LarderException e) {
      if (e.kind() != Kind.BUSY) {
        throw e;
      }
      // another process is collecting: it, or the next collection, takes the content
    }
    return removed;
  }

  /** Removes content and every entry pointing at it; returns whether there was any. */
  public boolean removeContent(Integrity integrity) {
    writable("removing content");
    boolean removed = ownDigest(integrity).map(store::removeContent).orElse(false);
    forgetAll();
    return removed;
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
    writable("collecting garbage");
    GcReport r = collector.gc(Objects.requireNonNull(options));
    forgetAll();
    return r;
  }

  /**
   * Collects garbage every {@code interval} on a background thread until the returned handle (or the
   * store) is closed: what a long-running process such as the server does. A collection that fails (the
   * store busy, another process collecting) is reported to {@code onError} and tried again next time.
   */
  public Schedule collectEvery(Duration interval, GcOptions options, Consumer<GcReport> onReport,
      Consumer<LarderException> onError) {
    Objects.requireNonNull(onReport);
    writable("collecting garbage");
    return collector.every(interval, Objects.requireNonNull(options), r -> {
      forgetAll();
      onReport.accept(r);
    }, onError);
  }

  /** A running schedule; closing it stops it (a collection under way finishes). */
  public interface Schedule extends AutoCloseable {
    @Override
    void close();
  }

  // ------------------------------------------------------------------ health

  /**
   * Re-hashes every blob: those the index records and any blob file it does not. Corrupt blobs are removed
   * with the entries that point at them; records of blob files that have gone are dropped with theirs.
   */
  public VerifyReport verify() {
    return verify(n -> { });
  }

  /**
   * {@link #verify()}, telling {@code progress} how many bytes each step re-hashed (for progress displays). In a
   * store opened read-only, what is corrupt or missing is counted and left as it is (never served).
   */
  public VerifyReport verify(LongConsumer progress) {
    VerifyReport r = scrubber.verify(progress);
    forgetAll();
    return r;
  }

  /**
   * Verifies the store continuously at a steady pace instead of all at once: each pass re-hashes every blob
   * (as {@link #verify()} does, removing what is corrupt or missing with its entries) spread evenly over about
   * {@code pass} (at least 64 KiB a second, so a small store's pass ends sooner), then the next pass begins.
   * Damage that changes no file attribute (bit rot below the file system, which reads that trust unchanged
   * files do not see) is found within one pass, without a daily burst of reads. Each pass's report goes to
   * {@code onPass}; a failure to {@code onError}, and the next pass begins after {@code pass}. For long-running
   * processes (the server runs it with {@code scrub-interval}).
   */
  public Schedule scrubEvery(Duration pass, Consumer<VerifyReport> onPass, Consumer<LarderException> onError) {
    writable("scrubbing");
    Objects.requireNonNull(pass);
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread t = Thread.ofPlatform().daemon().name("larder-scrub").start(() -> {
      while (!stop.get()) {
        try {
          scrubber.pacedPass(pass, stop::get).ifPresent(r -> {
            forgetAll();
            onPass.accept(r);
          });
        } catch (LarderException e) {
          if (e.kind() == LarderException.Kind.CLOSED || stop.get()) {
            return; // closed, or stopped: the interruption that stops it is no failure (it was reported as one)
          }
          onError.accept(e);
          java.util.concurrent.locks.LockSupport.parkNanos(Math.min(pass.toNanos(), 60_000_000_000L));
        }
      }
    });
    return () -> {
      stop.set(true);
      t.interrupt();
    };
  }

  /** Counts of entries, blobs and bytes. */
  public Stats stats() {
    Index.Counts c = local.index().counts();
    return new Stats(c.entries(), c.blobs(), c.blobBytes(), c.inlineBlobs(), c.indexBytes(), local.root());
  }

  /** Writes pending access times and closes the index. Content streams already open may still be read. */
  @Override
  public void close() {
    collector.stop();
    store.close();
  }
}
