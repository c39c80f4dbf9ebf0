package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.ChildJvm;
import io.larder.testkit.Churn;
import io.larder.testkit.MutableClock;
import io.larder.testkit.StoreFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Garbage collection: expiry, eviction by age and size with keep-per-group, content collection. */
class GcTest {
  @TempDir Path dir;
  // Near real time: the grace period compares the store's clock with the files' real modification times.
  MutableClock clock = new MutableClock(Instant.now().plus(Duration.ofMinutes(1)));
  Larder cache;

  @BeforeEach
  void open() {
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
  }

  @AfterEach
  void close() {
    cache.close();
  }


  private static final GcOptions NOW = GcOptions.defaults().grace(Duration.ZERO).keepPerGroup(0);

  @Test
  void evictedContentLeavesTheDiskAtOnceWithTheDefaultGrace() throws Exception {
    // The case: 16 x 1 MB, max-size 6M, all written a moment ago (within the 10-minute grace).
    for (int i = 0; i < 16; i++) {
      cache.put("e" + i, random(1_000_000, i));
      clock.advance(Duration.ofSeconds(1));
    }
    GcReport r = cache.gc(GcOptions.defaults().maxSize(6_000_000).keepPerGroup(0));
    assertThat(r.evicted()).isGreaterThanOrEqualTo(10);
    assertThat(r.blobsRemoved()).isEqualTo(r.evicted());
    long onDisk = 0;
    for (Path f : StoreFiles.blobFiles(dir)) {
      onDisk += Files.size(f);
    }
    assertThat(onDisk).as("bytes of content files left").isLessThanOrEqualTo(6_000_000);
    assertThat(StoreFiles.blobFiles(dir)).hasSize(16 - (int) r.evicted());
  }

