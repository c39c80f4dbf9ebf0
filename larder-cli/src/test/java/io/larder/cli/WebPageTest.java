package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web page of {@code larder serve}, in headless Chromium (Debian's chromium, driven by npm's
 * playwright-core, both installed by .ci/run), with credentials on: it loads with no console error and shows
 * its landmarks; an entry put through the API is found by prefix, its detail shown, and deleted from the page.
 */
@Tag("slow")
class WebPageTest {
  @TempDir Path dir;

  @Test
  void thePageShowsTheStoreFindsAnEntryByPrefixAndDeletesIt() throws Exception {
    String npm = System.getenv("LARDER_CI_NPM");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/chromium")), "chromium is installed by .ci/run");
    Assumptions.assumeTrue(npm != null && Files.isDirectory(Path.of(npm, "node_modules", "playwright-core")),
        "playwright-core is installed by .ci/run (npm, LARDER_CI_NPM)");
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "basic admin:web-secret-1 rw\n");
    try (ServeProcess server = ServeProcess.start(dir.resolve("store"), Map.of(), "--no-access-log", "--auth-file",
        auth.toString())) {
      String basic = "Basic " + Base64.getEncoder().encodeToString("admin:web-secret-1".getBytes(StandardCharsets.UTF_8));
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(server.url + "/v1/entries/web:hello.txt"))
          .header("Authorization", basic).header("X-Larder-Metadata", "{\"from\":\"the web page test\"}")
          .PUT(HttpRequest.BodyPublishers.ofString("hello, page")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(put.statusCode()).isEqualTo(201);
      // the page shows the store's counts, taken in the background every 5 s: wait until they include it
      for (int i = 0; i < 100; i++) {
        String status = http.send(HttpRequest.newBuilder(URI.create(server.url + "/status")).header("Authorization", basic)
            .build(), HttpResponse.BodyHandlers.ofString()).body();
        if (new ObjectMapper().readTree(status).path("store").path("entries").asLong() == 1) {
          break;
        }
        Thread.sleep(100);
      }
      // without credentials the page is not served either
      assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url + "/")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(401);

      Path shot = dir.resolve("page.png");
      Path script = Path.of("src/test/node/webpage.mjs").toAbsolutePath();
      ProcessBuilder pb = new ProcessBuilder("node", script.toString(), server.url, "admin", "web-secret-1",
          shot.toString(), "web:hello.txt").redirectError(ProcessBuilder.Redirect.INHERIT);
      pb.environment().put("LARDER_CI_NPM", npm);
      Process node = pb.start();
      String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(node.waitFor(120, TimeUnit.SECONDS)).isTrue();
      JsonNode r = new ObjectMapper().readTree(out);
      assertThat(r.path("failure").isMissingNode()).as(out).isTrue();
      assertThat(r.get("consoleErrors")).as(out).isEmpty();
      r.get("landmarks").forEach(visible -> assertThat(visible.asBoolean()).as(out).isTrue());
      assertThat(r.get("title").asText()).isEqualTo("Larder");
      assertThat(r.get("version").asText()).startsWith("version ");
      assertThat(r.get("entriesCount").asText()).isEqualTo("1");
      assertThat(r.get("found").asBoolean()).isTrue();
      assertThat(r.get("detail").asText()).contains("sha256-").contains("the web page test").contains("11 bytes");
      assertThat(r.get("deleted").asBoolean()).isTrue();
      assertThat(r.get("verifyOutput").asText()).contains("verify done").contains("\"clean\":true")
          .contains("\"blobsChecked\":1");
      assertThat(r.get("progressFull").asBoolean()).isTrue();
      assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url + "/v1/entries/web:hello.txt"))
          .header("Authorization", basic).build(), HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(404);

      // The screenshot: a PNG of the whole page at the viewport's width.
      byte[] png = Files.readAllBytes(shot);
      assertThat(png).startsWith(new byte[] {(byte) 0x89, 'P', 'N', 'G'});
      int width = ByteBuffer.wrap(png, 16, 4).getInt();
      int height = ByteBuffer.wrap(png, 20, 4).getInt();
      assertThat(width).isEqualTo(1280);
      assertThat(height).isGreaterThanOrEqualTo(900);
      assertThat(png.length).isGreaterThan(20_000);
      Files.copy(shot, Path.of("target", "web-page.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
