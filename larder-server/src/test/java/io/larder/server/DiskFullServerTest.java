package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.GcOptions;
import io.larder.Larder;
import io.larder.testkit.SmallDisk;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Harden #1, through the server, on a real 20 MB tmpfs (needs root to mount; skipped otherwise): a full disk
 * fails the puts that hit it with 507 and nothing else; removals and collection keep working; once space is
 * free, writes succeed again without a restart; /readyz says when writes fail.
 */
class DiskFullServerTest {
  @TempDir Path parent;
  SmallDisk disk;
  Path mount;
  HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void mountSmallFileSystem() throws Exception {
    disk = SmallDisk.mount(parent.resolve("small"), "20m");
    mount = disk.path();
  }

  @AfterEach
  void unmount() throws Exception {
    if (disk != null) {
      disk.close();
    }
  }

  int send(String url, String method, byte[] body) throws Exception {
    HttpRequest r = HttpRequest.newBuilder(URI.create(url)).method(method,
        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body)).build();
    return http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void aFullDiskFailsOnlyThePutsThatHitItAndWritesComeBackWhenSpaceIsFreed() throws Exception {
    Random random = new Random(3);
    Path ballast = mount.resolve("ballast");
    Files.write(ballast, new byte[10 << 20]); // space to free later, as an operator would
    try (Larder store = Larder.open(mount.resolve("store"));
        LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0), GcOptions.defaults()
            .grace(java.time.Duration.ZERO))) {
      String base = server.url();
      int firstFull = -1;
      for (int i = 0; i < 40 && firstFull < 0; i++) { // 1 MiB puts until the disk refuses one
        byte[] b = new byte[1 << 20];
        random.nextBytes(b);
        int status = send(base + "/cache/big/" + i, "PUT", b);
        assertThat(status).isIn(200, 507);
        if (status == 507) {
          firstFull = i;
        }
      }
      assertThat(firstFull).as("the disk filled up").isPositive();
      int smallFull = 0;
      for (int i = 0; i < 2_000 && smallFull < 5; i++) { // then 8 KB puts: the index itself cannot grow
        byte[] b = new byte[8_000];
        random.nextBytes(b);
        int status = send(base + "/cache/small/" + i, "PUT", b);
        assertThat(status).as("put %d while the disk is full", i).isIn(200, 507);
        if (status == 507) {
          smallFull++;
        }
      }
      assertThat(smallFull).isEqualTo(5);
      assertThat(send(base + "/readyz", "GET", null)).isEqualTo(503);
      assertThat(send(base + "/healthz", "GET", null)).isEqualTo(200);
      // Removals and collection work at a full disk: they are how space is freed.
      assertThat(send(base + "/cache/big/0", "DELETE", null)).isEqualTo(204);
      assertThat(send(base + "/v1/gc", "POST", null)).isEqualTo(200);
      Files.delete(ballast);
      byte[] after = new byte[8_000];
      random.nextBytes(after);
      assertThat(send(base + "/cache/after", "PUT", after)).isEqualTo(200);
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/cache/after")).build(),
          HttpResponse.BodyHandlers.ofByteArray()).body()).isEqualTo(after);
      assertThat(send(base + "/cache/big/1", "GET", null)).as("committed before the disk filled").isEqualTo(200);
      assertThat(send(base + "/readyz", "GET", null)).isEqualTo(200);
    }
  }
}
