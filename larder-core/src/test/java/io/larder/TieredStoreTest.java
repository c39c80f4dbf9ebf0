package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.spi.Chunks;
import io.larder.testkit.FaultyTier;
import io.larder.testkit.InMemoryTier;
import io.larder.testkit.Payloads;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiered store's behaviour over the in-memory tier, without any server: nodes (local stores) sharing one
 * tier, through the fault injector. The same behaviour over S3 is tested in larder-s3 against s3proxy.
 */
class TieredStoreTest {
  @TempDir Path dir;
  final InMemoryTier shared = new InMemoryTier("shared");
  final FaultyTier faults = new FaultyTier(shared);

  Larder node(String name) {
    return Larder.open(dir.resolve(name), LarderOptions.defaults(), faults);
  }

  Larder behindNode(String name, int queueLimit) {
    return Larder.open(dir.resolve(name), LarderOptions.defaults(), faults,
        TierOptions.defaults().writeBehind(true).queueLimit(queueLimit));
  }

  @Test
  void writesGoThroughAMissFetchesFromTheTierAndKeepsALocalCopy() {
    byte[] big = Payloads.random(3_000_000, 1);
    byte[] small = Payloads.random(2_000, 2);
    try (Larder a = node("a"); Larder b = node("b")) {
      assertThat(a.getBytes("x")).isEmpty();
      a.put("x", big);
      a.put("s", small, PutOptions.defaults().metadata("{\"by\":\"a\"}"));
      assertThat(a.tierStats().writesThrough()).isEqualTo(2);
      assertThat(shared.lookup("x", false)).as("in the tier once acknowledged").isPresent();
      assertThat(b.getBytes("x")).hasValue(big);
      assertThat(b.getBytes("s")).hasValue(small);
      assertThat(b.info("s").orElseThrow().metadata()).isEqualTo("{\"by\":\"a\"}");
      assertThat(b.tierStats().remoteHits()).isEqualTo(2);
      long calls = faults.calls();
      assertThat(b.getBytes("x")).hasValue(big);
      assertThat(b.tierStats().localHits()).isEqualTo(1);
      assertThat(faults.calls()).as("a local hit asks the tier nothing").isEqualTo(calls);
    }
  }

  @Test
  void damagedContentFromTheTierIsAMissAndIsNotKept() {
    byte[] big = Payloads.random(500_000, 3);
    byte[] small = Payloads.random(1_000, 4);
    try (Larder a = node("a"); Larder b = node("b")) {
      a.put("big", big);
      a.put("small", small);
      faults.corruptContent();
      assertThat(b.getBytes("big")).as("a miss, not wrong bytes").isEmpty();
      assertThat(b.getBytes("small")).as("inline in its entry: checked too").isEmpty();
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(2);
      assertThat(b.stats().entries()).as("nothing kept").isZero();
      faults.heal();
      assertThat(b.getBytes("big")).hasValue(big);
    }
  }

  @Test
  void anOutageServesLocalContentTurnsMissesIntoMissesAndFailsWritesThenPasses() {
    byte[] data = Payloads.random(100_000, 5);
    try (Larder a = node("a")) {
      a.put("before", data);
      faults.failFromCall(1);
      assertThat(a.getBytes("before")).as("local content is still served").hasValue(data);
      assertThat(a.getBytes("elsewhere")).as("a miss, not an error").isEmpty();
      assertThat(a.tierStats().remoteErrors()).isPositive();
      assertThatThrownBy(() -> a.put("during", data)).isInstanceOf(LarderException.StorageFailure.class)
          .hasMessageContaining("memory://shared/").hasMessageContaining("write-through");
      assertThat(a.getBytes("during")).as("a failed put leaves nothing visible").isEmpty();
      assertThat(a.list("").map(Entry::key).toList()).as("listing falls back to this node's entries")
          .containsExactly("before");
      faults.heal();
      a.put("after", data);
      try (Larder b = node("b")) {
        assertThat(b.getBytes("after")).hasValue(data);
        assertThat(b.getBytes("during")).isEmpty();
      }
    }
  }

  @Test
  void aHungTierDelaysOnlyTheReadsThatNeedIt() throws Exception {
    byte[] data = Payloads.random(10_000, 6);
    try (Larder a = node("a"); Larder b = node("b")) {
      a.put("remote", data);
      b.put("local", data);
      faults.hangCalls();
      CompletableFuture<byte[]> remote = CompletableFuture.supplyAsync(() -> b.getBytes("remote").orElseThrow());
      while (faults.hanging() == 0) {
        Thread.sleep(5);
      }
      assertThat(b.getBytes("local")).as("served while another read waits for the tier").hasValue(data);
      assertThat(remote).isNotDone();
      faults.release();
      assertThat(remote.get(30, TimeUnit.SECONDS)).isEqualTo(data);
    }
  }

