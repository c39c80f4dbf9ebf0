package io.larder.server.internal;

import io.larder.GcOptions;
import io.larder.GcReport;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.Stats;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Keeps the store's bytes on disk (content, index, its space reserve) at or under {@code max-size} as
 * content arrives, instead of only at each scheduled collection. Every stored upload adds its size to a
 * running estimate (an over-estimate: content stored twice counts twice); when the estimate crosses the
 * high watermark (95 %), least recently used entries are evicted in the background down to the collection's
 * low watermark, and the content they referenced leaves the disk in the same collection. An upload that
 * would take the store over the bound waits for that collection; if it still does not fit, it is refused
 * (507), and one larger than the bound itself is refused before its body is read (413). The slack: uploads
 * admitted together each fit on their own, so the store may exceed the bound by the uploads in flight (one
 * per connection at most) until the next collection.
 *
 * <p>The estimate is measured from the index (one count) at start, in the background (serving does not wait
 * for it), and again after every collection.
 */
public final class SizeBound {
  /** The fraction of max-size at which a collection starts. */
  static final double HIGH_WATER = 0.95;
  /** How long an upload waits for a collection to make room before it is refused. */
  static final long WAIT_SECONDS = 30;
  /**
   * The index's space reserve (index.reserve) and the shared-memory files of the index and of its access
   * times, which the index's size does not include.
   */
  private static final long INDEX_EXTRA = (1L << 20) + 2 * (32L << 10);

  private final Larder store;
  private final GcOptions gc;
  private final long max;
  private final Consumer<GcReport> onCollected;
  private final AtomicLong used = new AtomicLong(-1); // -1: not measured yet
  private final AtomicReference<CompletableFuture<Void>> running = new AtomicReference<>();
  /** Whether the last collection needed to make room and could not (nothing left that may be evicted). */
  private volatile boolean stuck;
  /** The largest upload waiting for room: the next collection makes at least that much. */
  private final AtomicLong wanted = new AtomicLong();
  private final ExecutorService thread;

  /** A bound that does nothing when {@code gc} has no max-size. */
  public SizeBound(Larder store, GcOptions gc, Consumer<GcReport> onCollected) {
    this.store = store;
    this.gc = gc;
    // a read-only store takes no uploads and evicts nothing: no bound to keep
    this.max = gc.maxSize() > 0 && gc.maxSize() < Long.MAX_VALUE && !store.options().readOnly() ? gc.maxSize() : -1;
    this.onCollected = onCollected;
    this.thread = max < 0 ? null : Executors.newSingleThreadExecutor(
        r -> Thread.ofPlatform().daemon().name("larder-size-bound").unstarted(r));
    if (thread != null) {
      collectSoon(); // measures first, then collects if the store is over its bound already
    }
  }

  /** The largest upload this server takes: max-blob-size, and no more than max-size. */
  public long uploadLimit(long maxBlobSize) {
    return max < 0 ? maxBlobSize : Math.min(maxBlobSize, max);
  }

  /**
   * Called before an upload of {@code length} bytes is stored: returns at once while it fits; else waits for
   * a collection to make room, and throws {@code INSUFFICIENT_STORAGE} (507) if there is none.
   */
  public void admit(long length) {
    if (max < 0 || length < 0) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    long u;
    while ((u = used.get()) < 0 || u + length > max) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || (u >= 0 && stuck)) {
        break;
      }
      wanted.accumulateAndGet(length, Math::max);
      try {
        collectSoon().get(left, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        break;
      }
    }
    if (u >= 0 && u + length > max) {
      throw new LarderException.StorageFailure(LarderException.Kind.INSUFFICIENT_STORAGE, "the store is at its max-size ("
          + u + " of " + max + " bytes used) and eviction cannot make room for " + length + " more bytes now"
          + " (entries kept by keep-per-group or still uploading are not evicted); try again later or raise max-size", null);
    }
  }

  /**
   * Stores an upload of {@code length} bytes (-1: not known before) through {@code put}, within max-size:
   * it waits for room, or is refused with INSUFFICIENT_STORAGE (507), and counts toward the bound.
   */
  public <T extends io.larder.Entry> T putWithin(long length, java.util.function.Supplier<T> put) {
    admit(length);
    T e = put.get();
    stored(e.size());
    return e;
  }

  /** Called after an upload of {@code length} bytes was stored. */
  public void stored(long length) {
    if (max < 0) {
      return;
    }
    stuck = false; // what was stored may be evicted next
    long u = used.updateAndGet(v -> v < 0 ? v : v + length);
    if (u > max * HIGH_WATER) {
      collectSoon();
    }
  }

  /** The running estimate of bytes on disk, or -1 before it was first measured. */
  public long used() {
    return used.get();
  }

  /** Starts a collection unless one is running; returns the one that runs. */
  private CompletableFuture<Void> collectSoon() {
    CompletableFuture<Void> mine = new CompletableFuture<>();
    CompletableFuture<Void> current = running.compareAndExchange(null, mine);
    if (current != null) {
      return current;
    }
    thread.execute(() -> {
      try {
        measure();
        long room = wanted.getAndSet(0);
        if (used.get() > max * HIGH_WATER || used.get() + room > max) {
          collect(room);
        }
      } catch (RuntimeException e) {
        // a failed collection (a busy store, a full disk) leaves the estimate as measured; the next upload retries
      } finally {
        running.set(null);
        mine.complete(null);
      }
    });
    return mine;
  }

  /** Evicts until content is under the high watermark, with {@code room} bytes free under max-size. */
  private void collect(long room) {
    for (int attempt = 0; attempt < 50; attempt++) {
      Stats s = store.stats();
      long content = Math.max(0, Math.min((long) (max * HIGH_WATER), max - room) - s.indexBytes() - INDEX_EXTRA);
      try {
        GcReport r = store.gc(gc.maxSize(content));
        measure();
        stuck = r.evicted() + r.expired() == 0 && r.bytesFreed() == 0 && used.get() + room > max;
        onCollected.accept(r);
        return;
      } catch (LarderException e) {
        if (e.kind() != LarderException.Kind.BUSY) {
          throw e;
        }
        // the scheduled collection or POST /v1/gc is running: it frees space too; look again shortly
        measure();
        if (used.get() <= max * HIGH_WATER && used.get() + room <= max) {
          return;
        }
        java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
      }
    }
  }

  private void measure() {
    Stats s = store.stats();
    used.set(s.bytes() + s.indexBytes() + INDEX_EXTRA);
  }

  /** Stops the background collections. */
  public void close() {
    if (thread != null) {
      thread.shutdownNow();
    }
  }
}
