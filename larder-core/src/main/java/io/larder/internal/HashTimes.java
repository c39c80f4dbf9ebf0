package io.larder.internal;

/**
 * A map from 64-bit key hashes to the latest time noted for each, in two primitive arrays (open addressing,
 * linear probing): pending reads cost no object per key, so keeping a quarter of a million of them until
 * they are written gives the garbage collector nothing to copy. Not thread-safe.
 */
final class HashTimes {
  private static final int INITIAL = 64;

  private long[] hashes = new long[INITIAL];
  private long[] times = new long[INITIAL];
  /** Slot {@code i} is used when {@code times[i] != EMPTY}; no real time is {@link Long#MIN_VALUE}. */
  private static final long EMPTY = Long.MIN_VALUE;

  private int size;

  HashTimes() {
    java.util.Arrays.fill(times, EMPTY);
  }

  /**
   * Notes {@code time} for {@code hash}, keeping the later of it and any time noted before.
   *
   * @return whether the hash is new to this map
   */
  boolean merge(long hash, long time) {
    int mask = hashes.length - 1;
    for (int i = slot(hash, mask); ; i = (i + 1) & mask) {
      if (times[i] == EMPTY) {
        hashes[i] = hash;
        times[i] = time == EMPTY ? EMPTY + 1 : time;
        if (++size * 2 > hashes.length) {
          grow();
        }
        return true;
      }
      if (hashes[i] == hash) {
        times[i] = Math.max(times[i], time);
        return false;
      }
    }
  }

  /** The time noted for {@code hash}; {@link Long#MIN_VALUE} if none. */
  long get(long hash) {
    int mask = hashes.length - 1;
    for (int i = slot(hash, mask); times[i] != EMPTY; i = (i + 1) & mask) {
      if (hashes[i] == hash) {
        return times[i];
      }
    }
    return EMPTY;
  }

  int size() {
    return size;
  }

  /** The hashes held, in no particular order. */
  long[] hashes() {
    long[] out = new long[size];
    int n = 0;
    for (int i = 0; i < times.length; i++) {
      if (times[i] != EMPTY) {
        out[n++] = hashes[i];
      }
    }
    return out;
  }

  private static int slot(long hash, int mask) {
    return (int) (hash ^ hash >>> 32) & mask; // the hashes are mixed already (Index.keyHash)
  }

  private void grow() {
    long[] oldHashes = hashes;
    long[] oldTimes = times;
    hashes = new long[oldHashes.length * 2];
    times = new long[oldHashes.length * 2];
    java.util.Arrays.fill(times, EMPTY);
    size = 0;
    for (int i = 0; i < oldTimes.length; i++) {
      if (oldTimes[i] != EMPTY) {
        merge(oldHashes[i], oldTimes[i]);
      }
    }
  }
}
