package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.spi.Index;
import io.larder.testkit.FaultyIndex;
import io.larder.testkit.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Access times go to the index in key-hash order, a chunk per transaction, and a failed chunk is not lost. */
class AccessRecorderTest {
  static final int KEYS = AccessRecorder.CHUNK * 2 + 100;
  @TempDir Path dir;
  final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  final Instant t0 = clock.instant();
  SqliteIndex real;
  FaultyIndex index;
  final List<String> keys = new ArrayList<>();

  @BeforeEach
  void fill() {
    real = new SqliteIndex(dir.resolve("index.db"), Durability.PROCESS_SAFE);
    index = new FaultyIndex(real);
    byte[] one = {1};
    Integrity digest = Integrity.compute(Algorithm.SHA256, one);
    for (int i = 0; i < KEYS; i++) {
      String key = "k" + i; // not the order of their names: k10 comes before k2
      keys.add(key);
      index.put(new Entry(key, digest, 1, t0, t0, null, null), new Index.BlobRecord(digest, 1, one));
    }
    clock.advance(Duration.ofMinutes(10));
  }

  @AfterEach
  void close() {
    real.close();
  }

  Instant accessed(String key) {
    return real.get(key, false).orElseThrow().entry().accessed();
  }

  @Test
  void aLargeBatchIsWrittenInHashOrderAChunkPerTransaction() {
    AccessRecorder recorder = new AccessRecorder(index, clock);
    index.failNthAccessWrite(-1);
    List<String> shuffled = new ArrayList<>(keys);
    Collections.shuffle(shuffled, new java.util.Random(1));
    for (String k : shuffled) {
      recorder.record(k, t0);
    }
    assertThat(index.accessWrites()).as("not due yet: under ten seconds and under the batch size").isEmpty();
    recorder.flushNow();

    List<List<Long>> writes = index.accessWrites();
    assertThat(writes).extracting(List::size).containsExactly(AccessRecorder.CHUNK, AccessRecorder.CHUNK, 100);
    List<Long> all = writes.stream().flatMap(List::stream).toList();
    assertThat(all).isSorted().containsExactlyInAnyOrderElementsOf(hashes(keys));
    Instant now = clock.instant();
    assertThat(keys).allSatisfy(k -> assertThat(accessed(k)).isEqualTo(now));
  }

  @Test
  void aChunkThatFailsIsKeptWithTheRestForTheNextBatch() {
    AccessRecorder recorder = new AccessRecorder(index, clock);
    index.failNthAccessWrite(2);
    for (String k : keys) {
      recorder.record(k, t0);
    }
    recorder.flushNow(); // the first chunk is written; the second fails, and the third is not tried
    assertThat(index.accessWrites()).hasSize(2);
    List<Long> first = index.accessWrites().get(0);
    Instant now = clock.instant();
    List<String> written = keys.stream().filter(k -> first.contains(Index.keyHash(k))).toList();
    assertThat(written).hasSize(AccessRecorder.CHUNK).allSatisfy(k -> assertThat(accessed(k)).isEqualTo(now));
    List<String> rest = keys.stream().filter(k -> !first.contains(Index.keyHash(k))).toList();
    assertThat(rest).hasSize(AccessRecorder.CHUNK + 100).allSatisfy(k -> assertThat(accessed(k)).isEqualTo(t0));

    index.failNthAccessWrite(-1);
    recorder.flushNow();
    assertThat(index.accessWrites().stream().flatMap(List::stream).toList())
        .as("only what was not written yet").containsExactlyInAnyOrderElementsOf(hashes(rest));
    assertThat(keys).allSatisfy(k -> assertThat(accessed(k)).isEqualTo(now));
  }

  @Test
  void readsWithinTheResolutionOfTheStoredTimeAreNotRecorded() {
    AccessRecorder recorder = new AccessRecorder(index, clock);
    index.failNthAccessWrite(-1);
    recorder.record("k1", clock.instant().minusSeconds(59));
    recorder.record("k2", clock.instant().minusSeconds(61));
    recorder.flushNow();
    assertThat(index.accessWrites()).containsExactly(List.of(Index.keyHash("k2")));
  }

  @Test
  void aKeyReadAgainAndAgainIsWrittenOnceInEachWindowOfTheResolution() {
    AccessRecorder recorder = new AccessRecorder(index, clock);
    index.failNthAccessWrite(-1);
    recorder.record("k1", t0);
    recorder.flushNow();
    Instant first = clock.instant();
    clock.advance(Duration.ofSeconds(30));
    recorder.record("k1", t0); // the read path still sees the time the entry was written with
    recorder.record("k2", t0);
    recorder.flushNow();
    assertThat(index.accessWrites()).containsExactly(List.of(Index.keyHash("k1")), List.of(Index.keyHash("k2")));
    assertThat(accessed("k1")).isEqualTo(first);
    clock.advance(Duration.ofSeconds(31));
    recorder.record("k1", t0);
    recorder.flushNow();
    assertThat(index.accessWrites()).hasSize(3).last().isEqualTo(List.of(Index.keyHash("k1")));
    assertThat(accessed("k1")).isEqualTo(clock.instant());
  }

  static List<Long> hashes(List<String> keys) {
    return keys.stream().map(Index::keyHash).toList();
  }
}
