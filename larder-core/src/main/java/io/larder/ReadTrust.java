package io.larder;

import io.larder.spi.BlobStore;
import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this process has verified, so that it need not hash it again (see
 * {@link LarderOptions#verifyEveryRead()}): blob files verified whole since they last changed (remembered
 * by their file's stamp: size, times, inode), and inline content verified in memory (remembered by the very
 * array, weakly, so that trust never keeps content alive that the index has let go). Bounded: forgetting
 * only costs a re-check on the next read.
 *
 * <p>Changes of trust in one digest are serialised by {@link #lock(Integrity)}: a put's check-and-touch of
 * stored content and another put's new stamp must not interleave.
 */
final class ReadTrust {
  /** How many verified blobs (and, apart, inline contents) are remembered: about 20 MB at most. */
  private static final int MAX_REMEMBERED = 65_536;
  /**
   * Every this many reads of a trusted file, the read is verified anyway: a change below the file system
   * (bit rot, a bad disk block) leaves the file's stamp as it was, and is then caught within this many reads
   * of that blob instead of at the next scrub. Measured in BENCHMARKS.md ("Spot checks of trusted files").
   */
  static final int SPOT_CHECK_EVERY = 64;

  /** A verified file: its stamp then, and the reads served on that trust since. */
  private record Trusted(Object stamp, java.util.concurrent.atomic.AtomicInteger reads) {}

  private final BlobStore blobs;
  private final ConcurrentHashMap<Integrity, Trusted> files = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integrity, WeakReference<byte[]>> inline = new ConcurrentHashMap<>();
  private final Object[] locks = new Object[64];

  ReadTrust(BlobStore blobs) {
    this.blobs = blobs;
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new Object();
    }
  }

  /** The lock that serialises changes of trust in {@code d}. */
  Object lock(Integrity d) {
    return locks[(d.hashCode() & 0x7fffffff) % locks.length];
  }

  /** Trusts the blob file of {@code d} as it is now (its bytes were just hashed as they were written). */
  void trustFileNow(Integrity d) {
    synchronized (lock(d)) {
      blobs.stamp(d).ifPresent(s -> trustFile(d, s));
    }
  }

  /** Trusts the blob file of {@code d} while its stamp is {@code stamp} (read before it was verified). */
  void trustFile(Integrity d, Object stamp) {
    if (files.size() >= MAX_REMEMBERED) {
      files.clear();
    }
    files.put(d, new Trusted(stamp, new java.util.concurrent.atomic.AtomicInteger()));
  }

  /**
   * Whether a read of the blob file of {@code d} may be served without verifying it: it is trusted, and
   * this is not one of the reads spot-checked (every {@value #SPOT_CHECK_EVERY}th of that blob). A read
   * refused here is verified as an untrusted one is, and trusts the file again when it matches.
   */
  boolean mayReadUnverified(Integrity d) {
    Trusted was = files.get(d);
    return was != null && was.stamp().equals(blobs.stamp(d).orElse(null))
        && was.reads().incrementAndGet() % SPOT_CHECK_EVERY != 0;
  }

  /**
   * Refreshes the time of the trusted, unchanged blob file of {@code d} (so that a collection keeps it),
   * in one step with the check; returns false, touching nothing, if it is not trusted or not there.
   */
  boolean touchIfTrusted(Integrity d) {
    // One check-and-touch at a time per digest: concurrent uploads of the same content (CI runners storing
    // the same outputs) otherwise each saw the stamp the other's touch had just moved, and took the slow
    // path — a whole rewrite — most of the time (found by profiling PUTs of one blob on two connections).
    synchronized (lock(d)) {
      Trusted was = files.get(d);
      if (was == null || !was.stamp().equals(blobs.stamp(d).orElse(null)) || !blobs.touch(d)) {
        return false;
      }
      // the touch moved only the file's times, which this process just set: the file is still the one verified
      blobs.stamp(d).ifPresent(s -> trustFile(d, s));
      return true;
    }
  }

  /** Trusts {@code bytes}, this very array, as the verified content of {@code d}. */
  void trustInline(Integrity d, byte[] bytes) {
    if (inline.size() >= MAX_REMEMBERED) {
      inline.clear();
    }
    inline.put(d, new WeakReference<>(bytes));
  }

  /**
   * Whether {@code bytes} is the very array (not merely equal bytes) verified against {@code d}. The index
   * hands out one array per hot hit as long as nothing is committed anywhere; a fresh read from the database
   * is a new array and is hashed. Nothing writes into these arrays: {@link Content} only reads them.
   */
  boolean isInlineTrusted(Integrity d, byte[] bytes) {
    WeakReference<byte[]> w = inline.get(d);
    return w != null && w.get() == bytes;
  }

  /** Forgets what was verified of {@code d} (it is being removed, or found bad). */
  void forget(Integrity d) {
    files.remove(d);
    inline.remove(d);
  }
}
