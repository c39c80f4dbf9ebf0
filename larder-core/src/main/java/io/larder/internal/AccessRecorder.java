package io.larder.internal;

import io.larder.spi.Index;
import java.time.InstantSource;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Records reads' access times without a write transaction per read: a read notes its key's hash
 * ({@link Index#keyHash}) and the time in a table of primitives ({@link HashTimes}; a hot key costs one slot
 * however often it is read, and no key costs an object), written to the index by a background thread once
 * {@link #INTERVAL_MILLIS} has passed on the store's clock or {@link #MAX_PENDING} keys wait, and
 * synchronously on close. Access times are advisory (they order eviction), so a failed write is kept for the
 * next attempt and never fails a read.
 *
 * <p>The batches are large and written in hash order, {@link #CHUNK} keys per transaction: an update rewrites
 * the whole index page that holds the key's time, so what a batch costs is the number of distinct pages it
 * touches. Batches of 4,096 keys a second over a large store read at random rewrote one page per key and cost
 * the server up to 40 % of its random-read rate; a batch of up to 262,144 keys in order rewrites each page
 * once for all the keys on it (BENCHMARKS.md, "Access times in large batches"). Kept as strings in a
 * concurrent map and sorted as strings, the pending keys cost a reader over 1M entries about as much again
 * as writing them (BENCHMARKS.md, "Access times as key hashes"). The index writes them to a file of their
 * own, so that a batch's commits do not end the snapshots, hot hits and memory maps of the readers of the
 * index file (BENCHMARKS.md, "Access times in a file of their own").
 */
public final class AccessRecorder {
  /** A batch is written at least this often (on the store's clock) while reads are pending. */
  public static final long INTERVAL_MILLIS = 10_000;
  /**
   * A read is recorded only if the stored access time is at least this old and this process has not noted
   * the key within this long (like the file systems' relatime): recorded times are this exact.
   */
  public static final long RESOLUTION_MILLIS = 60_000;
  /** A batch is written as soon as this many keys wait: at most ~8 MB of hashes and times held. */
  public static final int MAX_PENDING = 262_144;
  /** Keys per write transaction, so that a batch never holds the write lock for long. */
  static final int CHUNK = 4_096;
  /**
   * The most read times kept while the index cannot be written (about 32 MB at worst), and the most keys
   * remembered as noted in one window (as much again).
   */
  private static final int MAX_KEPT = 1_000_000;

  /** Pending reads are spread over this many tables, each with its own lock, so that readers rarely meet. */
  private static final int STRIPES = 64;

  private final Index index;
  private final InstantSource clock;
  /** Pending reads by key hash (Index.keyHash), in the stripe the hash's top bits choose, guarded by its lock. */
  private final HashTimes[] pending = new HashTimes[STRIPES];
  /**
   * The hashes this process has noted since {@link #windowStart}, by stripe under the same locks: a key noted
   * once in a window of {@link #RESOLUTION_MILLIS} is not noted again in it, written or not. (The read path
   * sees the access time the entry was written with, not its recorded reads: without this, a key read every
   * few seconds would be written in every batch.)
   */
  private final HashTimes[] seen = new HashTimes[STRIPES];
  private final java.util.concurrent.atomic.AtomicInteger seenCount = new java.util.concurrent.atomic.AtomicInteger();
  private volatile long windowStart;
  private final Object[] locks = new Object[STRIPES];
  private final java.util.concurrent.atomic.AtomicInteger pendingCount = new java.util.concurrent.atomic.AtomicInteger();
  private final ReentrantLock flushing = new ReentrantLock();
  private final java.util.concurrent.atomic.AtomicBoolean background = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile long lastFlush;

  public AccessRecorder(Index index, InstantSource clock) {
    this.index = index;
    this.clock = clock;
    this.lastFlush = clock.millis();
    this.windowStart = lastFlush;
    for (int i = 0; i < STRIPES; i++) {
      pending[i] = new HashTimes();
      seen[i] = new HashTimes();
      locks[i] = new Object();
    }
  }

  /**
   * Notes a read of {@code key} now, unless its stored access time is recent enough or this process noted it
   * within the last {@link #RESOLUTION_MILLIS}, and starts writing the batch in the background if it is due.
   */
  public void record(String key, java.time.Instant storedAccess) {
    long now = clock.millis();
    if (now - storedAccess.toEpochMilli() < RESOLUTION_MILLIS) {
      return;
    }
    if (now - windowStart >= RESOLUTION_MILLIS || seenCount.get() >= MAX_KEPT) {
      newWindow(now);
    }
    long hash = Index.keyHash(key);
    int i = stripe(hash);
    synchronized (locks[i]) {
      if (!seen[i].merge(hash, now)) {
        return; // noted in this window already
      }
    }
    seenCount.incrementAndGet();
    int count = note(hash, now);
    if ((now - lastFlush >= INTERVAL_MILLIS || count >= MAX_PENDING) && background.compareAndSet(false, true)) {
      lastFlush = now;
      Thread.ofPlatform().daemon().name("larder-access-times").start(() -> {
        try {
          flushNow();
        } finally {
          background.set(false);
        }
      });
    }
  }

  /** Forgets which keys were noted: each may be noted once more. */
  private synchronized void newWindow(long now) {
    if (now - windowStart < RESOLUTION_MILLIS && seenCount.get() < MAX_KEPT) {
      return; // another thread began it
    }
    for (int i = 0; i < STRIPES; i++) {
      synchronized (locks[i]) {
        seen[i] = new HashTimes();
      }
    }
    seenCount.set(0);
    windowStart = now;
  }

  /** Adds a pending read; returns how many keys are pending. */
  private int note(long hash, long millis) {
    int i = stripe(hash);
    boolean added;
    synchronized (locks[i]) {
      added = pending[i].merge(hash, millis);
    }
    return added ? pendingCount.incrementAndGet() : pendingCount.get();
  }

  private static int stripe(long hash) {
    return (int) (hash >>> 58); // the top six bits: HashTimes places by the low ones
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
    HashTimes[] batch = new HashTimes[STRIPES];
    int total = 0;
    for (int i = 0; i < STRIPES; i++) {
      HashTimes fresh = new HashTimes();
      synchronized (locks[i]) { // swapped under the stripe's lock: a read notes into one table or the other
        batch[i] = pending[i];
        pending[i] = fresh;
      }
      total += batch[i].size();
    }
    if (total == 0) {
      return;
    }
    pendingCount.addAndGet(-total);
    long[] hashes = new long[total];
    int n = 0;
    for (HashTimes t : batch) {
      long[] h = t.hashes();
      System.arraycopy(h, 0, hashes, n, h.length);
      n += h.length;
    }
    java.util.Arrays.sort(hashes); // neighbours share index pages: each page is rewritten once a chunk
    for (int from = 0; from < hashes.length; from += CHUNK) {
      int to = Math.min(hashes.length, from + CHUNK);
      long[] chunk = java.util.Arrays.copyOfRange(hashes, from, to);
      long[] times = new long[chunk.length];
      for (int i = 0; i < chunk.length; i++) {
        times[i] = batch[stripe(chunk[i])].get(chunk[i]);
      }
      try {
        index.recordAccess(chunk, times);
      } catch (RuntimeException e) {
        // Keep this chunk and the rest for the next attempt (merged with newer reads); never fail a read over
        // it. If the index stays unwritable, stop keeping more than a bounded number: access times are advisory.
        for (int i = from; i < hashes.length && pendingCount.get() < MAX_KEPT; i++) {
          note(hashes[i], batch[stripe(hashes[i])].get(hashes[i]));
        }
        return;
      }
    }
  }
}
