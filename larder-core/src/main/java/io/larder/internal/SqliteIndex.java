package io.larder.internal;

import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.LarderException.Kind;
import io.larder.spi.Index;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * The index in SQLite (WAL mode): {@code entries} ordered by key (a WITHOUT ROWID B-tree, so a prefix is a
 * key range) and {@code blobs}, which records every blob and holds small ones inline.
 *
 * <p>One writer connection per process, serialised by a lock; SQLite's own locking (BEGIN IMMEDIATE with a
 * busy timeout, then a bounded retry) serialises writers across processes. Readers use a small pool and
 * never wait for writers.
 */
public final class SqliteIndex implements Index {
  /** The on-disk format of the index; recorded as {@code PRAGMA user_version}. */
  public static final int FORMAT_VERSION = 1;

  private static final int BUSY_TIMEOUT_MS = 10_000;
  private static final int BUSY_RETRIES = 20;
  private static final int IMPATIENT_TIMEOUT_MS = 50;
  private static final int MAX_READERS = 16;

  private static final String ENTRY_COLUMNS = "key, digest, size, created, accessed, expires, metadata";

  private final Path dbFile;
  private final String url;
  private final Durability durability;
  private final ReentrantLock writeLock = new ReentrantLock();
  private Connection writer; // opened with the writer, on the first write
  private PreparedStatement wInsertBlob; // opened with the writer, on the first write
  private PreparedStatement wUpsertEntry; // opened with the writer, on the first write
  private PreparedStatement wDeleteEntry; // opened with the writer, on the first write
  private PreparedStatement wBegin;
  private PreparedStatement wCommit;
  private final ConcurrentLinkedQueue<Reader> idleReaders = new ConcurrentLinkedQueue<>();
  private final Semaphore readerPermits = new Semaphore(MAX_READERS);
  private final List<Reader> allReaders = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile boolean closed;
  /** Room for removals to commit on a full disk (see SpaceReserve). */
  private final SpaceReserve reserve;

  public SqliteIndex(Path dbFile, Durability durability) {
    this.dbFile = dbFile;
    this.url = "jdbc:sqlite:" + dbFile.toAbsolutePath();
    this.durability = durability;
    this.reserve = new SpaceReserve(dbFile.resolveSibling("index.reserve"), 1 << 20);
    // Commands that only read (info, get, ls) never open the writer: one connection fewer at start-up.
    int version = read("opening the index " + dbFile, r -> () -> {
      try (Statement st = r.c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
        return rs.next() ? rs.getInt(1) : 0;
      }
    });
    if (version > FORMAT_VERSION) {
      throw newerFormat(version);
    }
    if (version < FORMAT_VERSION) {
      writeLock.lock();
      try {
        writer();
      } finally {
        writeLock.unlock();
      }
    }
  }

  private LarderException newerFormat(int version) {
    return new LarderException.StorageFailure(Kind.IO, "the index " + dbFile + " has format " + version
        + ", newer than this Larder understands (" + FORMAT_VERSION + "); upgrade Larder", null);
  }

  /** The writer connection, opened (and the schema made) on first use. Callers hold {@code writeLock}. */
  private Connection writer() {
    if (writer != null) {
      return writer;
    }
    try {
      Connection c = connect(true);
      org.sqlite.Function.create(c, "larder_group", new org.sqlite.Function() {
        @Override
        protected void xFunc() throws SQLException {
          result(Keys.group(value_text(0), value_int(1)));
        }
      }, 2, org.sqlite.Function.FLAG_DETERMINISTIC);
      writer = c;
      retrying(() -> {
        initSchema();
        return null;
      });
      wInsertBlob = c.prepareStatement("INSERT OR IGNORE INTO blobs(digest, size, data) VALUES (?, ?, ?)");
      // `inline` follows the blob record actually stored (a process with another inline threshold may have
      // recorded the same content the other way), so that the collector can trust it.
      wUpsertEntry = c.prepareStatement("INSERT OR REPLACE INTO entries(" + ENTRY_COLUMNS + ", inline)"
          + " VALUES (?1,?2,?3,?4,?5,?6,?7, (SELECT data IS NOT NULL FROM blobs WHERE digest = ?2))");
      wDeleteEntry = c.prepareStatement("DELETE FROM entries WHERE key = ?");
      return c;
    } catch (SQLException e) {
      if (writer != null) {
        closeQuietly(writer);
        writer = null;
      }
      throw map("opening the index " + dbFile + " for writing", e);
    }
  }