  @Test
  void aPutWhoseContentIsCollectedBeforeItsCommitPublishesItAgain() {
    io.larder.testkit.FaultyIndex[] index = new io.larder.testkit.FaultyIndex[1];
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock), io.larder.internal.FileOps.REAL,
        i -> index[0] = new io.larder.testkit.FaultyIndex(i));
    byte[] content = random(300_000, 7);
    cache.put("old", content);
    cache.remove("old"); // its content is recorded and referenced by nothing: the collector takes it at once
    // A put of the same content publishes its file; a collection runs before the put commits its entry.
    GcReport[] collected = new GcReport[1];
    index[0].beforeNextCommit(() -> collected[0] = cache.gc(GcOptions.defaults()));
    cache.put("new", content);
    assertThat(collected[0].blobsRemoved()).as("the collector took the published file").isEqualTo(1);
    assertThat(cache.getBytes("new")).as("the put published its held bytes again").hasValue(content);
    assertThat(cache.verify().clean()).isTrue();
    assertThat(StoreFiles.tmpFiles(dir)).as("the hold is released").isEmpty();
  }

  @Test
  void expiredEntriesAndTheirContentGo() {
    cache.put("t:small", random(100, 1), PutOptions.defaults().ttl(Duration.ofHours(1)));
    cache.put("t:large", random(100_000, 2), PutOptions.defaults().ttl(Duration.ofHours(1)));
    cache.put("keep", random(100, 3));
    clock.advance(Duration.ofHours(2));
    GcReport dry = cache.gc(NOW.dryRun(true));
    assertThat(dry.expired()).isEqualTo(2);
    assertThat(cache.stats().entries()).as("a dry run changes nothing").isEqualTo(3);
    GcReport r = cache.gc(NOW);
    assertThat(r.expired()).isEqualTo(2);
    assertThat(r.blobsRemoved()).isEqualTo(2);
    assertThat(r.bytesFreed()).isEqualTo(100_100);
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("keep");
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    assertThat(cache.stats().blobs()).isEqualTo(1);
  }

  @Test
  void evictionByAgeKeepsTheNewestOfEachGroup() {
    for (int v = 1; v <= 3; v++) {
      cache.put("build:lib-a:" + v, random(1000, v));
      cache.put("build:lib-b:" + v, random(1000, 10 + v));
      clock.advance(Duration.ofDays(1));
    }
    clock.advance(Duration.ofDays(30));
    cache.getBytes("build:lib-a:1"); // read recently: stays
    GcReport r = cache.gc(NOW.maxAge(Duration.ofDays(7)).keepPerGroup(1));
    assertThat(r.evicted()).isEqualTo(3);
    assertThat(cache.list("").map(Entry::key).toList())
        .containsExactly("build:lib-a:1", "build:lib-a:3", "build:lib-b:3");
    assertThat(cache.stats().blobs()).isEqualTo(3);
  }

  @Test
  void evictionSweepsTheRecordedReadsOfKeysThatHaveGone() throws Exception {
    cache.put("gone", random(100, 1));
    cache.put("kept", random(100, 2));
    clock.advance(Duration.ofMinutes(10));
    Instant read = Instant.ofEpochMilli(clock.millis());
    cache.getBytes("gone");
    cache.getBytes("kept");
    cache.close(); // writes the pending reads
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    cache.remove("gone");
    assertThat(accessedRows()).as("a removal leaves the read it recorded").isEqualTo(2);
    // More rows than one sweep's transaction checks, from the smallest id to the largest, around the live one.
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + accessFile());
        var ps = c.prepareStatement("INSERT OR IGNORE INTO accessed(id, at) VALUES (?, 1)")) {
      c.setAutoCommit(false);
      java.util.SplittableRandom r = new java.util.SplittableRandom(5);
      for (int i = 0; i < 10_000; i++) {
        ps.setLong(1, i == 0 ? Long.MIN_VALUE : i == 1 ? Long.MAX_VALUE : r.nextLong());
        ps.executeUpdate();
      }
      c.commit();
    }
    assertThat(accessedRows()).isEqualTo(10_002);
    cache.gc(NOW.dryRun(true));
    assertThat(accessedRows()).as("a dry run changes nothing").isEqualTo(10_002);
    cache.gc(NOW);
    assertThat(accessedRows()).isEqualTo(1);
    assertThat(cache.info("kept").orElseThrow().accessed()).isEqualTo(read);
  }

  private long accessedRows() throws java.sql.SQLException {
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + accessFile());
        var rs = c.createStatement().executeQuery("SELECT count(*) FROM accessed")) {
      return rs.getLong(1);
    }
  }

  /** The file of the recorded reads (index format 3). */
  private java.nio.file.Path accessFile() {
    return io.larder.internal.SqliteIndex.accessFile(dir.resolve("index.db"));
  }

  @Test
  void theGroupRuleIsConfigurable() {
    for (String platform : List.of("linux", "mac")) {
      for (int v = 1; v <= 2; v++) {
        cache.put("build:lib:" + v + ":" + platform, random(1000, v * 10 + platform.length()));
        clock.advance(Duration.ofMinutes(1));
      }
    }
    clock.advance(Duration.ofDays(30));
    // Group = first 2 segments ("build:lib"): only the newest of all four stays.
    GcReport r = cache.gc(NOW.maxAge(Duration.ofDays(7)).keepPerGroup(1).groupSegments(2).dryRun(true));
    assertThat(r.evicted()).isEqualTo(3);
    // Group = up to the last ':' ("build:lib:1", "build:lib:2"): the newest of each version stays.
    assertThat(cache.gc(NOW.maxAge(Duration.ofDays(7)).keepPerGroup(1)).evicted()).isEqualTo(2);
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("build:lib:1:mac", "build:lib:2:mac");
  }

  @Test
  void evictionBySizeTakesTheLeastRecentlyUsedDownToTheLowWaterMark() {
    for (int i = 0; i < 10; i++) {
      cache.put("k:" + i, random(100_000, i)); // 1,000,000 bytes in all
      clock.advance(Duration.ofMinutes(2));
    }
    cache.getBytes("k:0"); // now the most recently used
    cache.getBytes("k:1");
    clock.advance(Duration.ofMinutes(2));
    GcReport r = cache.gc(NOW.maxSize(700_000).lowWater(0.8)); // down to 560,000: 5 of 10 must go
    assertThat(r.bytesBefore()).isEqualTo(1_000_000);
    assertThat(r.evicted()).isEqualTo(5);
    assertThat(r.bytesFreed()).isEqualTo(500_000);
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("k:0", "k:1", "k:7", "k:8", "k:9");
    assertThat(StoreFiles.blobFiles(dir)).hasSize(5);
    assertThat(cache.gc(NOW.maxSize(700_000)).evicted()).as("under the limit: nothing more").isZero();
  }

  @Test
  void sharedContentCountsOnceAndStaysWhileAKeyReferencesIt() {
    byte[] shared = random(300_000, 1);
    cache.put("a", shared);
    clock.advance(Duration.ofMinutes(5));
    cache.put("b", shared);
    cache.put("c", random(300_000, 2));
    GcReport r = cache.gc(NOW.maxSize(500_000).lowWater(1.0));
    assertThat(r.bytesBefore()).isEqualTo(600_000);
    // Evicting "a" frees nothing (b shares it); then "b" and "c" are equally old: one of them goes.
    assertThat(r.evicted()).isEqualTo(2);
    assertThat(r.bytesFreed()).isEqualTo(300_000);
    assertThat(cache.stats().entries()).isEqualTo(1);
    assertThat(cache.verify().clean()).isTrue();
  }

  @Test
  void contentEntriesReferencedGoesAtOnceAndFreshOrphansWaitForTheGracePeriod() throws Exception {
    byte[] data = random(100_000, 5);
    cache.put("x", data);
    cache.remove("x");
    // An orphan: a blob file with no record (a put killed between its rename and its commit).
    byte[] orphan = random(50_000, 6);
    String hex = Integrity.compute(Algorithm.SHA256, orphan).strongest().hex();
    Path op = dir.resolve("content-v2/sha256").resolve(hex.substring(0, 2)).resolve(hex.substring(2, 4)).resolve(hex.substring(4));
    Files.createDirectories(op.getParent());
    Files.write(op, orphan);
    GcOptions graceful = NOW.grace(Duration.ofMinutes(10));
    // Both files were written just now (real time). The removed entry's content goes at once; the orphan,
    // which no entry ever referenced (a put between publishing and committing looks the same), waits...
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults()); // system clock
    assertThat(cache.gc(graceful).blobsRemoved()).isEqualTo(1);
    assertThat(StoreFiles.blobFiles(dir)).containsExactly(op);
    // ...until the grace period has passed.
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(new MutableClock(Instant.now().plus(Duration.ofMinutes(11)))));
    GcReport r = cache.gc(graceful);
    assertThat(r.blobsRemoved()).isEqualTo(1);
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
  }

  @Test
  void collectsOnASchedule() throws Exception {
    cache.put("t", random(100, 1), PutOptions.defaults().ttl(Duration.ofMinutes(1)));
    cache.put("keep", random(100, 2));
    clock.advance(Duration.ofMinutes(2));
    java.util.concurrent.BlockingQueue<GcReport> reports = new java.util.concurrent.LinkedBlockingQueue<>();
    Larder.Schedule schedule = cache.collectEvery(Duration.ofMillis(20), NOW, reports::add, e -> { });
    GcReport first = reports.poll(30, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.expired()).isEqualTo(1);
    assertThat(reports.poll(30, TimeUnit.SECONDS)).as("and again").isNotNull();
    schedule.close();
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("keep");
  }

  @Test
  void contentReferencedByAProcessWithAnotherInlineThresholdIsKept() {
    byte[] data = random(10_000, 7);
    cache.close();
    // One process stores 10 kB as a file (threshold 0)...
    try (Larder files = Larder.open(dir, LarderOptions.defaults().clock(clock).inlineThreshold(0))) {
      files.put("as-file", data);
    }
    // ...another, with the default 16 KiB threshold, puts the same content: it would go inline, but the
    // content is already recorded as a file, so its entry must count as a reference to that file.
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    cache.put("second", data);
    cache.remove("as-file");
    cache.gc(NOW);
    assertThat(cache.getBytes("second")).hasValueSatisfying(b -> assertThat(b).isEqualTo(data));
    assertThat(StoreFiles.blobFiles(dir)).hasSize(1);
  }

  @Test
  void oneCollectionAtATime() throws Exception {
    try (var ch = java.nio.channels.FileChannel.open(dir.resolve("gc.lock"),
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        var lock = ch.lock()) {
      assertThat(lock.isValid()).isTrue();
      assertThatThrownBy(() -> cache.gc(NOW))
          .isInstanceOfSatisfying(LarderException.StorageFailure.class, e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.BUSY));
    }
    assertThat(cache.gc(NOW).dryRun()).isFalse();
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"verified", "trusted"})
  @Tag("slow")
  void collectingInALoopWhileTwoProcessesPutRemoveAndReadNeverLosesReferencedContent(String mode) throws Exception {
    List<Process> children = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      children.add(ChildJvm.start(Churn.class, dir.toString(), String.valueOf(i), "15", mode));
    }
    cache.close();
    int collections = 0;
    long collected = 0;
    // A short grace (2 s) but longer than any put's gap between publishing its file and committing here.
    GcOptions often = GcOptions.defaults().grace(Duration.ofSeconds(2)).keepPerGroup(0);
    try (Larder gc = Larder.open(dir)) {
      while (children.stream().anyMatch(Process::isAlive)) {
        collected += gc.gc(often).blobsRemoved();
        collections++;
      }
      for (Process p : children) {
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(out).as(out).startsWith("done");
        assertThat(p.exitValue()).isZero();
      }
      gc.gc(often);
      // Every entry left points at content that is there and correct.
      for (Entry e : gc.list("").toList()) {
        int which = Integer.parseInt(e.metadata().replaceAll("\\D", ""));
        assertThat(gc.getBytes(e.key())).as(e.key()).hasValueSatisfying(b -> assertThat(b).isEqualTo(Churn.content(which)));
      }
      assertThat(gc.verify().clean()).isTrue();
    }
    assertThat(collections).isGreaterThan(10);
    assertThat(collected).as("the collector really removed content while the others worked").isPositive();
    cache = Larder.open(dir);
  }
}
