package io.larder.bench;

import io.larder.Larder;
import io.larder.PutOptions;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Fills a store with N entries of SIZE random bytes under the keys {@code larder serve} gives the paths
 * {@code /cache/k<i>} (the key-value protocol's {@code http:/cache/k<i>}), and writes the same bytes as files
 * {@code FILES/cache/k<i>} for nginx to serve. Usage: {@code RandomFill STORE FILES N SIZE}.
 */
public final class RandomFill {
  private RandomFill() {}

  public static void main(String[] args) throws Exception {
    Path store = Path.of(args[0]);
    Path files = Files.createDirectories(Path.of(args[1], "cache"));
    int n = Integer.parseInt(args[2]);
    int size = Integer.parseInt(args[3]);
    SplittableRandom r = new SplittableRandom(n);
    byte[] b = new byte[size];
    long t0 = System.nanoTime();
    try (Larder l = Larder.open(store)) {
      for (int i = 0; i < n; i++) {
        r.nextBytes(b);
        l.put("http:/cache/k" + i, new ByteArrayInputStream(b), PutOptions.defaults().size(size));
        Files.write(files.resolve("k" + i), b);
        if (i % 100_000 == 99_999) {
          System.err.printf("%d entries, %.0f s%n", i + 1, (System.nanoTime() - t0) / 1e9);
        }
      }
    }
  }
}
