package io.larder;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.testkit.ChildJvm;
import io.larder.testkit.Payloads;
import io.larder.testkit.StoreFiles;
import io.larder.testkit.Worker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Guarantees 4 and 5: many threads and many processes on one store. */
class ConcurrencyTest {
  @TempDir Path dir;

  @Test
  void concurrentPutsOfTheSameContentFromManyThreadsLeaveOneBlobAndNoTmpFiles() throws Exception {
    byte[] data = new byte[300_000];
    Arrays.fill(data, (byte) 7);
    try (Larder cache = Larder.open(dir); ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<Entry>> results = new ArrayList<>();
      for (int t = 0; t < 64; t++) {
        String key = "t:" + t;
        results.add(pool.submit(() -> cache.put(key, data)));
      }
      for (Future<Entry> f : results) {
        assertThat(f.get().size()).isEqualTo(data.length);
      }
      assertThat(StoreFiles.blobFiles(dir)).hasSize(1);
      assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
      assertThat(cache.stats().blobs()).isEqualTo(1);
      for (int t = 0; t < 64; t++) {
        assertThat(cache.getBytes("t:" + t).orElseThrow()).isEqualTo(data);
      }
    }
  }

  @Test
  void concurrentMixedOperationsFromManyThreadsNeverReturnWrongBytes() throws Exception {
    try (Larder cache = Larder.open(dir); ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int id = t;
        results.add(pool.submit(() -> {
          for (int i = 0; i < 300; i++) {
            String key = "k:" + (i % 50);
            byte[] data = Payloads.forKey(key, 40_000);
            switch ((i + id) % 4) {
              case 0, 1 -> cache.put(key, data);
              case 2 -> cache.getBytes(key).ifPresent(b -> assertThat(b).isEqualTo(data));
              default -> cache.remove(key);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : results) {
        f.get();
      }
      assertThat(cache.verify().clean()).isTrue();
    }
  }

  @Test
  @Tag("slow")
  void concurrentPutsOfTheSameContentFromManyProcessesLeaveOneBlob() throws Exception {
    List<Process> children = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      children.add(ChildJvm.start(Worker.class, dir.toString(), String.valueOf(i), "150", "same"));
    }
    for (Process p : children) {
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).contains("done");
      assertThat(p.exitValue()).isZero();
    }
    assertThat(StoreFiles.blobFiles(dir)).hasSize(1);
    assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
    try (Larder cache = Larder.open(dir)) {
      assertThat(cache.stats().entries()).isEqualTo(450);
      assertThat(cache.stats().blobs()).isEqualTo(1);
    }
  }

  @Test
  @Tag("slow")
  void fourProcessesEachPuttingAndReading2000EntriesLeaveEveryEntryCorrect() throws Exception {
    int perWorker = 2000;
    int maxSize = 40_000; // both inline (<= 16 KiB) and file blobs
    List<Process> children = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      children.add(ChildJvm.start(Worker.class, dir.toString(), String.valueOf(i), String.valueOf(perWorker),
          String.valueOf(maxSize)));
    }
    for (Process p : children) {
      assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
      assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).contains("done");
      assertThat(p.exitValue()).isZero();
    }
    try (Larder cache = Larder.open(dir)) {
      for (int w = 0; w < 4; w++) {
        for (int i = 0; i < perWorker; i++) {
          String key = "w" + w + ":" + i;
          assertThat(cache.getBytes(key)).as(key).hasValueSatisfying(b -> assertThat(b).isEqualTo(Payloads.forKey(key, maxSize)));
        }
      }
      assertThat(cache.stats().entries()).isEqualTo(4L * perWorker);
      assertThat(cache.verify().clean()).isTrue();
    }
    assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
  }
}
