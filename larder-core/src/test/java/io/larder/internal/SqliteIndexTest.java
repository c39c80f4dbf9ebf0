package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.spi.Index;
import java.time.Instant;
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
    try (Connection c = attached(db);
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
        .as("each entry's last read by its key hash").contains("SEARCH acc.accessed USING INTEGER PRIMARY KEY (rowid=?)")
        .doesNotContain("SCAN");
  }

  /** A connection to the index file with its access-time file attached, as the index's own are. */
  private static Connection attached(Path db) throws java.sql.SQLException {
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
    try (var s = c.createStatement()) {
      s.execute("ATTACH '" + SqliteIndex.accessFile(db) + "' AS acc");
    }
    return c;
  }

  @Test
  void recordingReadsCommitsNothingToTheIndexFile() throws Exception {
    Path db = dir.resolve("index.db");
    Instant t0 = Instant.ofEpochMilli(1_000_000);
    try (SqliteIndex index = new SqliteIndex(db, Durability.PROCESS_SAFE);
        WalHeader wal = new WalHeader(Path.of(db + "-shm"))) {
      putSmall(index, "k", t0);
      int before = WalHeader.transactions(wal.read());
      index.recordAccess(new long[] {Index.keyHash("k")}, new long[] {t0.plusSeconds(60).toEpochMilli()});
      assertThat(WalHeader.transactions(wal.read())).as("no commit to the index file").isEqualTo(before);
      assertThat(index.get("k", false).orElseThrow().entry().accessed()).isEqualTo(t0.plusSeconds(60));
    }
  }

  @Test
  void aReaderSeesEveryBatchOfReadsThoughTheIndexFileIsUnchanged() throws Exception {
    Path db = dir.resolve("index.db");
    Instant t0 = Instant.ofEpochMilli(1_000_000);
    try (SqliteIndex index = new SqliteIndex(db, Durability.PROCESS_SAFE)) {
      putSmall(index, "k", t0);
      long h = Index.keyHash("k");
      for (int minute = 1; minute <= 3; minute++) {
        assertThat(index.get("k", true)).isPresent(); // the reader's snapshot of the index file, kept
        Instant read = t0.plusSeconds(60L * minute);
        index.recordAccess(new long[] {h}, new long[] {read.toEpochMilli()});
        assertThat(index.scan("", null, 10)).extracting(Entry::accessed).containsExactly(read);
        assertThat(index.entries(java.util.List.of("k"))).extracting(Entry::accessed).containsExactly(read);
      }
    }
  }

  private static void putSmall(SqliteIndex index, String key, Instant at) {
    byte[] data = {1, 2, 3};
    Integrity d = Integrity.compute(Algorithm.SHA256, data);
    index.put(new Entry(key, d, data.length, at, at, null, null), new Index.BlobRecord(d, data.length, data));
  }
}
