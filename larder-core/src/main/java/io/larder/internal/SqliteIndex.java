package io.larder.internal;

import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.LarderException.Kind;
import io.larder.spi.Index;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The index in SQLite (WAL mode): {@code entries} ordered by key (a WITHOUT ROWID B-tree, so a prefix is a
 * key range); {@code blobs}, which records every blob and holds small ones inline; and, in a file of its own
 * beside it ({@link #accessFile}, attached to every connection as {@code acc}), {@code accessed}: the latest
 * recorded read of each key by its hash ({@link Index#keyHash}), which an entry's {@code h} names. An
 * entry's access time is the later of its own {@code accessed} (its write) and its row there.
 *
 * <p>Connections and transactions are {@link SqliteDb}'s; eviction is {@link SqliteEviction}'s; repeated
 * lookups of unchanged keys are {@link HotHits}'.
 */
public final class SqliteIndex implements Index {
  /**
   * The on-disk format of the index; recorded as {@code PRAGMA user_version}. Format 1 later gained the column
   * {@code entries.blob}, the row id of the entry's blob record, so that a lookup by key reads the blob's row
   * directly instead of through the UNIQUE index on its digest (two B-tree descents instead of three). Older
   * versions still read and write the index; the entries they write leave it empty, and a lookup falls back to
   * the digest for those (see {@link #lookup}).
   */
  public static final int FORMAT_VERSION = 3;

  /**
   * Format 2 added the table {@code accessed(id = key hash, at)} and the column {@code entries.h}: reads are
   * recorded as rows of about 20 bytes, some 180 to a page, instead of by rewriting the entries' own pages
   * (BENCHMARKS.md, "Access times as key hashes"). An index of format 1 is upgraded when opened writable, and
   * read as it is when opened read-only.
   */
  private static final int FIRST_WITH_ACCESSED = 2;

  /**
   * Format 3 moved table {@code accessed} into a file of its own ({@link #accessFile}): a commit to the index
   * file makes every reader of it start a new snapshot, drop its hot hits and (SQLite unmaps a connection's
   * whole memory map when it begins a read transaction after a commit) fault its pages in again; the batches
   * of access times cost random reads over 1M entries up to half their rate at eight threads (BENCHMARKS.md,
   * "Access times in a file of their own"). Their rows are moved there when an index of format 2 is opened
   * writable.
   */
  private static final int FIRST_WITH_ACCESS_FILE = 3;
  /** An entry's access time in SQL, for a query of {@code entries e}: the later of its write and its last read. */
  static final String ACCESSED = "max(e.accessed, ifnull((SELECT at FROM acc.accessed WHERE id = e.h), 0))";
  /** The columns of an entry, as {@link #entry(Row)} reads them, from {@code entries e}. */
  static final String ENTRY_COLUMNS = "e.key, e.digest, e.size, e.created, " + ACCESSED + ", e.expires, e.metadata";
  /** The entry columns as stored (the access time that of the entry's write). */
  static final String RAW_COLUMNS = "key, digest, size, created, accessed, expires, metadata";
  /** The same from an index of format 2, which holds table {@code accessed} itself (read-only). */
  private static final String FORMAT_2_COLUMNS = ENTRY_COLUMNS.replace("acc.accessed", "main.accessed");
  /** The same from an index of format 1, which has no table {@code accessed}. */
  private static final String FORMAT_1_COLUMNS = "e.key, e.digest, e.size, e.created, e.accessed, e.expires, e.metadata";
  private static final int INLINE_BATCH = 512;

  private final SqliteDb db;
  private final HotHits hot;
  private final SqliteEviction eviction;
  /** Whether entries record their blob's row id (false only for a read-only index written before that). */
  private final boolean blobIds;
  /** {@link #ENTRY_COLUMNS}, or for a read-only index of an older format its {@code FORMAT_n_COLUMNS}. */
  private final String entryColumns;
  /**
   * The lookups by key, without and with the inline content, built once: built on every lookup, the SQL was a
   * new string of ~250 characters to hash and compare for the statement cache on every read.
   */
  private final String lookupSql;
  private final String lookupWithInlineSql;
  /** The copy made for reading, or null: see {@link ReadTable}. */
  private final ReadTable table;
  /** A read's lookup by key with the inline content: through the read table if there is one. */
  private final Function<String, Optional<Hit>> read;

  public SqliteIndex(Path dbFile, Durability durability) {
    this(dbFile, durability, false);
  }

  /** With {@code readOnly}, the index is only read: see {@link io.larder.LarderOptions#readOnly()}. */
  public SqliteIndex(Path dbFile, Durability durability, boolean readOnly) {
    this(dbFile, durability, readOnly, false);
  }

  /**
   * With {@code readTable}, reads by key come from a copy made for reading when they can: see
   * {@link io.larder.LarderOptions#readTable()}. Ignored when {@code readOnly}.
   */
  public SqliteIndex(Path dbFile, Durability durability, boolean readOnly, boolean readTable) {
    this.db = new SqliteDb(dbFile, durability, this::initSchema, readOnly, new AttachedDb("acc",
        accessFile(dbFile), List.of("CREATE TABLE IF NOT EXISTS acc.accessed(id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")));
    this.hot = new HotHits(db);
    this.eviction = new SqliteEviction(db);
    // Commands that only read (info, get, ls) never open the writer: one connection fewer at start-up.
    Found found = db.read("opening the index " + dbFile, r -> {
      try (Statement st = r.c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
        return new Found(rs.next() ? rs.getInt(1) : 0, hasBlobIds(st));
      }
    });
    int version = found.version();
    if (version > FORMAT_VERSION) {
      throw newerFormat(version);
    }
    if (version < 1 && readOnly) {
      close();
      throw new LarderException.StorageFailure(Kind.READ_ONLY, "the index " + dbFile + " has format " + version
          + " and must be upgraded to " + FORMAT_VERSION + " before it can be read; open it once writable", null);
    }
    if (!readOnly && (version < FORMAT_VERSION || !found.blobIds())) {
      db.openWriter(); // makes the tables, or adds the blob ids (initSchema)
    }
    this.blobIds = !readOnly || found.blobIds();
    // Read-only, an index with no access-time file to read has its entries' own times (those of their writes).
    this.entryColumns = !readOnly || version >= FIRST_WITH_ACCESS_FILE && db.hasAttached() ? ENTRY_COLUMNS
        : version == FIRST_WITH_ACCESSED ? FORMAT_2_COLUMNS : FORMAT_1_COLUMNS;
    this.lookupSql = "SELECT " + entryColumns + " FROM entries e WHERE e.key = ?";
    // With the content (a read), the access time as written: it only decides whether to record this read.
    this.lookupWithInlineSql = "SELECT e.key, e.digest, e.size, e.created, e.accessed, e.expires, e.metadata, b.data,"
        + " e.inline FROM entries e LEFT JOIN blobs b ON " + (blobIds ? "b.id = e.blob AND " : "")
        + "b.digest = e.digest WHERE e.key = ?";
    this.table = readTable && !readOnly ? new ReadTable(db, dbFile) : null;
    Function<String, Optional<Hit>> fromIndex = k -> lookup(k, true);
    this.read = table == null ? fromIndex : k -> table.get(k, fromIndex);
  }

  /**
   * The file of table {@code accessed} beside the index file {@code dbFile} ({@code index.db} →
   * {@code index-access.db}), with SQLite's {@code -wal} and {@code -shm} files beside it in turn.
   */
  public static Path accessFile(Path dbFile) {
    String name = dbFile.getFileName().toString();
    return dbFile.resolveSibling((name.endsWith(".db") ? name.substring(0, name.length() - 3) : name) + "-access.db");
  }

  /** What opening found: the format, and whether entries record their blob's row id. */
  private record Found(int version, boolean blobIds) {}

  private static boolean hasBlobIds(Statement st) throws SQLException {
    try (ResultSet rs = st.executeQuery("SELECT 1 FROM pragma_table_info('entries') WHERE name = 'blob'")) {
      return rs.next();
    }
  }

  private LarderException newerFormat(int version) {
    return new LarderException.StorageFailure(Kind.IO, "the index " + db.file() + " has format " + version
        + ", newer than this Larder understands (" + FORMAT_VERSION + "); upgrade Larder", null);
  }

  /** Makes the tables (in the writer's first transaction), or checks that they are a format this code knows. */
  private Void initSchema(SqliteDb.Statements w) throws SQLException {
    try (Statement s = w.c.createStatement()) {
      int version;
      try (ResultSet rs = s.executeQuery("PRAGMA user_version")) {
        version = rs.next() ? rs.getInt(1) : 0;
      }
      if (version > FORMAT_VERSION) {
        throw newerFormat(version);
      }
      if (version == FORMAT_VERSION) {
        return null;
      }
      if (version >= 1 && version < FIRST_WITH_ACCESSED) { // upgraded in this one transaction
        if (!hasBlobIds(s)) {
          // Written before entries recorded their blob's row id: every entry's filled in (once: 4 s for 1M
          // entries in the page cache, 15 s read from disk).
          s.execute("ALTER TABLE entries ADD COLUMN blob INTEGER");
          s.execute("UPDATE entries SET blob = (SELECT id FROM blobs WHERE blobs.digest = entries.digest)");
        }
        s.execute("ALTER TABLE entries ADD COLUMN h INTEGER");
        if (w.firstTime("larder_key_hash")) {
          org.sqlite.Function.create(w.c, "larder_key_hash", new org.sqlite.Function() {
            @Override
            protected void xFunc() throws SQLException {
              result(Index.keyHash(value_text(0)));
            }
          }, 1, org.sqlite.Function.FLAG_DETERMINISTIC);
        }
        s.execute("UPDATE entries SET h = larder_key_hash(key)");
      } else if (version >= FIRST_WITH_ACCESSED) {
        // Format 2's recorded reads move to their own file. In this one transaction, but the two files commit
        // apart (the index first): a crash between them loses the reads recorded so far (advisory: the entries
        // are then as old as their writes), never an entry.
        s.execute("INSERT INTO acc.accessed(id, at) SELECT id, at FROM main.accessed WHERE true"
            + " ON CONFLICT(id) DO UPDATE SET at = excluded.at WHERE excluded.at > at");
        s.execute("DROP TABLE main.accessed");
      } else {
        s.execute("CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE,"
            + " size INTEGER NOT NULL, data BLOB)");
        // `blob` is the row id of the entry's blob record (see FORMAT_VERSION); `h` the key's hash, by which
        // table `accessed` records its reads (see FIRST_WITH_ACCESSED).
        s.execute("CREATE TABLE IF NOT EXISTS entries(key TEXT PRIMARY KEY NOT NULL, digest TEXT NOT NULL,"
            + " size INTEGER NOT NULL, created INTEGER NOT NULL, accessed INTEGER NOT NULL, expires INTEGER,"
            + " metadata TEXT, inline INTEGER NOT NULL, blob INTEGER, h INTEGER) WITHOUT ROWID");
        // Only entries of file blobs are indexed by digest: see removeBlob.
        s.execute("CREATE INDEX IF NOT EXISTS entries_file_digest ON entries(digest) WHERE inline = 0");
        // Only entries with a TTL are indexed by expiry, so that sweeping them is O(expired).
        s.execute("CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires) WHERE expires IS NOT NULL");
      }
      s.execute("PRAGMA user_version = " + FORMAT_VERSION);
      return null;
    }
  }

  // ---------------------------------------------------------------- writes

  @Override
  public void put(Entry entry, BlobRecord blob) {
    putIfStored(entry, blob, () -> true);
  }

  @Override
  public boolean putIfStored(Entry entry, BlobRecord blob, java.util.function.BooleanSupplier stillStored) {
    String digest = entry.integrity().strongest().sri();
    boolean recorded = db.write("recording entry '" + entry.key() + "'", w -> {
      if (!stillStored.getAsBoolean()) {
        return false; // asked holding the write lock: a collector's forget is wholly before or after this
      }
      PreparedStatement insertBlob = w.get("INSERT OR IGNORE INTO blobs(digest, size, data) VALUES (?, ?, ?)");
      insertBlob.setString(1, digest);
      insertBlob.setLong(2, blob.size());
      if (blob.inline() == null) {
        insertBlob.setNull(3, Types.BLOB);
      } else {
        insertBlob.setBytes(3, blob.inline());
      }
      insertBlob.executeUpdate();
      // `inline` follows the blob record actually stored (a process with another inline threshold may have
      // recorded the same content the other way), so that the collector can trust it.
      PreparedStatement upsert = w.get("INSERT OR REPLACE INTO entries(" + RAW_COLUMNS + ", inline, blob, h)"
          + " SELECT ?1,?2,?3,?4,?5,?6,?7, data IS NOT NULL, id, ?8 FROM blobs WHERE digest = ?2");
      upsert.setString(1, entry.key());
      upsert.setString(2, digest);
      upsert.setLong(3, entry.size());
      upsert.setLong(4, entry.created().toEpochMilli());
      upsert.setLong(5, entry.accessed().toEpochMilli());
      if (entry.expires() == null) {
        upsert.setNull(6, Types.INTEGER);
      } else {
        upsert.setLong(6, entry.expires().toEpochMilli());
      }
      upsert.setString(7, entry.metadata());
      upsert.setLong(8, Index.keyHash(entry.key()));
      upsert.executeUpdate();
      return true;
    });
    if (recorded) {
      db.wrote();
    }
    return recorded;
  }

  @Override
  public boolean remove(String key) {
    return db.freeing("removing entry '" + key + "'", w -> {
      PreparedStatement ps = w.get("DELETE FROM entries WHERE key = ?");
      ps.setString(1, key);
      return ps.executeUpdate() > 0;
    });
  }

  @Override
  public long removePrefix(String prefix) {
    String upper = Keys.upperBound(prefix);
    String sql = "DELETE FROM entries WHERE key >= ?" + (upper == null ? "" : " AND key < ?");
    return db.freeing("removing entries under '" + prefix + "'", w -> {
      PreparedStatement ps = w.get(sql);
      ps.setString(1, prefix);
      if (upper != null) {
        ps.setString(2, upper);
      }
      return (long) ps.executeUpdate();
    });
  }

  @Override
  public void recordAccess(long[] keyHashes, long[] accessedMillis) {
    db.impatientWrite("recording access times", w -> {
      PreparedStatement ps = w.get("INSERT INTO acc.accessed(id, at) VALUES (?, ?)"
          + " ON CONFLICT(id) DO UPDATE SET at = excluded.at WHERE excluded.at > at");
      for (int i = 0; i < keyHashes.length; i++) {
        ps.setLong(1, keyHashes[i]);
        ps.setLong(2, accessedMillis[i]);
        ps.addBatch();
      }
      ps.executeBatch();
      return null;
    });
  }

  @Override
  public long removeBlob(Integrity digest) {
    String d = digest.strongest().sri();
    return db.freeing("forgetting blob " + d, w -> {
      // Entries of file blobs are found through the partial index; entries of inline content are not
      // indexed by digest (it would cost every small put a third B-tree write), so removing inline content
      // scans the entries: a rare operation (corruption found, an explicit removeContent).
      long n = update(w, "DELETE FROM entries WHERE digest = ? AND inline = 0", d);
      boolean inline;
      PreparedStatement ps = w.get("SELECT data IS NOT NULL FROM blobs WHERE digest = ?");
      ps.setString(1, d);
      try (ResultSet rs = ps.executeQuery()) {
        inline = !rs.next() || rs.getBoolean(1);
      }
      if (inline) {
        n += update(w, "DELETE FROM entries WHERE digest = ? AND inline = 1", d);
      }
      update(w, "DELETE FROM blobs WHERE digest = ?", d);
      return n;
    });
  }

  private static long update(SqliteDb.Statements w, String sql, String digest) throws SQLException {
    PreparedStatement ps = w.get(sql);
    ps.setString(1, digest);
    return ps.executeUpdate();
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public long removeExpired(Instant now, int limit, boolean dryRun) {
    if (dryRun) {
      return db.read("counting expired entries", r -> {
        PreparedStatement ps = r.get("SELECT count(*) FROM entries WHERE expires IS NOT NULL AND expires <= ?");
        ps.setLong(1, now.toEpochMilli());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.getLong(1);
        }
      });
    }
    return db.freeing("removing expired entries", w -> {
      PreparedStatement ps = w.get("DELETE FROM entries WHERE key IN"
          + " (SELECT key FROM entries WHERE expires IS NOT NULL AND expires <= ? LIMIT ?)");
      ps.setLong(1, now.toEpochMilli());
      ps.setInt(2, limit);
      return (long) ps.executeUpdate();
    });
  }

  @Override
  public Eviction evict(Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup, int groupSegments,
      Set<String> keep, boolean dryRun) {
    return eviction.evict(new SqliteEviction.Plan(accessedBefore, maxBytes, targetBytes, keepPerGroup, groupSegments,
        keep, dryRun));
  }

  @Override
  public Removed removeUnreferencedInline(boolean dryRun) {
    String where = " FROM blobs WHERE data IS NOT NULL AND digest NOT IN (SELECT digest FROM entries)";
    if (dryRun) {
      return db.read("counting unreferenced inline content", r -> {
        try (ResultSet rs = r.get("SELECT count(*), total(size)" + where).executeQuery()) {
          return new Removed(rs.getLong(1), (long) rs.getDouble(2));
        }
      });
    }
    // In batches, each its own transaction: a commit needs room in the write-ahead log for every page it
    // changes, and on a full disk only the space reserve is there (see SqliteDb.freeing).
    long count = 0;
    long bytes = 0;
    Removed batch;
    do {
      batch = db.freeing("collecting unreferenced inline content", w -> {
        long n = 0;
        long b = 0;
        try (ResultSet rs = w.get("DELETE FROM blobs WHERE id IN (SELECT id" + where + " LIMIT " + INLINE_BATCH
            + ") RETURNING size").executeQuery()) {
          while (rs.next()) {
            n++;
            b += rs.getLong(1);
          }
        }
        return new Removed(n, b);
      });
      count += batch.count();
      bytes += batch.bytes();
    } while (batch.count() == INLINE_BATCH);
    return new Removed(count, bytes);
  }

  @Override
  public List<BlobRecord> unreferencedFiles(String after, int limit) {
    return blobPage("listing unreferenced content", "SELECT digest, size, NULL FROM blobs WHERE data IS NULL"
        + " AND digest > ? AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.digest = blobs.digest AND e.inline = 0)"
        + " ORDER BY digest LIMIT ?", after, limit);
  }

  @Override
  public boolean forgetIfUnreferenced(Integrity digest) {
    String d = digest.strongest().sri();
    return db.freeing("forgetting " + d, w -> update(w, "DELETE FROM blobs WHERE digest = ?1 AND data IS NULL"
        + " AND NOT EXISTS (SELECT 1 FROM entries WHERE digest = ?1 AND inline = 0)", d) > 0);
  }

  /** Empties the read table's change log if no copy keeps up with it any more ({@link ReadTable#trim}). */
  @Override
  public void tidy() {
    ReadTable.trim(db);
  }

  // ---------------------------------------------------------------- reads

  /** The copy made for reading, or null if there is none (tests). */
  ReadTable readTable() {
    return table;
  }

  @Override
  public Optional<Hit> get(String key, boolean withInline) {
    return withInline ? hot.get(key, read) : lookup(key, false);
  }

  /**
   * The entry under {@code key}, with its inline content if asked. The blob's row is read by the row id the
   * entry records, and only if that row still holds the entry's digest; an entry written by an older version
   * (no row id) or whose row id names another blob has its content looked up by digest instead.
   */
  private Optional<Hit> lookup(String key, boolean withInline) {
    SqliteDb.Work<Optional<Hit>> work = r -> {
      PreparedStatement ps = r.get(withInline ? lookupWithInlineSql : lookupSql);
      return Optional.ofNullable(Row.first(ps, row -> {
        Entry entry = entry(key, row); // the key found is the one asked for (binary collation)
        if (!withInline) {
          return new Hit(entry, null);
        }
        byte[] inline = row.blob(8);
        if (inline == null && row.integer(9) != 0) { // inline content the join did not find: by its digest
          inline = Row.first(r.get("SELECT data FROM blobs WHERE digest = ?"), blob -> blob.blob(1), row.text(2));
        }
        return new Hit(entry, inline);
      }, key));
    };
    // A read's lookup stays in the index file; the entry's access time (without the content) reads table accessed.
    return withInline ? db.read(() -> "looking up '" + key + "'", work) : db.readWithAttached("looking up '" + key + "'", work);
  }

  /** One statement for a batch of any size: the keys arrive as one JSON array, which SQLite unpacks. */
  @Override
  public List<Entry> entries(java.util.Collection<String> keys) {
    if (keys.isEmpty()) {
      return List.of();
    }
    String array = jsonArray(keys);
    return db.readWithAttached("looking up " + keys.size() + " keys", r -> {
      PreparedStatement ps = r.get("SELECT " + entryColumns + " FROM entries e"
          + " WHERE e.key IN (SELECT value FROM json_each(?))");
      ps.setString(1, array);
      List<Entry> found = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.add(entry(rs));
        }
      }
      return found;
    });
  }

  private static String jsonArray(java.util.Collection<String> keys) {
    java.io.StringWriter out = new java.io.StringWriter(keys.size() * 80);
    try (com.fasterxml.jackson.core.JsonGenerator g = new com.fasterxml.jackson.core.JsonFactory().createGenerator(out)) {
      g.writeStartArray();
      for (String k : keys) {
        g.writeString(k);
      }
      g.writeEndArray();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e); // a StringWriter does not fail
    }
    return out.toString();
  }

  @Override
  public Optional<BlobRecord> blob(Integrity digest, boolean withInline) {
    return db.read("looking up blob " + digest, r -> {
      PreparedStatement ps = r.get("SELECT digest, size, " + (withInline ? "data" : "NULL") + " FROM blobs WHERE digest = ?");
      ps.setString(1, digest.strongest().sri());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(blobRecord(rs)) : Optional.empty();
      }
    });
  }

  @Override
  public List<Entry> scan(String prefix, String after, int limit) {
    String upper = Keys.upperBound(prefix);
    return db.readWithAttached("listing '" + prefix + "'", r -> {
      PreparedStatement ps = r.get(scanSql(entryColumns, upper != null));
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
    });
  }

  /**
   * The prefix scan: keys from the prefix, after the last one seen, below the prefix's upper bound (when it
   * has one: a prefix of only U+10FFFF characters has none). Parameters: prefix, after, [upper,] limit.
   */
  static String scanSql(String columns, boolean bounded) {
    return "SELECT " + columns + " FROM entries e WHERE e.key >= ? AND e.key > ?"
        + (bounded ? " AND e.key < ?" : "") + " ORDER BY e.key LIMIT ?";
  }

  @Override
  public List<BlobRecord> blobs(String after, int limit, boolean withInline) {
    return blobPage("listing blobs", "SELECT digest, size, " + (withInline ? "data" : "NULL")
        + " FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?", after, limit);
  }

  /** One page of blob records from {@code sql}, which takes the digest to start after and a limit. */
  private List<BlobRecord> blobPage(String what, String sql, String after, int limit) {
    return db.read(what, r -> {
      PreparedStatement ps = r.get(sql);
      ps.setString(1, after == null ? "" : after);
      ps.setInt(2, limit);
      List<BlobRecord> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(blobRecord(rs));
        }
      }
      return out;
    });
  }

  @Override
  public Counts counts() {
    long[] c = db.read("counting", r -> {
      long[] out = new long[4];
      try (ResultSet rs = r.get("SELECT count(*) FROM entries").executeQuery()) {
        out[0] = rs.getLong(1);
      }
      try (ResultSet rs = r.get("SELECT count(*), total(size), count(data) FROM blobs").executeQuery()) {
        out[1] = rs.getLong(1);
        out[2] = (long) rs.getDouble(2);
        out[3] = rs.getLong(3);
      }
      return out;
    });
    Path file = db.file();
    Path access = accessFile(file);
    return new Counts(c[0], c[1], c[2], c[3], fileSize(file) + fileSize(Path.of(file + "-wal")) + fileSize(access)
        + fileSize(Path.of(access + "-wal")) + fileSize(ReadTable.fileOf(file)));
  }

  private static long fileSize(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return 0;
    }
  }

  static Entry entry(ResultSet rs) throws SQLException {
    return entry(Row.of(rs));
  }

  private static Entry entry(Row row) throws SQLException {
    return entry(row.text(1), row);
  }

  /** The entry of {@code key} whose other columns are {@link #ENTRY_COLUMNS}' in {@code row}. */
  private static Entry entry(String key, Row row) throws SQLException {
    return new Entry(key, Integrity.parse(row.text(2)), row.integer(3),
        Instant.ofEpochMilli(row.integer(4)), Instant.ofEpochMilli(row.integer(5)),
        row.isNull(6) ? null : Instant.ofEpochMilli(row.integer(6)), row.text(7));
  }

  private static BlobRecord blobRecord(ResultSet rs) throws SQLException {
    return new BlobRecord(Integrity.parse(rs.getString(1)), rs.getLong(2), rs.getBytes(3));
  }

  @Override
  public void close() {
    if (table != null) {
      table.close(); // first: a build in progress stops before the index closes under it
    }
    db.close(); // first: a lookup racing the close then finds it closed, and opens no version connection
    hot.close();
    db.walHeader().close(); // last: closing its file drops this process's locks on the shared memory
  }
}
