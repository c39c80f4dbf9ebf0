package io.larder.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.LarderOptions;
import io.larder.PutOptions;
import io.larder.TierStats;
import io.larder.testkit.Payloads;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/** Two nodes (two local stores) over one bucket: seeds/002's sequence, verification of what comes from S3, faults. */
class TieredStoreTest {
  @TempDir Path dir;
  S3Proxy proxy;
  String prefix;

  @BeforeEach
  void start() throws Exception {
    proxy = S3Proxy.start(dir);
    proxy.createBucket("shared");
    prefix = "cache-" + UUID.randomUUID();
  }

  @AfterEach
  void stop() {
    proxy.close();
  }

  Larder node(String name) {
    return Larder.open(dir.resolve(name), LarderOptions.defaults(),
        new S3Tier(proxy.config("shared", prefix), dir.resolve(name + "-spool")));
  }

  @Test
  void nodeAMissesAndFillsBothNodeBHitsS3ThenLocally() {
    byte[] data = Payloads.random(3_000_000, 1);
    byte[] small = Payloads.random(2_000, 2);
    try (Larder a = node("a"); Larder b = node("b")) {
      assertThat(a.getBytes("build:x")).isEmpty(); // a misses everywhere
      a.put("build:x", data); // written through to S3
      a.put("build:small", small, PutOptions.defaults().metadata("{\"by\":\"a\"}"));
      assertThat(a.tierStats().writesThrough()).isEqualTo(2);
      assertThat(b.getBytes("build:x")).hasValue(data); // b misses locally, hits S3, keeps a copy
      assertThat(b.getBytes("build:small")).hasValue(small);
      assertThat(b.info("build:small").orElseThrow().metadata()).isEqualTo("{\"by\":\"a\"}");
      TierStats s1 = b.tierStats();
      assertThat(s1.remoteHits()).isEqualTo(2);
      assertThat(b.getBytes("build:x")).hasValue(data); // now a local hit
      assertThat(b.tierStats().localHits()).isEqualTo(s1.localHits() + 1);
      assertThat(b.tierStats().remoteHits()).isEqualTo(2);
      assertThat(a.getBytes("build:x")).hasValue(data);
      assertThat(a.tierStats().remoteHits()).as("a reads its own local copy").isZero();
    }
  }

  @Test
  void aNodeSeesItsOwnPutsAtOnceThoughTheirLocalCopiesAreWrittenAfterTheAcknowledgement() {
    try (Larder a = node("a")) {
      for (int i = 0; i < 20; i++) {
        byte[] one = Payloads.random(1 << 20, 100 + i);
        byte[] two = Payloads.random(1 << 20, 200 + i);
        a.put("own/" + i, one);
        assertThat(a.info("own/" + i).orElseThrow().integrity()).isEqualTo(Integrity.compute(io.larder.Algorithm.SHA256, one));
        a.put("own/" + i, two);
        assertThat(a.getBytes("own/" + i)).as("the second put, not the first").hasValue(two);
        a.put("gone/" + i, one);
        assertThat(a.remove("gone/" + i)).isTrue();
        assertThat(a.info("gone/" + i)).as("a removal is not undone by the put's local copy").isEmpty();
        assertThat(a.getByDigest(Integrity.compute(io.larder.Algorithm.SHA256, two))).as("by digest too").isPresent();
      }
      assertThat(a.tierStats().remoteHits()).as("every read was local").isZero();
      assertThat(a.list("gone/").toList()).isEmpty();
    }
  }

