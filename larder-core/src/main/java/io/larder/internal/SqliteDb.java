package io.larder.internal;

import io.larder.Durability;
import io.larder.LarderException;
import io.larder.LarderException.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * The connections to one SQLite file and how work runs on them: one writer per process, serialised by a
 * lock, each write a {@code BEGIN IMMEDIATE … COMMIT} retried a bounded number of times while another
 * process holds the database; and a small pool of readers that never wait for writers. SQL failures become
 * {@link LarderException}s whose message says what to do.
 */
final class SqliteDb implements AutoCloseable {
  private static final int BUSY_TIMEOUT_MS = 10_000;
  private static final int BUSY_RETRIES = 20;
  private static final int IMPATIENT_TIMEOUT_MS = 50;
  private static final int MAX_READERS = 16;

  /** Work on one connection, with its prepared statements at hand. */
  @FunctionalInterface
  interface Work<T> {
    T run(Statements s) throws SQLException;
  }

  /** A connection and its prepared statements, kept by their SQL for the connection's life. One thread at a time. */
  static final class Statements {
    final Connection c;
    private final Map<String, PreparedStatement> prepared = new HashMap<>();
    private final Set<String> done = new HashSet<>();

    /** The WAL-index header read just before this reader's open read transaction began (null: none open). */
    private long[] snapshot;
    private volatile long lastUsedNanos;
    /** The {@code mmap_size} this reader was given ({@link #mapAsMuch}); a new connection maps nothing. */
    private long mapped;

    Statements(Connection c) {
      this.c = c;
    }

    /** Whether {@code setup} (e.g. registering a SQL function) is new to this connection; it is then noted as done. */
    boolean firstTime(String setup) {
      return done.add(setup);
    }

    PreparedStatement get(String sql) throws SQLException {
      PreparedStatement ps = prepared.get(sql);
      if (ps == null || Row.finalized(ps)) { // the driver finalizes a statement whose step failed
        ps = c.prepareStatement(sql);
        prepared.put(sql, ps);
      }
      return ps;
    }
  }

  private final Path file;
  private final String url;
  private final Durability durability;
  private final Work<Void> schema;
  /** The file attached to every connection (null: none); read-only connections only if there is one to read. */
  private final AttachedDb attached;
  /** What connections attach as {@link #attached} ({@link AttachedDb#prepare}), or null: none, or none to read. */
  private final String attachUrl;
  private final ReentrantLock writeLock = new ReentrantLock();
  private Statements writer; // guarded by writeLock; opened on the first write, again after a failed one
  private volatile CommitWatcher commitWatcher; // null: none
  /**
   * Idle readers, the most recently used first: a read takes the reader that read last, whose page cache
   * and snapshot are the most likely still to serve. (Taken in turn, sixteen readers each began every read
   * on a page cache emptied by the commits since its previous turn.)
   */
  private final java.util.concurrent.ConcurrentLinkedDeque<Statements> idleReaders =
      new java.util.concurrent.ConcurrentLinkedDeque<>();
  private final Semaphore readerPermits = new Semaphore(MAX_READERS);
  private final List<Statements> allReaders = new CopyOnWriteArrayList<>();
  /** Room for removals to commit on a full disk (see SpaceReserve). */
  private final SpaceReserve reserve;
  private volatile boolean closed;
  private final WalHeader walHeader;
  private final boolean readOnly;
  private final java.util.concurrent.ScheduledFuture<?> snapshotSweep;
  /** What readers map, from the rate of commits the sweep sees. */
  private final ReaderMaps readerMaps;