  private Connection connect(boolean forWriting) throws SQLException {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(BUSY_TIMEOUT_MS);
    config.setSynchronous(durability == Durability.POWER_SAFE
        ? SQLiteConfig.SynchronousMode.FULL : SQLiteConfig.SynchronousMode.NORMAL);
    if (!forWriting) {
      config.setPragma(SQLiteConfig.Pragma.MMAP_SIZE, String.valueOf(256L << 20));
    }
    Connection c = retrying(() -> config.createConnection(url));
    try (Statement s = c.createStatement()) {
      // journal_mode is persistent in the file; setting it takes a lock, so only when needed.
      try (ResultSet rs = s.executeQuery("PRAGMA journal_mode")) {
        if (!rs.next() || !"wal".equalsIgnoreCase(rs.getString(1))) {
          retrying(() -> s.execute("PRAGMA journal_mode=WAL"));
        }
      }
    }
    // The writer stays in autocommit mode and brackets each write with BEGIN IMMEDIATE ... COMMIT itself:
    // with autoCommit=false the driver opens the next transaction right after each commit, and an
    // IMMEDIATE one would hold the database's write lock against every other process between writes.
    return c;
  }

  private void begin() throws SQLException {
    if (wBegin == null) {
      wBegin = writer.prepareStatement("BEGIN IMMEDIATE");
      wCommit = writer.prepareStatement("COMMIT");
    }
    wBegin.execute();
  }

  private void commit() throws SQLException {
    wCommit.execute();
  }

  private void rollback() throws SQLException {
    try (Statement s = writer.createStatement()) {
      s.execute("ROLLBACK");
    } catch (SQLException e) {
      if (e.getMessage() == null || !e.getMessage().contains("no transaction is active")) {
        throw e;
      }
    }
  }

  private void initSchema() throws SQLException {
    begin();
    try (Statement s = writer.createStatement()) {
      int version;
      try (ResultSet rs = s.executeQuery("PRAGMA user_version")) {
        version = rs.next() ? rs.getInt(1) : 0;
      }
      if (version > FORMAT_VERSION) {
        rollback();
        throw newerFormat(version);
      }
      if (version == FORMAT_VERSION) {
        commit();
        return;
      }
      s.execute("CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE,"
          + " size INTEGER NOT NULL, data BLOB)");
      s.execute("CREATE TABLE IF NOT EXISTS entries(key TEXT PRIMARY KEY NOT NULL, digest TEXT NOT NULL,"
          + " size INTEGER NOT NULL, created INTEGER NOT NULL, accessed INTEGER NOT NULL, expires INTEGER,"
          + " metadata TEXT, inline INTEGER NOT NULL) WITHOUT ROWID");
      // Only entries of file blobs are indexed by digest: see removeBlob.
      s.execute("CREATE INDEX IF NOT EXISTS entries_file_digest ON entries(digest) WHERE inline = 0");
      // Only entries with a TTL are indexed by expiry, so that sweeping them is O(expired).
      s.execute("CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires) WHERE expires IS NOT NULL");
      s.execute("PRAGMA user_version = " + FORMAT_VERSION);
      commit();
    } catch (SQLException | RuntimeException e) {
      rollback();
      throw e;
    }
  }

  // ---------------------------------------------------------------- writes

  @FunctionalInterface
  private interface SqlWork<T> {
    T run() throws SQLException;
  }