  @Test
  void aDamagedObjectInTheBucketIsNotServedNorKept() throws Exception {
    byte[] data = Payloads.random(1_500_000, 3); // a blob: over 1 MiB
    try (Larder a = node("a"); Larder b = node("b"); S3Client raw = proxy.client()) {
      a.put("k", data);
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("x-spool"));
      String key = tier.blobs().objectKey(a.info("k").orElseThrow().integrity());
      byte[] bad = data.clone();
      bad[123_456] ^= 1;
      raw.putObject(r -> r.bucket("shared").key(key), RequestBody.fromBytes(bad));
      assertThat(b.getBytes("k")).as("a miss, not wrong bytes").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(1);
      raw.putObject(r -> r.bucket("shared").key(key), RequestBody.fromBytes(java.util.Arrays.copyOf(data, 1000)));
      assertThat(b.getBytes("k")).as("truncated: a miss too").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(2);
      tier.close();
    }
  }

  @Test
  void contentUpToOneMebibyteTravelsInsideItsEntryAndIsVerifiedToo() throws Exception {
    byte[] small = Payloads.random(3_000, 5);
    byte[] mib = Payloads.random(1 << 20, 6);
    byte[] over = Payloads.random((1 << 20) + 1, 7);
    try (Larder a = node("a"); Larder b = node("b"); S3Client raw = proxy.client()) {
      a.put("small", small);
      a.put("mib", mib, PutOptions.defaults().metadata("{\"m\":1}"));
      assertThat(blobCount(raw)).as("no separate blob object for content up to 1 MiB").isZero();
      a.put("over", over);
      assertThat(blobCount(raw)).as("larger content is a blob named by its digest").isEqualTo(1);
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("y-spool"));
      String entryKey = tier.entryKey("mib");
      byte[] object = raw.getObjectAsBytes(r -> r.bucket("shared").key(entryKey)).asByteArray();
      assertThat(new String(object, 0, 15, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("larder-entry 2 ");
      assertThat(java.util.Arrays.copyOfRange(object, object.length - mib.length, object.length))
          .as("the content, as is, after the header").isEqualTo(mib);

      // listing and info read the header only, and give what the entry says
      assertThat(b.info("mib").orElseThrow().metadata()).isEqualTo("{\"m\":1}");
      assertThat(b.list("").map(e -> e.key() + "=" + e.size()).toList())
          .containsExactly("mib=" + mib.length, "over=" + over.length, "small=" + small.length);
      assertThat(tier.lookup("mib", false).orElseThrow().inline()).isNull();
      assertThat(tier.lookup("mib", true).orElseThrow().inline()).isEqualTo(mib);
      assertThat(b.tierStats().remoteHits()).as("nothing was fetched").isZero();

      byte[] bad = object.clone();
      bad[bad.length - 10] ^= 1;
      raw.putObject(r -> r.bucket("shared").key(entryKey), RequestBody.fromBytes(bad));
      assertThat(b.getBytes("mib")).as("damaged content in an entry: a miss").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(1);
      raw.putObject(r -> r.bucket("shared").key(entryKey), RequestBody.fromBytes(
          java.util.Arrays.copyOf(object, object.length - 1)));
      assertThat(b.getBytes("mib")).as("truncated: a miss too").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(2);
      raw.putObject(r -> r.bucket("shared").key(entryKey), RequestBody.fromBytes(object));
      assertThat(b.getBytes("mib")).hasValue(mib);
      assertThat(b.getBytes("small")).hasValue(small);
      assertThat(b.getBytes("over")).hasValue(over);
      tier.close();
    }
  }

  @Test
  void entriesOfTheFirstFormatAreStillRead() throws Exception {
    byte[] small = Payloads.random(3_000, 8);
    try (Larder b = node("b"); S3Client raw = proxy.client()) {
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("z-spool"));
      // what earlier versions wrote: properties only, content up to 16 KiB base64 in "data"
      String first = "integrity=" + Integrity.compute(io.larder.Algorithm.SHA256, small) + "\nsize=" + small.length
          + "\ncreated=2026-11-01T00\\:00\\:00Z\ndata=" + java.util.Base64.getEncoder().encodeToString(small) + "\n";
      raw.putObject(r -> r.bucket("shared").key(tier.entryKey("old")), RequestBody.fromString(first));
      assertThat(b.info("old").orElseThrow().size()).isEqualTo(small.length);
      assertThat(b.getBytes("old")).hasValue(small);
      tier.close();
    }
  }

  @Test
  void whenS3IsDownLocalContentIsServedMissesAreMissesAndWritesFailThenItComesBack() throws Exception {
    byte[] data = Payloads.random(100_000, 4);
    try (Larder a = node("a")) {
      a.put("before", data);
      proxy.close(); // S3 gone
      assertThat(a.getBytes("before")).as("local content still served").hasValue(data);
      assertThat(a.getBytes("elsewhere")).as("a miss, not an error").isEmpty();
      assertThat(a.tierStats().remoteErrors()).isPositive();
      assertThatThrownBy(() -> a.put("during", data)).isInstanceOf(LarderException.StorageFailure.class)
          .hasMessageContaining("writing it to s3://shared/").hasMessageContaining("failed (write-through");
      assertThat(a.getBytes("during")).as("a failed put leaves nothing visible").isEmpty();
      proxy = S3Proxy.restart(proxy, dir); // S3 back on the same port and data
      a.put("after", data);
      try (Larder b = node("b")) {
        assertThat(b.getBytes("after")).hasValue(data);
        assertThat(b.getBytes("before")).hasValue(data);
        assertThat(b.getBytes("during")).as("the failed put reached no tier").isEmpty();
      }
    }
  }

  @Test
  void listingsComeFromTheBucketAndPrefixRemovalReachesIt() {
    try (Larder a = node("a"); Larder b = node("b")) {
      for (int i = 0; i < 1_200; i++) { // more than one page of the bucket's listing and of the store's
        a.put(String.format("ci/job %04d", i), Payloads.random(i == 7 ? 40_000 : 100, i));
      }
      a.put("other", new byte[] {1});
      b.put("ci/from-b", new byte[] {2});
      java.util.List<io.larder.Entry> seen = b.list("ci/").toList();
      assertThat(seen).hasSize(1_201);
      assertThat(seen).extracting(io.larder.Entry::key).doesNotHaveDuplicates().contains("ci/job 0000", "ci/from-b")
          .doesNotContain("other");
      io.larder.Entry seven = seen.stream().filter(e -> e.key().equals("ci/job 0007")).findFirst().orElseThrow();
      assertThat(seven.size()).isEqualTo(40_000);
      assertThat(seven.integrity()).isEqualTo(a.info("ci/job 0007").orElseThrow().integrity());
      assertThat(b.tierStats().remoteHits()).as("listing reads entries, not content").isZero();
      // a cursor continues where a page stopped
      String cursor = seen.get(599).key();
      assertThat(b.list("ci/", cursor).toList()).containsExactlyElementsOf(seen.subList(600, seen.size()));

      assertThat(b.removePrefix("ci/")).isEqualTo(1_201);
      assertThat(a.list("ci/").toList()).as("gone from the bucket for every node").isEmpty();
      assertThat(a.getBytes("ci/job 0001")).as("a's local copy is still there (no cross-node invalidation)")
          .isPresent();
      assertThat(a.list("").map(io.larder.Entry::key).toList()).containsExactly("other");
    }
  }

  Larder behindNode(String name, int queueLimit) {
    return Larder.open(dir.resolve(name), LarderOptions.defaults(),
        new S3Tier(proxy.config("shared", prefix), dir.resolve(name + "-spool")),
        io.larder.TierOptions.defaults().writeBehind(true).queueLimit(queueLimit));
  }

  @Test
  void writeBehindAcknowledgesLocallyQueuesOnDiskAndUploadsAfterAnOutageAndARestart() throws Exception {
    byte[] big = Payloads.random(300_000, 11);
    proxy.close(); // S3 is down from the start
    try (Larder a = behindNode("a", 100)) {
      a.put("wb/big", big); // acknowledged: stored locally, queued
      a.put("wb/small", new byte[] {7});
      assertThat(a.getBytes("wb/big")).hasValue(big);
      assertThat(a.tierStats().pendingWrites()).isEqualTo(2);
      assertThat(a.tierStats().writesThrough()).isZero();
    } // closing while S3 is down leaves the queue on disk
    assertThat(Files.list(dir.resolve("a").resolve("tier-queue")).count()).isEqualTo(2);
    proxy = S3Proxy.restart(proxy, dir);
    try (Larder a = behindNode("a", 100)) { // a new process: it uploads what the last one queued
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(30))).isTrue();
      assertThat(a.tierStats().writesThrough()).isEqualTo(2);
      assertThat(a.tierStats().pendingWrites()).isZero();
    }
    assertThat(Files.list(dir.resolve("a").resolve("tier-queue")).count()).isZero();
    try (Larder b = node("b")) {
      assertThat(b.getBytes("wb/big")).hasValue(big);
      assertThat(b.getBytes("wb/small")).hasValue(new byte[] {7});
    }
  }

  @Test
  void theQueueIsBoundedAFullQueueWritesThrough() throws Exception {
    try (Larder a = behindNode("a", 2)) {
      proxy.close();
      a.put("q/1", new byte[] {1});
      a.put("q/2", new byte[] {2});
      a.put("q/1", new byte[] {3}); // the same key again is the same item
      assertThat(a.tierStats().pendingWrites()).isEqualTo(2);
      assertThatThrownBy(() -> a.put("q/3", new byte[] {4})).as("full: written through, and S3 is down")
          .isInstanceOf(LarderException.StorageFailure.class).hasMessageContaining("write-through");
      proxy = S3Proxy.restart(proxy, dir);
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(60))).isTrue();
      a.put("q/4", new byte[] {5});
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(30))).isTrue();
    }
    try (Larder b = node("b")) {
      assertThat(b.getBytes("q/1")).as("the key's latest content was uploaded").hasValue(new byte[] {3});
      assertThat(b.getBytes("q/2")).hasValue(new byte[] {2});
      assertThat(b.getBytes("q/3")).as("stored locally on a, but S3 refused it: a's put failed").isEmpty();
      assertThat(b.getBytes("q/4")).hasValue(new byte[] {5});
    }
  }

  @Test
  void aLocalEvictionKeepsKeysThatWaitForTheirUpload() throws Exception {
    byte[] early = Payloads.random(200_000, 61);
    byte[] waiting = Payloads.random(200_000, 62);
    try (Larder a = behindNode("a", 10)) {
      a.put("early", early);
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(30))).isTrue(); // in the bucket
      proxy.close();
      a.put("waiting", waiting); // acknowledged, queued: on this disk only
      io.larder.GcReport r = a.gc(io.larder.GcOptions.defaults().maxSize(0).keepPerGroup(0).grace(java.time.Duration.ZERO));
      assertThat(r.evicted()).as("the uploaded key goes, the queued one stays").isEqualTo(1);
      assertThat(a.info("waiting")).isPresent();
      proxy = S3Proxy.restart(proxy, dir);
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(60))).isTrue();
      assertThat(a.gc(io.larder.GcOptions.defaults().maxSize(0).keepPerGroup(0).grace(java.time.Duration.ZERO)).evicted())
          .as("uploaded now: evictable").isEqualTo(1);
    }
    try (Larder b = node("b")) {
      assertThat(b.getBytes("waiting")).as("it reached the bucket").hasValue(waiting);
      assertThat(b.getBytes("early")).hasValue(early);
    }
  }

  @Test
  void aKeyRemovedBeforeItsUploadIsNotUploaded() throws Exception {
    try (Larder a = behindNode("a", 10)) {
      proxy.close();
      a.put("gone", new byte[] {1});
      proxy = S3Proxy.restart(proxy, dir);
      a.remove("gone"); // may race the uploader; either way the key must not stay in S3
      assertThat(a.awaitTierWrites(java.time.Duration.ofSeconds(30))).isTrue();
    }
    try (Larder b = node("b")) {
      assertThat(b.getBytes("gone")).isEmpty();
    }
  }

  @Test
  void aRangeThatMissesLocallyIsServedFromRangedGetsVerifiedChunkByChunk() throws Exception {
    int chunk = io.larder.spi.Chunks.DEFAULT_SIZE;
    byte[] data = Payloads.random(5 * chunk + 12_345, 21);
    try (Larder a = node("a"); Larder b = node("b"); S3Client raw = proxy.client()) {
      a.put("big", data);
      io.larder.Entry info = b.info("big").orElseThrow();
      assertThat(info.size()).isEqualTo(data.length);
      assertThat(b.stats().entries()).as("info reads the entry, not the content").isZero();

      long[][] ranges = {{500_000, 100_000}, {chunk - 10, 20}, {5L * chunk, 12_345}, {data.length - 1, 10},
          {0, 0}, {3L * chunk, 2L * chunk}};
      for (long[] r : ranges) {
        byte[] got = b.getRange("big", r[0], r[1]).orElseThrow().readAllBytes();
        int end = (int) Math.min(data.length, r[0] + r[1]);
        assertThat(got).as("range %d+%d", r[0], r[1]).isEqualTo(java.util.Arrays.copyOfRange(data, (int) r[0], end));
      }
      assertThat(b.stats().entries()).as("ranges did not fetch and keep the whole blob").isZero();
      assertThat(b.tierStats().remoteHits()).isEqualTo(ranges.length);

      // one damaged byte in chunk 3 of the object in the bucket
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("z-spool"));
      String key = tier.blobs().objectKey(info.integrity());
      byte[] bad = data.clone();
      bad[3 * chunk + 77] ^= 1;
      raw.putObject(r -> r.bucket("shared").key(key), RequestBody.fromBytes(bad));
      assertThat(b.getRange("big", chunk + 5, 1000).orElseThrow().readAllBytes()).as("chunk 1 is intact")
          .isEqualTo(java.util.Arrays.copyOfRange(data, chunk + 5, chunk + 1005));
      io.larder.Content damaged = b.getRange("big", 3L * chunk + 100, 50).orElseThrow();
      assertThatThrownBy(damaged::readAllBytes).isInstanceOf(LarderException.IntegrityFailure.class)
          .hasMessageContaining("chunk 3");
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(1);
      assertThat(b.getBytes("big")).as("the whole read fails its digest: a miss").isEmpty();
      assertThat(a.getRange("big", 3L * chunk + 100, 50).orElseThrow().readAllBytes())
          .as("a's local copy is unaffected").isEqualTo(java.util.Arrays.copyOfRange(data, 3 * chunk + 100, 3 * chunk + 150));
      tier.close();
    }
  }

  @Test
  void collectingTheBucketRemovesExpiredEntriesAndUnreferencedContentOnly() throws Exception {
    // over 1 MiB each (content up to 1 MiB lives in its entry, not as a blob)
    byte[] kept = Payloads.random(1_100_000, 31);
    byte[] removed = Payloads.random(1_100_000, 32);
    byte[] replaced = Payloads.random(1_100_000, 33);
    try (Larder a = node("a"); S3Client raw = proxy.client()) {
      a.put("keep", kept);
      a.put("small", new byte[] {1, 2, 3});
      a.put("inline", Payloads.random(300_000, 36));
      a.put("expiring", Payloads.random(1_100_000, 34), PutOptions.defaults().ttl(java.time.Duration.ofMillis(1)));
      a.put("removed", removed);
      a.remove("removed");
      a.put("replaced", replaced);
      a.put("replaced", Payloads.random(1_050_000, 35));
      a.put("keep-too", kept); // the same content under a second key
      Thread.sleep(1_500); // object times have one-second resolution

      io.larder.GcReport dry = a.collectTier(java.time.Duration.ZERO, true);
      assertThat(dry.dryRun()).isTrue();
      assertThat(dry.expired()).isEqualTo(1);
      assertThat(dry.blobsRemoved()).as("the removed key's, the replaced content, the expired entry's")
          .isEqualTo(3);
      assertThat(dry.bytesFreed()).isEqualTo(3_300_000);
      assertThat(dry.bytesBefore()).isEqualTo(5_450_000);
      assertThat(blobCount(raw)).as("a dry run changes nothing").isEqualTo(5);
      assertThat(a.collectTier(java.time.Duration.ofHours(1), true).blobsRemoved())
          .as("nothing is older than the grace").isZero();

      io.larder.GcReport r = a.collectTier(java.time.Duration.ZERO, false);
      assertThat(r.expired()).isEqualTo(1);
      assertThat(r.blobsRemoved()).isEqualTo(3);
      assertThat(blobCount(raw)).isEqualTo(2);
      assertThat(a.collectTier(java.time.Duration.ZERO, false).blobsRemoved()).isZero();
    }
    try (Larder b = node("b")) {
      assertThat(b.getBytes("keep")).hasValue(kept);
      assertThat(b.getBytes("keep-too")).hasValue(kept);
      assertThat(b.getBytes("small")).hasValue(new byte[] {1, 2, 3});
      assertThat(b.getBytes("inline")).hasValue(Payloads.random(300_000, 36));
      assertThat(b.getBytes("replaced")).isPresent();
      assertThat(b.getBytes("expiring")).isEmpty();
    }
  }

  @Test
  void storingContentTheBucketHasMakesItRecentSoACollectionInProgressKeepsIt() throws Exception {
    byte[] data = Payloads.random(1_100_000, 41); // a blob: over 1 MiB
    try (Larder a = node("a"); S3Client raw = proxy.client()) {
      a.put("one", data);
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("t-spool"));
      String key = tier.blobs().objectKey(a.info("one").orElseThrow().integrity());
      java.time.Instant first = raw.headObject(h -> h.bucket("shared").key(key)).lastModified();
      Thread.sleep(2_100);
      a.put("two", data); // the blob exists: not uploaded again, but refreshed
      java.time.Instant second = raw.headObject(h -> h.bucket("shared").key(key)).lastModified();
      assertThat(second).isAfter(first.plusSeconds(1));
      assertThat(raw.getObjectAsBytes(g -> g.bucket("shared").key(key)).asByteArray()).isEqualTo(data);
      tier.close();
    }
  }

  long blobCount(S3Client raw) {
    return raw.listObjectsV2Paginator(r -> r.bucket("shared").prefix(prefix + "/blobs/")).contents().stream()
        .filter(o -> o.key().matches(".*/[0-9a-f]{64}")).count();
  }

  @Test
  void aKeyTooLongForAnObjectNameIsRefusedClearlyAndIsAMissElsewhere() {
    String longKey = "k".repeat(1_100); // Larder takes it; S3 names stop at 1,024 bytes
    try (Larder a = node("a"); Larder b = node("b")) {
      assertThatThrownBy(() -> a.put(longKey, new byte[] {1})).isInstanceOf(LarderException.StorageFailure.class)
          .hasMessageContaining("too long for the S3 tier").hasMessageContaining("1024");
      assertThat(a.getBytes(longKey)).as("a failed put leaves nothing visible").isEmpty();
      assertThat(b.getBytes(longKey)).isEmpty();
      assertThat(b.tierStats().remoteErrors()).as("a miss, not an S3 error").isZero();
      assertThat(a.remove(longKey)).isFalse();
    }
  }

  @Test
  void aWriteThroughPutStandsOnceTheBucketHasItEvenWhenTheLocalCopyCannotBeWritten() throws Exception {
    // the local store on a 2 MiB tmpfs (needs root, as CI runs; skipped otherwise); S3 has room
    Path small = Files.createDirectories(dir.resolve("small"));
    Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small.toString())
        .redirectErrorStream(true).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)
        && p.exitValue() == 0, "cannot mount a tmpfs here (needs root)");
    try {
      byte[] big = Payloads.random(3_000_000, 51);
      try (Larder a = Larder.open(small.resolve("store"), LarderOptions.defaults(),
          new S3Tier(proxy.config("shared", prefix), dir.resolve("a-spool"))); Larder b = node("b")) {
        a.put("fits", new byte[] {1});
        a.put("big", big); // acknowledged once in the bucket; the local copy (a cache) does not fit
        assertThat(a.getBytes("big")).as("a fetches it back from the bucket").hasValue(big);
        assertThat(a.tierStats().remoteHits()).as("not a local hit: the local write failed").isEqualTo(1);
        a.info("big"); // waits for the read's local copy
        assertThat(a.tierStats().localCopyFailures()).as("the put's copy, then the read's").isEqualTo(2);
        assertThat(b.getBytes("big")).hasValue(big);
        assertThat(b.getBytes("fits")).hasValue(new byte[] {1});
        assertThat(a.getBytes("fits")).hasValue(new byte[] {1});
        assertThat(a.tierStats().remoteHits()).as("a's small copy was written").isEqualTo(1);
      }
    } finally {
      new ProcessBuilder("umount", "-l", small.toString()).start().waitFor(20, java.util.concurrent.TimeUnit.SECONDS);
    }
  }
}
