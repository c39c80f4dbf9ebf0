package io.larder.internal;

import io.larder.spi.Index.Hit;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Recent hits of lookups by key with their inline bytes, valid while the database is at the data version
 * they were read at (SQLite's {@code PRAGMA data_version} on one connection that never writes: it moves with
 * every commit by any connection of any process). A commit anywhere empties it; a hot key read again and
 * again meanwhile skips the lookup. The data-version check itself (a read transaction: a lock and an unlock
 * of the shared-memory file, each a system call) is skipped while the WAL-index header in that shared memory
 * is unchanged since the last check (see {@link WalHeader}): then no connection has committed since.
 *
 * <p>A generation that is full starts over (a new one at the same version): kept as it was, a store that
 * nothing is written to (its access times go to a file of their own) kept the first {@value #HOT_KEYS} keys
 * read forever, and a working set read after them was never hot (BENCHMARKS.md, "Access times in a file of
 * their own").
 */
final class HotHits implements AutoCloseable {
  /** At most this many keys and bytes of inline content are kept hot. */
  static final int HOT_KEYS = 16_384;
  private static final long HOT_BYTES = 16L << 20;

  /** What is kept for one data version. Filled only with lookups that began at that version. */
  private static final class Generation {
    final long version;
    final ConcurrentHashMap<String, Hit> hits = new ConcurrentHashMap<>();
    final AtomicLong bytes = new AtomicLong();
    /** The WAL-index header read just before the data version was last found to be this one (null: none). */
    volatile long[] walHeader;

    Generation(long version, long[] walHeader) {
      this.version = version;
      this.walHeader = walHeader;
    }
  }

  private final SqliteDb db;
  private final java.util.concurrent.atomic.AtomicReference<Generation> current =
      new java.util.concurrent.atomic.AtomicReference<>(new Generation(Long.MIN_VALUE, null));
  private final WalHeader walHeader;
  private final ReentrantLock versionLock = new ReentrantLock();
  private Connection versionConnection; // guarded by versionLock
  private PreparedStatement versionQuery; // guarded by versionLock

  HotHits(SqliteDb db) {
    this.db = db;
    this.walHeader = db.walHeader();
  }

  /** The hit for {@code key}: kept if the database has not changed since, else from {@code lookup} (and kept). */
  Optional<Hit> get(String key, Function<String, Optional<Hit>> lookup) {
    Generation g = current.get();
    // Unchanged WAL-index header since the generation's check: no commit since, by any process.
    if (!walHeader.unchangedSince(g.walHeader)) {
      long[] header = walHeader.read(); // before the version: a commit after it changes the header again
      long version = dataVersion(); // before the lookup: what it finds is at least this recent
      if (g.version != version) {
        g = new Generation(version, header);
        current.set(g);
      } else {
        g.walHeader = header;
      }
    }
    Hit known = g.hits.get(key);
    if (known != null) {
      return Optional.of(known);
    }
    Optional<Hit> found = lookup.apply(key);
    if (found.isPresent()) {
      byte[] inline = found.get().inline();
      long size = inline == null ? 0 : inline.length;
      if (g.hits.size() >= HOT_KEYS || g.bytes.get() + size > HOT_BYTES) {
        // Full: start over at the same version (the lookup began at it), unless a newer one came meanwhile.
        Generation fresh = new Generation(g.version, g.walHeader);
        g = current.compareAndSet(g, fresh) ? fresh : null;
      }
      if (g != null) { // inline content is at most 1 MiB (LarderOptions): it always fits a fresh generation
        g.bytes.addAndGet(size);
        g.hits.put(key, found.get());
      }
    }
    return found;
  }

  /** The database's data version, as the version connection sees it. */
  private long dataVersion() {
    versionLock.lock();
    try {
      db.checkOpen();
      if (versionQuery == null) {
        versionConnection = db.connect();
        versionQuery = versionConnection.prepareStatement("PRAGMA data_version");
      }
      // Read through the statement handle (Row): a JDBC result set would cost most of the check.
      Long version = SqliteDb.retrying(() -> Row.first(versionQuery, row -> row.integer(1)));
      if (version == null) {
        throw new SQLException("PRAGMA data_version returned no row");
      }
      return version;
    } catch (SQLException e) {
      throw db.map("reading the index's data version", e);
    } finally {
      versionLock.unlock();
    }
  }

  @Override
  public void close() {
    versionLock.lock();
    try {
      if (versionConnection != null) {
        SqliteDb.closeQuietly(versionConnection);
      }
    } finally {
      versionLock.unlock();
    }
  }
}
