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

  /** {@code n} bytes of text like source code: compresses several times over, but not trivially. */
  public static byte[] text(int n, long seed) {
    java.util.Random r = new java.util.Random(seed);
    String[] words = {"int", "return", "final", "value", "compute", "String", "this", "for", "if", "null", "new"};
    StringBuilder sb = new StringBuilder(n + 100);
    while (sb.length() < n) {
      sb.append("    ").append(words[r.nextInt(words.length)]).append(' ').append(words[r.nextInt(words.length)])
          .append(r.nextInt(1000)).append(" = ").append(words[r.nextInt(words.length)]).append('(')
          .append(r.nextInt(100_000)).append(", \"").append(Long.toHexString(r.nextLong() & 0xffff)).append("\");\n");
    }
    return java.util.Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), n);
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
