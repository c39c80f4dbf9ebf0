package io.larder.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/**
 * Makes the copy of the index that a {@link ReadTable} reads: every entry with its inline content, at one point
 * of the change log, written to a file of its own and put in place of the last copy; one process at a time
 * (the lock file {@code index-read.tbl.lock} beside it).
 */
final class ReadTableCopy {
  private ReadTableCopy() {}

  /**
   * Copies every entry, in one read transaction, into a new table file and publishes it; then records it as
   * the current copy and empties the log up to it. False if another process is building one, or if the log
   * is gone or {@code stop} said to stop.
   */
  static boolean make(SqliteDb db, Path file, BooleanSupplier stop) throws IOException, SQLException {
    Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
    try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = tryLock(lockChannel)) {
      if (lock == null) {
        return false;
      }
      removeUnfinished(file);
      long[] made;
      try (Connection c = db.connect()) {
        c.setAutoCommit(false); // one read transaction: the copy is of one point of the log
        try {
          made = copy(c, file, stop);
        } finally {
          c.rollback();
        }
      }
      if (made == null) {
        return false;
      }
      db.write("recording the new read table", w -> {
        PreparedStatement ps = w.get("UPDATE read_table SET base = ?1 WHERE epoch = ?2");
        ps.setLong(1, made[1]);
        ps.setLong(2, made[0]);
        if (ps.executeUpdate() == 1) {
          PreparedStatement prune = w.get("DELETE FROM changes WHERE seq < ?"); // the last stays: see SCHEMA
          prune.setLong(1, made[1]);
          prune.executeUpdate();
        }
        return null;
      });
      return true;
    }
  }

  /** The build lock, or null if another process or another store of this one holds it. */
  private static FileLock tryLock(FileChannel channel) throws IOException {
    try {
      return channel.tryLock();
    } catch (java.nio.channels.OverlappingFileLockException e) {
      return null;
    }
  }

  /** Writes and publishes the copy; its epoch and base, or null if the log is gone or {@code stop} says so. */
  private static long[] copy(Connection c, Path file, BooleanSupplier stop) throws IOException, SQLException {
    try (Statement s = c.createStatement()) {
      Long[] meta = null;
      try (ResultSet rs = s.executeQuery("SELECT epoch FROM read_table")) {
        if (rs.next()) {
          meta = new Long[] {rs.getLong(1)};
        }
      }
      if (meta == null) {
        return null;
      }
      long base;
      try (ResultSet rs = s.executeQuery("SELECT ifnull(max(seq), 0) FROM changes")) {
        base = rs.getLong(1);
      }
      long count;
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM entries")) {
        count = rs.getLong(1);
      }
      Path tmp = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".tmp");
      try (ReadTableFile.Builder out = new ReadTableFile.Builder(tmp, meta[0], base, count);
          PreparedStatement byDigest = c.prepareStatement("SELECT data FROM blobs WHERE digest = ?");
          ResultSet rs = s.executeQuery("SELECT e.key, e.digest, e.size, e.created, e.accessed, e.expires,"
              + " e.metadata, b.data, e.inline FROM entries e LEFT JOIN blobs b ON b.id = e.blob"
              + " AND b.digest = e.digest")) {
        long n = 0;
        while (rs.next()) {
          if ((++n & 1023) == 0 && stop.getAsBoolean()) {
            return null;
          }
          byte[] inline = rs.getBytes(8);
          if (inline == null && rs.getInt(9) != 0) { // as SqliteIndex's lookup: by digest if the join missed it
            byDigest.setString(1, rs.getString(2));
            try (ResultSet blob = byDigest.executeQuery()) {
              inline = blob.next() ? blob.getBytes(1) : null;
            }
          }
          Long expires = rs.getObject(6) == null ? null : rs.getLong(6);
          out.add(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), expires,
              rs.getString(7), inline);
        }
        out.publish(file);
      }
      return new long[] {meta[0], base};
    }
  }

  /** Deletes the temporary files of builds that did not finish (only the lock's holder builds). */
  private static void removeUnfinished(Path file) throws IOException {
    try (DirectoryStream<Path> left = Files.newDirectoryStream(file.getParent(), file.getFileName() + ".*.tmp")) {
      for (Path p : left) {
        Files.deleteIfExists(p);
      }
    }
  }

}
