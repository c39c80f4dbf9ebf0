package io.larder.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Stats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Counting a large index never takes more than a small share of a core. */
class StoreCountsTest {
  final AtomicInteger counted = new AtomicInteger();

  /** A count that takes {@code millis} and reports how many counts began so far as its number of entries. */
  Supplier<Stats> countTaking(long millis) {
    return () -> {
      int n = counted.incrementAndGet();
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return new Stats(n, 0, 0, 0, 0, Path.of("/store"));
    };
  }

  @Test
  void aSlowCountIsRepeatedOnlyAfterManyTimesItsDuration() throws Exception {
    // A count that takes 100 ms: the next one is due 4.9 s later, not 20 ms later.
    try (StoreCounts counts = new StoreCounts(countTaking(100), Duration.ofMillis(20))) {
      Thread.sleep(1_500);
      assertThat(counted.get()).as("counts begun in 1.5 s").isEqualTo(1);
      assertThat(counts.get().entries()).isEqualTo(1);
    }
  }

  @Test
  void aQuickCountIsRepeatedEveryInterval() throws Exception {
    try (StoreCounts counts = new StoreCounts(countTaking(0), Duration.ofMillis(20))) {
      Thread.sleep(1_000);
      assertThat(counted.get()).as("counts begun in 1 s, one every 20 ms").isGreaterThan(5);
      assertThat(counts.get().entries()).isGreaterThan(5);
    }
  }

  @Test
  void aRequestBeforeTheFirstCountEndsWaitsForItInsteadOfCountingAgain() throws Exception {
    try (StoreCounts counts = new StoreCounts(countTaking(300), Duration.ofSeconds(60))) {
      Thread.sleep(50); // the first count is under way
      assertThat(counts.get().entries()).isEqualTo(1);
      assertThat(counted.get()).as("one scan, not two").isEqualTo(1);
    }
  }
}
