package io.larder.bench;

import io.larder.Larder;
import io.larder.PutOptions;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Fills a store with N entries of random bytes under the keys {@code larder serve} gives the paths
 * {@code /cache/k<i>} (the key-value protocol's {@code http:/cache/k<i>}), and writes the same bytes as files
 * {@code FILES/cache/k<i>} for nginx to serve. SIZE is a number of bytes, or {@code pareto}: sizes from 1 KiB
 * to 4 MiB drawn from a Pareto distribution (shape 1.1, scale 1 KiB, cut at 4 MiB) — most entries a few KiB,
 * a few of MiBs, as in a build cache. The sizes depend only on N, so two fills of one N hold the same
 * sizes. Usage: {@code RandomFill STORE FILES N SIZE|pareto}.
 */
public final class RandomFill {
  private RandomFill() {}

  static final int PARETO_MIN = 1024;
  static final int PARETO_MAX = 4 * 1024 * 1024;
  static final double PARETO_SHAPE = 1.1;

  /** The size of entry {@code i}: fixed, or drawn from the Pareto mix. */
  static int size(String spec, SplittableRandom sizes) {
    if (!spec.equals("pareto")) {
      return Integer.parseInt(spec);
    }
    double u = 1.0 - sizes.nextDouble(); // (0, 1]
    double x = PARETO_MIN / Math.pow(u, 1.0 / PARETO_SHAPE);
    return (int) Math.min(PARETO_MAX, Math.round(x));
  }

  public static void main(String[] args) throws Exception {
    Path store = Path.of(args[0]);
    Path files = Files.createDirectories(Path.of(args[1], "cache"));
    int n = Integer.parseInt(args[2]);
    String spec = args[3];
    SplittableRandom r = new SplittableRandom(n);
    SplittableRandom sizes = new SplittableRandom(n + 1L);
    byte[] b = new byte[spec.equals("pareto") ? PARETO_MAX : Integer.parseInt(spec)];
    long t0 = System.nanoTime();
    long total = 0;
    try (Larder l = Larder.open(store)) {
      for (int i = 0; i < n; i++) {
        int size = size(spec, sizes);
        byte[] e = size == b.length ? b : new byte[size];
        r.nextBytes(e);
        l.put("http:/cache/k" + i, new ByteArrayInputStream(e), PutOptions.defaults().size(size));
        Files.write(files.resolve("k" + i), e);
        total += size;
        if (i % 100_000 == 99_999) {
          System.err.printf("%d entries, %.0f s%n", i + 1, (System.nanoTime() - t0) / 1e9);
        }
      }
    }
    System.err.printf("%d entries, %,d bytes of content (mean %,d bytes)%n", n, total, total / Math.max(1, n));
  }
}
