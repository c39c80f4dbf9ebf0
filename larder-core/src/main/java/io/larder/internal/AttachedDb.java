package io.larder.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.sqlite.SQLiteConfig;

/**
 * A second database file attached to every connection of a {@link SqliteDb} as {@code schema}, made (in WAL
 * mode, with the tables of {@code ddl}, named {@code schema.table}) before the first connection when the
 * database is writable. What is committed to it does not move the main file's WAL-index header or data
 * version: readers of the main file keep their snapshots, their memory maps and the hot hits across those
 * commits (see SqliteIndex, table {@code accessed}). Its durability is NORMAL whatever the main file's: what
 * it holds may lose its last commits to a power cut, never its consistency.
 */
record AttachedDb(String schema, Path file, List<String> ddl) {
  /**
   * Makes the file if this process may write (WAL mode, its tables), and says what to attach: the file, the
   * file as immutable beside an immutable main file, or nothing (null) when a read-only process finds none,
   * or an immutable one finds one with a log it cannot read without shared memory.
   */
  String prepare(boolean readOnly, boolean immutable, int busyTimeoutMillis) throws SQLException {
    Path f = file.toAbsolutePath();
    if (!readOnly) {
      SQLiteConfig config = new SQLiteConfig();
      config.setBusyTimeout(busyTimeoutMillis);
      // Through a database in memory with the file attached, so that the tables are named as everywhere else.
      try (Connection c = config.createConnection("jdbc:sqlite::memory:"); Statement s = c.createStatement()) {
        attach(c, f.toString());
        try (ResultSet rs = s.executeQuery("PRAGMA " + schema + ".journal_mode")) {
          if (!rs.next() || !"wal".equalsIgnoreCase(rs.getString(1))) {
            SqliteDb.retrying(() -> s.execute("PRAGMA " + schema + ".journal_mode=WAL"));
          }
        }
        for (String table : ddl) {
          SqliteDb.retrying(() -> s.execute(table));
        }
      }
      return f.toString();
    }
    if (!Files.isRegularFile(f)) {
      return null;
    }
    if (!immutable) {
      return f.toString();
    }
    try {
      return Files.size(Path.of(f + "-wal")) == 0 ? "file:" + f + "?immutable=1" : null;
    } catch (IOException noLog) {
      return "file:" + f + "?immutable=1";
    }
  }

  /** Attaches what {@link #prepare} said to a new connection {@code c} of the main file. */
  void attachTo(Connection c, String url, boolean readOnly) throws SQLException {
    attach(c, url);
    if (!readOnly) {
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA " + schema + ".synchronous = NORMAL");
      }
    }
  }

  private void attach(Connection c, String url) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("ATTACH DATABASE ? AS " + schema)) {
      ps.setString(1, url);
      SqliteDb.retrying(ps::execute);
    }
  }
}
