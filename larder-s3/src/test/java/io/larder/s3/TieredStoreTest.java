package io.larder.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
  void aDamagedObjectInTheBucketIsNotServedNorKept() throws Exception {
    byte[] data = Payloads.random(500_000, 3);
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
  void smallContentTravelsInsideItsEntryAndIsVerifiedToo() throws Exception {
    byte[] small = Payloads.random(3_000, 5);
    try (Larder a = node("a"); Larder b = node("b"); S3Client raw = proxy.client()) {
      a.put("small", small);
      S3Tier tier = new S3Tier(proxy.config("shared", prefix), dir.resolve("y-spool"));
      String entryKey = tier.entryKey("small");
      String text = raw.getObjectAsBytes(r -> r.bucket("shared").key(entryKey)).asUtf8String();
      assertThat(text).contains("data=");
      assertThat(raw.listObjectsV2(r -> r.bucket("shared").prefix(prefix + "/blobs/")).contents())
          .as("no separate blob object for small content").isEmpty();
      byte[] bad = small.clone();
      bad[10] ^= 1;
      String forged = text.replaceAll("data=.*", "data=" + java.util.Base64.getEncoder().encodeToString(bad));
      raw.putObject(r -> r.bucket("shared").key(entryKey), RequestBody.fromString(forged));
      assertThat(b.getBytes("small")).as("damaged inline content: a miss").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(1);
      raw.putObject(r -> r.bucket("shared").key(entryKey), RequestBody.fromString(text));
      assertThat(b.getBytes("small")).hasValue(small);
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
          .hasMessageContaining("not in s3://shared/");
      proxy = S3Proxy.restart(proxy, dir); // S3 back on the same port and data
      a.put("after", data);
      try (Larder b = node("b")) {
        assertThat(b.getBytes("after")).hasValue(data);
        assertThat(b.getBytes("before")).hasValue(data);
      }
    }
    assertThat(Files.exists(dir.resolve("a"))).isTrue();
  }
}
