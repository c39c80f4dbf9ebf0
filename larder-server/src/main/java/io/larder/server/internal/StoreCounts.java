package io.larder.server.internal;

import io.larder.Larder;
import io.larder.LarderException;
import io.larder.Stats;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The store's counts (entries, content and index bytes) as of at most {@link #EVERY_SECONDS} ago, counted by
 * a background thread: {@code /metrics}, {@code /status}, the web page and the history read them without
 * counting a large index per request. Counting is also the server's probe that its index can be read.
 */
public final class StoreCounts {
  static final int EVERY_SECONDS = 5;

  private final Larder store;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      r -> Thread.ofPlatform().daemon().name("larder-counts").unstarted(r));
  private volatile Stats last;
  private volatile String failure;

  public StoreCounts(Larder store) {
    this.store = store;
    timer.scheduleWithFixedDelay(this::count, 0, EVERY_SECONDS, TimeUnit.SECONDS);
  }

  private Stats count() {
    try {
      Stats s = store.stats();
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

  public void close() {
    timer.shutdownNow();
  }
}
