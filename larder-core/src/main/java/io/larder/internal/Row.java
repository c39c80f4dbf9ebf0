package io.larder.internal;

import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.sqlite.core.Codes;
import org.sqlite.core.CoreStatement;
import org.sqlite.core.DB;

/**
 * The current row of a query, its columns numbered from 1 as in JDBC. {@link #first} reads a query's first
 * row straight from the driver's statement handle. On a lookup by key a JDBC result set took about a quarter
 * of the time (it fetches every column's name again at each execution, wraps each call in a timeout and
 * keeps per-column state): the same query ran 131–136k times a second through it, 171–200k through the
 * handle (BENCHMARKS.md, "A lookup without a result set"). {@link #of} reads a {@link ResultSet}'s current
 * row, so that one conversion serves both.
 */
interface Row {
  String text(int column) throws SQLException;

  long integer(int column) throws SQLException;

  boolean isNull(int column) throws SQLException;

  byte[] blob(int column) throws SQLException;

  /** Reads a row into a value. */
  @FunctionalInterface
  interface Reader<T> {
    T read(Row row) throws SQLException;
  }

  /**
   * Runs {@code query} (a statement prepared by this driver) with {@code params} bound in order, and reads
   * its first row with {@code reader}; null when it returns no row. The statement is reset before this
   * returns, so it holds no read lock afterwards beyond the connection's own transaction.
   */
  static <T> T first(PreparedStatement query, Reader<T> reader, Object... params) throws SQLException {
    CoreStatement statement = (CoreStatement) query;
    return statement.pointer.safeRun((sqlite, handle) -> {
      try {
        return sqlite.execute(statement, params) ? reader.read(new OfHandle(sqlite, handle)) : null;
      } finally {
        // The driver finalizes a statement whose step failed (its table dropped, a damaged file): resetting
        // the freed handle then crashed the JVM.
        if (!statement.pointer.isClosed()) {
          sqlite.reset(handle);
        }
      }
    });
  }

  /** Whether the driver has finalized {@code query} (it does when a step fails): it must be prepared again. */
  static boolean finalized(PreparedStatement query) {
    return ((CoreStatement) query).pointer.isClosed();
  }

  /** The current row of {@code rs}. */
  static Row of(ResultSet rs) {
    return new Row() {
      @Override
      public String text(int column) throws SQLException {
        return rs.getString(column);
      }

      @Override
      public long integer(int column) throws SQLException {
        return rs.getLong(column);
      }

      @Override
      public boolean isNull(int column) throws SQLException {
        return rs.getObject(column) == null;
      }

      @Override
      public byte[] blob(int column) throws SQLException {
        return rs.getBytes(column);
      }
    };
  }

  /** A row of a statement that has just stepped to it. */
  record OfHandle(DB sqlite, long handle) implements Row {
    /** The text's UTF-8 bytes as a byte array, decoded here: the driver's own text call builds a direct buffer for each. */
    @Override
    public String text(int column) throws SQLException {
      byte[] utf8 = sqlite.column_blob(handle, column - 1);
      return utf8 == null ? null : new String(utf8, StandardCharsets.UTF_8);
    }

    @Override
    public long integer(int column) throws SQLException {
      return sqlite.column_long(handle, column - 1);
    }

    @Override
    public boolean isNull(int column) throws SQLException {
      return sqlite.column_type(handle, column - 1) == Codes.SQLITE_NULL;
    }

    @Override
    public byte[] blob(int column) throws SQLException {
      return sqlite.column_blob(handle, column - 1);
    }
  }
}
