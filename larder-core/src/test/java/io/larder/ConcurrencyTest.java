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

  /** What one writer put under a key: the key, the writer and its sequence number, then bytes derived from them. */
  static byte[] payload(String key, int writer, int seq) {
    byte[] head = (key + "#" + writer + "#" + seq + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] body = Payloads.random(40_000, java.util.Objects.hash(key, writer, seq));
    byte[] out = java.util.Arrays.copyOf(head, head.length + body.length);
    System.arraycopy(body, 0, out, head.length, body.length);
    return out;
  }

  /** The payload {@code bytes} claim to be ({@code writer#seq}), checked whole against what that write put. */
  static String whichPayload(String key, byte[] bytes) {
    String head = new String(bytes, 0, Math.min(bytes.length, 64), java.nio.charset.StandardCharsets.UTF_8);
    String[] parts = head.substring(0, head.indexOf('\n')).split("#");
    assertThat(parts[0]).isEqualTo(key);
    int writer = Integer.parseInt(parts[1]);
    int seq = Integer.parseInt(parts[2]);
    assertThat(bytes).as("the whole of one write, not a mix").isEqualTo(payload(key, writer, seq));
    return writer + "#" + seq;
  }

  /** One acknowledged put ({@code id} writer#seq) or removal ({@code id} null) of a key, with when it ran. */
  record Op(String id, long start, long end) {}

  @Test
  void concurrentMixedOperationsFromManyThreadsNeverReturnWrongBytesAndTheLastWriteWins() throws Exception {
    java.util.Map<String, java.util.Queue<Op>> ops = new java.util.concurrent.ConcurrentHashMap<>();
    try (Larder cache = Larder.open(dir); ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int id = t;
        results.add(pool.submit(() -> {
          for (int i = 0; i < 300; i++) {
            String key = "k:" + (i % 50);
            java.util.Queue<Op> log = ops.computeIfAbsent(key, k -> new java.util.concurrent.ConcurrentLinkedQueue<>());
            long start = System.nanoTime();
            switch ((i + id) % 4) {
              case 0, 1 -> {
                cache.put(key, payload(key, id, i));
                log.add(new Op(id + "#" + i, start, System.nanoTime()));
              }
              case 2 -> cache.getBytes(key).ifPresent(b -> whichPayload(key, b));
              default -> {
                cache.remove(key);
                log.add(new Op(null, start, System.nanoTime()));
              }
            }
          }
          return null;
        }));
      }
      for (Future<?> f : results) {
        f.get();
      }
      // Each key holds what its last write left: the result of an operation that no other one of the key
      // began after (operations that overlap may commit in either order).
      for (var e : ops.entrySet()) {
        String now = cache.getBytes(e.getKey()).map(b -> whichPayload(e.getKey(), b)).orElse(null);
        List<Op> last = e.getValue().stream()
            .filter(o -> e.getValue().stream().noneMatch(other -> other.start() > o.end())).toList();
        assertThat(last).as("key %s holds %s", e.getKey(), now).extracting(Op::id).contains(now);
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
