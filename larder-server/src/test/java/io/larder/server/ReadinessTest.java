package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.GcOptions;
import io.larder.Larder;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /readyz fails, with the reason, when the store's index cannot be read or its directory cannot be written. */
@Tag("slow")
class ReadinessTest {
  @TempDir Path dir;
  final HttpClient http = HttpClient.newHttpClient();

  HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Polls /readyz until it answers {@code status} (the counts that probe the index run every 5 s). */
  HttpResponse<String> readyzUntil(String base, int status) throws Exception {
    HttpResponse<String> r = get(base + "/readyz");
    for (int i = 0; i < 300 && r.statusCode() != status; i++) {
      Thread.sleep(100);
      r = get(base + "/readyz");
    }
    return r;
  }

  @Test
  void aDamagedIndexMakesTheServerNotReady() throws Exception {
    Path root = dir.resolve("store");
    try (Larder store = Larder.open(root)) {
      for (int i = 0; i < 2000; i++) {
        store.put("k" + i, ("value " + i + " ").repeat(20).getBytes());
      }
      LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0), GcOptions.defaults());
      try {
        assertThat(get(server.url() + "/readyz").statusCode()).isEqualTo(200);
        assertThat(get(server.url() + "/metrics").body()).contains("larder_store_entries 2000.0")
            .contains("process_cpu_usage").contains("# HELP larder_requests_total");
        // every page of the index but the first overwritten under the running server
        try (RandomAccessFile f = new RandomAccessFile(root.resolve("index.db").toFile(), "rw")) {
          byte[] junk = new byte[(int) f.length() - 4096];
          new Random(1).nextBytes(junk);
          f.seek(4096);
          f.write(junk);
        }
        Files.deleteIfExists(root.resolve("index.db-wal"));
        HttpResponse<String> r = readyzUntil(server.url(), 503);
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("index cannot be read");
        assertThat(get(server.url() + "/healthz").statusCode()).as("still alive").isEqualTo(200);
      } finally {
        server.close();
      }
    }
  }

  @Test
  void aStoreMountedReadOnlyMakesTheServerNotReady() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "a read-only bind mount needs root");
    Path root = dir.resolve("store");
    try (Larder store = Larder.open(root)) {
      store.put("k", "v".getBytes());
      LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0), GcOptions.defaults());
      boolean mounted = false;
      try {
        assertThat(get(server.url() + "/readyz").statusCode()).isEqualTo(200);
        mounted = run("mount", "--bind", root.toString(), root.toString()) == 0
            && run("mount", "-o", "remount,ro,bind", root.toString()) == 0;
        Assumptions.assumeTrue(mounted, "bind mounts are not allowed here");
        HttpResponse<String> r = get(server.url() + "/readyz");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("not writable");
      } finally {
        if (mounted) {
          run("umount", root.toString());
        }
        server.close();
      }
    }
  }

  static int run(String... command) throws Exception {
    return new ProcessBuilder(command).inheritIO().start().waitFor();
  }
}
