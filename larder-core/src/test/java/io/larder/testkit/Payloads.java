package io.larder.testkit;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Deterministic content for a key, so that any process can check what any other process wrote. */
public final class Payloads {
  private Payloads() {}

  /** {@code n} pseudo-random bytes, the same for the same seed. */
  public static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new java.util.Random(seed).nextBytes(b);
    return b;
  }

  /** Bytes derived from {@code key}; sizes vary from 0 to about {@code maxSize} so both inline and file blobs occur. */
  public static byte[] forKey(String key, int maxSize) {
    SplittableRandom r = new SplittableRandom(key.hashCode() * 31L + key.length());
    int size = r.nextInt(10) == 0 ? 0 : r.nextInt(maxSize + 1);
    byte[] prefix = key.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[Math.max(size, prefix.length)];
    System.arraycopy(prefix, 0, out, 0, prefix.length);
    for (int i = prefix.length; i < out.length; i++) {
      out[i] = (byte) r.nextInt(256);
    }
    return out;
  }
}
