package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Durability;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteDbTest {
  @TempDir Path dir;
  SqliteDb db;

  @BeforeEach
  void open() {
    db = new SqliteDb(dir.resolve("index.db"), Durability.PROCESS_SAFE, w -> {
      try (Statement s = w.c.createStatement()) {
        s.execute("CREATE TABLE IF NOT EXISTS t(x INTEGER)");
      }
      return null;
    });
    db.openWriter();
  }

  @AfterEach
  void close() {
    db.close();
    db.walHeader().close();
  }

  private void commit() {
    db.write("inserting", w -> {
      try (Statement s = w.c.createStatement()) {
        s.execute("INSERT INTO t VALUES (1)");
      }
      return null;
    });
  }

  private long readersMap() {
    return db.read("reading mmap_size", r -> {
      try (Statement s = r.c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA mmap_size")) {
        return rs.getLong(1);
      }
    });
  }

  @Test
  void theWalHeaderCountsEveryCommitOfAnyConnection() throws Exception {
    int before = WalHeader.transactions(db.walHeader().read());
    for (int i = 0; i < 5; i++) {
      commit();
    }
    try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("index.db"));
        Statement s = other.createStatement()) {
      s.execute("INSERT INTO t VALUES (2)");
      s.execute("PRAGMA wal_checkpoint(TRUNCATE)"); // the log starts over at the next commit
      s.execute("INSERT INTO t VALUES (3)");
    }
    assertThat(WalHeader.transactions(db.walHeader().read()) - before).isEqualTo(7);
  }

  @Test
  void readersMapTheFileWhileCommitsAreRareAndNothingWhileTheyAreFrequent() throws Exception {
    assertThat(readersMap()).isGreaterThan(1L << 30);
    // Hundreds of commits a second: within a few seconds the sweep stops mapping, and readers follow.
    assertThat(until(() -> {
      for (int i = 0; i < 50; i++) {
        commit();
      }
      return db.mapBytes() == 0;
    })).isTrue();
    assertThat(readersMap()).isZero();
    // No commits: the map comes back.
    assertThat(until(() -> db.mapBytes() > 0)).isTrue();
    assertThat(readersMap()).isGreaterThan(1L << 30);
  }

  /** Whether {@code done} became true within ten seconds (asked every 20 ms). */
  private static boolean until(BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (done.getAsBoolean()) {
        return true;
      }
      Thread.sleep(20);
    }
    return false;
  }
}
