package io.larder.bench;

import io.larder.GcOptions;
import io.larder.Larder;
import io.larder.LarderOptions;
import io.larder.server.LarderServer;
import io.larder.server.ServerOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What keeping max-size as content arrives costs uploads: PUTs of distinct 1 MiB blobs from 8 clients to a
 * server whose bound makes it evict all the time (max-size 256 MiB) and to one with no bound, rounds
 * alternating, same run. Usage: BoundBench [ROUNDS] [SECONDS]
 */
public final class BoundBench {
  private BoundBench() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    long max = 256L << 20;
    Path work = Files.createTempDirectory("bound-bench");
    AtomicLong unique = new AtomicLong();
    double bestBound = 0;
    double bestFree = 0;
    for (int r = 1; r <= rounds; r++) {
      for (boolean bounded : new boolean[] {false, true}) {
        Path root = work.resolve((bounded ? "bounded-" : "free-") + r);
        try (Larder store = Larder.open(root, LarderOptions.defaults().verifyEveryRead(false))) {
          GcOptions gc = bounded ? GcOptions.defaults().maxSize(max).keepPerGroup(0) : GcOptions.defaults();
          LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0), gc);
          try {
            double mbs = run(server.url(), seconds, unique);
            long du = du(root);
            System.out.printf("round %d %-10s %7.1f MB/s   store on disk after: %s MiB%n", r,
                bounded ? "max-size" : "no bound", mbs, du >> 20);
            if (bounded) {
              bestBound = Math.max(bestBound, mbs);
            } else {
              bestFree = Math.max(bestFree, mbs);
            }
          } finally {
            server.close();
          }
        }
        deleteTree(root);
      }
    }
    System.out.printf("best of %d: with max-size %.1f MB/s, without %.1f MB/s: ratio %.2f%n", rounds, bestBound, bestFree,
        bestBound / bestFree);
    deleteTree(work);
  }

  /** MB/s of distinct 1 MiB PUTs from 8 clients for {@code seconds}. */
  static double run(String url, int seconds, AtomicLong unique) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    byte[] base = new byte[1 << 20];
    new SplittableRandom(1).nextBytes(base);
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    AtomicLong bytes = new AtomicLong();
    ExecutorService clients = Executors.newFixedThreadPool(8);
    List<Future<?>> done = new ArrayList<>();
    long start = System.nanoTime();
    for (int c = 0; c < 8; c++) {
      done.add(clients.submit(() -> {
        byte[] body = base.clone();
        while (System.nanoTime() < end) {
          long n = unique.incrementAndGet();
          ByteBuffer.wrap(body).putLong(0, n); // distinct content each time
          HttpResponse<Void> resp = http.send(HttpRequest.newBuilder(URI.create(url + "/cache/b" + n))
              .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.discarding());
          if (resp.statusCode() != 200) {
            throw new IllegalStateException("PUT answered " + resp.statusCode());
          }
          bytes.addAndGet(body.length);
        }
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    clients.shutdown();
    return bytes.get() / 1e6 / ((System.nanoTime() - start) / 1e9);
  }

  static long du(Path root) throws Exception {
    Process p = new ProcessBuilder("du", "-s", "-B1", root.toString()).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    return Long.parseLong(out.trim().split("\\s+")[0]);
  }

  static void deleteTree(Path p) throws Exception {
    try (var s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
