package io.larder.internal;

import io.larder.spi.Index.Hit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Reads by key from a copy of the index made for reading ({@link ReadTableFile}): the entries with their
 * inline content in a memory-mapped hash table, where the index takes two B-tree descents through SQLite per
 * read (BENCHMARKS.md, "The read table").
 *
 * <p>The copy is of one point in the index's history; what changed since is known from the index's change
 * log, table {@code changes}, to which triggers on {@code entries} add the key of every insert, update and
 * delete, in the writer's own transaction, whichever process or version of Larder writes. A read answers
 * from the copy only for a key that has not changed since the copy was made; any other key is looked up in
 * the index as before. The keys changed since are read from the log whenever the WAL-index header shows a
 * commit since the last look ({@link WalHeader}, as {@link HotHits} do), before the read: so a read sees
 * every write that committed before it began, by any process. This process's own commits are read from the
 * log by its writer before they commit ({@link #beforeCommit}).
 *
 * <p>The copy is rebuilt in the background ({@link ReadTableCopy}) once a quarter of its entries, at least
 * {@value #MIN_CHANGED}, have changed; the log is then emptied up to the new copy. A copy
 * that does not match the log (another index, an unfinished build) or whose bytes do not match their
 * checksums is not used until it is rebuilt. With too many changes to keep in memory ({@value #LIMIT_FACTOR}
 * times the rebuild threshold) reads go to the index until the rebuild.
 */
final class ReadTable implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger("io.larder");
  static final long MIN_CHANGED = 16_384;
  static final int LIMIT_FACTOR = 2;
  /** How long after a failed or refused build, or a copy found unusable, before the next try. */
  private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long MAX_BACKOFF_NANOS = TimeUnit.MINUTES.toNanos(10);

  /** The tables and triggers of the change log; each statement is idempotent. */
  static final List<String> SCHEMA = List.of(
      // Not AUTOINCREMENT (a second B-tree write per logged key, 10 % of a small put): the log is never
      // emptied of its last change, so a change is always numbered after every change before it.
      "CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY, key TEXT NOT NULL)",
      "CREATE TABLE IF NOT EXISTS read_table(id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,"
          + " base INTEGER NOT NULL, trimmed INTEGER NOT NULL)",
      "INSERT OR IGNORE INTO read_table(id, epoch, base, trimmed) VALUES (1, random(), -1, 0)",
      "CREATE TRIGGER IF NOT EXISTS entries_logged_insert AFTER INSERT ON entries"
          + " BEGIN INSERT INTO changes(key) VALUES (new.key); END",
      "CREATE TRIGGER IF NOT EXISTS entries_logged_delete AFTER DELETE ON entries"
          + " BEGIN INSERT INTO changes(key) VALUES (old.key); END",
      "CREATE TRIGGER IF NOT EXISTS entries_logged_update AFTER UPDATE ON entries"
          + " BEGIN INSERT INTO changes(key) VALUES (old.key);"
          + " INSERT INTO changes(key) SELECT new.key WHERE new.key IS NOT old.key; END");
  private static final String HAS_LOG = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'read_table'";

  /** One copy in use and the keys changed since it was made. */
  private static final class View {
    final ReadTableFile table;
    final Set<String> changed = ConcurrentHashMap.newKeySet();
    long seen; // the last change read from the log; guarded by syncLock
    /** The WAL-index header read just before the log was last read (null: read it again). */
    volatile long[] walHeader;

    View(ReadTableFile table) {
      this.table = table;
      this.seen = table.base;
    }
  }

  private enum Found { CURRENT, OTHER_COPY, NO_LOG }

  /** What a read of the log found: whether it is {@code v}'s, the last change read, and whether it read all. */
  private record LogRead(Found found, long last, boolean complete) {}

  private final SqliteDb db;
  private final Path file;
  private final WalHeader walHeader;
  private final ReentrantLock syncLock = new ReentrantLock();
  private final ExecutorService builder = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "larder-read-table");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean building = new AtomicBoolean();
  private volatile boolean closed;
  private volatile View view; // null: reads go to the index
  private volatile long nextTry; // System.nanoTime() before which no reopening is tried again
  private volatile long nextBuild; // System.nanoTime() before which no build is started again
  private int failures; // builds failed in a row; only the builder thread touches it
  private final AtomicLong logReads = new AtomicLong();

  /** Starts reading from the copy beside {@code dbFile}, making the change log if the index has none. */
  ReadTable(SqliteDb db, Path dbFile) {
    this.db = db;
    this.file = fileOf(dbFile);
    this.walHeader = db.walHeader();
    this.nextTry = System.nanoTime();
    this.nextBuild = nextTry;
    try {
      db.write("making the index's change log", w -> {
        try (Statement s = w.c.createStatement()) {
          for (String sql : SCHEMA) {
            s.execute(sql);
          }
        }
        return null;
      });
    } catch (io.larder.LarderException e) { // a full disk, say: the store opens, and reads go to the index
      LOG.log(System.Logger.Level.WARNING, "the read table is off until the store is opened again: " + e.getMessage());
      closed = true;
      builder.shutdown();
      return;
    }
    tryReopen();
    db.watchCommits(this::beforeCommit);
  }

  /** The read table's file beside the index file {@code dbFile} ({@code index.db} → {@code index-read.tbl}). */
  static Path fileOf(Path dbFile) {
    String name = dbFile.getFileName().toString();
    return dbFile.resolveSibling((name.endsWith(".db") ? name.substring(0, name.length() - 3) : name) + "-read.tbl");
  }

  /** The hit for {@code key}: from the copy if the key is unchanged since it was made, else from {@code lookup}. */
  Optional<Hit> get(String key, Function<String, Optional<Hit>> lookup) {
    View v = view;
    if (v == null) {
      if (System.nanoTime() - nextTry >= 0) {
        tryReopen();
      }
      return lookup.apply(key);
    }
    if (!walHeader.unchangedSince(v.walHeader)) {
      // While another thread reads the log, this read goes to the index rather than queue behind it: under a
      // stream of commits every reader would otherwise wait its turn for the same few rows of the log.
      if (!syncLock.tryLock()) {
        return lookup.apply(key);
      }
      try {
        v = sync();
      } finally {
        syncLock.unlock();
      }
      if (v == null) {
        return lookup.apply(key);
      }
    }
    if (v.changed.contains(key)) {
      return lookup.apply(key);
    }
    try {
      return v.table.find(key);
    } catch (ReadTableFile.Damaged e) {
      LOG.log(System.Logger.Level.WARNING, "the read table " + file + " is damaged (" + e.getMessage()
          + "): reads go to the index until it is rebuilt");
      drop(v);
      build();
      return lookup.apply(key);
    }
  }

  /**
   * Brings the view up to the log (a commit happened since the last look); null if reads must go to the index.
   * The caller holds {@link #syncLock}.
   */
  private View sync() {
    View v = view;
    if (v == null || walHeader.unchangedSince(v.walHeader)) {
      return v;
    }
    long[] header = walHeader.read(); // before the log: a commit after this read changes the header again
    logReads.incrementAndGet();
    Found found = readLog(v);
    if (found == Found.NO_LOG) {
      view = null; // the log is gone (a repaired index, dropped by hand): nothing is logged any more
      return null;
    }
    if (found == Found.OTHER_COPY) {
      view = null;
      v = open();
      if (v == null) {
        return null;
      }
    }
    if (!keepUp(v)) {
      return null;
    }
    v.walHeader = header; // last: a reader that finds it unchanged finds every change before it in the set
    view = v;
    return v;
  }

  /**
   * After keys were added to {@code v}'s set: starts a rebuild past the threshold; past the limit also stops
   * reading from {@code v} (false). The caller holds {@link #syncLock}.
   */
  private boolean keepUp(View v) {
    if (v.changed.size() > limit(v)) {
      if (view == v) {
        view = null;
      }
      build();
      return false;
    }
    if (v.changed.size() > threshold(v)) {
      build();
    }
    return true;
  }

  /**
   * This process's own commits, told by the index ({@link CommitWatcher}): in the writer's
   * transaction, reads the log past what the view has seen, this transaction's changes included, into the
   * set of changed keys (a key of a transaction that then rolls back only sends its reads to the index).
   *
   * <p>If the view was current when the transaction came here (its WAL-index header is the one of the last
   * commit: no other can come while this transaction writes), every change it had not seen is this
   * transaction's own. If there is one, the transaction commits to the index file, and if the header then
   * shows exactly one commit more, that commit was this one: the set holds every change up to it, and the
   * view is current again without any reader reading the log. In any other case (a transaction that changed
   * no entry, or only the attached file; a commit of another process right after) the readers read the log
   * as after any other process's commit.
   */
  private Runnable beforeCommit(SqliteDb.Statements w) {
    View v = view;
    if (v == null || closed) {
      return null;
    }
    try {
      long[] before = walHeader.read(); // the last commit's: none can come while this transaction writes
      long from;
      boolean current;
      syncLock.lock();
      try { // together: the set, what it has seen and the header it is current at change together
        from = v.seen;
        current = before != null && Arrays.equals(before, v.walHeader);
      } finally {
        syncLock.unlock();
      }
      LogRead read = readLog(w, v, from);
      if (read.found() != Found.CURRENT) {
        return null;
      }
      boolean ownChangesOnly = current && read.complete() && read.last() > from;
      return () -> committed(v, before, read, ownChangesOnly);
    } catch (SQLException | RuntimeException e) {
      return null; // the readers read the log themselves
    }
  }

  private void committed(View v, long[] before, LogRead read, boolean ownChangesOnly) {
    long[] after = walHeader.read();
    syncLock.lock();
    try {
      if (view != v) {
        return;
      }
      v.seen = Math.max(v.seen, read.last()); // committed now: every change up to it is in the set
      boolean ownCommitOnly = ownChangesOnly && after != null
          && WalHeader.transactions(after) == WalHeader.transactions(before) + 1;
      if (keepUp(v) && ownCommitOnly) {
        v.walHeader = after;
      }
    } finally {
      syncLock.unlock();
    }
  }

  /** Tests: runs {@code between} after each commit of this process, before the read table looks at the header. */
  void runAfterEachCommit(Runnable between) {
    db.watchCommits(w -> {
      Runnable committed = beforeCommit(w);
      return committed == null ? null : () -> {
        between.run();
        committed.run();
      };
    });
  }

  /** How many times readers of this process read the log (tests). */
  long logReads() {
    return logReads.get();
  }

  /** Reads the log since {@code v} last did into its set of changed keys, unless another copy is current. */
  private Found readLog(View v) {
    return db.read("reading the index's change log", r -> {
      // Asked first: a statement on a table since dropped fails (and is prepared again each time). The writer
      // does not ask (a statement per write): there such a failure only leaves the commit to the readers.
      if (Row.first(r.get(HAS_LOG), row -> row.integer(1)) == 0) {
        return Found.NO_LOG;
      }
      LogRead read = readLog(r, v, v.seen);
      v.seen = read.last();
      return read.found();
    });
  }

  /** Reads the log past change {@code from} into {@code v}'s set of changed keys, on {@code r}'s connection. */
  private static LogRead readLog(SqliteDb.Statements r, View v, long from) throws SQLException {
    Long[] meta = Row.first(r.get("SELECT epoch, base, trimmed FROM read_table"),
        row -> new Long[] {row.integer(1), row.integer(2), row.integer(3)});
    if (meta == null) {
      return new LogRead(Found.NO_LOG, from, false);
    }
    // Another copy is current, or the log was emptied past what this view has read of it (trim).
    if (meta[0] != v.table.epoch || meta[1] != v.table.base || meta[2] > from) {
      return new LogRead(Found.OTHER_COPY, from, false);
    }
    PreparedStatement ps = r.get("SELECT seq, key FROM changes WHERE seq > ? ORDER BY seq");
    ps.setLong(1, from);
    long limit = limit(v);
    long last = from;
    boolean more;
    try (ResultSet rs = ps.executeQuery()) {
      while ((more = rs.next()) && v.changed.size() <= limit) {
        v.changed.add(rs.getString(2));
        last = rs.getLong(1);
      }
    }
    return new LogRead(Found.CURRENT, last, !more);
  }

  /**
   * Empties the log of {@code db} if it holds more changes than any copy keeps up with ({@value #LIMIT_FACTOR}
   * times the rebuild threshold, at least the number of entries): so that a store whose processes no longer
   * use a read table, and so no longer rebuild it, does not log without end. A view that had not read the log
   * as far finds it trimmed past that, and reads go to the index until the next copy.
   */
  static void trim(SqliteDb db) {
    db.freeing("trimming the read table's change log", w -> {
      if (Row.first(w.get(HAS_LOG), row -> row.integer(1)) == 0) {
        return null;
      }
      long[] span = Row.first(w.get("SELECT ifnull(min(seq), 0), ifnull(max(seq), 0),"
          + " (SELECT count(*) FROM entries) FROM changes"), row -> new long[] {row.integer(1), row.integer(2), row.integer(3)});
      if (span[1] - span[0] + 1 > Math.max(MIN_CHANGED * LIMIT_FACTOR, span[2])) {
        w.get("DELETE FROM changes WHERE seq < (SELECT max(seq) FROM changes)").executeUpdate();
        PreparedStatement ps = w.get("UPDATE read_table SET trimmed = ?");
        ps.setLong(1, span[1]);
        ps.executeUpdate();
      }
      return null;
    });
  }

  private static long threshold(View v) {
    return Math.max(MIN_CHANGED, v.table.count / 4);
  }

  private static long limit(View v) {
    return threshold(v) * LIMIT_FACTOR;
  }

  /** Opens the copy on disk if it is the current one, else starts a build; every second at most. */
  private void tryReopen() {
    if (!syncLock.tryLock()) {
      return;
    }
    try {
      if (view == null && !closed) {
        nextTry = System.nanoTime() + RETRY_NANOS;
        view = open();
        if (view == null) {
          build();
        }
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "opening the read table " + file + " failed: " + e.getMessage());
    } finally {
      syncLock.unlock();
    }
  }

  /** The copy on disk with the changes since it, or null if there is none or it is not the current one. */
  private View open() {
    ReadTableFile t;
    try {
      t = ReadTableFile.open(file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException | ReadTableFile.Damaged e) {
      LOG.log(System.Logger.Level.WARNING, "the read table " + file + " cannot be used (" + e.getMessage() + ")");
      return null;
    }
    View v = new View(t);
    long[] header = walHeader.read();
    if (readLog(v) != Found.CURRENT || v.changed.size() > limit(v)) {
      return null;
    }
    v.walHeader = header;
    return v;
  }

  private void drop(View v) {
    syncLock.lock();
    try {
      if (view == v) {
        view = null;
      }
    } finally {
      syncLock.unlock();
    }
  }

  /**
   * Starts a build in the background unless one is running, or the last one ended less than a second ago, or
   * failed recently: after each failure in a row the wait doubles, up to {@link #MAX_BACKOFF_NANOS} (a full
   * disk is not filled again every second).
   */
  private void build() {
    if (closed || System.nanoTime() - nextBuild < 0 || !building.compareAndSet(false, true)) {
      return;
    }
    try {
      builder.execute(() -> {
        long wait = RETRY_NANOS;
        try {
          buildAndUse();
          failures = 0;
        } catch (IOException | SQLException | RuntimeException e) {
          wait = Math.min(RETRY_NANOS << Math.min(++failures, 20), MAX_BACKOFF_NANOS);
          LOG.log(System.Logger.Level.WARNING, "building the read table " + file + " failed (" + e
              + "): reads go to the index; next try in " + TimeUnit.NANOSECONDS.toSeconds(wait) + " s");
        } finally {
          nextBuild = System.nanoTime() + wait;
          building.set(false);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      building.set(false); // closed meanwhile
    }
  }

  /**
   * Builds a copy now, after any build of this process in progress, and reads from it; false if another
   * process was building one. The store builds in the background by itself: this is for tests and tools.
   */
  boolean rebuild() throws IOException, SQLException {
    try {
      return builder.submit(this::buildAndUse).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while building the read table", e);
    } catch (java.util.concurrent.ExecutionException e) {
      switch (e.getCause()) {
        case IOException io -> throw io;
        case SQLException sql -> throw sql;
        case RuntimeException re -> throw re;
        default -> throw new IllegalStateException(e.getCause());
      }
    }
  }

  /** Whether reads are answered from a copy now. */
  boolean inUse() {
    return view != null;
  }

  private boolean buildAndUse() throws IOException, SQLException {
    if (!ReadTableCopy.make(db, file, () -> closed)) {
      return false;
    }
    syncLock.lock();
    try {
      view = closed ? null : open();
      return view != null;
    } finally {
      syncLock.unlock();
    }
  }

  /** The bytes of the copy on disk (0 if none). */
  long bytes() {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0;
    }
  }

  @Override
  public void close() {
    closed = true;
    db.watchCommits(null);
    builder.shutdown();
    try {
      builder.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    view = null;
  }
}
