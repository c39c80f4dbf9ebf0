package io.larder.bench;

import io.larder.Algorithm;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderOptions;
import io.larder.TierOptions;
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
      measure(proxy, dir, Math.max(50, nSmall / 2), Math.max(10, nLarge / 2), false); // warm-up: JIT, connections
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
        // Interleaved: each Larder operation is followed by the same raw SDK operation, so both see the same
        // moment of this noisy VM. Larder's background local copy (after a put or an S3-tier hit) is waited
        // for, untimed, before the raw operation, so that it is not charged to the peer (nor to Larder's
        // acknowledgement, which does not wait for it; its cost shows in the local rows below).
        String prefix = "tier" + round + "-" + size;
        String rawPrefix = "raw" + round + "/" + size + "/";
        long put = 0;
        long rawPut = 0;
        long localGet = 0;
        long tierGet = 0;
        long miss = 0;
        long rawGet = 0;
        long tierStore = 0;
        long tierLookup = 0;
        long putAll = 0;
        long rawMiss = 0;
        long tierGetAll = 0;
        try (S3Client raw = proxy.client();
            Larder a = Larder.open(dir.resolve("a" + round + "-" + size), LarderOptions.defaults().verifyEveryRead(false),
                new S3Tier(proxy.config("bench", prefix), dir.resolve("spool-a")));
            Larder b = Larder.open(dir.resolve("b" + round + "-" + size), LarderOptions.defaults().verifyEveryRead(false),
                new S3Tier(proxy.config("bench", prefix), dir.resolve("spool-b")));
            S3Tier alone = new S3Tier(proxy.config("bench", "alone" + round + "-" + size), dir.resolve("spool-t"))) {
          java.time.Instant now = java.time.Instant.now();
          for (int i = 0; i < n; i++) {
            int k = i;
            byte[] d = data[i];
            Entry entry = new Entry("k" + i,
                Integrity.compute(Algorithm.SHA256, d), size, now, now, null, null);
            long t0 = System.nanoTime();
            a.put("k" + i, d);
            long t1 = System.nanoTime();
            a.info("k" + i); // waits for the local copy (untimed)
            long t2 = System.nanoTime();
            raw.putObject(o -> o.bucket("bench").key(rawPrefix + k), RequestBody.fromBytes(d));
            long t3 = System.nanoTime();
            alone.store(entry, () -> new java.io.ByteArrayInputStream(d));
            long t4 = System.nanoTime();
            put += t1 - t0;
            putAll += t2 - t0;
            rawPut += t3 - t2;
            tierStore += t4 - t3;
          }
          for (int i = 0; i < n; i++) {
            int k = i;
            long t0 = System.nanoTime();
            b.getBytes("k" + i).orElseThrow();
            long t1 = System.nanoTime();
            b.info("k" + i); // waits for the local copy (untimed)
            long t2 = System.nanoTime();
            raw.getObjectAsBytes(o -> o.bucket("bench").key(rawPrefix + k));
            long t3 = System.nanoTime();
            alone.lookup("k" + i, true).orElseThrow();
            long t4 = System.nanoTime();
            a.getBytes("k" + i).orElseThrow();
            long t5 = System.nanoTime();
            if (b.getBytes("absent" + i).isPresent()) {
              throw new AssertionError("a miss was a hit");
            }
            long t6 = System.nanoTime();
            try {
              raw.getObjectAsBytes(o -> o.bucket("bench").key(rawPrefix + "absent" + k));
              throw new AssertionError("a miss was a hit");
            } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException expected) {
              // the raw client's miss
            }
            long t7 = System.nanoTime();
            rawMiss += t7 - t6;
            tierGet += t1 - t0;
            tierGetAll += t2 - t0;
            rawGet += t3 - t2;
            tierLookup += t4 - t3;
            localGet += t5 - t4;
            miss += t6 - t5;
          }
        }
        if (print) {
          row("PUT " + what + " write-through, until acknowledged", put, rawPut, n);
          row("PUT " + what + " write-through, until the local copy is written too", putAll, rawPut, n);
          row("GET " + what + ", local-tier hit", localGet, rawGet, n);
          row("GET " + what + ", S3-tier hit (verified), until served", tierGet, rawGet, n);
          row("GET " + what + ", S3-tier hit, until the local copy is written too", tierGetAll, rawGet, n);
          row("GET " + what + ", miss (local, then the entry object; peer: a GET that is a 404)", miss, rawMiss, n);
          row("(PUT " + what + ": S3Tier.store alone: no local store, no hashing)", tierStore, rawPut, n);
          row("(GET " + what + ": S3Tier.lookup alone: unverified)", tierLookup, rawGet, n);
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
        TierOptions.defaults().writeBehind(true))) {
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

  private static void row(String what, long nanos, long rawNanos, int n) {
    row(what, nanos / 1e6 / n, rawNanos / 1e6 / n);
  }

  private static void row(String what, double ms, double rawMs) {
    System.out.printf(Locale.ROOT, "| %s | %.2f ms | %.2f ms | %.2f |%n", what, ms, rawMs, ms / rawMs);
  }
}
