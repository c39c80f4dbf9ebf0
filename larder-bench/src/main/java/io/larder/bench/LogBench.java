package io.larder.bench;

import io.larder.Larder;
import io.larder.LarderOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * What the read table's change log costs a write: puts of small entries into a fresh store opened without and
 * with the read table (whose triggers log every write's key), alternating in one sitting.
 *
 * <pre>larder-bench/log-bench [N] [SIZE] [ROUNDS]   (defaults 20000 1024 3)</pre>
 */
public final class LogBench {
  private LogBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createDirectories(Path.of(args[0]));
    int n = Integer.parseInt(args[1]);
    int size = Integer.parseInt(args[2]);
    int rounds = Integer.parseInt(args[3]);
    List<Double> plain = new ArrayList<>();
    List<Double> logged = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      plain.add(puts(dir.resolve("plain-" + r), LarderOptions.defaults(), n, size));
      logged.add(puts(dir.resolve("logged-" + r), LarderOptions.defaults().readTable(true), n, size));
    }
    System.out.printf(Locale.ROOT, "%,d puts of %,d B, one thread, puts per second (rounds):%n", n, size);
    System.out.printf(Locale.ROOT, "| without the read table | %s |%n| with it (the change log) | %s |%n",
        IndexBench.list(plain), IndexBench.list(logged));
    double best = plain.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    double bestLogged = logged.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    System.out.printf(Locale.ROOT, "ratio of bests %.2f%n", bestLogged / best);
  }

  private static double puts(Path store, LarderOptions options, int n, int size) throws Exception {
    SplittableRandom random = new SplittableRandom(n);
    byte[] b = new byte[size];
    try (Larder l = Larder.open(store, options)) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        random.nextBytes(b);
        l.put("k" + i, b);
      }
      return n / ((System.nanoTime() - t0) / 1e9);
    }
  }
}