  /** Runs {@code work} as one write transaction, retrying a bounded number of times if the index is busy. */
  private <T> T write(String what, SqlWork<T> work) {
    checkOpen();
    writeLock.lock();
    try {
      writer();
      return retrying(() -> transaction(work));
    } catch (SQLException e) {
      throw failedWrite(what, e);
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * {@link #write} for a removal, which must work on a full disk: it is how space comes back. If the disk is
   * full, the space reserve is given up and the removal tried once more.
   */
  private <T> T freeing(String what, SqlWork<T> work) {
    try {
      return write(what, work);
    } catch (LarderException e) {
      if (e.kind() != Kind.INSUFFICIENT_STORAGE || !reserve.release()) {
        throw e;
      }
      return write(what, work);
    }
  }

  /**
   * A write that failed for another reason than a busy database (a full disk, an I/O error): the writer
   * connection is closed, so that the next write starts on a fresh one. A commit that fails on a full disk
   * can leave the connection's cached statements unusable ("statement is not executing" on every later
   * write until a restart, while other connections wrote fine); closing it also rolls back whatever the
   * failure left open. The caller holds {@code writeLock}.
   */
  private LarderException failedWrite(String what, SQLException e) {
    if (!isBusy(e) && writer != null) {
      closeQuietly(writer);
      writer = null;
      wBegin = null;
      wCommit = null;
    }
    return map(what, e);
  }

  /**
   * A write that waits at most {@value #IMPATIENT_TIMEOUT_MS} ms for the lock and is not retried: for
   * bookkeeping done on a reader's thread, which must not stall a read behind another process's writes.
   */
  private void impatientWrite(String what, SqlWork<Void> work) {
    checkOpen();
    writeLock.lock();
    try (Statement s = writer().createStatement()) {
      s.execute("PRAGMA busy_timeout = " + IMPATIENT_TIMEOUT_MS);
      try {
        transaction(work);
      } finally {
        s.execute("PRAGMA busy_timeout = " + BUSY_TIMEOUT_MS);
      }
    } catch (SQLException e) {
      throw failedWrite(what, e);
    } finally {
      writeLock.unlock();
    }
  }

  /** BEGIN IMMEDIATE, the work, COMMIT; ROLLBACK if anything fails. The caller holds {@code writeLock}. */
  private <T> T transaction(SqlWork<T> work) throws SQLException {
    begin();
    try {
      T result = work.run();
      commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      try {
        rollback();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static <T> T retrying(SqlWork<T> work) throws SQLException {
    for (int attempt = 0; ; attempt++) {
      try {
        return work.run();
      } catch (SQLException e) {
        if (!isBusy(e) || attempt >= BUSY_RETRIES) {
          throw e;
        }
        try {
          Thread.sleep(Math.min(2L << Math.min(attempt, 6), 100));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  private static boolean isBusy(SQLException e) {
    if (e instanceof SQLiteException se) {
      int primary = se.getResultCode().code & 0xff;
      return primary == SQLiteErrorCode.SQLITE_BUSY.code || primary == SQLiteErrorCode.SQLITE_LOCKED.code;
    }
    return false;
  }

  @Override
  public void put(Entry entry, BlobRecord blob) {
    String digest = entry.integrity().strongest().sri();
    write("recording entry '" + entry.key() + "'", () -> {
      wInsertBlob.setString(1, digest);
      wInsertBlob.setLong(2, blob.size());
      if (blob.inline() == null) {
        wInsertBlob.setNull(3, Types.BLOB);
      } else {
        wInsertBlob.setBytes(3, blob.inline());
      }
      wInsertBlob.executeUpdate();
      wUpsertEntry.setString(1, entry.key());
      wUpsertEntry.setString(2, digest);
      wUpsertEntry.setLong(3, entry.size());
      wUpsertEntry.setLong(4, entry.created().toEpochMilli());
      wUpsertEntry.setLong(5, entry.accessed().toEpochMilli());
      if (entry.expires() == null) {
        wUpsertEntry.setNull(6, Types.INTEGER);
      } else {
        wUpsertEntry.setLong(6, entry.expires().toEpochMilli());
      }
      wUpsertEntry.setString(7, entry.metadata());
      wUpsertEntry.executeUpdate();
      return null;
    });
    reserve.restore(); // made once, after a put succeeds; then a volatile read unless it was given up
  }

  @Override
  public boolean remove(String key) {
    return freeing("removing entry '" + key + "'", () -> {
      wDeleteEntry.setString(1, key);
      return wDeleteEntry.executeUpdate() > 0;
    });
  }

  @Override
  public long removePrefix(String prefix) {
    String upper = Keys.upperBound(prefix);
    String sql = "DELETE FROM entries WHERE key >= ?" + (upper == null ? "" : " AND key < ?");
    return freeing("removing entries under '" + prefix + "'", () -> {
      try (PreparedStatement ps = writer.prepareStatement(sql)) {
        bindRange(ps, prefix, upper);
        return (long) ps.executeUpdate();
      }
    });
  }

  private static void bindRange(PreparedStatement ps, String prefix, String upper) throws SQLException {
    ps.setString(1, prefix);
    if (upper != null) {
      ps.setString(2, upper);
    }
  }

  @Override
  public void recordAccess(java.util.Map<String, Long> accessedMillis) {
    impatientWrite("recording access times", () -> {
      try (PreparedStatement ps = writer.prepareStatement(
          "UPDATE entries SET accessed = ?2 WHERE key = ?1 AND accessed < ?2")) {
        for (java.util.Map.Entry<String, Long> e : accessedMillis.entrySet()) {
          ps.setString(1, e.getKey());
          ps.setLong(2, e.getValue());
          ps.addBatch();
        }
        ps.executeBatch();
      }
      return null;
    });
  }

  @Override
  public long removeBlob(Integrity digest) {
    String d = digest.strongest().sri();
    return freeing("forgetting blob " + d, () -> {
      long n;
      // Entries of file blobs are found through the partial index; entries of inline content are not
      // indexed by digest (it would cost every small put a third B-tree write), so removing inline content
      // scans the entries: a rare operation (corruption found, an explicit removeContent).
      try (PreparedStatement ps = writer.prepareStatement("DELETE FROM entries WHERE digest = ? AND inline = 0")) {
        ps.setString(1, d);
        n = ps.executeUpdate();
      }
      boolean inline;
      try (PreparedStatement ps = writer.prepareStatement("SELECT data IS NOT NULL FROM blobs WHERE digest = ?")) {
        ps.setString(1, d);
        try (ResultSet rs = ps.executeQuery()) {
          inline = !rs.next() || rs.getBoolean(1);
        }
      }
      if (inline) {
        try (PreparedStatement ps = writer.prepareStatement("DELETE FROM entries WHERE digest = ? AND inline = 1")) {
          ps.setString(1, d);
          n += ps.executeUpdate();
        }
      }
      try (PreparedStatement ps = writer.prepareStatement("DELETE FROM blobs WHERE digest = ?")) {
        ps.setString(1, d);
        ps.executeUpdate();
      }
      return n;
    });
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public long removeExpired(Instant now, int limit, boolean dryRun) {
    if (dryRun) {
      return read("counting expired entries", r -> () -> {
        try (PreparedStatement ps = r.c.prepareStatement(
            "SELECT count(*) FROM entries WHERE expires IS NOT NULL AND expires <= ?")) {
          ps.setLong(1, now.toEpochMilli());
          try (ResultSet rs = ps.executeQuery()) {
            return rs.getLong(1);
          }
        }
      });
    }
    return freeing("removing expired entries", () -> {
      try (PreparedStatement ps = writer.prepareStatement("DELETE FROM entries WHERE key IN"
          + " (SELECT key FROM entries WHERE expires IS NOT NULL AND expires <= ? LIMIT ?)")) {
        ps.setLong(1, now.toEpochMilli());
        ps.setInt(2, limit);
        return (long) ps.executeUpdate();
      }
    });
  }

  @Override
  public long[] evict(Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup, int groupSegments,
      java.util.Set<String> keep, boolean dryRun) {
    try {
      return evictOnce(accessedBefore, maxBytes, targetBytes, keepPerGroup, groupSegments, keep, dryRun);
    } catch (LarderException e) {
      if (e.kind() != Kind.INSUFFICIENT_STORAGE || !reserve.release()) {
        throw e;
      }
      return evictOnce(accessedBefore, maxBytes, targetBytes, keepPerGroup, groupSegments, keep, dryRun);
    }
  }

  private long[] evictOnce(Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup,
      int groupSegments, java.util.Set<String> keep, boolean dryRun) {
    checkOpen();
    writeLock.lock();
    try (Statement s = writer().createStatement()) {
      // Snapshots in this connection's temp storage (SQLite's temp files, not the JVM heap): the entries
      // that may go, least recently used first, and how many entries reference each content.
      s.execute("DROP TABLE IF EXISTS temp.gc_candidates");
      s.execute("DROP TABLE IF EXISTS temp.gc_refs");
      s.execute("CREATE TEMP TABLE gc_refs(digest TEXT PRIMARY KEY, n INTEGER NOT NULL, size INTEGER NOT NULL)");
      s.execute("INSERT INTO temp.gc_refs SELECT digest, count(*), max(size) FROM entries GROUP BY digest");
      s.execute("CREATE TEMP TABLE gc_candidates(key TEXT PRIMARY KEY, digest TEXT, accessed INTEGER, created INTEGER)");
      String ranked = keepPerGroup <= 0
          ? "SELECT key, digest, accessed, created FROM entries"
          : "SELECT key, digest, accessed, created FROM (SELECT key, digest, accessed, created, ROW_NUMBER() OVER"
              + " (PARTITION BY larder_group(key, " + groupSegments + ") ORDER BY created DESC, key DESC) AS rn FROM entries)"
              + " WHERE rn > "
              + keepPerGroup;
      s.execute("INSERT INTO temp.gc_candidates " + ranked);
      if (!keep.isEmpty()) { // keys waiting for their upload: not candidates (at most the queue's limit)
        try (PreparedStatement del = writer().prepareStatement("DELETE FROM temp.gc_candidates WHERE key = ?")) {
          for (String k : keep) {
            del.setString(1, k);
            del.addBatch();
          }
          del.executeBatch();
        }
      }
      s.execute("CREATE INDEX temp.gc_candidates_lru ON gc_candidates(accessed, key)");
      long total;
      try (ResultSet rs = s.executeQuery("SELECT total(size) FROM temp.gc_refs")) {
        total = (long) rs.getDouble(1);
      }
      long cutoff = accessedBefore == null ? Long.MIN_VALUE : accessedBefore.toEpochMilli();
      boolean bySize = maxBytes >= 0 && total > maxBytes;
      long evicted = 0;
      long freed = 0;
      long lastAccessed = Long.MIN_VALUE;
      String lastKey = "";
      while (true) {
        boolean ageDue = lastAccessed < cutoff;
        if (!ageDue && !(bySize && total - freed > targetBytes)) {
          break;
        }
        List<String[]> batch = new ArrayList<>();
        try (PreparedStatement ps = writer.prepareStatement("SELECT key, digest, accessed, created FROM temp.gc_candidates"
            + " WHERE accessed > ?1 OR (accessed = ?1 AND key > ?2) ORDER BY accessed, key LIMIT 256")) {
          ps.setLong(1, lastAccessed);
          ps.setString(2, lastKey);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              batch.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)});
            }
          }
        }
        if (batch.isEmpty()) {
          break;
        }
        final long freedSoFar = freed;
        long[] step = retrying(() -> transaction(() -> {
          long n = 0;
          long bytes = 0;
          try (PreparedStatement del = writer.prepareStatement(
                  "DELETE FROM entries WHERE key = ? AND accessed = ? AND created = ?");
              PreparedStatement ref = writer.prepareStatement(
                  "UPDATE temp.gc_refs SET n = n - 1 WHERE digest = ? RETURNING n, size")) {
            for (String[] c : batch) {
              long accessed = Long.parseLong(c[2]);
              boolean ageVictim = accessed < cutoff;
              if (!ageVictim && !(bySize && total - freedSoFar - bytes > targetBytes)) {
                break;
              }
              boolean gone = true;
              if (!dryRun) {
                // Only if unchanged since the snapshot: an entry read or rewritten meanwhile stays.
                del.setString(1, c[0]);
                del.setLong(2, accessed);
                del.setLong(3, Long.parseLong(c[3]));
                gone = del.executeUpdate() > 0;
              }
              if (gone) {
                n++;
                ref.setString(1, c[1]);
                try (ResultSet rs = ref.executeQuery()) {
                  if (rs.next() && rs.getLong(1) == 0) {
                    bytes += rs.getLong(2);
                  }
                }
              }
            }
          }
          return new long[] {n, bytes};
        }));
        evicted += step[0];
        freed += step[1];
        String[] last = batch.get(batch.size() - 1);
        lastAccessed = Long.parseLong(last[2]);
        lastKey = last[0];
      }
      s.execute("DROP TABLE IF EXISTS temp.gc_candidates");
      s.execute("DROP TABLE IF EXISTS temp.gc_refs");
      return new long[] {evicted, freed, total};
    } catch (SQLException e) {
      throw failedWrite("evicting entries", e);
    } finally {
      writeLock.unlock();
    }
  }

  @Override
  public long[] removeUnreferencedInline(boolean dryRun) {
    String where = " FROM blobs WHERE data IS NOT NULL AND digest NOT IN (SELECT digest FROM entries)";
    if (dryRun) {
      return read("counting unreferenced inline content", r -> () -> {
        try (PreparedStatement ps = r.c.prepareStatement("SELECT count(*), total(size)" + where);
            ResultSet rs = ps.executeQuery()) {
          return new long[] {rs.getLong(1), (long) rs.getDouble(2)};
        }
      });
    }
    // In batches, each its own transaction: a commit needs room in the write-ahead log for every page it
    // changes, and on a full disk only the space reserve is there (see freeing).
    long[] total = new long[2];
    long n;
    do {
      long[] batch = freeing("collecting unreferenced inline content", () -> {
        long[] r = new long[2];
        try (PreparedStatement ps = writer.prepareStatement("DELETE FROM blobs WHERE id IN (SELECT id" + where
            + " LIMIT " + INLINE_BATCH + ") RETURNING size");
            ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            r[0]++;
            r[1] += rs.getLong(1);
          }
        }
        return r;
      });
      n = batch[0];
      total[0] += batch[0];
      total[1] += batch[1];
    } while (n == INLINE_BATCH);
    return total;
  }

  private static final int INLINE_BATCH = 512;

  @Override
  public List<BlobRecord> unreferencedFiles(String after, int limit) {
    return blobPage("listing unreferenced content", "SELECT digest, size, NULL FROM blobs WHERE data IS NULL"
        + " AND digest > ? AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.digest = blobs.digest AND e.inline = 0)"
        + " ORDER BY digest LIMIT ?", after, limit);
  }

  @Override
  public boolean forgetIfUnreferenced(Integrity digest) {
    String d = digest.strongest().sri();
    return freeing("forgetting " + d, () -> {
      try (PreparedStatement ps = writer.prepareStatement("DELETE FROM blobs WHERE digest = ?1 AND data IS NULL"
          + " AND NOT EXISTS (SELECT 1 FROM entries WHERE digest = ?1 AND inline = 0)")) {
        ps.setString(1, d);
        return ps.executeUpdate() > 0;
      }
    });
  }

  // ---------------------------------------------------------------- reads

  /** A pooled read connection with its prepared statements (prepared on first use: the schema may not exist yet). */
  private final class Reader {
    final Connection c;
    private PreparedStatement getWithInline;
    private PreparedStatement get;
    private PreparedStatement blob;
    private PreparedStatement blobWithInline;

    Reader() throws SQLException {
      c = connect(false);
    }

    PreparedStatement getWithInline() throws SQLException {
      if (getWithInline == null) {
        getWithInline = c.prepareStatement("SELECT e.key, e.digest, e.size, e.created, e.accessed, e.expires,"
            + " e.metadata, b.data FROM entries e LEFT JOIN blobs b ON b.digest = e.digest WHERE e.key = ?");
      }
      return getWithInline;
    }

    PreparedStatement get() throws SQLException {
      if (get == null) {
        get = c.prepareStatement("SELECT " + ENTRY_COLUMNS + " FROM entries WHERE key = ?");
      }
      return get;
    }

    PreparedStatement blob() throws SQLException {
      if (blob == null) {
        blob = c.prepareStatement("SELECT digest, size, NULL FROM blobs WHERE digest = ?");
      }
      return blob;
    }

    PreparedStatement blobWithInline() throws SQLException {
      if (blobWithInline == null) {
        blobWithInline = c.prepareStatement("SELECT digest, size, data FROM blobs WHERE digest = ?");
      }
      return blobWithInline;
    }
  }

  private <T> T read(String what, java.util.function.Function<Reader, SqlWork<T>> work) {
    checkOpen();
    try {
      readerPermits.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.StorageFailure(Kind.IO, what + " was interrupted", e);
    }
    Reader r = idleReaders.poll();
    try {
      if (r == null) {
        r = new Reader();
        allReaders.add(r);
      }
      Reader reader = r;
      return retrying(work.apply(reader));
    } catch (SQLException e) {
      throw map(what, e);
    } finally {
      if (r != null) {
        idleReaders.add(r);
      }
      readerPermits.release();
    }
  }

  /**
   * Recent hits of {@link #get(String, boolean) get(key, true)}, valid while the database is at the data
   * version they were read at (SQLite's {@code PRAGMA data_version} on one connection that never writes:
   * it moves with every commit by any connection of any process). A commit anywhere empties it; a hot key
   * read again and again meanwhile skips the lookup (a data-version check costs a fifth of one).
   */
  private volatile Hot hot = new Hot(Long.MIN_VALUE);

  /** What {@link #hot} holds for one data version. Filled only with lookups that began at that version. */
  private static final class Hot {
    final long version;
    final java.util.concurrent.ConcurrentHashMap<String, Hit> hits = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();

    Hot(long version) {
      this.version = version;
    }
  }

  /** At most this many keys and bytes of inline content are kept hot. */
  private static final int HOT_KEYS = 16_384;
  private static final long HOT_BYTES = 16L << 20;

  private final ReentrantLock versionLock = new ReentrantLock();
  private Connection versionConnection; // guarded by versionLock
  private PreparedStatement versionQuery; // guarded by versionLock

  /** The database's data version, as the version connection sees it (see {@link #hot}). */
  private long dataVersion() {
    versionLock.lock();
    try {
      checkOpen();
      if (versionQuery == null) {
        versionConnection = connect(false);
        versionQuery = versionConnection.prepareStatement("PRAGMA data_version");
      }
      // Stepped through the driver's own statement handle: a JDBC result set would cost most of the check
      // (it fetches the column names again on every execution).
      org.sqlite.core.SafeStmtPtr statement = ((org.sqlite.core.CoreStatement) versionQuery).pointer;
      return retrying(() -> statement.safeRunLong((db, handle) -> {
        try {
          int rc = db.step(handle);
          if (rc != org.sqlite.core.Codes.SQLITE_ROW) {
            db.throwex(rc);
          }
          return db.column_long(handle, 0);
        } finally {
          db.reset(handle);
        }
      }));
    } catch (SQLException e) {
      throw map("reading the index's data version", e);
    } finally {
      versionLock.unlock();
    }
  }

  @Override
  public Optional<Hit> get(String key, boolean withInline) {
    if (!withInline) {
      return lookup(key, false);
    }
    long version = dataVersion(); // before the lookup: what it finds is at least this recent
    Hot h = hot;
    if (h.version != version) {
      h = new Hot(version);
      hot = h;
    }
    Hit known = h.hits.get(key);
    if (known != null) {
      return Optional.of(known);
    }
    Optional<Hit> found = lookup(key, true);
    if (found.isPresent() && h.hits.size() < HOT_KEYS) {
      byte[] inline = found.get().inline();
      if (inline == null || h.bytes.addAndGet(inline.length) <= HOT_BYTES) {
        h.hits.put(key, found.get());
      }
    }
    return found;
  }

  private Optional<Hit> lookup(String key, boolean withInline) {
    return read("looking up '" + key + "'", r -> () -> {
      PreparedStatement ps = withInline ? r.getWithInline() : r.get();
      ps.setString(1, key);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(new Hit(entry(rs), withInline ? rs.getBytes(8) : null));
      }
    });
  }

  @Override
  public Optional<BlobRecord> blob(Integrity digest, boolean withInline) {
    return read("looking up blob " + digest, r -> () -> {
      PreparedStatement ps = withInline ? r.blobWithInline() : r.blob();
      ps.setString(1, digest.strongest().sri());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(blobRecord(rs)) : Optional.empty();
      }
    });
  }

  @Override
  public List<Entry> scan(String prefix, String after, int limit) {
    String upper = Keys.upperBound(prefix);
    String sql = scanSql(upper);
    return read("listing '" + prefix + "'", r -> () -> {
      try (PreparedStatement ps = r.c.prepareStatement(sql)) {
        int i = 1;
        ps.setString(i++, prefix);
        ps.setString(i++, after == null ? "" : after);
        if (upper != null) {
          ps.setString(i++, upper);
        }
        ps.setInt(i, limit);
        List<Entry> out = new ArrayList<>(Math.min(limit, 1024));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(entry(rs));
          }
        }
        return out;
      }
    });
  }

  /** The prefix scan: keys from the prefix, after the last one seen, below the prefix's upper bound. */
  private static String scanSql(String upper) {
    return "SELECT " + ENTRY_COLUMNS + " FROM entries WHERE key >= ? AND key > ?"
        + (upper == null ? "" : " AND key < ?") + " ORDER BY key LIMIT ?";
  }

  /** The query plan of a prefix scan, so that a test can check it is a range search on the key. */
  public String explainScan(String prefix) {
    String upper = Keys.upperBound(prefix);
    String sql = "EXPLAIN QUERY PLAN " + scanSql(upper);
    return read("explaining a scan", r -> () -> {
      try (PreparedStatement ps = r.c.prepareStatement(sql)) {
        int i = 1;
        ps.setString(i++, prefix);
        ps.setString(i++, "");
        if (upper != null) {
          ps.setString(i++, upper);
        }
        ps.setInt(i, 100);
        StringBuilder sb = new StringBuilder();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            sb.append(rs.getString(4)).append('\n');
          }
        }
        return sb.toString();
      }
    });
  }

  @Override
  public List<BlobRecord> blobs(String after, int limit, boolean withInline) {
    return blobPage("listing blobs", "SELECT digest, size, " + (withInline ? "data" : "NULL")
        + " FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?", after, limit);
  }

  /** One page of blob records from {@code sql}, which takes the digest to start after and a limit. */
  private List<BlobRecord> blobPage(String what, String sql, String after, int limit) {
    return read(what, r -> () -> {
      try (PreparedStatement ps = r.c.prepareStatement(sql)) {
        ps.setString(1, after == null ? "" : after);
        ps.setInt(2, limit);
        List<BlobRecord> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(blobRecord(rs));
          }
        }
        return out;
      }
    });
  }

  @Override
  public long[] counts() {
    long[] c = read("counting", r -> () -> {
      long[] out = new long[5];
      try (Statement s = r.c.createStatement()) {
        try (ResultSet rs = s.executeQuery("SELECT count(*) FROM entries")) {
          rs.next();
          out[0] = rs.getLong(1);
        }
        try (ResultSet rs = s.executeQuery("SELECT count(*), total(size), count(data) FROM blobs")) {
          rs.next();
          out[1] = rs.getLong(1);
          out[2] = (long) rs.getDouble(2);
          out[3] = rs.getLong(3);
        }
      }
      return out;
    });
    c[4] = fileSize(dbFile) + fileSize(Path.of(dbFile + "-wal"));
    return c;
  }

  private static long fileSize(Path p) {
    try {
      return Files.size(p);
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  private static Entry entry(ResultSet rs) throws SQLException {
    long expires = rs.getLong(6);
    boolean noExpiry = rs.wasNull();
    return new Entry(rs.getString(1), Integrity.parse(rs.getString(2)), rs.getLong(3),
        Instant.ofEpochMilli(rs.getLong(4)), Instant.ofEpochMilli(rs.getLong(5)),
        noExpiry ? null : Instant.ofEpochMilli(expires), rs.getString(7));
  }

  private static BlobRecord blobRecord(ResultSet rs) throws SQLException {
    return new BlobRecord(Integrity.parse(rs.getString(1)), rs.getLong(2), rs.getBytes(3));
  }

  private void checkOpen() {
    if (closed) {
      throw new LarderException.StorageFailure(Kind.CLOSED, "the store is closed", null);
    }
  }

  private LarderException map(String what, SQLException e) {
    if (Errors.isDiskFull(e)) {
      return new LarderException.StorageFailure(Kind.INSUFFICIENT_STORAGE,
          what + " failed: the disk is full; free space or lower the cache's size", e);
    }
    if (isBusy(e)) {
      return new LarderException.StorageFailure(Kind.BUSY, what + " failed: the index " + dbFile
          + " stayed locked by another process; retry, or look for a stuck process holding it", e);
    }
    String m = e.getMessage();
    if (m != null && (m.contains("SQLITE_CANTOPEN") || m.contains("SQLITE_READONLY") || m.contains("SQLITE_PERM"))) {
      return new LarderException.StorageFailure(Kind.IO, what + " failed: cannot open " + dbFile
          + " for writing; check that the store directory exists and is writable (" + m + ")", e);
    }
    return new LarderException.StorageFailure(Kind.IO, what + " failed: " + m, e);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    writeLock.lock();
    try {
      for (Reader r : allReaders) {
        closeQuietly(r.c);
      }
      versionLock.lock();
      try {
        if (versionConnection != null) {
          closeQuietly(versionConnection);
        }
      } finally {
        versionLock.unlock();
      }
      if (writer != null) {
        closeQuietly(writer);
      }
    } finally {
      writeLock.unlock();
    }
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException ignored) {
      // closing
    }
  }
}
