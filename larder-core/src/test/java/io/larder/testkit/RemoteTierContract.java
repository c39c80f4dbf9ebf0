package io.larder.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.spi.Chunks;
import io.larder.spi.RemoteTier;
import io.larder.spi.RemoteTier.RemoteEntry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What every {@link RemoteTier} must do, as its Javadoc promises. An implementation's test extends this and
 * says how to make a fresh, empty tier for one test.
 */
public abstract class RemoteTierContract {
  /** A fresh, empty tier for one test. */
  protected abstract RemoteTier tier();

  private static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.MILLIS);

  private static Entry entry(String key, byte[] content, Instant expires, String metadata) {
    return new Entry(key, Integrity.compute(Algorithm.SHA256, content), content.length, NOW, NOW, expires, metadata);
  }

  private static Entry store(RemoteTier t, String key, byte[] content) {
    Entry e = entry(key, content, null, null);
    t.store(e, () -> new ByteArrayInputStream(content));
    return e;
  }

  /** The content of the tier's entry for {@code key}: kept with the entry, or read from the blob. */
  private static byte[] content(RemoteTier t, String key) throws IOException {
    RemoteEntry r = t.lookup(key, true).orElseThrow();
    if (r.inline() != null) {
      return r.inline();
    }
    try (InputStream in = t.open(r.integrity(), 0, Long.MAX_VALUE).orElseThrow()) {
      return in.readAllBytes();
    }
  }

  @Test
  void anEntryIsReadBackWithItsContentAndEverythingItWasStoredWith() throws Exception {
    RemoteTier t = tier();
    Instant expires = NOW.plus(Duration.ofDays(3));
    for (int size : new int[] {0, 1, 5_000, 3_000_000}) {
      byte[] data = Payloads.random(size, size);
      Entry e = entry("k:" + size, data, expires, "{\"size\":" + size + "}");
      t.store(e, () -> new ByteArrayInputStream(data));
      RemoteEntry r = t.lookup(e.key(), true).orElseThrow();
      assertThat(r.integrity()).isEqualTo(e.integrity());
      assertThat(r.size()).isEqualTo(size);
      assertThat(r.created()).isEqualTo(NOW);
      assertThat(r.expires()).isEqualTo(expires);
      assertThat(r.metadata()).isEqualTo(e.metadata());
      assertThat(content(t, e.key())).isEqualTo(data);
      assertThat(t.lookup(e.key(), false).orElseThrow().inline()).as("without content: none").isNull();
    }
  }

  @Test
  void aMissIsEmptyNotAnError() {
    RemoteTier t = tier();
    assertThat(t.lookup("absent", true)).isEmpty();
    assertThat(t.open(Integrity.compute(Algorithm.SHA256, "absent".getBytes()), 0, Long.MAX_VALUE)).isEmpty();
    assertThat(t.remove("absent")).isFalse();
    assertThat(t.keys("", null, 10)).isEmpty();
  }

  @Test
  void rangesOfABlobAreItsBytes() throws Exception {
    RemoteTier t = tier();
    byte[] data = Payloads.random(2_000_000, 7);
    Entry e = store(t, "big", data);
    try (InputStream in = t.open(e.integrity(), 1_000_000, 4096).orElseThrow()) {
      assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(data, 1_000_000, 1_004_096));
    }
    try (InputStream in = t.open(e.integrity(), data.length - 10, 100).orElseThrow()) {
      assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(data, data.length - 10, data.length));
    }
  }

  @Test
  void chunkDigestsKeptWithAnEntryAreThoseOfItsContent() throws Exception {
    RemoteTier t = tier();
    byte[] data = Payloads.random(3 * Chunks.DEFAULT_SIZE + 1234, 8);
    store(t, "chunked", data);
    Chunks chunks = t.lookup("chunked", false).orElseThrow().chunks();
    if (chunks == null) {
      return; // a tier need not keep them (range reads then fetch the whole content)
    }
    assertThat(chunks.fits(data.length)).isTrue();
    for (int i = 0; i < chunks.count(); i++) {
      int from = i * chunks.size();
      byte[] chunk = Arrays.copyOfRange(data, from, Math.min(data.length, from + chunks.size()));
      assertThat(chunks.digest(i)).isEqualTo(MessageDigest.getInstance("SHA-256").digest(chunk));
    }
  }

  @Test
  void aPutReplacesTheKeysEntryAndRemovingItLeavesSharedContentForOtherKeys() throws Exception {
    RemoteTier t = tier();
    byte[] one = Payloads.random(2_000_000, 1);
    byte[] two = Payloads.random(2_000_000, 2);
    store(t, "a", one);
    store(t, "b", one);
    store(t, "a", two);
    assertThat(content(t, "a")).isEqualTo(two);
    assertThat(t.remove("b")).isTrue();
    assertThat(t.lookup("b", false)).isEmpty();
    store(t, "c", one);
    assertThat(t.remove("a")).isTrue();
    assertThat(content(t, "c")).isEqualTo(one);
  }

  @Test
  void keysComeInPagesUnderTheirPrefixInATotalOrder() {
    RemoteTier t = tier();
    for (String k : List.of("b:1", "a:3", "a:1", "a:2", "a:10", "ab", "")) {
      if (!k.isEmpty()) {
        store(t, k, k.getBytes());
      }
    }
    List<String> all = new ArrayList<>();
    String after = null;
    while (true) {
      List<String> page = t.keys("a:", after, 2);
      assertThat(page.size()).isLessThanOrEqualTo(2);
      all.addAll(page);
      if (page.size() < 2) {
        break;
      }
      after = page.get(page.size() - 1);
    }
    assertThat(all).containsExactlyInAnyOrder("a:1", "a:10", "a:2", "a:3").doesNotHaveDuplicates();
    assertThat(t.keys("a:", null, 10)).isEqualTo(all);
    assertThat(t.keys("", null, 10)).hasSize(6);
  }

  @Test
  void removingAPrefixRemovesItsEntriesOnly() {
    RemoteTier t = tier();
    for (int i = 0; i < 30; i++) {
      store(t, "p:" + i, ("v" + i).getBytes());
    }
    store(t, "q:0", "q".getBytes());
    assertThat(t.removePrefix("p:")).isEqualTo(30);
    assertThat(t.keys("p:", null, 100)).isEmpty();
    assertThat(t.lookup("q:0", false)).isPresent();
  }

  @Test
  void collectionRemovesExpiredEntriesAndContentNoEntryReferencesOnceOutOfGrace() throws Exception {
    RemoteTier t = tier();
    byte[] kept = Payloads.random(2_000_000, 11);
    byte[] orphaned = Payloads.random(2_000_000, 12);
    byte[] expiring = Payloads.random(2_000_000, 13);
    store(t, "kept", kept);
    Entry o = store(t, "orphaned", orphaned);
    t.remove("orphaned");
    Entry x = entry("expiring", expiring, NOW.minusSeconds(1), null);
    t.store(x, () -> new ByteArrayInputStream(expiring));
    Instant later = Instant.now().plus(Duration.ofHours(1));

    GcReport dry = t.collect(later, Duration.ofMinutes(1), true);
    assertThat(dry.dryRun()).isTrue();
    assertThat(dry.expired()).isEqualTo(1);
    assertThat(t.lookup("expiring", false)).as("a dry run removes nothing").isPresent();

    GcReport within = t.collect(Instant.now(), Duration.ofHours(1), false);
    assertThat(within.expired()).isEqualTo(1);
    assertThat(t.open(o.integrity(), 0, 1)).as("written within the grace: kept").isPresent();

    GcReport r = t.collect(later, Duration.ofMinutes(1), false);
    assertThat(r.blobsRemoved()).isGreaterThanOrEqualTo(2); // the orphaned and the expired entry's content
    assertThat(t.lookup("expiring", false)).isEmpty();
    assertThat(t.open(o.integrity(), 0, 1)).isEmpty();
    assertThat(t.open(x.integrity(), 0, 1)).isEmpty();
    assertThat(content(t, "kept")).isEqualTo(kept);
  }

  @Test
  void itSaysWhereItIs() {
    assertThat(tier().describe()).isNotBlank();
  }
}
