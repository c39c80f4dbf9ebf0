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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The web page's cost to the server on a large store: the requests one load of the page makes (the page,
 * its two files, /status, /v1/history, the first 50 entries), timed from the client on loopback, best of
 * ROUNDS, on a store of N small entries (filled once; LARDER_BENCH_DIR keeps it between runs).
 * Usage: PageBench [N] [ROUNDS]
 */
public final class PageBench {
  private PageBench() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    String keep = System.getenv("LARDER_BENCH_DIR");
    Path root = keep != null ? Path.of(keep, "page-" + n) : Files.createTempDirectory("page-bench");
    try (Larder store = Larder.open(root, LarderOptions.defaults().verifyEveryRead(false))) {
      long have = store.stats().entries();
      if (have < n) {
        long t0 = System.nanoTime();
        byte[] value = new byte[100];
        for (long i = have; i < n; i++) {
          java.nio.ByteBuffer.wrap(value).putLong(0, i);
          store.put(String.format("bench:%s:%08d", i % 7 == 0 ? "gradle" : "bazel", i), value);
        }
        System.out.printf("filled %,d entries in %.0f s%n", n - have, (System.nanoTime() - t0) / 1e9);
      }
      System.out.printf("store: %,d entries, index %,d MiB%n", store.stats().entries(), store.stats().indexBytes() >> 20);
      LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null), GcOptions.defaults());
      try {
        HttpClient http = HttpClient.newHttpClient();
        List<String> paths = List.of("/", "/ui/app.js", "/ui/app.css", "/status", "/v1/history", "/v1/entries?limit=50&prefix=");
        double best = Double.MAX_VALUE;
        for (int r = 0; r < rounds; r++) {
          StringBuilder line = new StringBuilder();
          double total = 0;
          for (String p : paths) {
            long t0 = System.nanoTime();
            HttpResponse<byte[]> resp = http.send(HttpRequest.newBuilder(URI.create(server.url() + p)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            double ms = (System.nanoTime() - t0) / 1e6;
            if (resp.statusCode() != 200) {
              throw new IllegalStateException(p + " answered " + resp.statusCode());
            }
            total += ms;
            line.append(String.format("%s %.1f ms  ", p, ms));
          }
          System.out.printf("round %d: %.1f ms in all: %s%n", r + 1, total, line);
          best = Math.min(best, total);
        }
        System.out.printf("one load of the page, best of %d: %.1f ms (target < 200 ms at 1M entries)%n", rounds, best);
      } finally {
        server.close();
      }
    }
  }
}
