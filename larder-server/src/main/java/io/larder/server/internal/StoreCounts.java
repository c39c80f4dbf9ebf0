package io.larder.server.internal;

import io.larder.Larder;
import io.larder.LarderException;
import io.larder.Stats;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The store's counts (entries, content and index bytes), counted by a background thread: {@code /metrics},
 * {@code /status}, the web page and the history read them without counting a large index per request.
 * Counting is also the server's probe that its index can be read.
 *
 * <p>Counting scans the index, which takes seconds at a million entries of inline content (every row of
 * {@code blobs} is read). So a count follows the previous one after {@link #EVERY_SECONDS}, or after
 * {@link #IDLE_FACTOR} times as long as the previous count took if that is longer: counting never takes more
 * than about 2 % of one core (a count that took 2 s is repeated after 98 s). At 1M entries, counting every 5 s
 * had taken a fifth of the server's CPU from its requests (BENCHMARKS.md, "One million entries").
 */
public final class StoreCounts implements AutoCloseable {
  static final int EVERY_SECONDS = 5;
  static final int IDLE_FACTOR = 49;

  private final java.util.function.Supplier<Stats> counter;
  private final long everyNanos;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      r -> Thread.ofPlatform().daemon().name("larder-counts").unstarted(r));
  private volatile Stats last;
  private volatile String failure;

  public StoreCounts(Larder store) {
    this(store::stats, java.time.Duration.ofSeconds(EVERY_SECONDS));
  }

  /** Counts with {@code counter} every {@code every}, or less often as above. */
  StoreCounts(java.util.function.Supplier<Stats> counter, java.time.Duration every) {
    this.counter = counter;
    this.everyNanos = every.toNanos();
    timer.schedule(this::countAndReschedule, 0, TimeUnit.SECONDS);
  }

  private void countAndReschedule() {
    long start = System.nanoTime();
    count();
    long took = System.nanoTime() - start;
    try {
      timer.schedule(this::countAndReschedule, Math.max(everyNanos, took * IDLE_FACTOR),
          TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      // the server is stopping
    }
  }

  /** One count at a time: a request that finds no counts yet waits for the count under way, not a second scan. */
  private synchronized Stats count() {
    try {
      Stats s = counter.get();
      last = s;
      failure = null;
      return s;
    } catch (LarderException e) {
      if (e.kind() != LarderException.Kind.CLOSED && e.kind() != LarderException.Kind.BUSY) {
        failure = e.getMessage();
      }
      return last;
    }
  }

  /** The latest counts; counted now if they never were (the first request right after start). */
  public Stats get() {
    Stats s = last;
    if (s == null) {
      synchronized (this) {
        s = last != null ? last : count();
      }
    }
    if (s == null) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "the store's index cannot be read: " + failure, null);
    }
    return s;
  }

  /** Why the last count failed (the index cannot be read), or empty. */
  public Optional<String> failure() {
    return Optional.ofNullable(failure);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
