package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.LarderException.Kind;
import io.larder.testkit.MutableClock;
import io.larder.testkit.StoreFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LarderTest {
  @TempDir Path dir;
  MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  Larder cache;

  @BeforeEach
  void open() {
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
  }

  @AfterEach
  void close() {
    cache.close();
  }

  @Test
  void clearEmptiesTheStoreAndIsRefusedWithASharedTier() throws Exception {
    cache.put("a:1", new byte[100_000]);
    cache.put("b:2", "small".getBytes());
    assertThat(cache.clear()).isEqualTo(2);
    assertThat(cache.stats().entries()).isZero();
    assertThat(cache.stats().blobs()).as("content referenced by the cleared entries went with them").isZero();
    assertThat(io.larder.testkit.StoreFiles.blobFiles(dir)).isEmpty();
    cache.put("c:3", "after".getBytes());
    assertThat(cache.getBytes("c:3")).hasValue("after".getBytes());
    try (Larder tiered = Larder.open(dir.resolve("tiered"), LarderOptions.defaults(), new io.larder.testkit.InMemoryTier("t"))) {
      tiered.put("k", "v".getBytes());
      assertThatThrownBy(tiered::clear).isInstanceOf(LarderException.InvalidInput.class).hasMessageContaining("tier");
      assertThat(tiered.contains("k")).isTrue();
    }
  }


  @Test
  void withAReadTableEveryReadSeesEveryWriteAndTheCopyCountsAsIndex() throws Exception {
    for (int i = 0; i < 100; i++) {
      cache.put("k" + i, ("small " + i).getBytes());
    }
    cache.put("large", new byte[100_000]);
    cache.close();
    long before;
    try (Larder reader = Larder.open(dir, LarderOptions.defaults().readOnly(true))) {
      before = reader.stats().indexBytes();
    }
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock).readTable(true)); // builds the copy meanwhile
    Path copy = dir.resolve("index-read.tbl");
    for (int i = 0; i < 200 && !Files.exists(copy); i++) {
      Thread.sleep(50);
    }
    assertThat(copy).exists();
    assertThat(cache.stats().indexBytes()).isGreaterThanOrEqualTo(before + Files.size(copy));
    assertThat(cache.getBytes("k7")).hasValue("small 7".getBytes());
    assertThat(cache.getBytes("large")).hasValueSatisfying(b -> assertThat(b).hasSize(100_000));
    cache.put("k7", "changed".getBytes());
    assertThat(cache.remove("k8")).isTrue();
    try (Larder other = Larder.open(dir, LarderOptions.defaults().clock(clock))) {
      other.put("k9", "by another".getBytes());
      other.put("new", "added".getBytes());
    }
    assertThat(cache.getBytes("k7")).hasValue("changed".getBytes());
    assertThat(cache.getBytes("k8")).isEmpty();
    assertThat(cache.getBytes("k9")).hasValue("by another".getBytes());
    assertThat(cache.getBytes("new")).hasValue("added".getBytes());
    assertThat(cache.getBytes("k10")).hasValue("small 10".getBytes());
    assertThat(cache.verify().clean()).isTrue();
  }

  @Test
  void hotEntriesAreNeverServedAfterAnotherProcessChangedThem() {
    // a second store on the same directory: its own connections, as another process has
    try (Larder other = Larder.open(dir, LarderOptions.defaults().clock(clock))) {
      byte[] small = random(1_000, 1);
      byte[] file = random(100_000, 2);
      for (int i = 0; i < 50; i++) {
        cache.put("k", i % 2 == 0 ? small : file);
        for (int read = 0; read < 3; read++) { // read again and again: served from the hot entries
          assertThat(other.getBytes("k")).hasValue(i % 2 == 0 ? small : file);
        }
        other.put("k", i % 2 == 0 ? file : small);
        assertThat(cache.getBytes("k")).as("after the other's put").hasValue(i % 2 == 0 ? file : small);
        assertThat(other.getBytes("k")).hasValue(i % 2 == 0 ? file : small);
        cache.remove("k");
        assertThat(other.getBytes("k")).as("after a removal elsewhere").isEmpty();
      }
    }
  }

  @Test
  void readersKeepingTheirSnapshotStillSeeEveryCommitOfAnotherConnection() {
    // readers keep their read transaction while the WAL-index header is unchanged: never past a commit
    try (Larder other = Larder.open(dir, LarderOptions.defaults().clock(clock))) {
      for (int i = 0; i < 100; i++) {
        assertThat(cache.info("s/" + i)).isEmpty();
        other.put("s/" + i, random(100, i));
        assertThat(cache.info("s/" + i)).as("after the other's put %d", i).isPresent();
        assertThat(cache.list("s/").count()).isEqualTo(i + 1);
        other.remove("s/" + i);
        assertThat(cache.contains("s/" + i)).as("after the other's removal %d", i).isFalse();
        other.put("s/" + i, random(100, i));
      }
    }
  }

  @Test
  void anIdleReaderSoonLetsACheckpointEmptyTheLog() throws Exception {
    for (int i = 0; i < 20; i++) {
      cache.put("c/" + i, random(10_000, i));
    }
    assertThat(cache.info("c/1")).isPresent(); // a reader now holds a read transaction, kept for the next read
    Thread.sleep(500); // the sweeper ends an idle reader's transaction within ~100 ms
    try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("index.db"));
        java.sql.ResultSet rs = c.createStatement().executeQuery("PRAGMA wal_checkpoint(TRUNCATE)")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).as("the checkpoint was not blocked by a reader").isZero();
    }
    assertThat(Files.size(dir.resolve("index.db-wal"))).isZero();
    assertThat(cache.getBytes("c/3")).hasValue(random(10_000, 3));
  }

  @Test
  void putThenGetRoundTripsSmallAndLargeContent() {
    for (int size : new int[] {0, 1, 16 * 1024, 16 * 1024 + 1, 3 * 1024 * 1024 + 7}) {
      byte[] data = random(size, size);
      Entry e = cache.put("k:" + size, data);
      assertThat(e.size()).isEqualTo(size);
      assertThat(e.integrity()).isEqualTo(Integrity.compute(Algorithm.SHA256, data));
      assertThat(cache.getBytes("k:" + size)).hasValueSatisfying(b -> assertThat(b).isEqualTo(data));
    }
    assertThat(cache.getBytes("absent")).isEmpty();
    assertThat(cache.get("absent")).isEmpty();
  }

  @Test
  void smallContentLivesInTheIndexAndLargeContentInAFile() {
    cache.put("small", random(100, 1));
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    cache.put("large", random(100_000, 2));
    assertThat(StoreFiles.blobFiles(dir)).hasSize(1);
    assertThat(cache.stats().inlineBlobs()).isEqualTo(1);
  }

  @Test
  void putFromStreamAndFileAndCopyToFile() throws IOException {
    byte[] data = random(200_000, 3);
    Path src = dir.resolve("src.bin");
    Files.write(src, data);
    cache.put("f", src, PutOptions.defaults());
    cache.put("s", new ByteArrayInputStream(data), PutOptions.defaults());
    Path out = dir.resolve("out.bin");
    assertThat(cache.copyTo("f", out)).isTrue();
    assertThat(Files.readAllBytes(out)).isEqualTo(data);
    assertThat(cache.copyTo("missing", dir.resolve("nope"))).isFalse();
    assertThat(Files.exists(dir.resolve("nope"))).isFalse();
    assertThatThrownBy(() -> cache.put("x", dir.resolve("no-such-file"), PutOptions.defaults()))
        .isInstanceOf(LarderException.NotFound.class).hasMessageContaining("no such file");
  }

  @Test
  void sameContentUnderManyKeysIsStoredOnce() {
    byte[] data = random(50_000, 4);
    for (int i = 0; i < 20; i++) {
      cache.put("dup:" + i, data);
    }
    byte[] small = random(10, 5);
    for (int i = 0; i < 20; i++) {
      cache.put("small:" + i, small);
    }
    assertThat(StoreFiles.blobFiles(dir)).hasSize(1);
    Stats s = cache.stats();
    assertThat(s.entries()).isEqualTo(40);
    assertThat(s.blobs()).isEqualTo(2);
    assertThat(s.bytes()).isEqualTo(50_010);
  }

  @Test
  void getByDigestAcceptsEverySpellingOfTheDigest() {
    byte[] data = random(40_000, 6);
    Entry e = cache.put("d", data);
    String hex = e.integrity().strongest().hex();
    for (String spelling : List.of(e.integrity().toString(), "sha256:" + hex, hex)) {
      try (Content c = cache.getByDigest(Integrity.parse(spelling)).orElseThrow()) {
        assertThat(c.entry()).isEmpty();
        assertThat(c.readAllBytes()).isEqualTo(data);
      }
    }
    assertThat(cache.getByDigest(Integrity.compute(Algorithm.SHA256, new byte[] {1}))).isEmpty();
    assertThat(cache.getByDigest(Integrity.compute(Algorithm.SHA512, data))).as("not addressed by sha512").isEmpty();
  }

  @Test
  void infoAndContainsReadOnlyTheIndexAndCarryMetadata() {
    cache.put("m", "hi".getBytes(StandardCharsets.UTF_8), PutOptions.defaults().metadata("{\"a\":1,\"b\":[true]}"));
    Entry e = cache.info("m").orElseThrow();
    assertThat(e.metadata()).isEqualTo("{\"a\":1,\"b\":[true]}");
    assertThat(e.size()).isEqualTo(2);
    assertThat(e.created()).isEqualTo(clock.instant());
    assertThat(cache.contains("m")).isTrue();
    assertThat(cache.contains("n")).isFalse();
    assertThatThrownBy(() -> PutOptions.defaults().metadata("[1]")).hasMessageContaining("not a JSON object");
    assertThatThrownBy(() -> PutOptions.defaults().metadata("{\"a\":")).hasMessageContaining("invalid metadata");
  }

  /** Lookups read their row straight from SQLite (no result set): every column comes back as it was written. */
  @Test
  void aLookupByKeyReturnsEveryColumnAsWrittenInAnyScript() {
    String key = "bücher/日本/𝄞 ✓";
    String metadata = "{\"note\":\"café 𝄞\",\"n\":1}";
    byte[] small = "inline ümlaut".getBytes(StandardCharsets.UTF_8);
    cache.put(key, small, PutOptions.defaults().metadata(metadata).ttl(Duration.ofHours(2)));
    cache.put("no-ttl", random(200_000, 7)); // a file: no inline content, no expiry, no metadata
    for (boolean withContent : new boolean[] {true, false}) {
      Entry e = withContent ? cache.get(key).orElseThrow().entry().orElseThrow() : cache.info(key).orElseThrow();
      assertThat(e.key()).isEqualTo(key);
      assertThat(e.metadata()).isEqualTo(metadata);
      assertThat(e.size()).isEqualTo(small.length);
      assertThat(e.integrity()).isEqualTo(Integrity.compute(Algorithm.SHA256, small));
      assertThat(e.created()).isEqualTo(clock.instant());
      assertThat(e.expires()).isEqualTo(clock.instant().plus(Duration.ofHours(2)));
      Entry file = withContent ? cache.get("no-ttl").orElseThrow().entry().orElseThrow() : cache.info("no-ttl").orElseThrow();
      assertThat(file.expires()).isNull();
      assertThat(file.metadata()).isNull();
      assertThat(file.integrity()).isEqualTo(Integrity.compute(Algorithm.SHA256, random(200_000, 7)));
    }
    assertThat(cache.getBytes(key)).hasValue(small);
    // SQLite hands out a zero-length blob as a null pointer: empty content must still read as present and empty
    cache.put("empty", new byte[0]);
    assertThat(cache.getBytes("empty")).hasValueSatisfying(b -> assertThat(b).isEmpty());
    assertThat(cache.info("empty").orElseThrow().size()).isZero();
    assertThat(cache.getBytes(key + " ")).isEmpty();
    assertThat(cache.info("BÜCHER/日本/𝄞 ✓")).as("keys compare by their bytes").isEmpty();
  }

  @Test
  void readsRecordAccessTimesInBatches() {
    Instant t0 = clock.instant();
    cache.put("a", new byte[] {1});
    cache.put("b", random(100_000, 50));
    cache.put("never-read", new byte[] {2});
    clock.advance(Duration.ofMinutes(10));
    cache.getBytes("a"); // due: over a second since the last write, so a background write starts
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!cache.info("a").orElseThrow().accessed().equals(t0.plus(Duration.ofMinutes(10)))) {
      assertThat(System.nanoTime()).as("the background write of access times never came").isLessThan(deadline);
      Thread.onSpinWait();
    }
    clock.advance(Duration.ofMillis(100));
    cache.getRange("b", 0, 10).orElseThrow().readAllBytes(); // not due: pending in memory until close
    assertThat(cache.info("b").orElseThrow().accessed()).isEqualTo(t0);
    cache.close(); // close writes what is pending
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(cache.info("b").orElseThrow().accessed()).isEqualTo(t0.plus(Duration.ofMillis(600_100)));
    assertThat(cache.info("never-read").orElseThrow().accessed()).isEqualTo(t0);
    assertThat(cache.info("a").orElseThrow().created()).as("reads do not touch created").isEqualTo(t0);
  }

  @Test
  void touchFindsABatchInOneCallAndRefreshesWhatItFinds() {
    Instant t0 = clock.instant();
    cache.put("t/a", new byte[] {1});
    cache.put("t/b", random(100_000, 7));
    cache.put("t/old", new byte[] {3}, PutOptions.defaults().ttl(Duration.ofMinutes(1)));
    cache.put("t/untouched", new byte[] {4});
    clock.advance(Duration.ofMinutes(10));
    assertThat(cache.touch(List.of("t/a", "t/b", "t/missing", "t/old", "t/a")))
        .as("present and unexpired only, each once").containsExactlyInAnyOrder("t/a", "t/b");
    assertThat(cache.touch(List.of())).isEmpty();
    cache.close(); // close writes the access times still pending
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(cache.info("t/a").orElseThrow().accessed()).isEqualTo(t0.plus(Duration.ofMinutes(10)));
    assertThat(cache.info("t/b").orElseThrow().accessed()).isEqualTo(t0.plus(Duration.ofMinutes(10)));
    assertThat(cache.info("t/untouched").orElseThrow().accessed()).isEqualTo(t0);
    assertThatThrownBy(() -> cache.touch(List.of(""))).isInstanceOf(LarderException.InvalidInput.class);
  }

  @Test
  void accessTimesNeverMoveBackAndCanBeTurnedOff() {
    cache.close();
    MutableClock late = new MutableClock(clock.instant().plus(Duration.ofHours(1)));
    Larder writer = Larder.open(dir, LarderOptions.defaults().clock(late));
    writer.put("k", new byte[] {1}); // accessed = t0 + 1h
    Larder early = Larder.open(dir, LarderOptions.defaults().clock(clock)); // a process whose clock is behind
    early.getBytes("k");
    early.close();
    assertThat(writer.info("k").orElseThrow().accessed()).isEqualTo(late.instant());
    writer.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(late).trackAccess(false));
    late.advance(Duration.ofHours(1));
    cache.getBytes("k");
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(late));
    assertThat(cache.info("k").orElseThrow().accessed()).isEqualTo(late.instant().minus(Duration.ofHours(1)));
  }

  @Test
  void expiredEntriesAreMissesAtOnce() {
    cache.put("t", new byte[] {1, 2}, PutOptions.defaults().ttl(Duration.ofMinutes(10)));
    cache.put("forever", new byte[] {3});
    assertThat(cache.info("t").orElseThrow().expires()).isEqualTo(clock.instant().plus(Duration.ofMinutes(10)));
    clock.advance(Duration.ofMinutes(9));
    assertThat(cache.getBytes("t")).isPresent();
    clock.advance(Duration.ofMinutes(1));
    assertThat(cache.getBytes("t")).isEmpty();
    assertThat(cache.contains("t")).isFalse();
    assertThat(cache.getRange("t", 0, 1)).isEmpty();
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("forever");
  }

  @Test
  void listReturnsEntriesByPrefixInKeyOrderAcrossPages() {
    for (int i = 0; i < 1200; i++) {
      cache.put(String.format("build:lib:%05d", i), new byte[] {(byte) i});
    }
    cache.put("build:lia", new byte[] {1});
    cache.put("build:lib", new byte[] {1}); // equal to the prefix itself
    cache.put("build;", new byte[] {1});
    cache.put("other", new byte[] {1});
    List<String> keys = cache.list("build:lib").map(Entry::key).toList();
    assertThat(keys).hasSize(1201).isSorted().startsWith("build:lib", "build:lib:00000").endsWith("build:lib:01199");
    assertThat(cache.list("").count()).isEqualTo(1204);
    assertThat(cache.list("zzz").count()).isZero();
    assertThat(cache.list("build:lib:0119").map(Entry::key).toList()).hasSize(10);
  }

  @Test
  void listOrdersByCodePoint() {
    String astral = new String(Character.toChars(0x1F600));
    for (String k : List.of("p:\uFFFF", "p:" + astral, "p:a", "p:\u00e9")) {
      cache.put(k, new byte[] {1});
    }
    assertThat(cache.list("p:").map(Entry::key).toList()).containsExactly("p:a", "p:\u00e9", "p:\uFFFF", "p:" + astral);
  }

  @Test
  void removeRemovePrefixAndRemoveContent() {
    byte[] shared = random(30_000, 7);
    cache.put("a:1", shared);
    cache.put("a:2", shared);
    cache.put("a:3", new byte[] {9});
    cache.put("b:1", new byte[] {8});
    assertThat(cache.remove("a:3")).isTrue();
    assertThat(cache.remove("a:3")).isFalse();
    assertThat(cache.getByDigest(Integrity.compute(Algorithm.SHA256, new byte[] {9})))
        .as("content outlives its entries until it is collected").isPresent();
    assertThat(cache.removePrefix("a:")).isEqualTo(2);
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("b:1");
    cache.put("c:1", shared);
    cache.put("c:2", shared);
    assertThat(cache.removeContent(Integrity.compute(Algorithm.SHA256, shared))).isTrue();
    assertThat(cache.contains("c:1")).isFalse();
    assertThat(cache.contains("c:2")).isFalse();
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    assertThat(cache.removeContent(Integrity.compute(Algorithm.SHA256, shared))).isFalse();
    assertThatThrownBy(() -> cache.removePrefix("")).hasMessageContaining("non-empty prefix");
  }

  @Test
  void replacingAnEntryPointsItAtTheNewContent() {
    cache.put("k", new byte[] {1}, PutOptions.defaults().metadata("{\"v\":1}"));
    cache.put("k", new byte[] {2});
    assertThat(cache.getBytes("k")).hasValueSatisfying(b -> assertThat(b).containsExactly(2));
    assertThat(cache.info("k").orElseThrow().metadata()).isNull();
    assertThat(cache.stats().entries()).isEqualTo(1);
  }

  @Test
  void removingInlineContentRemovesEveryEntryPointingAtIt() {
    byte[] small = {4, 5, 6};
    cache.put("x:1", small);
    cache.put("x:2", small);
    cache.put("y", random(100_000, 30));
    assertThat(cache.removeContent(Integrity.compute(Algorithm.SHA256, small))).isTrue();
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("y");
    assertThat(cache.stats().blobs()).isEqualTo(1);
  }

  @Test
  void rangeReadsOfInlineAndFileContent() {
    byte[] small = random(1000, 8);
    byte[] large = random(1_000_000, 9);
    cache.put("s", small);
    cache.put("l", large);
    for (String k : List.of("s", "l")) {
      byte[] all = k.equals("s") ? small : large;
      try (Content c = cache.getRange(k, 10, 100).orElseThrow()) {
        assertThat(c.offset()).isEqualTo(10);
        assertThat(c.length()).isEqualTo(100);
        assertThat(c.readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(all, 10, 110));
      }
      try (Content c = cache.getRange(k, all.length - 5, 100).orElseThrow()) {
        assertThat(c.readAllBytes()).hasSize(5);
      }
      try (Content c = cache.getRange(k, all.length, 10).orElseThrow()) {
        assertThat(c.readAllBytes()).isEmpty();
      }
      assertThatThrownBy(() -> cache.getRange(k, all.length + 1, 1)).hasMessageContaining("past the end");
      assertThatThrownBy(() -> cache.getRange(k, -1, 1)).hasMessageContaining("non-negative");
    }
    Integrity d = Integrity.compute(Algorithm.SHA256, large);
    assertThat(cache.getRangeByDigest(d, 999_990, 10).orElseThrow().readAllBytes())
        .isEqualTo(java.util.Arrays.copyOfRange(large, 999_990, 1_000_000));
  }

  // ---------------------------------------------------------- guarantee 2: reads verify

  @Test
  void aFlippedByteInABlobFileIsAnErrorTheEntryIsRemovedAndTheBytesAreNeverReturned() {
    byte[] data = random(100_000, 10);
    cache.put("x", data);
    cache.put("y", data);
    Path blob = StoreFiles.blobFiles(dir).get(0);
    StoreFiles.flipByte(blob, 5000);
    assertThatThrownBy(() -> cache.getBytes("x"))
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.CORRUPT))
        .hasMessageContaining("'x'").hasMessageContaining("removed");
    assertThat(cache.contains("x")).isFalse();
    assertThat(cache.contains("y")).as("every entry pointing at the bad blob goes").isFalse();
    assertThat(Files.exists(blob)).isFalse();
    assertThat(cache.getBytes("x")).isEmpty();
  }

  @Test
  void largeBlobsReadAheadAreVerifiedTheSameWay() throws IOException {
    byte[] a = random(12_000_000, 40);
    byte[] b = random(9_000_000, 41);
    byte[] c = random(10_000_000, 42);
    cache.put("a", a);
    cache.put("b", b);
    cache.put("c", c);
    assertThat(cache.getBytes("a")).hasValueSatisfying(x -> assertThat(x).isEqualTo(a));
    StoreFiles.flipByte(blobPath(a), 11_999_999);
    Files.write(blobPath(b), java.util.Arrays.copyOf(b, 8_500_000));
    assertThatThrownBy(() -> cache.getBytes("a"))
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.CORRUPT));
    assertThatThrownBy(() -> cache.getBytes("b")).isInstanceOf(LarderException.IntegrityFailure.class)
        .hasMessageContaining("not its recorded");
    assertThat(cache.contains("a")).isFalse();
    assertThat(cache.contains("b")).isFalse();
    // Closing a large read half-way releases its reader thread and leaves the entry alone.
    for (int i = 0; i < 20; i++) {
      try (Content content = cache.get("c").orElseThrow()) {
        assertThat(content.stream().readNBytes(3_000_000)).isEqualTo(java.util.Arrays.copyOf(c, 3_000_000));
      }
    }
    assertThat(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("larder-read-ahead")).count())
        .isLessThanOrEqualTo(1);
    assertThat(cache.getBytes("c")).hasValueSatisfying(x -> assertThat(x).isEqualTo(c));
  }

  @Test
  void aStreamNeverHandsOutMoreThanTheRecordedSizeWhenBytesWereAppendedOnDisk() throws IOException {
    byte[] big = random(9_000_000, 43); // read ahead on a second thread (8 MiB and over)
    cache.put("big", big);
    byte[] grown = java.util.Arrays.copyOf(big, big.length + 3_000_000);
    Files.write(blobPath(big), grown); // bytes appended below the store
    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
    try (Content c = cache.get("big").orElseThrow()) {
      assertThatThrownBy(() -> c.stream().transferTo(got)).isInstanceOf(LarderException.IntegrityFailure.class)
          .hasMessageContaining("longer than its recorded");
    }
    assertThat(got.size()).as("what a reader received (a `larder get` to stdout)").isLessThanOrEqualTo(big.length);
    assertThat(cache.contains("big")).isFalse();
  }

  @Test
  void copyToLeavesNothingWhenTheBlobIsCorrupt() throws IOException {
    cache.put("x", random(100_000, 11));
    StoreFiles.flipByte(StoreFiles.blobFiles(dir).get(0), 99_999);
    Path out = dir.resolve("out");
    Files.writeString(out, "previous");
    assertThatThrownBy(() -> cache.copyTo("x", out)).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThat(Files.readString(out)).isEqualTo("previous");
    try (var s = Files.list(dir)) {
      assertThat(s.filter(p -> p.getFileName().toString().endsWith(".larder-tmp")).toList()).isEmpty();
    }
  }

  @Test
  void largeBlobsAreCopiedWholeByTheirReadAheadChunksAndNeverWhenCorrupt() throws IOException {
    byte[] good = random(9_500_000, 44); // read ahead (8 MiB and over): copied chunk by chunk by transferTo
    byte[] bad = random(10_000_000, 45);
    cache.put("good", good);
    cache.put("bad", bad);
    Path out = dir.resolve("out");
    assertThat(cache.copyTo("good", out)).isTrue();
    assertThat(Files.readAllBytes(out)).isEqualTo(good);
    StoreFiles.flipByte(blobPath(bad), 5_000_000);
    assertThatThrownBy(() -> cache.copyTo("bad", out)).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThat(Files.readAllBytes(out)).as("the earlier copy, untouched").isEqualTo(good);
    java.io.ByteArrayOutputStream streamed = new java.io.ByteArrayOutputStream();
    try (Content c = cache.get("good").orElseThrow()) {
      assertThat(c.stream().read()).isEqualTo(good[0] & 0xff); // a read, then the transfer of the rest
      assertThat(c.stream().transferTo(streamed)).isEqualTo(good.length - 1);
    }
    assertThat(streamed.toByteArray()).isEqualTo(java.util.Arrays.copyOfRange(good, 1, good.length));
    try (var s = Files.list(dir)) {
      assertThat(s.filter(p -> p.getFileName().toString().endsWith(".larder-tmp")).toList()).isEmpty();
    }
  }

  @Test
  void truncatedOrExtendedBlobFilesAreCorrupt() throws IOException {
    byte[] a = random(100_000, 12);
    byte[] b = random(100_000, 13);
    cache.put("a", a);
    cache.put("b", b);
    Path pa = blobPath(a);
    Path pb = blobPath(b);
    Files.write(pa, java.util.Arrays.copyOf(a, 50_000));
    Files.write(pb, new byte[] {1}, java.nio.file.StandardOpenOption.APPEND);
    assertThatThrownBy(() -> cache.getBytes("a")).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThatThrownBy(() -> cache.getBytes("b")).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThat(cache.contains("a")).isFalse();
    assertThat(cache.contains("b")).isFalse();
  }

  @Test
  void aMissingBlobFileIsATypedErrorAndTheEntryIsDropped() throws IOException {
    byte[] a = random(100_000, 14);
    cache.put("a", a);
    Files.delete(blobPath(a));
    assertThatThrownBy(() -> cache.get("a"))
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.CORRUPT))
        .hasMessageContaining("missing");
    assertThat(cache.contains("a")).isFalse();
  }

  @Test
  void corruptInlineContentIsCaughtToo() throws Exception {
    cache.put("small", "hello world".getBytes(StandardCharsets.UTF_8));
    cache.close();
    sql("UPDATE blobs SET data = X'68656c6c6f20776f726c64FF' WHERE data IS NOT NULL");
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThatThrownBy(() -> cache.getBytes("small")).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThat(cache.contains("small")).isFalse();
    assertThat(cache.stats().blobs()).isZero();
  }

  @Test
  void rangeReadsVerifyTheWholeBlobOnceAndAgainAfterTheFileChanges() throws IOException {
    byte[] data = random(2_000_000, 15);
    cache.put("r", data);
    Path blob = blobPath(data);
    assertThat(cache.getRange("r", 100, 10).orElseThrow().readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(data, 100, 110));
    // A writer changes the file (its change time moves even if mtime is put back).
    var mtime = Files.getLastModifiedTime(blob);
    StoreFiles.flipByte(blob, 1_500_000);
    Files.setLastModifiedTime(blob, mtime);
    assertThatThrownBy(() -> cache.getRange("r", 100, 10)).isInstanceOf(LarderException.IntegrityFailure.class);
    assertThat(cache.contains("r")).isFalse();
  }

  @Test
  void aCorruptBlobIsCaughtOnTheFirstRangeRead() {
    byte[] data = random(500_000, 16);
    cache.put("r", data);
    StoreFiles.flipByte(blobPath(data), 400_000);
    assertThatThrownBy(() -> cache.getRange("r", 0, 10)).isInstanceOf(LarderException.IntegrityFailure.class);
  }

  // ---------------------------------------------------------- guarantee 3: verified puts

  @Test
  void aPutWithTheWrongIntegrityOrSizeStoresNothing() {
    for (int size : new int[] {10, 100_000}) {
      byte[] data = random(size, size);
      Integrity wrong = Integrity.compute(Algorithm.SHA256, random(size, size + 1));
      assertThatThrownBy(() -> cache.put("k", data, PutOptions.defaults().integrity(wrong)))
          .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.DIGEST_MISMATCH))
          .hasMessageContaining("nothing was stored");
      assertThatThrownBy(() -> cache.put("k", data, PutOptions.defaults().size(size + 1)))
          .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.SIZE_MISMATCH));
      assertThatThrownBy(() -> cache.put("k", data, PutOptions.defaults().size(size - 1)))
          .isInstanceOfSatisfying(LarderException.IntegrityFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.SIZE_MISMATCH));
    }
    assertThat(cache.contains("k")).isFalse();
    assertThat(cache.stats().blobs()).isZero();
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
  }

  @Test
  void aPutWithTheRightIntegrityInAnyAlgorithmSucceeds() {
    byte[] data = random(70_000, 17);
    for (Algorithm a : Algorithm.values()) {
      cache.put("k:" + a, data, PutOptions.defaults().integrity(Integrity.compute(a, data)).size(data.length));
    }
    assertThat(cache.list("k:").count()).isEqualTo(4);
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(ints = {10, 50_000, 5_000_000})
  void aFailingInputStreamStoresNothing(int failAfter) {
    InputStream failing = new InputStream() {
      long n;

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0];
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (n >= failAfter) {
          throw new IOException("connection reset");
        }
        int k = (int) Math.min(len, failAfter - n);
        java.util.Arrays.fill(b, off, off + k, (byte) 7);
        n += k;
        return k;
      }
    };
    assertThatThrownBy(() -> cache.put("k", failing, PutOptions.defaults()))
        .isInstanceOfSatisfying(LarderException.StorageFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.IO))
        .hasMessageContaining("connection reset");
    assertThat(cache.contains("k")).isFalse();
    assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
  }

  // ---------------------------------------------------------- guarantee 7: odd keys

  @Test
  void oddKeysAreOpaqueAndNeverBecomePaths() throws IOException {
    List<String> keys = List.of("../../../../tmp/evil", "/etc/passwd", "a/b/c", "..", ".", "with space", "ünïcødé 😀",
        "C:\\Windows", "%2e%2e%2f", "a".repeat(4096));
    for (String k : keys) {
      cache.put(k, k.getBytes(StandardCharsets.UTF_8));
    }
    for (String k : keys) {
      assertThat(cache.getBytes(k)).hasValueSatisfying(b -> assertThat(new String(b, StandardCharsets.UTF_8)).isEqualTo(k));
    }
    try (var s = Files.walk(dir)) {
      assertThat(s.map(p -> dir.relativize(p).toString()).toList())
          .allMatch(p -> p.isEmpty() || p.startsWith("content-v2") || p.startsWith("tmp") || p.startsWith("index.db")
              || p.startsWith("index-access.db") || p.equals("index.reserve"));
    }
    assertThat(Files.exists(Path.of("/tmp/evil"))).isFalse();
  }

  @Test
  void badKeysAreRefusedByEveryOperation() {
    for (String bad : new String[] {"", "a\u0000b", "line\nbreak", "\uD800"}) {
      assertThatThrownBy(() -> cache.put(bad, new byte[1])).isInstanceOf(LarderException.InvalidInput.class);
      assertThatThrownBy(() -> cache.get(bad)).isInstanceOf(LarderException.InvalidInput.class);
      assertThatThrownBy(() -> cache.info(bad)).isInstanceOf(LarderException.InvalidInput.class);
      assertThatThrownBy(() -> cache.remove(bad)).isInstanceOf(LarderException.InvalidInput.class);
    }
  }

  // ---------------------------------------------------------- verify, stats, tmp cleanup, reopen

  @Test
  void verifyReHashesEverythingAndRemovesWhatIsCorrupt() throws IOException {
    byte[] good = random(100_000, 18);
    byte[] bad = random(100_000, 19);
    byte[] gone = random(100_000, 20);
    cache.put("good", good);
    cache.put("bad1", bad);
    cache.put("bad2", bad);
    cache.put("gone", gone);
    cache.put("small", new byte[] {1, 2, 3});
    StoreFiles.flipByte(blobPath(bad), 1);
    Files.delete(blobPath(gone));
    // An orphan blob file (a writer crashed before its index commit) that is also corrupt:
    byte[] orphan = random(100_000, 21);
    Path op = blobPath(orphan);
    Files.createDirectories(op.getParent());
    Files.write(op, random(100_000, 22));

    VerifyReport r = cache.verify();
    assertThat(r.blobsChecked()).isEqualTo(4); // good, bad, small, orphan
    assertThat(r.corruptRemoved()).isEqualTo(2);
    assertThat(r.missingRemoved()).isEqualTo(1);
    assertThat(r.entriesRemoved()).isEqualTo(3);
    assertThat(r.clean()).isFalse();
    assertThat(cache.list("").map(Entry::key).toList()).containsExactly("good", "small");
    assertThat(Files.exists(op)).isFalse();
    assertThat(cache.verify().clean()).isTrue();
  }

  @Test
  void staleTmpFilesAreRemovedAfterTheGracePeriodOnly() throws IOException {
    Path stale = dir.resolve("tmp").resolve("crashed.tmp");
    Files.write(stale, new byte[100]);
    Files.setLastModifiedTime(stale, java.nio.file.attribute.FileTime.from(clock.instant().minus(Duration.ofMinutes(59))));
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(Files.exists(stale)).as("inside the grace period: a writer may still own it").isTrue();
    clock.advance(Duration.ofMinutes(2));
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(Files.exists(stale)).isFalse();
  }

  @Test
  void aTtlOutOfRangeIsRefusedNamingTheSettingNotAnOverflow() {
    assertThatThrownBy(() -> cache.put("k", new byte[] {1}, PutOptions.defaults().ttl(Duration.ofSeconds(Long.MAX_VALUE))))
        .isInstanceOf(LarderException.InvalidInput.class).hasMessageContaining("ttl").hasMessageContaining("100 years");
    assertThatThrownBy(() -> LarderOptions.defaults().defaultTtl(Duration.ofDays(9_999_999_999_999L)))
        .isInstanceOf(LarderException.InvalidInput.class).hasMessageContaining("default-ttl");
    cache.put("k", new byte[] {1}, PutOptions.defaults().ttl(PutOptions.MAX_TTL));
    assertThat(cache.info("k").orElseThrow().expires()).isNotNull();
  }

  @Test
  void entriesSurviveReopeningAndTheIndexRecordsItsFormat() throws Exception {
    cache.put("persist", random(20_000, 23), PutOptions.defaults().metadata("{}"));
    cache.close();
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock).durability(Durability.POWER_SAFE));
    assertThat(cache.getBytes("persist")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(20_000, 23)));
    cache.put("durable", random(30_000, 24));
    assertThat(cache.getBytes("durable")).isPresent();
    assertThat(sql("PRAGMA user_version")).isEqualTo(io.larder.internal.SqliteIndex.FORMAT_VERSION);
  }

  @Test
  void anIndexOfFormatOneIsReadAsItIsAndUpgradedWhenOpenedWritable() throws Exception {
    Instant t0 = clock.instant();
    cache.put("small", random(300, 31));
    cache.put("large", random(100_000, 32));
    cache.close();
    // The index as earlier versions wrote it: format 1, at first without the entries' blob row ids.
    sql("ALTER TABLE entries DROP COLUMN blob");
    sql("ALTER TABLE entries DROP COLUMN h");
    deleteAccessFile(); // format 1 recorded reads in the entries' own rows
    sql("UPDATE entries SET accessed = accessed - 5000 WHERE key = 'large'");
    sql("PRAGMA user_version = 1");
    try (Larder old = Larder.open(dir, LarderOptions.defaults().readOnly(true))) {
      assertThat(old.getBytes("small")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(300, 31)));
      assertThat(old.getBytes("large")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(100_000, 32)));
      assertThat(old.info("large").orElseThrow().accessed()).isEqualTo(t0.minusSeconds(5));
      assertThat(old.list("")).hasSize(2);
    }
    assertThat(sql("SELECT count(*) FROM pragma_table_info('entries') WHERE name IN ('blob', 'h')"))
        .isZero(); // a read-only open changes nothing
    assertThat(sql("PRAGMA user_version")).isEqualTo(1);
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(sql("PRAGMA user_version")).isEqualTo(io.larder.internal.SqliteIndex.FORMAT_VERSION);
    assertThat(sql("SELECT count(*) FROM entries WHERE blob IS NULL OR h IS NULL")).isZero();
    assertThat(sql("SELECT count(*) FROM entries e JOIN blobs b ON b.id = e.blob AND b.digest = e.digest"))
        .isEqualTo(2);
    assertThat(sql("SELECT h FROM entries WHERE key = 'large'")).isEqualTo(io.larder.spi.Index.keyHash("large"));
    assertThat(cache.info("large").orElseThrow().accessed()).as("kept through the upgrade").isEqualTo(t0.minusSeconds(5));
    assertThat(cache.getBytes("small")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(300, 31)));
    assertThat(cache.getBytes("large")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(100_000, 32)));
    clock.advance(Duration.ofMinutes(10));
    cache.getBytes("large");
    cache.close(); // writes the pending access time to the new table
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(cache.info("large").orElseThrow().accessed()).isEqualTo(clock.instant());
  }

  @Test
  void anIndexOfFormatTwoHasItsRecordedReadsMovedToTheirOwnFileWhenOpenedWritable() throws Exception {
    Instant t0 = clock.instant();
    cache.put("read", random(300, 35));
    cache.put("unread", random(300, 36));
    cache.close();
    // Format 2 kept table accessed in the index file itself.
    deleteAccessFile();
    sql("CREATE TABLE accessed(id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
    sql("INSERT INTO accessed VALUES (" + io.larder.spi.Index.keyHash("read") + ", " + t0.plusSeconds(600).toEpochMilli() + ")");
    sql("PRAGMA user_version = 2");
    try (Larder old = Larder.open(dir, LarderOptions.defaults().readOnly(true))) {
      assertThat(old.info("read").orElseThrow().accessed()).isEqualTo(t0.plusSeconds(600));
      assertThat(old.list("")).extracting(Entry::accessed).containsExactly(t0.plusSeconds(600), t0);
    }
    assertThat(sql("PRAGMA user_version")).as("a read-only open changes nothing").isEqualTo(2);
    cache = Larder.open(dir, LarderOptions.defaults().clock(clock));
    assertThat(sql("PRAGMA user_version")).isEqualTo(io.larder.internal.SqliteIndex.FORMAT_VERSION);
    assertThat(sql("SELECT count(*) FROM sqlite_schema WHERE name = 'accessed'")).as("gone from the index file").isZero();
    assertThat(cache.info("read").orElseThrow().accessed()).as("kept through the upgrade").isEqualTo(t0.plusSeconds(600));
    assertThat(cache.info("unread").orElseThrow().accessed()).isEqualTo(t0);
  }

  private void deleteAccessFile() throws IOException {
    Path access = io.larder.internal.SqliteIndex.accessFile(dir.resolve("index.db"));
    for (String suffix : List.of("", "-wal", "-shm")) {
      Files.deleteIfExists(Path.of(access + suffix));
    }
  }

  @Test
  void anEntryWithoutItsBlobsRowIdOrWithAnotherBlobsIsReadByItsDigest() throws Exception {
    cache.put("a", random(300, 33));
    cache.put("b", random(300, 34));
    cache.put("c", random(300, 35));
    // What an older Larder writing this index leaves (no row id), and a row id that names another blob.
    sql("UPDATE entries SET blob = NULL WHERE key = 'a'");
    sql("UPDATE entries SET blob = (SELECT blob FROM entries WHERE key = 'c') WHERE key = 'b'");
    assertThat(cache.getBytes("a")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(300, 33)));
    assertThat(cache.getBytes("b")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(300, 34)));
    assertThat(cache.getBytes("c")).hasValueSatisfying(b -> assertThat(b).isEqualTo(random(300, 35)));
    assertThat(cache.verify()).satisfies(r -> assertThat(r.corruptRemoved() + r.entriesRemoved()).isZero());
  }

  /**
   * Runs {@code statement} on a connection of its own to the store's index (as another process would); for
   * a query, its first column of its first row.
   */
  private long sql(String statement) {
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("index.db"));
        var s = c.createStatement()) {
      if (!s.execute(statement)) {
        return -1;
      }
      try (var rs = s.getResultSet()) {
        return rs.getLong(1);
      }
    } catch (java.sql.SQLException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aStoreFromANewerLarderIsRefused() throws Exception {
    cache.close();
    sql("PRAGMA user_version = 99");
    assertThatThrownBy(() -> Larder.open(dir)).hasMessageContaining("newer than this Larder");
    cache = Larder.open(dir.resolve("other"));
  }

  @Test
  void aClosedStoreSaysSo() {
    cache.close();
    assertThatThrownBy(() -> cache.put("k", new byte[1]))
        .isInstanceOfSatisfying(LarderException.StorageFailure.class, e -> assertThat(e.kind()).isEqualTo(Kind.CLOSED));
    cache = Larder.open(dir);
  }

  @Test
  void otherAlgorithmsCanAddressTheStore() {
    cache.close();
    cache = Larder.open(dir.resolve("s512"), LarderOptions.defaults().algorithm(Algorithm.SHA512));
    byte[] data = random(40_000, 25);
    Entry e = cache.put("k", data);
    assertThat(e.integrity().strongest().algorithm()).isEqualTo(Algorithm.SHA512);
    assertThat(StoreFiles.blobFiles(dir.resolve("s512")).get(0).toString()).contains("content-v2/sha512/");
    assertThat(cache.getByDigest(Integrity.compute(Algorithm.SHA512, data))).isPresent();
    assertThatThrownBy(() -> LarderOptions.defaults().algorithm(Algorithm.SHA1)).hasMessageContaining("not address it");
  }

  private Path blobPath(byte[] data) {
    String hex = Integrity.compute(Algorithm.SHA256, data).strongest().hex();
    return dir.resolve("content-v2/sha256").resolve(hex.substring(0, 2)).resolve(hex.substring(2, 4)).resolve(hex.substring(4));
  }
}
