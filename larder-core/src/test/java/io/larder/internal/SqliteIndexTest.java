package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Durability;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteIndexTest {
  @TempDir Path dir;

  @Test
  void prefixScanIsARangeSearchOnTheKeyNotAFullScan() throws Exception {
    Path db = dir.resolve("index.db");
    new SqliteIndex(db, Durability.PROCESS_SAFE).close(); // makes the schema
    StringBuilder plan = new StringBuilder();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + SqliteIndex.scanSql(SqliteIndex.ENTRY_COLUMNS, true))) {
      ps.setString(1, "build:lib:");
      ps.setString(2, "");
      ps.setString(3, Keys.upperBound("build:lib:"));
      ps.setInt(4, 100);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          plan.append(rs.getString(4)).append('\n');
        }
      }
    }
    assertThat(plan.toString()).contains("SEARCH e USING PRIMARY KEY (key>? AND key<?)")
        .as("each entry's last read by its key hash").contains("SEARCH accessed USING INTEGER PRIMARY KEY (rowid=?)")
        .doesNotContain("SCAN");
  }
}
