package io.larder;

import java.io.ByteArrayInputStream;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;

/**
 * Local copies of content the remote tier has (a write-through put's, a remote hit's), written in the
 * background so that the caller does not wait for them, at most {@value #SLOTS} at once (then the caller
 * writes its copy itself). What this node does next with a key waits for its copy first, so the node reads
 * its own writes. A copy that fails (a full disk) is counted and forgotten: it is only a cache of the tier's.
 */
final class LocalCopies {
  private static final int SLOTS = 64;

  private final LocalStore local;
  private final ConcurrentHashMap<String, FutureTask<Void>> writing = new ConcurrentHashMap<>();
  private final Semaphore slots = new Semaphore(SLOTS);
  private final LongAdder failures = new LongAdder();

  LocalCopies(LocalStore local) {
    this.local = local;
  }

  /**
   * Writes a local copy of {@code bytes} under {@code key}: in the background when a slot is free.
   * {@code replace}: a put's copy, which must land after any copy of the key already under way (a read's
   * copy is skipped then instead: the other one is as good).
   */
  void keep(String key, byte[] bytes, PutOptions put, boolean replace) {
    Runnable keep = () -> {
      try {
        local.put(key, new ByteArrayInputStream(bytes), put);
      } catch (LarderException failed) {
        failures.increment(); // only a cache copy: the next read fetches it again
      }
    };
    if (!slots.tryAcquire()) {
      await(key);
      keep.run();
      return;
    }
    FutureTask<Void> task = new FutureTask<>(keep, null);
    while (writing.putIfAbsent(key, task) != null) {
      if (!replace) {
        slots.release(); // another reader is keeping it already
        return;
      }
      await(key);
    }
    Thread.ofVirtual().name("larder-keep").start(() -> {
      try {
        task.run();
      } finally {
        writing.remove(key, task);
        slots.release();
      }
    });
  }

  /**
   * Waits for a copy of {@code key} in progress (a read's or a put's), so that what this node does next with
   * the key sees it: a read after a read is a local hit, a read after a put sees the put.
   */
  void await(String key) {
    FutureTask<Void> t = writing.get(key);
    if (t != null) {
      try {
        t.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException ignored) {
        // the copy failed: the read goes to the tier again
      }
    }
  }

  /** {@link #await} for every key (before reads by digest, listings and removals by prefix, and closing). */
  void awaitAll() {
    for (String key : writing.keySet()) {
      await(key);
    }
  }

  /** Whether no copy is being written. */
  boolean isEmpty() {
    return writing.isEmpty();
  }

  /** Copies that could not be written. */
  long failures() {
    return failures.sum();
  }
}
