package io.larder.bench;

import io.larder.Larder;
import io.larder.LarderOptions;
import io.larder.Memo;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;

/**
 * The library as a metadata cache (many small records read by key) against LMDB (lmdbjava) storing the same
 * records, in one run: random {@code getBytes(key)} over all N records and hot gets over a working set of
 * 1,000 keys, with 1 and 8 threads, best of ROUNDS runs of SECONDS each, the two alternating. Larder reads
 * as the library does by default (every read verified against its digest, every other process's commits
 * seen); the same without recording access times ({@code trackAccess(false)}: what the default's batches of
 * access times cost the reads); as the server does (hot hits, handed out again while nothing was committed,
 * are not hashed again); and through a memo (stale for up to 1 s, see {@link Memo}). The readers take turns
 * on one store, two seconds apart, so that one does not measure the writing of the last batch of access times
 * of the one before. LMDB reads in a read transaction per get and
 * copies the value out, as Larder's byte array is. Beside each ratio of bests is the median of the per-round
 * ratios ({@link #pairedRatio}).
 *
 * <p>Usage: {@code IndexBench DIR N SIZE SECONDS ROUNDS}: DIR keeps the filled stores between runs
 * ({@code DIR/filled-N-SIZE}).
 */
public final class IndexBench {
  private IndexBench() {}

  static final int HOT_KEYS = 1_000;
  /** Between turns: a reader that records access times may still be writing its last batch (~1 s for 262,144 keys). */
  static final long PAUSE_MILLIS = 2_000;

  interface Reader {
    int read(String key, ByteBuffer keyBuffer);
  }

