package io.larder.bench;

import io.larder.Larder;
import io.larder.LarderOptions;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.sqlite.SQLiteConfig;
import org.sqlite.core.CoreStatement;

/**
 * What the index's layout costs a random lookup, measured outside Larder on index-bench's records (same run):
 * the query Larder runs (the entry found by its key in a WITHOUT ROWID table, then its blob's row by row id:
 * two B-tree descents), the same records laid out as one table keyed by a 64-bit hash of the key with the
 * content in the entry's row (one descent of an integer-keyed B-tree), and LMDB. Both SQLite lookups read
 * every column Larder reads through the statement handle (as {@code Row} does) and hash the content (SHA-256),
 * as a verified read does; LMDB copies the value out, as in {@link IndexBench}. No Larder code runs in them: they
 * are the floor each layout puts under a lookup, to weigh a change of the index's format against; Larder's own
 * {@code getBytes} (without access times) on the same index shows what its path adds to the first. A third
 * layout is the least change to Larder's: its entries table (WITHOUT ROWID, by key) with the content in the
 * entry's row, in a file of 16 KiB pages (with 4 KiB pages a WITHOUT ROWID row spills past ~1 KB onto
 * overflow pages: a 1 KiB record then takes two pages). Then a batch of access times written to each layout:
 * format 2's table of key hashes (as Larder writes them now, into {@code index-access.db}), format 1's update
 * of the entries' own rows, and the rows that hold their content: what a row's width costs.
 *
 * <p>Usage: {@code LayoutBench DIR SECONDS ROUNDS}: DIR is index-bench's (filled with 1,000,000 records of
 * 1,024 bytes); the copies are made once, as {@code DIR/layout-one.db} and {@code DIR/layout-row.db}. The
 * batches of access times are written to index-bench's index too (a quarter of its entries then read as just
 * accessed).
 */
public final class LayoutBench {
  private LayoutBench() {}

