package io.larder.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user installs, as a user installs it: each archive unpacked into a scratch folder and run from
 * there (through a symlink on the PATH, from another directory), and the image's tarball read and run in a
 * chroot of its layers.
 */
@Tag("slow")
class DistTest {
  private static final Path DIST = Path.of(System.getProperty("larder.dist.dir", "target"));
  private static final String NAME = System.getProperty("larder.dist.name", "larder-0.1.0-SNAPSHOT");
  private static final String VERSION = NAME.substring("larder-".length());

  @TempDir Path tmp;

  @Test
  void theArchiveRunsOnAJavaFoundOnTheMachine() throws Exception {
    Path home = unpack(DIST.resolve(NAME + ".tar.gz"));
    assertThat(home.resolve("runtime")).doesNotExist();
    assertLayout(home);

    // Installed as users do: a symlink in a folder on the PATH, run from elsewhere, no JAVA_HOME.
    Path onPath = Files.createDirectories(tmp.resolve("path"));
    Files.createSymbolicLink(onPath.resolve("larder"), home.resolve("bin/larder"));
    Map<String, String> env = Map.of("PATH", onPath + ":/usr/local/bin:/usr/bin:/bin", "HOME", tmp.toString());
    Run version = run(env, "larder", "--version");
    assertThat(version.code()).as(version.err()).isZero();
    assertThat(version.out()).startsWith("larder " + VERSION + "\n").contains("commit ");

    putGetAndServe(env, "larder");
  }

  @Test
  void theArchiveWithARuntimeNeedsNoJdk() throws Exception {
    Path home = unpack(DIST.resolve(NAME + "-linux-x86_64.tar.gz"));
    assertLayout(home);
    assertThat(home.resolve("runtime/bin/java")).isExecutable();

    // A PATH with the few tools the launcher uses and no java, and no JAVA_HOME.
    Path tools = Files.createDirectories(tmp.resolve("tools"));
    for (String t : List.of("bash", "readlink", "stat", "find", "mkdir", "mv", "rm")) {
      Path real = List.of(Path.of("/usr/bin", t), Path.of("/bin", t)).stream().filter(Files::isExecutable).findFirst().orElseThrow();
      Files.createSymbolicLink(tools.resolve(t), real);
    }
    Files.createSymbolicLink(tools.resolve("larder"), home.resolve("bin/larder"));
    Map<String, String> env = Map.of("PATH", tools.toString(), "HOME", tmp.toString());
    assertThat(run(env, "bash", "-c", "command -v java").code()).isNotZero();

    Run version = run(env, "larder", "--version");
    assertThat(version.code()).as(version.err()).isZero();
    assertThat(version.out()).contains("larder " + VERSION).contains(home.resolve("runtime").toString());

    putGetAndServe(env, "larder");
  }

  @Test
  void theSystemdUnitIsValid() throws Exception {
    Path home = unpack(DIST.resolve(NAME + ".tar.gz"));
    Path analyze = Path.of("/usr/bin/systemd-analyze");
    assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed");
    String unit = Files.readString(home.resolve("systemd/larder.service"));
    assertThat(unit).contains("User=larder", "ProtectSystem=strict", "ReadWritePaths=/var/lib/larder",
        "NoNewPrivileges=true", "ExecStart=/opt/larder/bin/larder serve");
    // Verified where this archive lies instead of /opt/larder.
    Path copy = tmp.resolve("larder.service");
    Files.writeString(copy, unit.replace("/opt/larder/bin/larder", home.resolve("bin/larder").toString()));
    Run verify = run(Map.of("PATH", "/usr/bin:/bin"), analyze.toString(), "verify", "--man=no", copy.toString());
    assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
    assertThat(verify.err()).isEmpty();
  }

