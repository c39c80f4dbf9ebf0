package io.larder.bench;

import io.larder.Larder;
import io.larder.LarderOptions;
import io.larder.s3.S3Proxy;
import io.larder.s3.S3Tier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The S3 tier through s3proxy on loopback against the plain AWS SDK in the same run: PUT and GET of 4 KiB
 * and 1 MiB objects; for GET, a local-tier hit, an S3-tier hit (a fresh node) and a miss. Usage:
 * {@code S3Bench S3PROXY_JAR [N_SMALL] [N_LARGE]}.
 */
public final class S3Bench {
  private S3Bench() {}

  public static void main(String[] args) throws Exception {
    System.setProperty("s3proxy.jar", args[0]);
    int nSmall = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
    int nLarge = args.length > 2 ? Integer.parseInt(args[2]) : 200;
    Path dir = Files.createTempDirectory("larder-s3-bench");
    try (S3Proxy proxy = S3Proxy.start(dir)) {
      proxy.createBucket("bench");
      measure(proxy, dir, Math.max(50, nSmall / 10), Math.max(10, nLarge / 10), false); // warm-up: JIT, connections
      measure(proxy, dir, nSmall, nLarge, true);
    }
    Bench.deleteTree(dir);
  }

  private static int round;

  private static void measure(S3Proxy proxy, Path dir, int nSmall, int nLarge, boolean print) throws Exception {
    round++;
    {
      if (print) {
        System.out.println("| workload | Larder S3 tier | AWS SDK alone, same run | ratio (time) |");
        System.out.println("|---|---:|---:|---:|");
      }
      for (int size : new int[] {4096, 1 << 20}) {
        int n = size == 4096 ? nSmall : nLarge;
        String what = size == 4096 ? "4 KiB" : "1 MiB";
        byte[][] data = new byte[n][];
        SplittableRandom r = new SplittableRandom(size);
        for (int i = 0; i < n; i++) {
          data[i] = new byte[size];
          r.nextBytes(data[i]);
        }
        try (S3Client raw = proxy.client()) {
          raw.getObjectAsBytes(b -> b.bucket("bench").key("warm")); // warm-up (a miss)
        } catch (Exception ignored) {
          // expected
        }
        double rawPut;
        double rawGet;
        try (S3Client raw = proxy.client()) {
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            int k = i;
            raw.putObject(b -> b.bucket("bench").key("raw" + round + "/" + size + "/" + k), RequestBody.fromBytes(data[k]));
          }
          rawPut = (System.nanoTime() - t0) / 1e6 / n;
          t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            int k = i;
            raw.getObjectAsBytes(b -> b.bucket("bench").key("raw" + round + "/" + size + "/" + k));
          }
          rawGet = (System.nanoTime() - t0) / 1e6 / n;
        }
        String prefix = "tier" + round + "-" + size;
        double put;
        double localGet;
        try (Larder a = Larder.open(dir.resolve("a" + round + "-" + size), LarderOptions.defaults().verifyEveryRead(false),
            new S3Tier(proxy.config("bench", prefix), dir.resolve("spool-a")))) {
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            a.put("k" + i, data[i]);
          }
          put = (System.nanoTime() - t0) / 1e6 / n;
          t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            a.getBytes("k" + i).orElseThrow();
          }
          localGet = (System.nanoTime() - t0) / 1e6 / n;
        }
        double tierGet;
        double miss;
        try (Larder b = Larder.open(dir.resolve("b" + round + "-" + size), LarderOptions.defaults().verifyEveryRead(false),
            new S3Tier(proxy.config("bench", prefix), dir.resolve("spool-b")))) {
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            b.getBytes("k" + i).orElseThrow();
          }
          tierGet = (System.nanoTime() - t0) / 1e6 / n;
          t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            if (b.getBytes("absent" + i).isPresent()) {
              throw new AssertionError("a miss was a hit");
            }
          }
          miss = (System.nanoTime() - t0) / 1e6 / n;
        }
        if (print) {
          row("PUT " + what + " (write-through: local + blob + entry)", put, rawPut);
          row("GET " + what + ", local-tier hit", localGet, rawGet);
          row("GET " + what + ", S3-tier hit (entry + blob, verified, kept locally)", tierGet, rawGet);
          row("GET " + what + ", miss (local, then the entry object)", miss, rawGet);
        }
      }
    }
    writeBehindAndRanges(proxy, dir, nLarge, print);
  }

  /** Write-behind puts (acknowledged, then drained) and range reads that miss locally. */
  private static void writeBehindAndRanges(S3Proxy proxy, Path dir, int n, boolean print) throws Exception {
    byte[][] data = new byte[n][];
    SplittableRandom r = new SplittableRandom(77);
    for (int i = 0; i < n; i++) {
      data[i] = new byte[1 << 20];
      r.nextBytes(data[i]);
    }
    String prefix = "behind" + round;
    double ack;
    double drained;
    double through;
    try (Larder a = Larder.open(dir.resolve("wb" + round), LarderOptions.defaults(),
        new S3Tier(proxy.config("bench", prefix), dir.resolve("spool-wb")),
        io.larder.TierOptions.defaults().writeBehind(true))) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        a.put("k" + i, data[i]);
      }
      ack = (System.nanoTime() - t0) / 1e6 / n;
      if (!a.awaitTierWrites(java.time.Duration.ofMinutes(10))) {
        throw new AssertionError("the queue did not drain");
      }
      drained = (System.nanoTime() - t0) / 1e6 / n;
    }
    try (Larder a = Larder.open(dir.resolve("wt" + round), LarderOptions.defaults(),
        new S3Tier(proxy.config("bench", prefix + "t"), dir.resolve("spool-wt")))) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        a.put("k" + i, data[i]);
      }
      through = (System.nanoTime() - t0) / 1e6 / n;
    }
    double rawPut;
    try (S3Client raw = proxy.client()) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        int k = i;
        raw.putObject(b -> b.bucket("bench").key(prefix + "raw/" + k), RequestBody.fromBytes(data[k]));
      }
      rawPut = (System.nanoTime() - t0) / 1e6 / n;
    }
    // ranges: 64 KiB at random places in a 64 MiB blob, from a node that does not have it
    int big = 64 << 20;
    int range = 64 << 10;
    byte[] blob = new byte[big];
    r.nextBytes(blob);
    int reads = Math.max(20, n);
    long[] offsets = new long[reads];
    for (int i = 0; i < reads; i++) {
      offsets[i] = r.nextLong(big - range);
    }
    double tierRange;
    double rawRange;
    double whole;
    try (Larder a = Larder.open(dir.resolve("ra" + round), LarderOptions.defaults(),
        new S3Tier(proxy.config("bench", prefix + "r"), dir.resolve("spool-ra")));
        Larder b = Larder.open(dir.resolve("rb" + round), LarderOptions.defaults(),
            new S3Tier(proxy.config("bench", prefix + "r"), dir.resolve("spool-rb")));
        S3Client raw = proxy.client()) {
      a.put("big", blob);
      String objectKey = new S3Tier(proxy.config("bench", prefix + "r"), dir.resolve("spool-x")).blobs()
          .objectKey(a.info("big").orElseThrow().integrity());
      long t0 = System.nanoTime();
      for (long off : offsets) {
        b.getRange("big", off, range).orElseThrow().readAllBytes();
      }
      tierRange = (System.nanoTime() - t0) / 1e6 / reads;
      t0 = System.nanoTime();
      for (long off : offsets) {
        raw.getObjectAsBytes(g -> g.bucket("bench").key(objectKey).range("bytes=" + off + "-" + (off + range - 1)));
      }
      rawRange = (System.nanoTime() - t0) / 1e6 / reads;
      if (b.stats().entries() != 0) {
        throw new AssertionError("a range read fetched the whole blob");
      }
      t0 = System.nanoTime();
      b.getBytes("big").orElseThrow(); // what a range miss cost before: the whole blob, fetched and kept
      whole = (System.nanoTime() - t0) / 1e6;
    }
    if (print) {
      System.out.println();
      System.out.println("| workload | Larder S3 tier | peer, same run | ratio (time) |");
      System.out.println("|---|---:|---:|---:|");
      row("PUT 1 MiB write-behind, until acknowledged (peer: SDK PUT)", ack, rawPut);
      row("PUT 1 MiB write-behind, until drained to S3 (peer: write-through)", drained, through);
      row("GET 64 KiB range of a 64 MiB blob, local miss (peer: SDK ranged GET)", tierRange, rawRange);
      row("GET 64 KiB range, local miss (peer: fetching the whole blob)", tierRange, whole);
    }
  }

  private static void row(String what, double ms, double rawMs) {
    System.out.printf(Locale.ROOT, "| %s | %.2f ms | %.2f ms | %.2f |%n", what, ms, rawMs, ms / rawMs);
  }
}
