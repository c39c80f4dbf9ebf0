package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteBehindQueueTest {
  @TempDir Path dir;

  @Test
  void aKeyQueuedAgainWhileItUploadsIsUploadedAgain() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> uploads = new CopyOnWriteArrayList<>();
    try (WriteBehindQueue q = new WriteBehindQueue(dir.resolve("q"), 10, false, key -> {
      uploads.add(key);
      if (uploads.size() == 1) {
        started.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      return true;
    })) {
      q.offer("k");
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      q.offer("k"); // a re-put while the first upload (of older content) is in flight
      release.countDown();
      assertThat(q.await(Duration.ofSeconds(10))).isTrue();
      assertThat(uploads).containsExactly("k", "k");
      assertThat(Files.list(dir.resolve("q")).count()).isZero();
    }
  }

  @Test
  void whatOneProcessLeftIsUploadedByTheNextAndAFullQueueRefuses() throws Exception {
    try (WriteBehindQueue q = new WriteBehindQueue(dir.resolve("q"), 2, true, key -> false)) { // the tier is down
      assertThat(q.offer("a")).isTrue();
      assertThat(q.offer("b")).isTrue();
      assertThat(q.offer("a")).as("queued already: the same item").isTrue();
      assertThat(q.offer("c")).as("full").isFalse();
      assertThat(q.depth()).isEqualTo(2);
      q.close(Duration.ofMillis(100));
    }
    Path interrupted = Files.writeString(dir.resolve("q").resolve(".tmp-123"), "a queue write a crash interrupted");
    Files.setLastModifiedTime(interrupted, java.nio.file.attribute.FileTime.from(
        java.time.Instant.now().minusSeconds(120))); // younger ones may be another process's write in progress
    Files.writeString(dir.resolve("q").resolve("0".repeat(64)), "not the key this name stands for");
    List<String> uploads = new CopyOnWriteArrayList<>();
    try (WriteBehindQueue q = new WriteBehindQueue(dir.resolve("q"), 2, false, key -> uploads.add(key))) {
      assertThat(q.await(Duration.ofSeconds(10))).isTrue();
      assertThat(uploads).containsExactlyInAnyOrder("a", "b");
    }
    assertThat(Files.list(dir.resolve("q")).count()).isZero();
  }
}
