package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `larder serve` as users run it, spoken to by the clients they use: curl and ccache. */
class ServeClientsTest {
  @TempDir Path dir;
  ServeProcess server;
  String url;

  @BeforeEach
  void start() throws Exception {
    start("--max-blob-size", "1M");
  }

  void start(String... extra) throws Exception {
    server = ServeProcess.start(dir.resolve("store"), Map.of(), extra);
    url = server.url;
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  record Run(int code, String out, String err) {}

  static Run run(Path cwd, Map<String, String> env, List<String> cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    byte[] err = new byte[0];
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    err = p.getErrorStream().readAllBytes();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out, new String(err, StandardCharsets.UTF_8));
  }

  Run curl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS"));
    cmd.addAll(List.of(args));
    return run(dir, Map.of(), cmd);
  }

  @Test
  void scheduledCollectionsLogALineAndCountEvictions() throws Exception {
    server.close();
    start("--set", "gc-interval=1s", "--set", "default-ttl=1s");
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary", "x",
        url + "/cache/short-lived").out()).isEqualTo("200");
    for (int i = 0; i < 200 && !server.stderr().contains("1 expired"); i++) {
      Thread.sleep(50); // until a scheduled collection has run after the entry expired
    }
    assertThat(server.stderr()).contains("larder: collection: ").contains("1 expired");
    assertThat(curl(url + "/metrics").out()).contains("larder_evictions_total 1.0");
  }

  @Test
  void curlPutsGetsRangesAndIsRefusedWhatIsTooLarge() throws Exception {
    Path file = dir.resolve("data.bin");
    byte[] data = new byte[300_000];
    new java.util.Random(1).nextBytes(data);
    Files.write(file, data);
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", "-T", file.toString(), url + "/cache/k1").out()).isEqualTo("200");
    assertThat(curl("-o", dir.resolve("back").toString(), "-w", "%{http_code}", url + "/cache/k1").out()).isEqualTo("200");
    assertThat(Files.readAllBytes(dir.resolve("back"))).isEqualTo(data);
    Run range = curl("-o", dir.resolve("part").toString(), "-w", "%{http_code}", "-r", "100-199", url + "/cache/k1");
    assertThat(range.out()).isEqualTo("206");
    assertThat(Files.readAllBytes(dir.resolve("part"))).isEqualTo(java.util.Arrays.copyOfRange(data, 100, 200));
    String etag = curl("-I", url + "/cache/k1").out().lines().filter(l -> l.toLowerCase().startsWith("etag:"))
        .findFirst().orElseThrow().substring(5).strip();
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: " + etag, url + "/cache/k1").out())
        .isEqualTo("304");
    // REST with metadata
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary", "hello",
        "-H", "X-Larder-Metadata: {\"by\":\"curl\"}", url + "/v1/entries/tool:x").out()).isEqualTo("201");
    assertThat(curl(url + "/v1/entries?prefix=tool:").out()).contains("\"key\":\"tool:x\"", "\"by\":\"curl\"");
    // over --max-blob-size 1M: curl sends Expect: 100-continue for a large upload and gets 413 instead
    Path big = dir.resolve("big.bin");
    Files.write(big, new byte[2_000_000]);
    Run refused = curl("-o", "/dev/null", "-w", "%{http_code}", "-T", big.toString(), url + "/cache/big");
    assertThat(refused.out()).isEqualTo("413");
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", url + "/cache/big").out()).isEqualTo("404");
  }

  @Test
  void ccacheGetsRemoteHitsAfterItsLocalCacheIsWiped() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/ccache")) && Files.isExecutable(Path.of("/usr/bin/gcc")),
        "ccache and gcc are installed by .ci/run");
    for (String layout : List.of("subdirs", "bazel")) {
      buildTwiceWithCcache(layout, url);
    }
    assertThat(server.stderr()).contains("GET kv http:/ccache-subdirs/", "GET bazel-ac bazel:ac:ccache-bazel/");
  }

  @Test
  void ccacheWithBasicAuth() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/ccache")) && Files.isExecutable(Path.of("/usr/bin/gcc")),
        "ccache and gcc are installed by .ci/run");
    server.close();
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "basic ccache:s3cret rw\n");
    start("--auth-file", auth.toString());
    Run denied = run(dir, Map.of(), List.of("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/healthz"));
    assertThat(denied.out()).isEqualTo("200");
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", url + "/ccache-auth/x").out()).isEqualTo("401");
    buildTwiceWithCcache("subdirs", url.replace("http://", "http://ccache:s3cret@"));
    assertThat(server.stderr()).doesNotContain("s3cret").contains("GET kv http:/ccache-subdirs/");
  }

  /** Compiles three files, wipes ccache's local directory, compiles again: the second build hits the server. */
  private void buildTwiceWithCcache(String layout, String base) throws Exception {
    {
      Path work = Files.createDirectories(dir.resolve("cc-" + layout + "-" + System.nanoTime()));
      Path src = Files.createDirectories(work.resolve("src"));
      for (int i = 0; i < 3; i++) {
        Files.writeString(src.resolve("f" + i + ".c"), "int f" + i + "(int x) { return x * " + (i + 7) + " + 1; }\n");
      }
      Path ccacheDir = work.resolve("ccache-dir");
      Map<String, String> env = Map.of("CCACHE_DIR", ccacheDir.toString(),
          "CCACHE_REMOTE_STORAGE", base + "/ccache-" + layout + "|layout=" + layout, "CCACHE_BASEDIR", work.toString(),
          "CCACHE_NOHASHDIR", "1");
      for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
          Run r = run(work, env, List.of("ccache", "gcc", "-c", "src/f" + i + ".c", "-o", "f" + i + ".o"));
          assertThat(r.code()).as(r.err()).isZero();
        }
        Map<String, Long> stats = ccacheStats(work, env);
        if (round == 0) {
          assertThat(stats.get("remote_storage_miss")).as(layout + ": first build misses").isEqualTo(3);
          assertThat(stats.get("remote_storage_write")).isPositive();
          deleteTree(ccacheDir); // wipe the local cache
        } else {
          assertThat(stats.get("remote_storage_hit")).as(layout + ": second build hits the server").isEqualTo(3);
          assertThat(stats.get("remote_storage_error")).isZero();
        }
      }
    }
  }

  @Test
  void sigtermExitsCleanly() throws Exception {
    assertThat(curl("-o", "/dev/null", "-w", "%{http_code}", url + "/healthz").out()).isEqualTo("200");
    assertThat(server.terminate()).as("SIGTERM: a clean exit").isZero();
  }

  private static Map<String, Long> ccacheStats(Path work, Map<String, String> env) throws Exception {
    Run r = run(work, env, List.of("ccache", "--print-stats"));
    Map<String, Long> m = new java.util.HashMap<>();
    r.out().lines().map(l -> l.split("\t")).filter(p -> p.length == 2)
        .forEach(p -> m.put(p[0], Long.parseLong(p[1].strip())));
    return m;
  }

  private static void deleteTree(Path p) throws IOException {
    try (var s = Files.walk(p)) {
      for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
  }
}
