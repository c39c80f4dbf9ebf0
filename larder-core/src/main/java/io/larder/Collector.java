package io.larder;

import io.larder.LarderException.Kind;
import io.larder.internal.Errors;
import io.larder.spi.BlobStore;
import io.larder.spi.Index;
import io.larder.spi.Index.BlobRecord;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Garbage collection of the local store: expiry, eviction by age and size, then content no entry references
 * and abandoned temporary files; one collection at a time per store (a lock file), paced deletions, and
 * collections on a schedule. Keys it is told are pinned (waiting for their upload to a remote tier) are
 * never evicted.
 */
final class Collector {
  private final LocalStore local;
  private final Supplier<Set<String>> pinned;
  private final Set<ExecutorService> scheduled = ConcurrentHashMap.newKeySet();

  Collector(LocalStore local, Supplier<Set<String>> pinned) {
    this.local = local;
    this.pinned = pinned;
  }

  /** See {@link Larder#gc(GcOptions)}. */
  GcReport gc(GcOptions options) {
    Path lockFile = local.root().resolve("gc.lock");
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock()) {
      if (lock == null) {
        throw new LarderException.StorageFailure(Kind.BUSY,
            "another process is collecting garbage in " + local.root() + "; try again when it is done", null);
      }
      return collect(options);
    } catch (OverlappingFileLockException e) {
      throw new LarderException.StorageFailure(Kind.BUSY, "a collection of " + local.root() + " is already running", e);
    } catch (IOException e) {
      throw Errors.io("locking " + lockFile, e);
    }
  }

  /** See {@link Larder#collectEvery}. */
  Larder.Schedule every(Duration interval, GcOptions options, Consumer<GcReport> onReport,
      Consumer<LarderException> onError) {
    ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(
        r -> Thread.ofPlatform().daemon().name("larder-gc").unstarted(r));
    long millis = Math.max(1, interval.toMillis());
    executor.scheduleWithFixedDelay(() -> {
      try {
        onReport.accept(gc(options));
      } catch (LarderException e) {
        if (e.kind() == Kind.CLOSED) {
          executor.shutdown();
        } else {
          onError.accept(e);
        }
      }
    }, millis, millis, TimeUnit.MILLISECONDS);
    scheduled.add(executor);
    return () -> {
      executor.shutdownNow();
      scheduled.remove(executor);
    };
  }

  /** Stops every schedule (the store is closing). */
  void stop() {
    for (ExecutorService e : scheduled) {
      e.shutdownNow();
    }
  }

  private GcReport collect(GcOptions o) {
    local.flushAccesses(); // eviction orders by access time: this process's recent reads count
    Index index = local.index();
    BlobStore blobs = local.blobs();
    Instant now = local.now();
    boolean dry = o.dryRun();
    long expired = 0;
    if (dry) {
      expired = index.removeExpired(now, Integer.MAX_VALUE, true);
    } else {
      long n;
      do {
        n = index.removeExpired(now, 1000, false);
        expired += n;
      } while (n == 1000);
    }
    Index.Eviction ev = index.evict(o.maxAge() == null ? null : now.minus(o.maxAge()), o.maxSize(),
        o.maxSize() < 0 ? -1 : (long) (o.maxSize() * o.lowWater()), o.keepPerGroup(), o.groupSegments(),
        pinned.get(), dry);
    Index.Removed inline = index.removeUnreferencedInline(dry);
    if (!dry) {
      index.tidy();
    }
    long blobsRemoved = inline.count();
    long bytesFreed = inline.bytes();
    Instant writtenBefore = now.minus(o.grace());
    Pacer pacer = new Pacer(o.deletesPerSecond());
    String after = null;
    while (true) {
      List<BlobRecord> page = index.unreferencedFiles(after, 256);
      for (BlobRecord rec : page) {
        // Content that entries referenced (a record) goes at once, whatever its age: a put of the same
        // content meanwhile either committed first (then the record is not forgotten and the file is put
        // back) or finds the file gone inside its own transaction and records nothing (putIfStored).
        boolean gone = dry || blobs.deleteIfUnchangedSince(rec.digest(), Instant.MAX,
            () -> index.forgetIfUnreferenced(rec.digest()));
        if (gone) {
          local.trust().forget(rec.digest());
          blobsRemoved++;
          bytesFreed += rec.size();
          pacer.tick(dry);
        }
      }
      if (page.size() < 256) {
        break;
      }
      after = page.get(page.size() - 1).digest().strongest().sri();
    }
    // Blob files with no record at all: a put killed between publishing its file and committing its entry,
    // or one still between the two (hence the grace).
    long[] orphans = new long[1];
    blobs.forEach(d -> {
      if (index.blob(d, false).isEmpty() && (dry
          || blobs.deleteIfUnchangedSince(d, writtenBefore, () -> index.blob(d, false).isEmpty()))) {
        orphans[0]++;
        pacer.tick(dry);
      }
    });
    blobsRemoved += orphans[0];
    long tmp = dry ? 0 : blobs.removeTmpOlderThan(now.minus(local.options().tmpGrace()));
    return new GcReport(expired, ev.evicted(), blobsRemoved, bytesFreed, tmp, ev.bytesBefore(),
        ev.bytesBefore() - ev.bytesFreed(), dry);
  }

  /** Spaces out deletions to at most {@code perSecond} (in real time: this is about the disk, not the clock). */
  private static final class Pacer {
    private final int perSecond;
    private final long start = System.nanoTime();
    private long count;

    Pacer(int perSecond) {
      this.perSecond = perSecond;
    }

    void tick(boolean dry) {
      count++;
      if (dry || perSecond <= 0 || count % 32 != 0) {
        return;
      }
      long due = start + count * 1_000_000_000L / perSecond;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
    }
  }
}