  @Test
  void writeBehindAcknowledgesLocallyAndUploadsOnceTheTierIsBack() throws Exception {
    byte[] big = Payloads.random(300_000, 7);
    faults.failFromCall(1);
    try (Larder a = behindNode("a", 100)) {
      a.put("wb/big", big);
      a.put("wb/small", new byte[] {7});
      assertThat(a.getBytes("wb/big")).hasValue(big);
      assertThat(a.tierStats().pendingWrites()).isEqualTo(2);
      GcReport r = a.gc(GcOptions.defaults().maxSize(0).keepPerGroup(0).grace(Duration.ZERO));
      assertThat(r.evicted()).as("keys waiting for their upload are not evicted").isZero();
      faults.heal();
      assertThat(a.awaitTierWrites(Duration.ofSeconds(30))).isTrue();
      assertThat(a.tierStats().writesThrough()).isEqualTo(2);
    }
    try (Larder b = node("b")) {
      assertThat(b.getBytes("wb/big")).hasValue(big);
      assertThat(b.getBytes("wb/small")).hasValue(new byte[] {7});
    }
  }

  @Test
  void aRangeThatMissesLocallyIsReadChunkByChunkAndADamagedChunkIsNeverServed() throws Exception {
    int chunk = Chunks.DEFAULT_SIZE;
    byte[] data = Payloads.random(5 * chunk + 12_345, 8);
    try (Larder a = node("a"); Larder b = node("b")) {
      a.put("big", data);
      Integrity d = b.info("big").orElseThrow().integrity();
      byte[] got = b.getRange("big", chunk - 10, 20_000).orElseThrow().readAllBytes();
      assertThat(got).isEqualTo(Arrays.copyOfRange(data, chunk - 10, chunk + 19_990));
      assertThat(b.stats().entries()).as("a range does not fetch and keep the whole").isZero();
      shared.damage(d, 3 * chunk + 77); // one byte of chunk 3
      Content damaged = b.getRange("big", 3L * chunk, 100).orElseThrow();
      assertThatThrownBy(damaged::readAllBytes).isInstanceOf(LarderException.IntegrityFailure.class)
          .hasMessageContaining("chunk 3");
      assertThat(b.getRange("big", chunk + 5, 1000).orElseThrow().readAllBytes()).as("chunk 1 is intact")
          .isEqualTo(Arrays.copyOfRange(data, chunk + 5, chunk + 1005));
      assertThat(b.tierStats().remoteCorrupt()).isEqualTo(1);
      assertThat(a.getRange("big", 3L * chunk, 100).orElseThrow().readAllBytes())
          .as("a's local copy is unaffected").isEqualTo(Arrays.copyOfRange(data, 3 * chunk, 3 * chunk + 100));
    }
  }

  @Test
  void listingsComeFromTheTierInPagesWithACursor() {
    try (Larder a = node("a"); Larder b = node("b")) {
      for (int i = 0; i < 1_100; i++) { // over two pages
        a.put(String.format("ci/%04d", i), new byte[] {(byte) i});
      }
      b.put("ci/from-b", new byte[] {1});
      a.remove("ci/0600"); // removed from the tier: not listed
      List<Entry> seen = b.list("ci/").toList();
      assertThat(seen).hasSize(1_100).extracting(Entry::key).doesNotHaveDuplicates()
          .contains("ci/0000", "ci/1099", "ci/from-b").doesNotContain("ci/0600");
      assertThat(b.tierStats().remoteHits()).as("listing reads entries, not content").isZero();
      String cursor = seen.get(700).key();
      assertThat(b.list("ci/", cursor).toList()).containsExactlyElementsOf(seen.subList(701, seen.size()));
      assertThat(b.removePrefix("ci/")).isEqualTo(1_100);
      assertThat(a.list("ci/").toList()).isEmpty();
    }
  }

  @Test
  void collectingTheTierIsRefusedWithoutOne() {
    try (Larder plain = Larder.open(dir.resolve("plain"))) {
      assertThat(plain.remoteTier()).isEmpty();
      assertThat(plain.tierStats()).isEqualTo(new TierStats(0, 0, 0, 0, 0, 0, 0, 0));
      assertThatThrownBy(() -> plain.collectTier(Duration.ZERO, true)).isInstanceOf(LarderException.InvalidInput.class);
    }
    try (Larder a = node("a")) {
      assertThat(a.remoteTier()).hasValue("memory://shared/");
      assertThat(a.collectTier(Duration.ZERO, true).dryRun()).isTrue();
    }
  }
}