  @Test
  void theImageIsBuiltFromScratchAndItsEntrypointServes() throws Exception {
    Path image = DIST.resolve(NAME + "-image.tar");
    Path unpacked = Files.createDirectories(tmp.resolve("image"));
    assertThat(run(Map.of("PATH", "/usr/bin:/bin"), "tar", "xf", image.toString(), "-C", unpacked.toString()).code()).isZero();
    ObjectMapper json = new ObjectMapper();
    JsonNode manifest = json.readTree(unpacked.resolve("manifest.json").toFile()).get(0);
    assertThat(manifest.get("RepoTags").get(0).asText()).isEqualTo("larder:" + VERSION);
    JsonNode config = json.readTree(unpacked.resolve(manifest.get("Config").asText()).toFile()).get("config");
    assertThat(config.get("User").asText()).isEqualTo("10001:10001");
    assertThat(config.get("Entrypoint").get(0).asText()).isEqualTo("/opt/larder/runtime/bin/java");
    assertThat(config.get("Cmd").toString()).isEqualTo("[\"serve\"]");
    assertThat(config.get("ExposedPorts").has("8080/tcp")).isTrue();
    assertThat(config.get("Volumes").has("/var/lib/larder")).isTrue();
    List<String> envList = new ArrayList<>();
    config.get("Env").forEach(e -> envList.add(e.asText()));
    assertThat(envList).contains("LARDER_CACHE=/var/lib/larder", "LARDER_BIND=0.0.0.0");

    // The layers, in order, are the whole file system: nothing comes from a base image.
    Path root = Files.createDirectories(tmp.resolve("root"));
    List<JsonNode> layers = new ArrayList<>();
    manifest.get("Layers").forEach(layers::add);
    assertThat(layers).hasSizeGreaterThanOrEqualTo(3);
    for (JsonNode layer : layers) {
      Run x = run(Map.of("PATH", "/usr/bin:/bin"), "tar", "xzf", unpacked.resolve(layer.asText()).toString(), "-C", root.toString(),
          "--warning=no-unknown-keyword");
      assertThat(x.code()).as(x.err()).isZero();
    }
    assertThat(root.resolve("opt/larder/runtime/bin/java")).isExecutable();
    assertThat(root.resolve("opt/larder/lib/larder.jar")).isRegularFile();
    assertThat(root.resolve("lib64/ld-linux-x86-64.so.2")).exists();
    assertThat(root.resolve("lib/x86_64-linux-gnu/libc.so.6")).exists();
    assertThat(Files.readString(root.resolve("etc/passwd"))).contains("larder:x:10001:10001:");
    assertThat(Files.getPosixFilePermissions(root.resolve("var/lib/larder"))).contains(PosixFilePermission.OTHERS_WRITE);
    assertThat(root.resolve("bin/sh")).doesNotExist();

    // Run the entrypoint as the image's user in a chroot of those layers (root only: chroot and mounts).
    assumeTrue("root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/sbin/chroot")),
        "running the image needs root (chroot)");
    Files.createDirectories(root.resolve("proc"));
    Files.createDirectories(root.resolve("dev"));
    Map<String, String> host = Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    assertThat(run(host, "mount", "-t", "proc", "proc", root.resolve("proc").toString()).code()).isZero();
    try {
      assertThat(run(host, "mount", "--bind", "/dev", root.resolve("dev").toString()).code()).isZero();
      try {
        List<String> command = new ArrayList<>(List.of("/usr/sbin/chroot", "--userspec=" + config.get("User").asText(), root.toString()));
        config.get("Entrypoint").forEach(a -> command.add(a.asText()));
        config.get("Cmd").forEach(a -> command.add(a.asText()));
        command.add("--anonymous");
        command.add("--port");
        command.add("0");
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        envList.forEach(e -> pb.environment().put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1)));
        serveAndUse(pb, root.resolve("var/lib/larder"));
      } finally {
        run(host, "umount", root.resolve("dev").toString());
      }
    } finally {
      run(host, "umount", root.resolve("proc").toString());
    }
  }

  private static void assertLayout(Path home) throws IOException {
    assertThat(home.resolve("bin/larder")).isExecutable();
    assertThat(home.resolve("lib/larder.jar")).isRegularFile();
    assertThat(home.resolve("lib/native/org/sqlite/native/Linux/x86_64/libsqlitejdbc.so")).isRegularFile();
    assertThat(Files.readString(home.resolve("man/man1/larder.1"))).startsWith(".TH LARDER 1").contains(".SS \"larder serve\"");
    assertThat(Files.readString(home.resolve("completion/larder.bash"))).contains("complete -F");
    assertThat(home.resolve("completion/_larder")).isRegularFile();
    assertThat(Files.readString(home.resolve("completion/larder.fish"))).contains("complete -c larder");
    assertThat(home.resolve("systemd/larder.service")).isRegularFile();
    assertThat(Files.readString(home.resolve("LICENSE"))).contains("Apache License");
    assertThat(home.resolve("NOTICE")).isRegularFile();
    assertThat(Files.readString(home.resolve("THIRD-PARTY.txt"))).contains("(Apache-2.0) SQLite JDBC");
  }

  /** put a file, get it back, then serve the store and read the entry over HTTP. */
  private void putGetAndServe(Map<String, String> env, String larder) throws Exception {
    Path store = tmp.resolve("store");
    Path file = tmp.resolve("hello.txt");
    Files.writeString(file, "hello from the archive\n");
    Run put = run(env, larder, "--cache", store.toString(), "put", "dist:hello", file.toString());
    assertThat(put.code()).as(put.err()).isZero();
    assertThat(put.out()).startsWith("sha256-");
    Run get = run(env, larder, "--cache", store.toString(), "get", "dist:hello");
    assertThat(get.code()).as(get.err()).isZero();
    assertThat(get.out()).isEqualTo("hello from the archive\n");

    ProcessBuilder pb = new ProcessBuilder(onPath(env, larder), "--cache", store.toString(), "serve", "--port", "0");
    pb.environment().clear();
    pb.environment().putAll(env);
    pb.directory(tmp.toFile());
    serveAndUse(pb, store);
  }

  /** Starts a server, waits for its banner, writes and reads an entry through it, stops it with SIGTERM. */
  private static void serveAndUse(ProcessBuilder pb, Path store) throws Exception {
    pb.redirectErrorStream(true);
    Process server = pb.start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      CompletableFuture<String> banner = CompletableFuture.supplyAsync(() -> {
        StringBuilder seen = new StringBuilder();
        try {
          for (String line; (line = lines.readLine()) != null; ) {
            seen.append(line).append('\n');
            if (line.contains(" at http://")) {
              return line;
            }
          }
        } catch (IOException e) {
          // the server went away
        }
        throw new AssertionError("no banner from the server:\n" + seen);
      });
      String line = banner.get(60, TimeUnit.SECONDS);
      Thread.ofVirtual().start(() -> lines.lines().forEach(l -> { }));
      Matcher m = Pattern.compile("at (http://[^ ]+)").matcher(line);
      assertThat(m.find()).isTrue();
      URI base = URI.create(m.group(1) + "/");
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      HttpResponse<String> putResp = http.send(HttpRequest.newBuilder(base.resolve("cache/from-the-server"))
          .PUT(HttpRequest.BodyPublishers.ofString("stored through HTTP")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(putResp.statusCode()).isEqualTo(200);
      HttpResponse<String> getResp = http.send(HttpRequest.newBuilder(base.resolve("cache/from-the-server")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(getResp.statusCode()).isEqualTo(200);
      assertThat(getResp.body()).isEqualTo("stored through HTTP");
      HttpResponse<String> status = http.send(HttpRequest.newBuilder(base.resolve("status")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(status.body()).contains("\"version\":\"" + VERSION + "\"");
      assertThat(store.resolve("index.db")).isRegularFile();
    } finally {
      server.destroy();
      if (!server.waitFor(40, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  private Path unpack(Path archive) throws Exception {
    assertThat(archive).isRegularFile();
    Path into = Files.createTempDirectory(tmp, "unpacked");
    Run tar = run(Map.of("PATH", "/usr/bin:/bin"), "tar", "xzf", archive.toString(), "-C", into.toString());
    assertThat(tar.code()).as(tar.err()).isZero();
    Path home = into.resolve(NAME);
    assertThat(home).isDirectory();
    return home;
  }

  record Run(int code, String out, String err) {}

  /** A command found on the given PATH, as a shell would (a child process started by Java looks at ours). */
  private static String onPath(Map<String, String> env, String command) {
    if (command.contains("/")) {
      return command;
    }
    for (String dir : env.get("PATH").split(":")) {
      if (Files.isExecutable(Path.of(dir, command))) {
        return Path.of(dir, command).toString();
      }
    }
    return command;
  }

  private Run run(Map<String, String> env, String... command) throws Exception {
    command[0] = onPath(env, command[0]);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().clear();
    pb.environment().putAll(env);
    pb.directory(tmp.toFile());
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Path err = Files.createTempFile(tmp, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " did not finish");
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }
}