  static final int N = 1_000_000;
  static final String TWO_DESCENTS = "SELECT e.digest, e.size, e.created, e.accessed, e.expires, e.metadata, b.data,"
      + " e.inline FROM entries e LEFT JOIN blobs b ON b.id = e.blob AND b.digest = e.digest WHERE e.key = ?";
  /** Larder's entries table with the content in the row: one descent of the B-tree of keys. */
  static final String CONTENT_IN_ENTRY = "SELECT digest, size, created, accessed, expires, metadata, data FROM entries"
      + " WHERE key = ?";
  /** The page size of the file of {@link #CONTENT_IN_ENTRY}: rows of up to ~4 KB stay on their leaf page. */
  static final int ROW_PAGE_SIZE = 16_384;
  /** A key's slot and the next few: another key with the same hash takes the next free id (never seen at 1M). */
  static final String ONE_DESCENT = "SELECT key, digest, size, created, accessed, expires, metadata, data FROM records"
      + " WHERE id BETWEEN ?1 AND ?1 + 7";

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int seconds = Integer.parseInt(args[1]);
    int rounds = Integer.parseInt(args[2]);
    Path index = dir.resolve("larder").resolve("index.db");
    if (!Files.exists(dir.resolve("filled-" + N + "-1024"))) {
      throw new IllegalStateException("run larder-bench/index-bench with LARDER_BENCH_DIR=" + dir + " first");
    }
    Path one = dir.resolve("layout-one.db");
    if (!Files.exists(dir.resolve("layout-one.done"))) {
      Files.deleteIfExists(one);
      copyAsOneTable(index, one);
      Files.createFile(dir.resolve("layout-one.done"));
    }
    Path inRow = dir.resolve("layout-row.db");
    if (!Files.exists(dir.resolve("layout-row.done"))) {
      Files.deleteIfExists(inRow);
      copyWithContentInRow(index, inRow);
      Files.createFile(dir.resolve("layout-row.done"));
    }
    System.out.printf("index.db %,d MiB, one table %,d MiB, entries with their content %,d MiB%n",
        Files.size(index) >> 20, Files.size(one) >> 20, Files.size(inRow) >> 20);
    for (Path file : List.of(index, one, inRow)) { // what an earlier run left in the write-ahead logs
      try (Connection c = new SQLiteConfig().createConnection("jdbc:sqlite:" + file); Statement s = c.createStatement()) {
        s.execute("PRAGMA wal_checkpoint(TRUNCATE)");
      }
    }
    try (Larder larder = Larder.open(dir.resolve("larder"), LarderOptions.defaults().trackAccess(false));
        Pool twoDescents = new Pool(() -> new Lookup(index, TWO_DESCENTS, false));
        Pool oneDescent = new Pool(() -> new Lookup(one, ONE_DESCENT, true));
        Pool contentInEntry = new Pool(() -> new Lookup(inRow, CONTENT_IN_ENTRY, false));
        Env<ByteBuffer> env = Env.create().setMapSize(Math.max(1L << 30, (long) N * (1024 + 256) * 2))
        .setMaxDbs(1).setMaxReaders(64).open(dir.resolve("lmdb").toFile(), EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOTLS)) {
      Dbi<ByteBuffer> dbi = env.openDbi("records");
      Map<String, IndexBench.Reader> readers = new LinkedHashMap<>();
      readers.put("Larder, no access times", (key, kb) -> larder.getBytes(key).orElseThrow().length);
      readers.put("two descents (Larder's layout)", twoDescents);
      readers.put("one descent (content in the row)", oneDescent);
      readers.put("entries with their content (16 KiB pages)", contentInEntry);
      readers.put("LMDB", IndexBench.ofLmdb(env, dbi));
      System.out.println("random gets per second over " + String.format(Locale.ROOT, "%,d", N) + " records, best of "
          + rounds + " runs of " + seconds + " s (all runs in brackets); ratio to LMDB in the same run");
      System.out.println("| threads | " + String.join(" | ", readers.keySet()) + " |");
      System.out.println("|---:|" + "---:|".repeat(readers.size()));
      for (int threads : new int[] {1, 8}) {
        Map<String, List<Double>> runs = new LinkedHashMap<>();
        for (Map.Entry<String, IndexBench.Reader> r : readers.entrySet()) {
          IndexBench.run(r.getValue(), N, i -> i, threads, 1); // warm-up
          runs.put(r.getKey(), new ArrayList<>());
        }
        for (int i = 0; i < rounds; i++) {
          for (Map.Entry<String, IndexBench.Reader> r : readers.entrySet()) {
            runs.get(r.getKey()).add(IndexBench.run(r.getValue(), N, k -> k, threads, seconds));
          }
        }
        double lmdb = IndexBench.best(runs.get("LMDB"));
        StringBuilder row = new StringBuilder("| " + threads + " |");
        for (Map.Entry<String, List<Double>> r : runs.entrySet()) {
          double b = IndexBench.best(r.getValue());
          row.append(String.format(Locale.ROOT, " %,.0f (%s)%s |", b, IndexBench.list(r.getValue()),
              r.getKey().equals("LMDB") ? "" : String.format(Locale.ROOT, " **%.2f**", b / lmdb)));
        }
        System.out.println(row);
      }
    }
    System.out.println();
    System.out.println("a batch of access times (" + String.format(Locale.ROOT, "%,d", BATCH)
        + " keys in order, 4,096 per transaction), each layout in turn, " + rounds + " rounds:");
    Map<String, String> layouts = new LinkedHashMap<>();
    layouts.put("entries", "format 1: the entries' own rows, by key");
    layouts.put("accessed", "format 2: table accessed, by key hash");
    layouts.put("records", "one table, content in the row, by key");
    for (int i = 0; i < rounds; i++) {
      for (Map.Entry<String, String> layout : layouts.entrySet()) {
        Path file = switch (layout.getKey()) {
          case "records" -> one;
          case "accessed" -> index.resolveSibling("index-access.db"); // index format 3 keeps it there
          default -> index;
        };
        double micros = accessTimes(file, layout.getKey(), i);
        System.out.printf(Locale.ROOT, "- %s: %.1f µs a key%n", layout.getValue(), micros);
      }
    }
  }

  static final int BATCH = 262_144;

  /**
   * Microseconds per key of one batch of access times, 4,096 keys per transaction: into table {@code accessed}
   * as Larder writes them (an upsert per key hash, hashes in order), or as format 1 did (an {@code UPDATE} per
   * key, keys in order) into the entries' rows of data alone, or into rows with their content.
   */
  static double accessTimes(Path file, String table, int round) throws SQLException {
    java.util.TreeSet<String> keys = new java.util.TreeSet<>();
    java.util.SplittableRandom r = new java.util.SplittableRandom(round);
    while (keys.size() < BATCH) {
      keys.add("k" + r.nextInt(N));
    }
    SQLiteConfig config = new SQLiteConfig();
    config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
    try (Connection c = config.createConnection("jdbc:sqlite:" + file); Statement s = c.createStatement()) {
      if (table.equals("records")) {
        s.execute("CREATE UNIQUE INDEX IF NOT EXISTS records_key ON records(key)"); // once: as a format would have it
      }
      boolean hashed = table.equals("accessed");
      PreparedStatement ps = c.prepareStatement(hashed ? "INSERT INTO accessed(id, at) VALUES (?1, ?2)"
          + " ON CONFLICT(id) DO UPDATE SET at = excluded.at WHERE excluded.at > at"
          : "UPDATE " + table + " SET accessed = ?2 WHERE key = ?1 AND accessed < ?2");
      long now = System.currentTimeMillis();
      long t0 = System.nanoTime(); // the hashing and sorting are the recorder's, counted in too
      long[] hashes = hashed ? keys.stream().mapToLong(io.larder.spi.Index::keyHash).sorted().toArray() : null;
      java.util.Iterator<String> it = keys.iterator();
      for (int done = 0; done < BATCH; ) {
        s.execute("BEGIN IMMEDIATE");
        for (int i = 0; i < 4_096 && done < BATCH; i++, done++) {
          if (hashed) {
            ps.setLong(1, hashes[done]);
          } else {
            ps.setString(1, it.next());
          }
          ps.setLong(2, now);
          ps.addBatch();
        }
        ps.executeBatch();
        s.execute("COMMIT");
      }
      return (System.nanoTime() - t0) / 1e3 / BATCH;
    }
  }

  /**
   * A reader with a pool of connections, one per thread at a time, kept across runs as Larder keeps its
   * readers (every run starts new threads, and a new connection maps the file anew: every page faulted in
   * again); closed before the access times are written, so that no reader's snapshot holds up a checkpoint.
   */
  private static final class Pool implements IndexBench.Reader, AutoCloseable {
    private final java.util.concurrent.ConcurrentLinkedDeque<Lookup> idle = new java.util.concurrent.ConcurrentLinkedDeque<>();
    private final java.util.function.Supplier<Lookup> open;

    Pool(java.util.function.Supplier<Lookup> open) {
      this.open = open;
    }

    @Override
    public int read(String key, ByteBuffer keyBuffer) {
      Lookup lookup = idle.pollFirst();
      if (lookup == null) {
        lookup = open.get();
      }
      try {
        return lookup.read(key);
      } finally {
        idle.offerFirst(lookup);
      }
    }

    @Override
    public void close() throws SQLException {
      for (Lookup l; (l = idle.pollFirst()) != null; ) {
        l.connection.close();
      }
    }
  }

  /** One connection with the whole file mapped and a read transaction kept open, as Larder's readers have. */
  private static final class Lookup {
    final Connection connection;
    final PreparedStatement ps;
    final boolean byHash;
    final MessageDigest sha256;

    Lookup(Path file, String sql, boolean byHash) {
      try {
        SQLiteConfig config = new SQLiteConfig();
        config.setPragma(SQLiteConfig.Pragma.MMAP_SIZE, String.valueOf(1L << 40));
        this.connection = config.createConnection("jdbc:sqlite:" + file);
        connection.setAutoCommit(false);
        this.ps = connection.prepareStatement(sql);
        this.byHash = byHash;
        this.sha256 = MessageDigest.getInstance("SHA-256");
      } catch (SQLException | NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    int read(String key) {
      try {
        byte[] data = ((CoreStatement) ps).pointer.safeRun((d, h) -> {
          try {
            boolean found = d.execute((CoreStatement) ps, new Object[] {byHash ? hash(key) : key});
            int c = 0;
            if (byHash) { // the row of this key among those whose ids follow its hash
              while (found && !new String(d.column_blob(h, 0), StandardCharsets.UTF_8).equals(key)) {
                found = d.step(h) == org.sqlite.core.Codes.SQLITE_ROW;
              }
              c = 1;
            }
            if (!found) {
              throw new IllegalStateException("no record " + key);
            }
            new String(d.column_blob(h, c), StandardCharsets.UTF_8); // digest
            d.column_long(h, c + 1);
            d.column_long(h, c + 2);
            d.column_long(h, c + 3);
            if (d.column_type(h, c + 4) != org.sqlite.core.Codes.SQLITE_NULL) {
              d.column_long(h, c + 4);
            }
            d.column_blob(h, c + 5); // metadata
            return d.column_blob(h, c + 6);
          } finally {
            d.reset(h);
          }
        });
        sha256.update(data);
        sha256.digest();
        return data.length;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** A 64-bit hash of the key (FNV-1a, then mixed): the record's id in the one-table layout. */
  static long hash(String key) {
    long x = 0xcbf29ce484222325L;
    for (int i = 0; i < key.length(); i++) {
      x = (x ^ key.charAt(i)) * 0x100000001b3L;
    }
    x ^= x >>> 33;
    x *= 0xff51afd7ed558ccdL;
    return x ^ (x >>> 33);
  }

  /** Larder's entries with their inline content in the row, in a file of {@link #ROW_PAGE_SIZE} pages. */
  static void copyWithContentInRow(Path index, Path row) throws SQLException {
    long t0 = System.nanoTime();
    try (Connection c = new SQLiteConfig().createConnection("jdbc:sqlite:" + row); Statement s = c.createStatement()) {
      s.execute("PRAGMA page_size = " + ROW_PAGE_SIZE);
      s.execute("PRAGMA journal_mode=WAL");
      s.execute("PRAGMA synchronous=OFF");
      s.execute("CREATE TABLE entries(key TEXT PRIMARY KEY NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,"
          + " created INTEGER NOT NULL, accessed INTEGER NOT NULL, expires INTEGER, metadata TEXT, data BLOB)"
          + " WITHOUT ROWID");
      s.execute("ATTACH '" + index + "' AS src");
      s.execute("INSERT INTO entries SELECT e.key, e.digest, e.size, e.created, e.accessed, e.expires, e.metadata,"
          + " b.data FROM src.entries e JOIN src.blobs b ON b.id = e.blob ORDER BY e.key");
    }
    System.err.printf("made the copy with content in the entries' rows in %.0f s%n", (System.nanoTime() - t0) / 1e9);
  }

  /** The records of Larder's index as one table: id = hash(key), probing forward past another key's id. */
  static void copyAsOneTable(Path index, Path one) throws SQLException {
    long t0 = System.nanoTime();
    try (Connection c = new SQLiteConfig().createConnection("jdbc:sqlite:" + one); Statement s = c.createStatement()) {
      s.execute("PRAGMA journal_mode=WAL");
      s.execute("PRAGMA synchronous=OFF");
      s.execute("CREATE TABLE records(id INTEGER PRIMARY KEY, key TEXT NOT NULL, digest TEXT NOT NULL,"
          + " size INTEGER NOT NULL, created INTEGER NOT NULL, accessed INTEGER NOT NULL, expires INTEGER,"
          + " metadata TEXT, data BLOB)");
      s.execute("ATTACH '" + index + "' AS src");
      c.setAutoCommit(false);
      try (PreparedStatement ins = c.prepareStatement("INSERT OR IGNORE INTO records VALUES (?,?,?,?,?,?,?,?,?)");
          ResultSet rs = s.executeQuery("SELECT e.key, e.digest, e.size, e.created, e.accessed, e.expires,"
              + " e.metadata, b.data FROM src.entries e JOIN src.blobs b ON b.id = e.blob")) {
        while (rs.next()) {
          String key = rs.getString(1);
          ins.setString(2, key);
          for (int col = 2; col <= 8; col++) {
            ins.setObject(col + 1, rs.getObject(col));
          }
          long id = hash(key);
          do {
            ins.setLong(1, id++);
          } while (ins.executeUpdate() == 0);
        }
      }
      c.commit();
    }
    System.err.printf("made the one-table copy in %.0f s%n", (System.nanoTime() - t0) / 1e9);
  }
}