  public static void main(String[] args) throws Exception {
    Path dir = Files.createDirectories(Path.of(args[0]));
    int n = Integer.parseInt(args[1]);
    int size = Integer.parseInt(args[2]);
    int seconds = Integer.parseInt(args[3]);
    int rounds = Integer.parseInt(args[4]);
    Path store = dir.resolve("larder");
    Path lmdbDir = Files.createDirectories(dir.resolve("lmdb"));
    Path filled = dir.resolve("filled-" + n + "-" + size);
    long mapSize = Math.max(1L << 30, (long) n * (size + 256) * 2);
    try (Env<ByteBuffer> env = Env.create().setMapSize(mapSize).setMaxDbs(1).setMaxReaders(64)
        .open(lmdbDir.toFile(), EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOTLS)) {
      Dbi<ByteBuffer> dbi = env.openDbi("records", DbiFlags.MDB_CREATE);
      if (!Files.exists(filled)) {
        fill(store, env, dbi, n, size);
        Files.createFile(filled);
      }
      try (Larder verified = Larder.open(store, LarderOptions.defaults());
          Larder untracked = Larder.open(store, LarderOptions.defaults().trackAccess(false));
          Larder trusted = Larder.open(store, LarderOptions.defaults().verifyEveryRead(false));
          Larder memoized = Larder.open(store, LarderOptions.defaults().memo(new Memo(64 << 20, Duration.ofSeconds(1))));
          Larder tabled = Larder.open(store, LarderOptions.defaults().readTable(true))) {
        awaitReadTable(store);
        Reader ofLmdb = ofLmdb(env, dbi);
        Map<String, Reader> readers = new LinkedHashMap<>();
        readers.put("Larder, no access times", (key, kb) -> untracked.getBytes(key).orElseThrow().length);
        readers.put("Larder", (key, kb) -> verified.getBytes(key).orElseThrow().length);
        readers.put("Larder, trusting hot hits", (key, kb) -> trusted.getBytes(key).orElseThrow().length);
        readers.put("Larder + memo (64 MiB, 1 s)", (key, kb) -> memoized.getBytes(key).orElseThrow().length);
        readers.put("Larder + read table", (key, kb) -> tabled.getBytes(key).orElseThrow().length);
        readers.put("LMDB", ofLmdb);
        long indexBytes = verified.stats().indexBytes(); // the index and its access times, each with its log
        System.out.printf("%,d records of %,d bytes; index %,d MiB (%,.0f bytes per record), LMDB %,d MiB%n", n,
            size, indexBytes >> 20, indexBytes / (double) n, Files.size(lmdbDir.resolve("data.mdb")) >> 20);
        System.out.println("gets per second, best of " + rounds + " runs of " + seconds + " s (all runs in brackets);"
            + " ratio to LMDB in the same run");
        System.out.println("| workload | threads | " + String.join(" | ", readers.keySet()) + " |");
        System.out.println("|---|---:|" + "---:|".repeat(readers.size()));
        for (String workload : List.of("random", "hot")) {
          IntFunction<Integer> pick = workload.equals("random") ? r -> r : r -> r % HOT_KEYS;
          for (int threads : new int[] {1, 8}) {
            Map<String, List<Double>> runs = new LinkedHashMap<>();
            for (Map.Entry<String, Reader> r : readers.entrySet()) {
              run(r.getValue(), n, pick, threads, 1); // warm-up
              Thread.sleep(PAUSE_MILLIS); // a Larder may still be writing its last batch of access times
              runs.put(r.getKey(), new ArrayList<>());
            }
            for (int i = 0; i < rounds; i++) {
              for (Map.Entry<String, Reader> r : readers.entrySet()) {
                runs.get(r.getKey()).add(run(r.getValue(), n, pick, threads, seconds));
                Thread.sleep(PAUSE_MILLIS); // a Larder may still be writing its last batch of access times
              }
            }
            double lmdb = best(runs.get("LMDB"));
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s get of %s, %,d B | %d |", workload,
                workload.equals("random") ? String.format(Locale.ROOT, "%,d", n) : HOT_KEYS + " keys", size, threads));
            for (Map.Entry<String, List<Double>> r : runs.entrySet()) {
              double b = best(r.getValue());
              row.append(String.format(Locale.ROOT, " %,.0f (%s)%s |", b, list(r.getValue()),
                  r.getKey().equals("LMDB") ? "" : String.format(Locale.ROOT, " **%.2f** (paired %.2f)", b / lmdb,
                      pairedRatio(r.getValue(), runs.get("LMDB")))));
            }
            System.out.println(row);
          }
        }
      }
    }
    System.out.printf("RSS %,d MiB%n", rssMiB());
  }

  /**
   * Waits until the store's read table is built (a store opened with it builds it in the background when it
   * has none, or none that matches the index): its file is there, and no build's temporary file is.
   */
  static void awaitReadTable(Path store) throws Exception {
    Path table = store.resolve("index-read.tbl");
    long t0 = System.nanoTime();
    Thread.sleep(1_000); // a build, if one is needed, has begun
    while (!Files.exists(table) || building(store)) {
      Thread.sleep(500);
    }
    Thread.sleep(PAUSE_MILLIS); // then the building process maps it
    System.out.printf("read table %,d MiB, ready after %.0f s%n", Files.size(table) >> 20, (System.nanoTime() - t0) / 1e9);
  }

  private static boolean building(Path store) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = Files.list(store)) {
      return files.anyMatch(p -> p.getFileName().toString().startsWith("index-read.tbl.") && p.toString().endsWith(".tmp"));
    }
  }

  /** LMDB's get: a read transaction per get, the value copied out (as Larder's byte array is). */
  static Reader ofLmdb(Env<ByteBuffer> env, Dbi<ByteBuffer> dbi) {
    return (key, kb) -> {
      kb.clear();
      kb.put(key.getBytes(StandardCharsets.UTF_8)).flip();
      try (Txn<ByteBuffer> txn = env.txnRead()) {
        ByteBuffer v = dbi.get(txn, kb);
        byte[] copy = new byte[v.remaining()];
        v.get(copy);
        return copy.length;
      }
    };
  }

  static void fill(Path store, Env<ByteBuffer> env, Dbi<ByteBuffer> dbi, int n, int size) {
    SplittableRandom r = new SplittableRandom(n);
    byte[] b = new byte[size];
    ByteBuffer kb = ByteBuffer.allocateDirect(env.getMaxKeySize());
    ByteBuffer vb = ByteBuffer.allocateDirect(size);
    long t0 = System.nanoTime();
    try (Larder l = Larder.open(store)) {
      Txn<ByteBuffer> txn = env.txnWrite();
      for (int i = 0; i < n; i++) {
        r.nextBytes(b);
        String key = "k" + i;
        l.put(key, b);
        kb.clear();
        kb.put(key.getBytes(StandardCharsets.UTF_8)).flip();
        vb.clear();
        vb.put(b).flip();
        dbi.put(txn, kb, vb);
        if (i % 10_000 == 9_999) {
          txn.commit();
          txn.close();
          txn = env.txnWrite();
        }
        if (i % 100_000 == 99_999) {
          System.err.printf("%,d records, %.0f s%n", i + 1, (System.nanoTime() - t0) / 1e9);
        }
      }
      txn.commit();
      txn.close();
    }
  }

  /** Gets per second over {@code seconds}, {@code threads} threads each reading keys picked at random. */
  static double run(Reader reader, int n, IntFunction<Integer> pick, int threads, int seconds)
      throws InterruptedException {
    LongAdder done = new LongAdder();
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int seed = t;
      ts.add(Thread.ofPlatform().start(() -> {
        SplittableRandom r = new SplittableRandom(System.nanoTime() + seed);
        ByteBuffer kb = ByteBuffer.allocateDirect(511);
        long count = 0;
        while ((count & 255) != 0 || System.nanoTime() < end) {
          if (reader.read("k" + pick.apply(r.nextInt(n)), kb) <= 0) {
            throw new IllegalStateException("empty record");
          }
          count++;
        }
        done.add(count);
      }));
    }
    long t0 = System.nanoTime();
    for (Thread t : ts) {
      t.join();
    }
    return done.sum() / ((System.nanoTime() - t0) / 1e9);
  }

  /**
   * The median over rounds of a reader's rate divided by LMDB's in the same round (seconds apart): on a VM whose
   * speed drifts within a sitting, steadier than the ratio of the two bests, which may come from different
   * rounds. Printed beside it; the targets are stated on the bests.
   */
  static double pairedRatio(List<Double> xs, List<Double> lmdb) {
    double[] ratios = new double[xs.size()];
    for (int i = 0; i < ratios.length; i++) {
      ratios[i] = xs.get(i) / lmdb.get(i);
    }
    java.util.Arrays.sort(ratios);
    int m = ratios.length / 2;
    return ratios.length % 2 == 1 ? ratios[m] : (ratios[m - 1] + ratios[m]) / 2;
  }

  static double best(List<Double> xs) {
    return xs.stream().mapToDouble(x -> x).max().orElseThrow();
  }

  static String list(List<Double> xs) {
    StringBuilder s = new StringBuilder();
    for (double x : xs) {
      s.append(s.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.0fk", x / 1000));
    }
    return s.toString();
  }

  static long rssMiB() throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) >> 10;
      }
    }
    return -1;
  }
}
