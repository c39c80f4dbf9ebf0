package io.larder.internal;

import io.larder.spi.Index;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Records reads' access times without a write transaction per read: hits go into a map (a hot key costs
 * one slot however often it is read), written to the index in one transaction by a background thread once
 * {@link #INTERVAL_MILLIS} has passed on the store's clock or {@link #MAX_PENDING} keys wait, and
 * synchronously on close. A reader only pays for a map update. Access times are advisory (they order
 * eviction), so a failed write is kept for the next attempt and never fails a read.
 */
public final class AccessRecorder {
  public static final long INTERVAL_MILLIS = 1_000;
  /** A read is recorded only if the stored access time is at least this old (like the file systems' relatime). */
  public static final long RESOLUTION_MILLIS = 60_000;
  public static final int MAX_PENDING = 4_096;
  /** The most read times kept while the index cannot be written (about 100 MB at worst). */
  private static final int MAX_KEPT = 1_000_000;

  private final Index index;
  private final InstantSource clock;
  private final AtomicReference<ConcurrentHashMap<String, Long>> pending =
      new AtomicReference<>(new ConcurrentHashMap<>());
  private final ReentrantLock flushing = new ReentrantLock();
  private final java.util.concurrent.atomic.AtomicBoolean background = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile long lastFlush;

  public AccessRecorder(Index index, InstantSource clock) {
    this.index = index;
    this.clock = clock;
    this.lastFlush = clock.millis();
  }

  /**
   * Notes a read of {@code key} now, unless its stored access time is recent enough, and starts writing the
   * batch in the background if it is due.
   */
  public void record(String key, java.time.Instant storedAccess) {
    long now = clock.millis();
    if (now - storedAccess.toEpochMilli() < RESOLUTION_MILLIS) {
      return;
    }
    pending.get().merge(key, now, Math::max);
    if ((now - lastFlush >= INTERVAL_MILLIS || pending.get().size() >= MAX_PENDING)
        && background.compareAndSet(false, true)) {
      lastFlush = now;
      Thread.ofPlatform().daemon().name("larder-access-times").start(() -> {
        try {
          flushing.lock();
          try {
            flush(clock.millis());
          } finally {
            flushing.unlock();
          }
        } finally {
          background.set(false);
        }
      });
    }
  }

  /** Writes everything pending, now, on this thread (on close, and for tests). */
  public void flushNow() {
    flushing.lock();
    try {
      flush(clock.millis());
    } finally {
      flushing.unlock();
    }
  }

  private void flush(long now) {
    lastFlush = now;
    ConcurrentHashMap<String, Long> batch = pending.getAndSet(new ConcurrentHashMap<>());
    if (batch.isEmpty()) {
      return;
    }
    try {
      index.recordAccess(batch);
    } catch (RuntimeException e) {
      // Keep the batch for the next attempt (merged with newer reads); never fail a read over it. If the
      // index stays unwritable, stop keeping more than a bounded number: access times are advisory.
      if (pending.get().size() < MAX_KEPT) {
        for (Map.Entry<String, Long> en : batch.entrySet()) {
          pending.get().merge(en.getKey(), en.getValue(), Math::max);
        }
      }
    }
  }
}