  /** Ends the read transactions of readers left idle (see {@link #read}); one daemon thread for every index. */
  private static final java.util.concurrent.ScheduledExecutorService SWEEPER =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon()
          .name("larder-index-readers").unstarted(r));
  private static final long IDLE_SNAPSHOT_NANOS = 100_000_000L;

  /** {@code schema} runs in the first transaction of every writer connection (it makes or checks the tables). */
  SqliteDb(Path file, Durability durability, Work<Void> schema) {
    this(file, durability, schema, false);
  }

  /** With {@code readOnly}, connections are opened read-only and every write fails with {@code READ_ONLY}. */
  SqliteDb(Path file, Durability durability, Work<Void> schema, boolean readOnly) {
    this(file, durability, schema, readOnly, null);
  }

  SqliteDb(Path file, Durability durability, Work<Void> schema, boolean readOnly, AttachedDb attached) {
    this.attached = attached;
    this.readOnly = readOnly;
    this.file = file;
    boolean immutable = readOnly && immutableNow(file);
    try {
      this.attachUrl = attached == null ? null : attached.prepare(readOnly, immutable, BUSY_TIMEOUT_MS);
    } catch (SQLException e) {
      throw map("preparing " + attached.file(), e);
    }
    this.url = immutable ? "jdbc:sqlite:file:" + file.toAbsolutePath() + "?immutable=1"
        : "jdbc:sqlite:" + file.toAbsolutePath();
    this.durability = durability;
    this.schema = schema;
    this.reserve = new SpaceReserve(file.resolveSibling("index.reserve"), 1 << 20);
    this.walHeader = new WalHeader(Path.of(file + "-shm"));
    this.readerMaps = new ReaderMaps(walHeader, IDLE_SNAPSHOT_NANOS);
    if (immutable) {
      walHeader.close(); // no shared memory to read: not even an attempt to open it on every read
    }
    this.snapshotSweep = SWEEPER.scheduleWithFixedDelay(this::endIdleSnapshots, IDLE_SNAPSHOT_NANOS,
        IDLE_SNAPSHOT_NANOS, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /**
   * Whether a read-only index must be opened as immutable: SQLite reads a database in WAL mode through its
   * {@code -shm} file, which it cannot create in a directory this process may not write (a read-only mount,
   * another user's store). When no {@code -wal} file holds anything, nobody is writing and the database file
   * is all there is: it is then opened as immutable (no locks, no shared memory). Otherwise a writer is at
   * work, its {@code -shm} is there, and SQLite reads through it read-only.
   */
  private static boolean immutableNow(Path file) {
    Path dir = file.toAbsolutePath().getParent();
    boolean canCreate;
    try {
      canCreate = Files.isWritable(dir) && !Files.getFileStore(dir).isReadOnly();
    } catch (java.io.IOException e) {
      canCreate = false;
    }
    if (canCreate) {
      return false;
    }
    try {
      return Files.size(Path.of(file + "-wal")) == 0;
    } catch (java.io.IOException e) {
      return true; // no -wal file
    }
  }

  /** The WAL-index header of this database (to tell cheaply that nothing was committed since). */
  WalHeader walHeader() {
    return walHeader;
  }

  Path file() {
    return file;
  }

  /** Opens the writer connection now (e.g. to make the schema), if it is not open. */
  void openWriter() {
    checkOpen();
    writeLock.lock();
    try {
      writer();
    } finally {
      writeLock.unlock();
    }
  }

  /** The writer connection, opened (and the schema run) on first use. Callers hold {@code writeLock}. */
  private Statements writer() {
    if (writer != null) {
      return writer;
    }
    if (readOnly) {
      throw new LarderException.StorageFailure(Kind.READ_ONLY, "the index " + file + " is open read-only"
          + " (--read-only, or a store this process cannot write): nothing can be changed", null);
    }
    try {
      writer = new Statements(connect());
      retrying(() -> transaction(schema));
      return writer;
    } catch (SQLException | RuntimeException e) {
      dropWriter();
      throw e instanceof SQLException se ? map("opening the index " + file + " for writing", se) : (RuntimeException) e;
    }
  }

  private void dropWriter() {
    if (writer != null) {
      closeQuietly(writer.c);
      writer = null;
    }
  }

  /** Whether connections have the attached file: false for a read-only database that has none to read. */
  boolean hasAttached() {
    return attachUrl != null;
  }

  /** A new connection to the file (in WAL mode). Readers are given their memory map at their first read. */
  Connection connect() throws SQLException {
    Connection c = connectMain();
    if (attachUrl != null) {
      try {
        attached.attachTo(c, attachUrl, readOnly);
      } catch (SQLException e) {
        closeQuietly(c);
        throw e;
      }
    }
    return c;
  }

  private Connection connectMain() throws SQLException {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(BUSY_TIMEOUT_MS);
    config.setSynchronous(durability == Durability.POWER_SAFE
        ? SQLiteConfig.SynchronousMode.FULL : SQLiteConfig.SynchronousMode.NORMAL);
    if (readOnly) {
      config.setReadOnly(true);
      return retrying(() -> config.createConnection(url)); // its journal mode is whatever the writers set
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

  // ---------------------------------------------------------------- writes

  /** Runs {@code work} as one write transaction, retrying a bounded number of times if the index is busy. */
  <T> T write(String what, Work<T> work) {
    return locked(what, w -> retrying(() -> transaction(work)));
  }

  /**
   * {@link #write} for a removal, which must work on a full disk: it is how space comes back. If the disk is
   * full, the space reserve is given up and the removal tried once more.
   */
  <T> T freeing(String what, Work<T> work) {
    return freeingSpace(() -> write(what, work));
  }

  /** Runs {@code removal} (a removal that manages its own transactions) with the fallback of {@link #freeing}. */
  <T> T freeingSpace(java.util.function.Supplier<T> removal) {
    try {
      return removal.get();
    } catch (LarderException e) {
      if (e.kind() != Kind.INSUFFICIENT_STORAGE || !reserve.release()) {
        throw e;
      }
      return removal.get();
    }
  }

  /** A write succeeded: the space reserve is made again if it was given up (a volatile read otherwise). */
  void wrote() {
    if (readOnly) {
      return;
    }
    reserve.restore();
  }

  /**
   * Runs {@code work} holding the writer, outside any transaction: for work made of several transactions
   * ({@link #transaction}, each wrapped in {@link #retrying}). A failure other than a busy database (a full
   * disk, an I/O error) closes the writer connection, so that the next write starts on a fresh one: a commit
   * that fails on a full disk can leave the connection's cached statements unusable ("statement is not
   * executing" on every later write until a restart, while other connections wrote fine), and closing it
   * also rolls back whatever the failure left open.
   */
  <T> T locked(String what, Work<T> work) {
    checkOpen();
    writeLock.lock();
    try {
      return work.run(writer());
    } catch (SQLException e) {
      if (!isBusy(e)) {
        dropWriter();
      }
      throw map(what, e);
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * A write that waits at most {@value #IMPATIENT_TIMEOUT_MS} ms for the lock and is not retried: for
   * bookkeeping done on a reader's thread, which must not stall a read behind another process's writes.
   */
  void impatientWrite(String what, Work<Void> work) {
    locked(what, w -> {
      try (Statement s = w.c.createStatement()) {
        s.execute("PRAGMA busy_timeout = " + IMPATIENT_TIMEOUT_MS);
        try {
          return transaction(work);
        } finally {
          s.execute("PRAGMA busy_timeout = " + BUSY_TIMEOUT_MS);
        }
      }
    });
  }

  /** Sets the one {@link CommitWatcher} (null: none). */
  void watchCommits(CommitWatcher watcher) {
    this.commitWatcher = watcher;
  }

  /** BEGIN IMMEDIATE, the work, COMMIT; ROLLBACK if anything fails. The caller holds {@code writeLock}. */
  <T> T transaction(Work<T> work) throws SQLException {
    Statements w = writer;
    w.get("BEGIN IMMEDIATE").execute();
    CommitWatcher watcher = commitWatcher;
    try {
      T result = work.run(w);
      Runnable committed = watcher == null ? null : watcher.beforeCommit(w);
      w.get("COMMIT").execute();
      if (committed != null) {
        committed.run();
      }
      return result;
    } catch (SQLException | RuntimeException e) {
      try (Statement s = w.c.createStatement()) {
        s.execute("ROLLBACK");
      } catch (SQLException suppressed) {
        if (suppressed.getMessage() == null || !suppressed.getMessage().contains("no transaction is active")) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /** Something that may find the database busy. */
  @FunctionalInterface
  interface Attempt<T> {
    T run() throws SQLException;
  }

  /** Runs {@code attempt}, again after a short sleep while the database is busy (a bounded number of times). */
  static <T> T retrying(Attempt<T> attempt) throws SQLException {
    for (int n = 0; ; n++) {
      try {
        return attempt.run();
      } catch (SQLException e) {
        if (!isBusy(e) || n >= BUSY_RETRIES) {
          throw e;
        }
        try {
          Thread.sleep(Math.min(2L << Math.min(n, 6), 100));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /** Whether SQLite found the file damaged (SQLITE_CORRUPT) or not a database at all (SQLITE_NOTADB). */
  static boolean isDamaged(SQLException e) {
    if (e instanceof SQLiteException se) {
      int primary = se.getResultCode().code & 0xff;
      return primary == SQLiteErrorCode.SQLITE_CORRUPT.code || primary == SQLiteErrorCode.SQLITE_NOTADB.code;
    }
    return false;
  }

  static boolean isBusy(SQLException e) {
    if (e instanceof SQLiteException se) {
      int primary = se.getResultCode().code & 0xff;
      return primary == SQLiteErrorCode.SQLITE_BUSY.code || primary == SQLiteErrorCode.SQLITE_LOCKED.code;
    }
    return false;
  }

  // ---------------------------------------------------------------- reads

  /** Runs {@code work} on a pooled reader (retried while the database is busy). */
  <T> T read(String what, Work<T> work) {
    return read(() -> what, work);
  }

  /**
   * As {@link #read(String, Work)}, with what is done described only if it fails (a lookup's description,
   * built on every read, was an allocation and a copy of the key each time).
   */
  <T> T read(java.util.function.Supplier<String> what, Work<T> work) {
    return read(what, work, true);
  }

  /**
   * As {@link #read(String, Work)} for work that reads the {@link AttachedDb} file: the read transaction ends
   * with the work. A reader keeps its snapshot while the main file is unchanged, and commits to the attached
   * file do not change that: kept, the attached file's snapshot would go stale (and hold back its checkpoints).
   */
  <T> T readWithAttached(String what, Work<T> work) {
    return read(() -> what, work, false);
  }

  private <T> T read(java.util.function.Supplier<String> what, Work<T> work, boolean keepSnapshot) {
    checkOpen();
    try {
      readerPermits.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.StorageFailure(Kind.IO, what.get() + " was interrupted", e);
    }
    Statements r = idleReaders.pollFirst();
    try {
      if (r == null) {
        r = new Statements(connect());
        allReaders.add(r);
      }
      Statements reader = r;
      return retrying(() -> {
        mapAsMuch(reader);
        current(reader);
        boolean ok = false;
        try {
          T result = work.run(reader);
          ok = true;
          return result;
        } finally {
          if (!ok || !keepSnapshot) {
            endSnapshot(reader);
          }
        }
      });
    } catch (SQLException e) {
      throw map(what.get(), e);
    } finally {
      if (r != null) {
        r.lastUsedNanos = System.nanoTime();
        idleReaders.addFirst(r);
      }
      readerPermits.release();
    }
  }

  /**
   * Makes {@code r}'s read transaction current. A reader keeps its read transaction (its snapshot) from one
   * read to the next while the WAL-index header is unchanged — then nothing was committed by any connection
   * of any process, so the snapshot is the latest — and saves the shared-memory lock and unlock (two system
   * calls) that beginning and ending a read transaction cost. When the header moved, or cannot be read, the
   * transaction ends and a new one begins; a reader left idle ends its transaction within about
   * {@value #IDLE_SNAPSHOT_NANOS} ns (the sweeper), so that it does not hold back checkpoints.
   */
  private void current(Statements r) throws SQLException {
    if (r.snapshot != null && walHeader.unchangedSince(r.snapshot)) {
      return;
    }
    endSnapshot(r);
    long[] header = walHeader.read(); // before the transaction's first read: its snapshot is at least this recent
    if (header != null) {
      r.get("BEGIN").execute();
      r.snapshot = header;
    }
  }

  private static void endSnapshot(Statements r) {
    if (r.snapshot != null) {
      r.snapshot = null;
      try {
        r.get("COMMIT").execute();
      } catch (SQLException e) {
        // no transaction open (a failure ended it): nothing to end
      }
    }
  }

  /** Gives {@code r} the map that {@link #readerMaps} says, if it has another (between its read transactions). */
  private void mapAsMuch(Statements r) throws SQLException {
    long target = readerMaps.bytes();
    if (r.mapped != target) {
      endSnapshot(r);
      try (Statement s = r.c.createStatement()) {
        s.execute("PRAGMA mmap_size = " + target);
      }
      r.mapped = target;
    }
  }

  /** What readers map now (see {@link ReaderMaps}). */
  long mapBytes() {
    return readerMaps.bytes();
  }

  /** Ends the read transactions of readers idle for a while, and follows the commit rate (run by the sweeper). */
  private void endIdleSnapshots() {
    readerMaps.sweep();
    long now = System.nanoTime();
    for (Statements r : allReaders) {
      if (r.snapshot != null && now - r.lastUsedNanos > IDLE_SNAPSHOT_NANOS && idleReaders.remove(r)) {
        try {
          if (!closed) {
            endSnapshot(r);
          }
        } finally {
          idleReaders.addLast(r);
        }
      }
    }
  }

  // ---------------------------------------------------------------- errors and closing

  void checkOpen() {
    if (closed) {
      throw new LarderException.StorageFailure(Kind.CLOSED, "the store is closed", null);
    }
  }

  LarderException map(String what, SQLException e) {
    if (isDamaged(e)) {
      return new LarderException.IntegrityFailure(Kind.CORRUPT, what + " failed: the index " + file
          + " is damaged (" + e.getMessage() + "); its entries cannot be trusted. Stop the processes using"
          + " this store, then run `larder --cache " + file.getParent() + " verify --repair`: it sets the index"
          + " aside and makes a new one from every entry that can still be read and verified (by hand: move "
          + file.getFileName() + " and its -wal and -shm files aside and start again; the sqlite3 shell's"
          + " .recover may save entries from the damaged copy)");
    }
    if (Errors.isDiskFull(e)) {
      return new LarderException.StorageFailure(Kind.INSUFFICIENT_STORAGE,
          what + " failed: the disk is full; free space or lower the cache's size", e);
    }
    if (isBusy(e)) {
      return new LarderException.StorageFailure(Kind.BUSY, what + " failed: the index " + file
          + " stayed locked by another process; retry, or look for a stuck process holding it", e);
    }
    String m = e.getMessage();
    if (m != null && (m.contains("SQLITE_CANTOPEN") || m.contains("SQLITE_READONLY") || m.contains("SQLITE_PERM"))) {
      return new LarderException.StorageFailure(Kind.IO, what + " failed: cannot open " + file
          + " for writing; check that the store directory exists and is writable (" + m + ")", e);
    }
    return new LarderException.StorageFailure(Kind.IO, what + " failed: " + m, e);
  }

  boolean isClosed() {
    return closed;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    snapshotSweep.cancel(false); // the WAL header is closed by the owner, after its other connections
    writeLock.lock();
    try {
      for (Statements r : allReaders) {
        closeQuietly(r.c);
      }
      dropWriter();
    } finally {
      writeLock.unlock();
    }
  }

  static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException ignored) {
      // closing
    }
  }
}
