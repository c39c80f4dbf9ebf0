package io.larder.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Stats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Counting a large index never takes more than a small share of a core. */
class StoreCountsTest {
  static Stats stats(long entries) {
    return new Stats(entries, 0, 0, 0, 0, Path.of("/store"));
  }

  @Test
  void aSlowCountIsRepeatedOnlyAfterManyTimesItsDuration() throws Exception {
    AtomicInteger counted = new AtomicInteger();
    StoreCounts counts = new StoreCounts(() -> {
      counted.incrementAndGet();
      try {
        Thread.sleep(100); // a count that takes 100 ms: the next one is due 4.9 s later, not 20 ms later
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return stats(counted.get());
    }, Duration.ofMillis(20));
    try {
      Thread.sleep(1_500);
      assertThat(counted.get()).as("counts begun in 1.5 s").isEqualTo(1);
      assertThat(counts.get().entries()).isEqualTo(1);
    } finally {
      counts.close();
    }
  }

  @Test
  void aQuickCountIsRepeatedEveryInterval() throws Exception {
    AtomicInteger counted = new AtomicInteger();
    StoreCounts counts = new StoreCounts(() -> stats(counted.incrementAndGet()), Duration.ofMillis(20));
    try {
      Thread.sleep(1_000);
      assertThat(counted.get()).as("counts begun in 1 s, one every 20 ms").isGreaterThan(5);
      assertThat(counts.get().entries()).isGreaterThan(5);
    } finally {
      counts.close();
    }
  }

  @Test
  void aRequestBeforeTheFirstCountEndsWaitsForItInsteadOfCountingAgain() throws Exception {
    AtomicInteger counted = new AtomicInteger();
    StoreCounts counts = new StoreCounts(() -> {
      int n = counted.incrementAndGet();
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return stats(n);
    }, Duration.ofSeconds(60));
    try {
      Thread.sleep(50); // the first count is under way
      assertThat(counts.get().entries()).isEqualTo(1);
      assertThat(counted.get()).as("one scan, not two").isEqualTo(1);
    } finally {
      counts.close();
    }
  }
}
