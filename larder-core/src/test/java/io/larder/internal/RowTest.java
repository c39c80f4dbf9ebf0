package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RowTest {
  @TempDir Path dir;

  /** Regression: the driver finalizes a statement whose step fails, and resetting it then crashed the JVM. */
  @Test
  void aQueryWhoseTableWasDroppedFailsWithAnErrorAndIsPreparedAgain() throws Exception {
    String url = "jdbc:sqlite:" + dir.resolve("t.db");
    try (Connection c = DriverManager.getConnection(url); Connection other = DriverManager.getConnection(url)) {
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE t(x INTEGER)");
        s.execute("INSERT INTO t VALUES (7)");
      }
      SqliteDb.Statements statements = new SqliteDb.Statements(c);
      PreparedStatement query = statements.get("SELECT x FROM t");
      assertThat(Row.<Long>first(query, row -> row.integer(1))).isEqualTo(7L);
      try (Statement s = other.createStatement()) {
        s.execute("DROP TABLE t");
      }
      assertThatThrownBy(() -> Row.first(query, row -> row.integer(1))).isInstanceOf(SQLException.class)
          .hasMessageContaining("no such table");
      try (Statement s = other.createStatement()) {
        s.execute("CREATE TABLE t(x INTEGER)");
        s.execute("INSERT INTO t VALUES (8)");
      }
      assertThat(Row.<Long>first(statements.get("SELECT x FROM t"), row -> row.integer(1))).as("a new statement").isEqualTo(8L);
    }
  }
}
