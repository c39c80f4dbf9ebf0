package io.larder;

import io.larder.internal.Errors;
import io.larder.internal.ZstdSeekable;
import io.larder.spi.BlobStore;
import io.larder.spi.Index;
import io.larder.spi.Index.BlobRecord;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * Verification of the whole local store: every blob the index records and every blob file it does not is
 * hashed again; what is corrupt or missing is removed with the entries that point at it.
 */
final class Scrubber {
  private static final int PAGE = 64;

  private final LocalStore local;

  Scrubber(LocalStore local) {
    this.local = local;
  }

  /** What one verification found so far. */
  private static final class Tally {
    long checked;
    long bytes;
    long corrupt;
    long missing;
    long entries;

    VerifyReport report() {
      return new VerifyReport(checked, bytes, corrupt, missing, entries);
    }
  }

  /** See {@link Larder#verify(LongConsumer)}. */
  VerifyReport verify(LongConsumer progress) {
    return pass(progress, () -> false);
  }

  /** Raised inside a paced pass when its schedule was closed. */
  private static final class Stopped extends RuntimeException {
    Stopped() {
      super(null, null, false, false);
    }
  }

  /**
   * One pass over every blob, paced so that it takes about {@code duration}: the content's bytes (counted at
   * the start of the pass) are re-hashed at an even rate (at least {@link #MIN_RATE} bytes a second), with a
   * pause before each blob that comes early. Returns empty if {@code stopped} said so between two blobs.
   */
  Optional<VerifyReport> pacedPass(java.time.Duration duration, java.util.function.BooleanSupplier stopped) {
    long total = Math.max(1, local.index().counts().blobBytes());
    double rate = Math.max(MIN_RATE, total / Math.max(0.001, duration.toMillis() / 1000.0)); // bytes a second
    long start = System.nanoTime();
    long[] done = {0};
    try {
      return Optional.of(pass(n -> {
        done[0] += n;
        long due = start + (long) (done[0] / rate * 1e9);
        while (!stopped.getAsBoolean()) {
          long wait = due - System.nanoTime();
          if (wait <= 0) {
            return;
          }
          java.util.concurrent.locks.LockSupport.parkNanos(Math.min(wait, 200_000_000L));
        }
        throw new Stopped();
      }, stopped));
    } catch (Stopped s) {
      return Optional.empty();
    }
  }

  /** The slowest a paced pass re-hashes (a small store's pass then ends sooner than asked). */
  static final double MIN_RATE = 64 * 1024;

  private VerifyReport pass(LongConsumer progress, java.util.function.BooleanSupplier stopped) {
    Index index = local.index();
    Tally t = new Tally();
    String after = null;
    while (true) {
      List<BlobRecord> page = index.blobs(after, PAGE, true);
      for (BlobRecord rec : page) {
        if (stopped.getAsBoolean()) {
          throw new Stopped();
        }
        check(rec.digest(), rec.size(), rec.inline(), t);
        progress.accept(rec.size());
      }
      if (page.size() < PAGE) {
        break;
      }
      after = page.get(page.size() - 1).digest().strongest().sri();
    }
    local.blobs().forEach(d -> {
      if (index.blob(d, false).isEmpty()) {
        check(d, -1, null, t); // a blob file the index never recorded (a writer crashed before commit)
      }
    });
    return t.report();
  }

  /** Hashes one blob ({@code size} -1: unknown) and removes it with its entries if it is not what it should be. */
  private void check(Integrity d, long size, byte[] inline, Tally t) {
    Algorithm algorithm = local.options().algorithm();
    BlobStore blobs = local.blobs();
    MessageDigest md = algorithm.newDigest();
    long n;
    boolean damaged = false;
    if (inline != null) {
      md.update(inline);
      n = inline.length;
    } else {
      Optional<InputStream> in = blobs.open(d, 0, Long.MAX_VALUE);
      if (in.isEmpty()) {
        t.missing++;
        t.entries += local.quarantine(d);
        return;
      }
      n = 0;
      byte[] buf = new byte[256 * 1024];
      try (InputStream s = in.get()) {
        int k;
        while ((k = s.read(buf)) > 0) {
          md.update(buf, 0, k);
          n += k;
        }
      } catch (ZstdSeekable.CorruptBlobException e) {
        damaged = true; // a compressed file whose format is broken
      } catch (IOException e) {
        throw Errors.io("verifying " + d, e);
      }
    }
    t.checked++;
    t.bytes += n;
    boolean ok = !damaged && MessageDigest.isEqual(md.digest(), d.hash(algorithm).orElseThrow().bytes())
        && (size < 0 || n == size);
    if (!ok) {
      t.corrupt++;
      t.entries += local.quarantine(d);
    }
  }
}
