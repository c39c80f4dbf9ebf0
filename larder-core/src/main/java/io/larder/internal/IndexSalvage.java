package io.larder.internal;

import io.larder.Entry;
import io.larder.Integrity;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** What can still be read of a damaged index file ({@link SqliteIndex}'s), for {@code repair}. */
public final class IndexSalvage {
  private IndexSalvage() {}

  /** An entry read back from a damaged index, with its inline content when that could be read too. */
  public record Salvaged(Entry entry, byte[] inline) {}

  /**
   * Reads what can still be read of the entries of a damaged index file (not one in use): in key order from
   * the first key until the first damaged page, then in reverse order from the last key until the first
   * damaged page from that end. Entries between two damaged pages are not reached.
   *
   * @return whether every entry could be read
   */
  public static boolean read(Path damaged, java.util.function.Consumer<Salvaged> found) {
    boolean whole = true;
    try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + damaged.toAbsolutePath())) {
      String lastRead = null;
      for (boolean forward : new boolean[] {true, false}) {
        // The access times as the entries were written: the recorded reads (index-access.db) are not read.
        String sql = "SELECT " + SqliteIndex.RAW_COLUMNS + ", inline FROM entries" + (forward ? " ORDER BY key" : " ORDER BY key DESC");
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
          while (rs.next()) {
            Entry e = SqliteIndex.entry(rs);
            if (!forward && lastRead != null && e.key().compareTo(lastRead) <= 0) {
              break; // reached from the end what was read from the start
            }
            found.accept(new Salvaged(e, rs.getInt(8) == 1 ? inlineOf(c, e.integrity()) : null));
            if (forward) {
              lastRead = e.key();
            }
          }
          if (forward) {
            return true; // the scan went through: nothing was lost
          }
        } catch (SQLException | RuntimeException damagedHere) {
          whole = false;
          if (!forward) {
            break;
          }
        }
      }
    } catch (SQLException e) {
      return false; // not even a database any more: nothing to read
    }
    return whole;
  }

  private static byte[] inlineOf(java.sql.Connection c, Integrity digest) {
    try (PreparedStatement ps = c.prepareStatement("SELECT data FROM blobs WHERE digest = ?")) {
      ps.setString(1, digest.strongest().sri());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getBytes(1) : null;
      }
    } catch (SQLException e) {
      return null; // that page is damaged: the content is lost with it
    }
  }
}
