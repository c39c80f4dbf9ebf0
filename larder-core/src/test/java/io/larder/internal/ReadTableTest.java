package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.spi.Index;
import io.larder.spi.Index.Hit;
import io.larder.testkit.ChildJvm;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadTableTest {
  @TempDir Path dir;

  private static final Instant T0 = Instant.ofEpochMilli(1_000_000);

  private Path db() {
    return dir.resolve("index.db");
  }

  private SqliteIndex withTable() {
    return new SqliteIndex(db(), Durability.PROCESS_SAFE, false, true);
  }

  private SqliteIndex withoutTable() {
    return new SqliteIndex(db(), Durability.PROCESS_SAFE, false, false);
  }

  static void put(Index index, String key, String content, String metadata) {
    byte[] data = content.getBytes(StandardCharsets.UTF_8);
    Integrity d = Integrity.compute(Algorithm.SHA256, data);
    index.put(new Entry(key, d, data.length, T0, T0, null, metadata), new Index.BlobRecord(d, data.length, data));
  }

  static String content(Index index, String key) {
    Optional<Hit> hit = index.get(key, true);
    return hit.map(h -> new String(h.inline(), StandardCharsets.UTF_8)).orElse(null);
  }

  /** Runs {@code sql} on a connection of its own, as another program would. */
  private void sql(String... statements) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db()); Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    }
  }

  private long count(String query) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      return rs.getLong(1);
    }
  }

  interface Check {
    void run() throws Exception;
  }

  /** Runs {@code checks} holding the build lock: no build starts meanwhile (a background one would race them). */
  private void whileNoBuildStarts(Check checks) throws Exception {
    Path lock = ReadTable.fileOf(db()).resolveSibling("index-read.tbl.lock");
    try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held = ch.lock()) {
      assertThat(held.isValid()).isTrue();
      checks.run();
    }
  }

  @Test
  void aKeyUnchangedSinceTheCopyIsReadFromIt() throws Exception {
    try (SqliteIndex index = withTable()) {
      put(index, "k", "v1", "m1");
      assertThat(index.readTable().rebuild()).isTrue();
      // Changed behind the log's back (its trigger dropped for the update): only the copy still says m1.
      sql("DROP TRIGGER entries_logged_update", "UPDATE entries SET metadata = 'changed' WHERE key = 'k'",
          ReadTable.SCHEMA.get(5));
      assertThat(index.get("k", true).orElseThrow().entry().metadata()).as("answered by the copy").isEqualTo("m1");
      assertThat(index.get("k", false).orElseThrow().entry().metadata()).as("the index itself").isEqualTo("changed");
    }
  }

  @Test
  void everyWriteIsSeenByTheNextReadWhoeverWroteIt() throws Exception {
    try (SqliteIndex index = withTable(); SqliteIndex other = withoutTable()) {
      for (int i = 0; i < 10; i++) {
        put(index, "k" + i, "v" + i, null);
      }
      assertThat(index.readTable().rebuild()).isTrue();
      assertThat(content(index, "k1")).isEqualTo("v1");
      put(index, "k1", "mine", null);
      assertThat(content(index, "k1")).isEqualTo("mine");
      put(other, "k2", "theirs", null); // another connection: its commit shows in the WAL-index header
      assertThat(other.remove("k3")).isTrue();
      put(other, "new", "added", null);
      assertThat(other.removePrefix("k5")).isEqualTo(1);
      assertThat(content(index, "k2")).isEqualTo("theirs");
      assertThat(index.get("k3", true)).isEmpty();
      assertThat(content(index, "new")).isEqualTo("added");
      assertThat(index.get("k5", true)).isEmpty();
      assertThat(content(index, "k4")).isEqualTo("v4");
      assertThat(index.get("never", true)).isEmpty();
      assertThat(index.readTable().inUse()).isTrue();
    }
  }

  /** Puts k0..k9 = v0..v9, builds a copy and reads from it. */
  private static void tenKeysInACopy(SqliteIndex index) throws Exception {
    for (int i = 0; i < 10; i++) {
      put(index, "k" + i, "v" + i, null);
    }
    assertThat(index.readTable().rebuild()).isTrue();
    assertThat(content(index, "k0")).isEqualTo("v0");
  }

  /** Runs {@code between} once, after the next commit of {@code index} and before its read table looks. */
  private static AtomicBoolean afterTheNextCommit(SqliteIndex index, Runnable between) {
    AtomicBoolean once = new AtomicBoolean();
    index.readTable().runAfterEachCommit(() -> {
      if (once.compareAndSet(false, true)) {
        between.run();
      }
    });
    return once;
  }

  @Test
  void thisProcesssOwnCommitsNeedNoReadOfTheLogAndOthersStillDo() throws Exception {
    try (SqliteIndex index = withTable(); SqliteIndex other = withoutTable()) {
      tenKeysInACopy(index);
      long reads = index.readTable().logReads();
      put(index, "k1", "mine", null);
      assertThat(index.remove("k3")).isTrue();
      put(index, "new", "added", null);
      assertThat(content(index, "k1")).isEqualTo("mine");
      assertThat(index.get("k3", true)).isEmpty();
      assertThat(content(index, "new")).isEqualTo("added");
      assertThat(content(index, "k4")).as("from the copy").isEqualTo("v4");
      assertThat(index.readTable().logReads()).as("own commits: the view kept up in the writer").isEqualTo(reads);

      put(other, "k2", "theirs", null); // another connection's commit: the readers must read the log
      assertThat(content(index, "k2")).isEqualTo("theirs");
      assertThat(index.readTable().logReads()).isGreaterThan(reads);

      put(other, "k6", "theirs too", null); // unread by any reader when this process commits next
      put(index, "k7", "mine too", null);
      assertThat(content(index, "k6")).isEqualTo("theirs too");
      assertThat(content(index, "k7")).isEqualTo("mine too");
      assertThat(content(index, "k8")).isEqualTo("v8");
      assertThat(index.readTable().inUse()).isTrue();
    }
  }

  @Test
  void aCommitOfAnotherProcessRightAfterOneOfThisProcessIsNotTakenForItsOwn() throws Exception {
    try (SqliteIndex index = withTable(); SqliteIndex other = withoutTable()) {
      tenKeysInACopy(index);
      AtomicBoolean once = afterTheNextCommit(index, () -> put(other, "k2", "theirs", null));
      put(index, "k1", "mine", null);
      assertThat(once).isTrue();
      assertThat(content(index, "k1")).isEqualTo("mine");
      assertThat(content(index, "k2")).isEqualTo("theirs");
    }
  }

  @Test
  void aTransactionOfThisProcessThatChangedNoEntryIsNotTakenForTheCommitAfterIt() throws Exception {
    try (SqliteIndex index = withTable(); SqliteIndex other = withoutTable()) {
      tenKeysInACopy(index);
      AtomicBoolean once = afterTheNextCommit(index, () -> put(other, "k2", "theirs", null));
      put(other, "k4", "theirs first", null); // not yet read by this process: its change is not this one's
      // Access times go to the attached file: the index file itself sees one commit, the other's.
      index.recordAccess(new long[] {Index.keyHash("k3")}, new long[] {T0.toEpochMilli() + 1});
      assertThat(once).isTrue();
      assertThat(content(index, "k2")).isEqualTo("theirs");
      assertThat(content(index, "k4")).isEqualTo("theirs first");
    }
  }

  /** The child: puts {@code k<i % 4>} = {@code v<i>} for i below COUNT, each after the parent's go-ahead. */
  public static final class OtherProcess {
    public static void main(String[] args) throws Exception {
      int count = Integer.parseInt(args[1]);
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
      try (Larder cache = Larder.open(Path.of(args[0]))) {
        for (int i = 0; i < count; i++) {
          if (in.readLine() == null) {
            return;
          }
          if (i % 5 == 4) {
            cache.remove("k" + i % 4);
          } else {
            cache.put("k" + i % 4, ("v" + i).getBytes(StandardCharsets.UTF_8));
          }
          out.println("wrote " + i);
        }
      }
    }
  }

  @Test
  void aWriteByAnotherProcessIsSeenByTheNextRead() throws Exception {
    try (SqliteIndex index = withTable()) {
      for (int k = 0; k < 4; k++) {
        put(index, "k" + k, "first", null);
      }
      assertThat(index.readTable().rebuild()).isTrue();
      Process child = ChildJvm.start(OtherProcess.class, dir.toString(), "40");
      try (PrintStream go = new PrintStream(child.getOutputStream(), true, StandardCharsets.UTF_8);
          BufferedReader done = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (int i = 0; i < 40; i++) {
          assertThat(content(index, "k" + i % 4)).as("before write " + i).isNotEqualTo("v" + i);
          go.println("go");
          assertThat(done.readLine()).isEqualTo("wrote " + i);
          assertThat(content(index, "k" + i % 4)).as("after write " + i).isEqualTo(i % 5 == 4 ? null : "v" + i);
        }
      } finally {
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(index.readTable().inUse()).isTrue();
    }
  }

  @Test
  void aDamagedRecordIsReadFromTheIndexInstead() throws Exception {
    try (SqliteIndex index = withTable()) {
      put(index, "k", "the content", null);
      assertThat(index.readTable().rebuild()).isTrue();
    }
    Path file = ReadTable.fileOf(db());
    byte[] bytes = Files.readAllBytes(file);
    int at = indexOf(bytes, "the content".getBytes(StandardCharsets.UTF_8));
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[] {'T'}), at);
    }
    try (SqliteIndex index = withTable()) {
      whileNoBuildStarts(() -> {
        assertThat(index.readTable().inUse()).as("its header is whole").isTrue();
        assertThat(content(index, "k")).isEqualTo("the content");
        assertThat(index.readTable().inUse()).as("not used once found damaged").isFalse();
      });
      assertThat(index.readTable().rebuild()).isTrue();
      assertThat(content(index, "k")).isEqualTo("the content");
    }
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }

  @Test
  void theCopyOfAnotherIndexIsNotUsed() throws Exception {
    Path elsewhere = Files.createDirectories(dir.resolve("b"));
    try (SqliteIndex b = new SqliteIndex(elsewhere.resolve("index.db"), Durability.PROCESS_SAFE, false, true)) {
      put(b, "k", "from b", null);
      assertThat(b.readTable().rebuild()).isTrue();
    }
    try (SqliteIndex index = withTable()) {
      put(index, "k", "from a", null);
    }
    Files.copy(elsewhere.resolve("index-read.tbl"), ReadTable.fileOf(db()), StandardCopyOption.REPLACE_EXISTING);
    whileNoBuildStarts(() -> {
      try (SqliteIndex index = withTable()) {
        assertThat(index.readTable().inUse()).isFalse();
        assertThat(content(index, "k")).isEqualTo("from a");
      }
    });
  }

  @Test
  void tooManyChangesSendReadsToTheIndexUntilTheRebuildWhichEmptiesTheLog() throws Exception {
    try (SqliteIndex index = withTable()) {
      put(index, "k", "v", null);
      assertThat(index.readTable().rebuild()).isTrue();
      long many = ReadTable.MIN_CHANGED * ReadTable.LIMIT_FACTOR + 1;
      // One transaction that another program might make: the triggers log every row.
      sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + many + ")"
          + " INSERT INTO entries(key, digest, size, created, accessed, inline) SELECT 'bulk' || i, digest, size,"
          + " created, accessed, inline FROM entries, n WHERE key = 'k'");
      assertThat(count("SELECT count(*) FROM changes")).isGreaterThanOrEqualTo(many);
      whileNoBuildStarts(() -> {
        assertThat(content(index, "bulk7")).isEqualTo("v");
        assertThat(index.readTable().inUse()).isFalse();
      });
      assertThat(index.readTable().rebuild()).isTrue();
      assertThat(count("SELECT count(*) FROM changes")).as("the log up to the new copy is emptied but for its last")
          .isEqualTo(1);
      assertThat(content(index, "bulk" + many)).isEqualTo("v");
      assertThat(index.readTable().inUse()).isTrue();
    }
  }

  @Test
  void aCollectionEmptiesALogThatNoCopyKeepsUpWith() throws Exception {
    try (SqliteIndex index = withTable()) {
      put(index, "k", "v", null);
      assertThat(index.readTable().rebuild()).isTrue();
      assertThat(content(index, "k")).isEqualTo("v");
    }
    try (SqliteIndex other = withoutTable()) { // the store is no longer opened with a read table
      for (int i = 0; i < 3; i++) {
        put(other, "k", "v" + i, null);
      }
      other.tidy();
      assertThat(count("SELECT count(*) FROM changes")).as("a short log is kept: the copy's last change, three since")
          .isEqualTo(4);
      long many = ReadTable.MIN_CHANGED * ReadTable.LIMIT_FACTOR;
      sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + many + ")"
          + " INSERT INTO entries(key, digest, size, created, accessed, inline) SELECT 'bulk' || i, digest, size,"
          + " created, accessed, inline FROM entries, n WHERE key = 'k'");
      other.tidy();
      assertThat(count("SELECT count(*) FROM changes")).isEqualTo(1);
    }
    whileNoBuildStarts(() -> {
      try (SqliteIndex index = withTable()) {
        assertThat(index.readTable().inUse()).as("its copy is older than the log now goes back").isFalse();
        assertThat(content(index, "k")).isEqualTo("v2");
      }
    });
    try (SqliteIndex index = withTable()) {
      assertThat(index.readTable().rebuild()).isTrue();
      assertThat(content(index, "k")).isEqualTo("v2");
      assertThat(content(index, "bulk9")).isEqualTo("v2");
    }
  }

  @Test
  void theLargestEntriesAndOddKeysAreCopiedWhole() throws Exception {
    byte[] inline = new byte[io.larder.LarderOptions.MAX_INLINE_THRESHOLD];
    new java.util.Random(1).nextBytes(inline);
    Integrity d = Integrity.compute(Algorithm.SHA256, inline);
    String metadata = "{\"m\":\"" + "x".repeat(io.larder.PutOptions.MAX_METADATA_BYTES - 10) + "\"}";
    String key = "ключ:".repeat(400); // 4,000 UTF-8 bytes
    Instant expires = T0.plusSeconds(60);
    try (SqliteIndex index = withTable()) {
      index.put(new Entry(key, d, inline.length, T0, T0, expires, metadata), new Index.BlobRecord(d, inline.length, inline));
      put(index, "", "empty key", null);
      put(index, "small", "", null);
      assertThat(index.readTable().rebuild()).isTrue();
      Hit hit = index.get(key, true).orElseThrow();
      assertThat(hit.inline()).isEqualTo(inline);
      assertThat(hit.entry()).isEqualTo(new Entry(key, d, inline.length, T0, T0, expires, metadata));
      assertThat(content(index, "")).isEqualTo("empty key");
      assertThat(content(index, "small")).isEmpty();
      assertThat(index.get(key.substring(1), true)).isEmpty();
    }
  }

  /** Fills the index on {@code disk} with 160 entries of 16 KiB inline (3 MiB with the pages' overhead). */
  private static void fill(Path file) {
    byte[] block = new byte[16 * 1024];
    for (int batch = 0; batch < 4; batch++) {
      try (SqliteIndex index = new SqliteIndex(file, Durability.PROCESS_SAFE)) {
        for (int i = batch * 40; i < batch * 40 + 40; i++) {
          Integrity d = Integrity.compute(Algorithm.SHA256, block(i));
          index.put(new Entry("k" + i, d, block.length, T0, T0, null, null), new Index.BlobRecord(d, block.length, block(i)));
        }
      } // closed: the WAL is checkpointed into the index and removed (so it never holds all of it)
    }
  }

  private static byte[] block(int i) {
    byte[] block = new byte[16 * 1024];
    new java.util.Random(i).nextBytes(block);
    return block;
  }

  /** Regression: on a disk too full to add the change log, opening the index with a read table failed. */
  @Test
  void onAFullDiskTheIndexOpensWithoutItsReadTable() throws Exception {
    try (io.larder.testkit.SmallDisk disk = io.larder.testkit.SmallDisk.mount(dir.resolve("small"), "5m")) {
      Path file = disk.path().resolve("index.db");
      fill(file);
      try (SqliteIndex index = new SqliteIndex(file, Durability.PROCESS_SAFE, false, true)) {
        assertThat(index.readTable().inUse()).isFalse();
        assertThat(index.get("k7", true).orElseThrow().inline()).isEqualTo(block(7));
        assertThat(index.remove("k7")).as("a removal, which frees space, still commits").isTrue();
        assertThat(index.get("k7", true)).isEmpty();
      }
    }
  }

  @Test
  void aBuildOnAFullDiskFailsCleanlyAndReadsGoOn() throws Exception {
    try (io.larder.testkit.SmallDisk disk = io.larder.testkit.SmallDisk.mount(dir.resolve("small"), "5m")) {
      Path file = disk.path().resolve("index.db");
      try (SqliteIndex index = new SqliteIndex(file, Durability.PROCESS_SAFE, false, true)) {
        assertThat(index.readTable().rebuild()).as("a copy of the empty index").isTrue();
      }
      fill(file);
      try (SqliteIndex index = new SqliteIndex(file, Durability.PROCESS_SAFE, false, true)) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> index.readTable().rebuild())
            .isInstanceOf(java.io.IOException.class).hasMessageContaining("No space left");
        try (var left = Files.list(disk.path())) {
          assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
        assertThat(index.get("k7", true).orElseThrow().inline()).isEqualTo(block(7));
        assertThat(index.remove("k7")).isTrue();
        assertThat(index.get("k7", true)).isEmpty();
        assertThat(index.get("k8", true).orElseThrow().inline()).isEqualTo(block(8));
      }
    }
  }

  @Test
  void anIndexWithoutTheLogSendsEveryReadToIt() throws Exception {
    try (SqliteIndex index = withTable()) {
      put(index, "k", "v", null);
      assertThat(index.readTable().rebuild()).isTrue();
      sql("DROP TRIGGER entries_logged_insert", "DROP TRIGGER entries_logged_delete",
          "DROP TRIGGER entries_logged_update", "DROP TABLE read_table", "DROP TABLE changes");
      try (SqliteIndex other = withoutTable()) {
        put(other, "k", "unlogged", null);
      }
      assertThat(content(index, "k")).isEqualTo("unlogged");
      assertThat(index.readTable().inUse()).isFalse();
    }
  }
}
