package io.larder.internal;

import io.larder.spi.Index;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Records reads' access times without a write transaction per read: hits go into a map (a hot key costs
 * one slot however often it is read), written to the index by a background thread once {@link #INTERVAL_MILLIS}
 * has passed on the store's clock or {@link #MAX_PENDING} keys wait, and synchronously on close. A reader
 * only pays for a map update. Access times are advisory (they order eviction), so a failed write is kept for
 * the next attempt and never fails a read.
 *
 * <p>The batches are large and written in key order, {@link #CHUNK} keys per transaction: an update rewrites
 * the whole index page that holds the entry, so what a batch costs is the number of distinct pages it
 * touches. Over a large store read at random (every read then a first read within the minute), batches of
 * 4,096 keys each second rewrote one page per key — a 4 KiB page written to the log and checkpointed for
 * every read — and cost the server up to 40 % of its random-read rate; a batch of up to 262,144 keys in key
 * order rewrites each page once for all the entries on it (BENCHMARKS.md, "Access times in large batches").
 */
public final class AccessRecorder {
  /** A batch is written at least this often (on the store's clock) while reads are pending. */
  public static final long INTERVAL_MILLIS = 10_000;
  /** A read is recorded only if the stored access time is at least this old (like the file systems' relatime). */
  public static final long RESOLUTION_MILLIS = 60_000;
  /** A batch is written as soon as this many keys wait: at most ~30 MB of keys and times held. */
  public static final int MAX_PENDING = 262_144;
  /** Keys per write transaction, so that a batch never holds the write lock for long. */
  static final int CHUNK = 4_096;
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
    String[] keys = batch.keySet().toArray(String[]::new);
    java.util.Arrays.sort(keys); // neighbours in key order share index pages: each page is rewritten once
    for (int from = 0; from < keys.length; from += CHUNK) {
      Map<String, Long> chunk = new java.util.LinkedHashMap<>();
      for (int i = from; i < Math.min(keys.length, from + CHUNK); i++) {
        chunk.put(keys[i], batch.get(keys[i]));
      }
      try {
        index.recordAccess(chunk);
      } catch (RuntimeException e) {
        // Keep this chunk and the rest for the next attempt (merged with newer reads); never fail a read over
        // it. If the index stays unwritable, stop keeping more than a bounded number: access times are advisory.
        for (int i = from; i < keys.length && pending.get().size() < MAX_KEPT; i++) {
          pending.get().merge(keys[i], batch.get(keys[i]), Math::max);
        }
        return;
      }
    }
  }
}
