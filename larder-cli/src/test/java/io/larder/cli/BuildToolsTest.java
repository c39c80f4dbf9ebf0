package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bazel and Gradle (Debian's bazel-bootstrap and gradle, installed by .ci/run) build against
 * {@code larder serve}, clean, and build again: the second build comes from the server.
 */
@Tag("slow")
class BuildToolsTest {
  @TempDir Path dir;
  ServeProcess server;
  String url;

  @BeforeEach
  void start() throws Exception {
    server = ServeProcess.start(dir.resolve("store"), Map.of());
    url = server.url;
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  /** The JDK 17 that Debian's bazel-bootstrap and gradle run on (the java on the PATH), or null. */
  static Path jdk17() {
    Path java = Path.of("/usr/bin/java");
    try {
      Path home = java.toRealPath().getParent().getParent();
      String release = Files.readString(home.resolve("release"));
      return release.contains("JAVA_VERSION=\"17") ? home : null;
    } catch (IOException e) {
      return null;
    }
  }

  record Run(int code, String output) {}

  static Run run(Path cwd, Map<String, String> env, List<String> cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(600, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }

  /** A workspace of two genrules: //:upper (in.txt in capitals) and //:twice (that, twice). */
  Path bazelWorkspace(String input) throws IOException {
    Path ws = Files.createDirectories(dir.resolve("ws"));
    Files.writeString(ws.resolve("WORKSPACE"), "");
    Files.writeString(ws.resolve("in.txt"), input);
    Files.writeString(ws.resolve("BUILD"), """
        genrule(name = "upper", srcs = ["in.txt"], outs = ["upper.txt"], cmd = "tr a-z A-Z < $< > $@")
        genrule(name = "twice", srcs = [":upper"], outs = ["twice.txt"], cmd = "cat $< $< > $@")
        """);
    return ws;
  }

  @Test
  void bazelRebuildsFromTheRemoteCacheAfterClean() throws Exception {
    Path jdk = jdk17();
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/bazel")) && jdk != null,
        "bazel-bootstrap (and its JDK 17) are installed by .ci/run");
    Path ws = bazelWorkspace("hello from bazel\n");
    Map<String, String> env = new HashMap<>(Map.of("JAVA_HOME", jdk.toString(), "HOME", dir.toString()));
    List<String> bazel = List.of("bazel", "--batch", "--output_user_root=" + dir.resolve("bazel-root"));
    List<String> build = new ArrayList<>(bazel);
    build.addAll(List.of("build", "//:twice", "--remote_cache=" + url, "--noshow_progress"));
    Run first = run(ws, env, build);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).doesNotContain("remote cache hit");
    List<String> clean = new ArrayList<>(bazel);
    clean.add("clean");
    assertThat(run(ws, env, clean).code()).isZero();
    Run second = run(ws, env, build);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("2 remote cache hit");
    assertThat(Files.readString(ws.resolve("bazel-bin/twice.txt"))).isEqualTo("HELLO FROM BAZEL\nHELLO FROM BAZEL\n");
    assertThat(server.stderr()).contains("GET bazel-ac ", " hit 200", "GET bazel-cas ");
  }

  /**
   * Bazel over gRPC ({@code --remote_cache=grpc://}), with an instance name and credentials: clean and
   * rebuild hits every action; when an output of one action is removed from the store, that action's result
   * is a miss (it runs again) instead of a hit Bazel cannot download.
   */
  @Test
  void bazelOverGrpcHitsAfterCleanAndRebuildsWhatIsIncomplete() throws Exception {
    Path jdk = jdk17();
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/bazel")) && jdk != null,
        "bazel-bootstrap (and its JDK 17) are installed by .ci/run");
    server.close();
    Path auth = Files.writeString(dir.resolve("auth"), "token builder rw\n");
    server = ServeProcess.start(dir.resolve("store"), Map.of(), "--grpc-port", "0", "--auth-file", auth.toString());
    assertThat(server.grpcUrl).startsWith("grpc://127.0.0.1:");
    Path ws = bazelWorkspace("hello over grpc\n");
    Map<String, String> env = new HashMap<>(Map.of("JAVA_HOME", jdk.toString(), "HOME", dir.toString()));
    List<String> bazel = List.of("bazel", "--batch", "--output_user_root=" + dir.resolve("bazel-root"));
    List<String> build = new ArrayList<>(bazel);
    build.addAll(List.of("build", "//:twice", "--remote_cache=" + server.grpcUrl, "--remote_instance_name=team/ci",
        "--remote_header=authorization=Bearer builder", "--noshow_progress"));
    List<String> clean = new ArrayList<>(bazel);
    clean.add("clean");

    Run first = run(ws, env, build);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(run(ws, env, clean).code()).isZero();
    Run second = run(ws, env, build);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("2 remote cache hit");
    assertThat(Files.readString(ws.resolve("bazel-bin/twice.txt"))).isEqualTo("HELLO OVER GRPC\nHELLO OVER GRPC\n");
    assertThat(server.stderr()).contains("GetActionResult reapi-ac bazel:ac:team/ci/", " hit 0 ", "Read bytestream ");

    // the output of //:twice leaves the store (as eviction could make it): its result must not be served
    String hex = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(ws.resolve("bazel-bin/twice.txt"))));
    java.net.http.HttpResponse<Void> removed = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.url + "/cas/" + hex))
            .header("Authorization", "Bearer builder").DELETE().build(),
        java.net.http.HttpResponse.BodyHandlers.discarding());
    assertThat(removed.statusCode()).isEqualTo(204);
    assertThat(run(ws, env, clean).code()).isZero();
    Run third = run(ws, env, build);
    assertThat(third.code()).as(third.output()).isZero();
    assertThat(third.output()).as(third.output()).contains("1 remote cache hit");
    assertThat(Files.readString(ws.resolve("bazel-bin/twice.txt"))).isEqualTo("HELLO OVER GRPC\nHELLO OVER GRPC\n");
  }

  /** An npm client that .ci/run installs under LARDER_CI_NPM, or null. */
  static final String RW_TOKEN = "ci-token-that-may-write";
  static final String RO_TOKEN = "ci-token-that-may-only-read";

  /** Restarts the server with an auth file of two tokens: the first read-write, the second read-only. */
  void withTokens() throws Exception {
    server.close();
    Path auth = dir.resolve("tokens");
    Files.writeString(auth, "token " + RW_TOKEN + " rw\ntoken " + RO_TOKEN + " ro\n");
    server = ServeProcess.start(dir.resolve("store"), Map.of(), "--auth-file", auth.toString());
  }

  /** Restarts the server with an auth file of two Basic users: builder:s3cret read-write, reader:peek read-only. */
  void withBasicUsers() throws Exception {
    server.close();
    Path auth = dir.resolve("users");
    Files.writeString(auth, "basic builder:s3cret rw\nbasic reader:peek ro\n");
    server = ServeProcess.start(dir.resolve("store"), Map.of(), "--auth-file", auth.toString());
  }

  static Path npmClient(String name) {
    String prefix = System.getenv("LARDER_CI_NPM");
    Path bin = prefix == null ? null : Path.of(prefix, "node_modules", ".bin", name);
    return bin != null && Files.isExecutable(bin) ? bin : null;
  }

  /**
   * moon (npm @moonrepo/cli) with {@code remote.host} the server's HTTP URL (moon speaks gRPC over HTTP/2
   * with prior knowledge there, which the HTTP port hands to the gRPC services): a task's outputs are stored;
   * with the local cache and the outputs gone, the task is "cached from remote" and its outputs come back.
   */
  @Test
  void moonRestoresTaskOutputsFromTheGrpcCache() throws Exception {
    Path moon = npmClient("moon");
    Assumptions.assumeTrue(moon != null, "moon is installed by .ci/run (npm @moonrepo/cli, LARDER_CI_NPM)");
    withTokens();
    Path ws = Files.createDirectories(dir.resolve("moon-ws"));
    Files.createDirectories(ws.resolve(".moon"));
    Files.createDirectories(ws.resolve("app"));
    Files.writeString(ws.resolve(".moon/workspace.yml"), """
        projects:
          app: 'app'
        telemetry: false
        remote:
          host: '%s'
          auth:
            token: 'LARDER_TOKEN'
        """.formatted(server.url));
    Files.writeString(ws.resolve("app/moon.yml"), """
        tasks:
          build:
            command: 'sh -c "mkdir -p out && tr a-z A-Z < in.txt > out/upper.txt && echo built it"'
            inputs: ['in.txt']
            outputs: ['out']
        """);
    Files.writeString(ws.resolve("app/in.txt"), "hello moon\n");
    Map<String, String> env = new HashMap<>(Map.of("MOON_HOME", dir.resolve("moon-home").toString(), "HOME",
        dir.toString(), "NO_COLOR", "1", "LARDER_TOKEN", RW_TOKEN));
    assertThat(run(ws, env, List.of("git", "init", "-q")).code()).isZero();
    assertThat(run(ws, env, List.of("git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-q",
        "--allow-empty", "-m", "init")).code()).isZero();
    Run first = run(ws, env, List.of(moon.toString(), "run", "app:build"));
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).doesNotContain("cached from remote");
    deleteTree(ws.resolve(".moon/cache"));
    deleteTree(ws.resolve("app/out"));
    Run second = run(ws, env, List.of(moon.toString(), "run", "app:build"));
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("cached from remote");
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("HELLO MOON\n");
    assertThat(server.stderr()).contains("UpdateActionResult reapi-ac bazel:ac:moon-outputs/", "GetActionResult reapi-ac ",
        " hit 0 ");

    // a read-only token: the remote still hits; a changed input builds, its upload is refused (PERMISSION_DENIED)
    env.put("LARDER_TOKEN", RO_TOKEN);
    deleteTree(ws.resolve(".moon/cache"));
    deleteTree(ws.resolve("app/out"));
    Run readOnlyHit = run(ws, env, List.of(moon.toString(), "run", "app:build"));
    assertThat(readOnlyHit.code()).as(readOnlyHit.output()).isZero();
    assertThat(readOnlyHit.output()).as(readOnlyHit.output()).contains("cached from remote");
    Files.writeString(ws.resolve("app/in.txt"), "changed\n");
    Run readOnlyMiss = run(ws, env, List.of(moon.toString(), "run", "app:build"));
    assertThat(readOnlyMiss.code()).as("a refused upload does not fail the build: " + readOnlyMiss.output()).isZero();
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("CHANGED\n");
  }

  /**
   * Nx (npm nx) with {@code NX_SELF_HOSTED_REMOTE_CACHE_SERVER} the server's URL: a target's outputs are
   * stored under {@code /v1/cache/<hash>}; with the local cache and the outputs gone, they come back from it.
   */
  @Test
  void nxRestoresTargetOutputsFromTheSelfHostedCache() throws Exception {
    Path nx = npmClient("nx");
    Assumptions.assumeTrue(nx != null, "nx is installed by .ci/run (npm nx, LARDER_CI_NPM)");
    Path ws = Files.createDirectories(dir.resolve("nx-ws"));
    Files.createDirectories(ws.resolve("app"));
    Files.writeString(ws.resolve("package.json"), "{\"name\": \"ws\", \"version\": \"0.0.0\", \"private\": true}\n");
    Files.writeString(ws.resolve("nx.json"), """
        {"targetDefaults": {"build": {"cache": true, "outputs": ["{projectRoot}/out"], "inputs": ["{projectRoot}/in.txt"]}}}
        """);
    Files.writeString(ws.resolve("app/project.json"), """
        {"name": "app", "targets": {"build": {"command": "mkdir -p app/out && tr a-z A-Z < app/in.txt > app/out/upper.txt"}}}
        """);
    Files.writeString(ws.resolve("app/in.txt"), "hello nx\n");
    // Nx loads itself from the workspace's node_modules
    Files.createSymbolicLink(ws.resolve("node_modules"), nx.getParent().getParent());
    withTokens();
    Map<String, String> env = new HashMap<>(Map.of("NX_SELF_HOSTED_REMOTE_CACHE_SERVER", server.url, "NX_DAEMON",
        "false", "NX_NO_CLOUD", "true", "NX_TUI", "false", "HOME", dir.toString(),
        "NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN", RW_TOKEN));
    assertThat(run(ws, env, List.of("git", "init", "-q")).code()).isZero();
    Run first = run(ws, env, List.of(nx.toString(), "run", "app:build"));
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).as(first.output()).contains("0/1 hit");
    deleteTree(ws.resolve(".nx"));
    deleteTree(ws.resolve("app/out"));
    Run second = run(ws, env, List.of(nx.toString(), "run", "app:build"));
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("1/1 hit");
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("HELLO NX\n");
    assertThat(server.stderr()).contains("PUT nx nx:", "GET nx nx:", " hit 200 ");

    // a read-only token: the remote still hits; a changed input builds, its upload is refused quietly
    env.put("NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN", RO_TOKEN);
    deleteTree(ws.resolve(".nx"));
    deleteTree(ws.resolve("app/out"));
    Run readOnlyHit = run(ws, env, List.of(nx.toString(), "run", "app:build"));
    assertThat(readOnlyHit.code()).as(readOnlyHit.output()).isZero();
    assertThat(readOnlyHit.output()).as(readOnlyHit.output()).contains("1/1 hit");
    Files.writeString(ws.resolve("app/in.txt"), "changed\n");
    Run readOnlyMiss = run(ws, env, List.of(nx.toString(), "run", "app:build"));
    assertThat(readOnlyMiss.code()).as("a refused upload does not fail the build: " + readOnlyMiss.output()).isZero();
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("CHANGED\n");
    assertThat(server.stderr()).containsPattern("PUT nx nx:\\S+ - 403 .* token#2 ");
  }

  /**
   * Turborepo (npm turbo) with {@code TURBO_API} the server's URL and signed artifacts
   * ({@code remoteCache.signature}): with its local cache and outputs gone the task is a remote hit (the
   * artifact's x-artifact-tag comes back with it, and turbo verifies it); another team's run misses.
   */
  @Test
  void turborepoRestoresSignedArtifactsPerTeam() throws Exception {
    Path turbo = npmClient("turbo");
    Assumptions.assumeTrue(turbo != null, "turbo is installed by .ci/run (npm turbo, LARDER_CI_NPM)");
    Path ws = Files.createDirectories(dir.resolve("turbo-ws"));
    Files.createDirectories(ws.resolve("packages/app"));
    Files.writeString(ws.resolve("package.json"), """
        {"name": "ws", "private": true, "packageManager": "npm@10.0.0", "workspaces": ["packages/*"]}
        """);
    Files.writeString(ws.resolve("package-lock.json"), """
        {"name": "ws", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "ws", "workspaces": ["packages/*"]},
         "packages/app": {"name": "app", "version": "0.0.0"}, "node_modules/app": {"resolved": "packages/app", "link": true}}}
        """);
    Files.writeString(ws.resolve("turbo.json"), """
        {"remoteCache": {"signature": true}, "tasks": {"build": {"outputs": ["out/**"], "inputs": ["in.txt"]}}}
        """);
    Files.writeString(ws.resolve("packages/app/package.json"), """
        {"name": "app", "version": "0.0.0", "scripts": {"build": "mkdir -p out && tr a-z A-Z < in.txt > out/upper.txt"}}
        """);
    Files.writeString(ws.resolve("packages/app/in.txt"), "hello turbo\n");
    withTokens();
    Map<String, String> env = new HashMap<>(Map.of("TURBO_API", server.url, "TURBO_TOKEN", RW_TOKEN, "TURBO_TEAM", "team_a",
        "TURBO_TELEMETRY_DISABLED", "1", "DO_NOT_TRACK", "1", "HOME", dir.toString(),
        "TURBO_REMOTE_CACHE_SIGNATURE_KEY", "a-signing-key-of-at-least-32-bytes-long"));
    assertThat(run(ws, env, List.of("git", "init", "-q")).code()).isZero();
    List<String> build = List.of(turbo.toString(), "run", "build");
    Run first = run(ws, env, build);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).as(first.output()).contains("0 cached, 1 total");
    deleteTree(ws.resolve(".turbo"));
    deleteTree(ws.resolve("packages/app/out"));
    Run second = run(ws, env, build);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("1 cached, 1 total");
    assertThat(Files.readString(ws.resolve("packages/app/out/upper.txt"))).isEqualTo("HELLO TURBO\n");
    assertThat(server.stderr()).contains("PUT turborepo turbo:team_a:", "GET turborepo turbo:team_a:", " hit 200 ");

    deleteTree(ws.resolve(".turbo"));
    env.put("TURBO_TEAM", "team_b");
    Run otherTeam = run(ws, env, build);
    assertThat(otherTeam.code()).as(otherTeam.output()).isZero();
    assertThat(otherTeam.output()).as("another team's cache is its own").contains("0 cached, 1 total");

    // a read-only token: the remote still hits; a changed input builds, its upload is refused, the run succeeds
    env.put("TURBO_TEAM", "team_a");
    env.put("TURBO_TOKEN", RO_TOKEN);
    deleteTree(ws.resolve(".turbo"));
    deleteTree(ws.resolve("packages/app/out"));
    Run readOnlyHit = run(ws, env, build);
    assertThat(readOnlyHit.code()).as(readOnlyHit.output()).isZero();
    assertThat(readOnlyHit.output()).as(readOnlyHit.output()).contains("1 cached, 1 total");
    Files.writeString(ws.resolve("packages/app/in.txt"), "changed\n");
    Run readOnlyMiss = run(ws, env, build);
    assertThat(readOnlyMiss.code()).as("a refused upload does not fail the build: " + readOnlyMiss.output()).isZero();
    assertThat(Files.readString(ws.resolve("packages/app/out/upper.txt"))).isEqualTo("CHANGED\n");
    assertThat(server.stderr()).containsPattern("PUT turborepo turbo:team_a:\\S+ - 403 .* token#2 ");
  }

  /**
   * Rush (npm @microsoft/rush, its built-in HTTP build cache) with {@code httpConfiguration.url} the server's
   * {@code /rush/} and the credential a whole Authorization header ({@code RUSH_BUILD_CACHE_CREDENTIAL}): the
   * build stores its outputs; with Rush's local cache and the outputs gone it is "restored from the build
   * cache". With a read-only token and {@code RUSH_BUILD_CACHE_WRITE_ALLOWED=0} (Rush turns a refused upload
   * into a warning, and a warning fails {@code rush build}) reads still hit and a changed project builds.
   */
  @Test
  void rushRestoresFromTheHttpBuildCacheAndReadsWithAReadOnlyToken() throws Exception {
    Path rush = npmClient("rush");
    Assumptions.assumeTrue(rush != null, "rush is installed by .ci/run (npm @microsoft/rush, LARDER_CI_NPM)");
    withTokens();
    Path ws = Files.createDirectories(dir.resolve("rush-ws"));
    Map<String, String> env = new HashMap<>(Map.of("HOME", Files.createDirectories(dir.resolve("rush-home")).toString(),
        "RUSH_BUILD_CACHE_CREDENTIAL", "Bearer " + RW_TOKEN, "NO_COLOR", "1"));
    List<String> git = List.of("git", "-c", "user.email=ci@example.com", "-c", "user.name=ci");
    assertThat(run(ws, env, List.of("git", "init", "-q")).code()).isZero();
    Run init = run(ws, env, List.of(rush.toString(), "init"));
    assertThat(init.code()).as(init.output()).isZero();
    String rushJson = Files.readString(ws.resolve("rush.json"))
        .replaceFirst("\"nodeSupportedVersionRange\": \"[^\"]*\"", "\"nodeSupportedVersionRange\": \">=18\"");
    rushJson = rushJson.substring(0, rushJson.indexOf("\"projects\": ["))
        + "\"projects\": [{\"packageName\": \"app\", \"projectFolder\": \"app\"}]\n}\n";
    Files.writeString(ws.resolve("rush.json"), rushJson);
    Files.writeString(ws.resolve("common/config/rush/build-cache.json"), """
        {"buildCacheEnabled": true, "cacheProvider": "http",
         "httpConfiguration": {"url": "%s/rush/", "uploadMethod": "PUT", "isCacheWriteAllowed": true}}
        """.formatted(server.url));
    Files.createDirectories(ws.resolve("app/config"));
    Files.writeString(ws.resolve("app/package.json"), """
        {"name": "app", "version": "1.0.0", "private": true,
         "scripts": {"build": "mkdir -p out && tr a-z A-Z < in.txt > out/upper.txt"}}
        """);
    Files.writeString(ws.resolve("app/config/rush-project.json"),
        "{\"operationSettings\": [{\"operationName\": \"build\", \"outputFolderNames\": [\"out\"]}]}\n");
    Files.writeString(ws.resolve("app/.gitignore"), "out/\n");
    Files.writeString(ws.resolve("app/in.txt"), "hello rush\n");
    Run update = run(ws, env, List.of(rush.toString(), "update"));
    assertThat(update.code()).as(update.output()).isZero();
    assertThat(run(ws, env, concat(git, "add", "-A")).code()).isZero();
    assertThat(run(ws, env, concat(git, "commit", "-qm", "init")).code()).isZero();

    List<String> build = List.of(rush.toString(), "build");
    Run first = run(ws, env, build);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(server.stderr()).containsPattern("PUT rush http:/rush/\\S+ - 200 .* token#1 ");
    deleteTree(ws.resolve("common/temp/build-cache"));
    deleteTree(ws.resolve("app/out"));
    Run second = run(ws, env, build);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("restored from the build cache");
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("HELLO RUSH\n");

    env.put("RUSH_BUILD_CACHE_CREDENTIAL", "Bearer " + RO_TOKEN);
    env.put("RUSH_BUILD_CACHE_WRITE_ALLOWED", "0");
    deleteTree(ws.resolve("common/temp/build-cache"));
    deleteTree(ws.resolve("app/out"));
    Run readOnlyHit = run(ws, env, build);
    assertThat(readOnlyHit.code()).as(readOnlyHit.output()).isZero();
    assertThat(readOnlyHit.output()).as(readOnlyHit.output()).contains("restored from the build cache");
    Files.writeString(ws.resolve("app/in.txt"), "changed\n");
    assertThat(run(ws, env, concat(git, "commit", "-qam", "change")).code()).isZero();
    Run readOnlyMiss = run(ws, env, build);
    assertThat(readOnlyMiss.code()).as(readOnlyMiss.output()).isZero();
    assertThat(Files.readString(ws.resolve("app/out/upper.txt"))).isEqualTo("CHANGED\n");
    assertThat(server.stderr()).containsPattern("GET rush http:/rush/\\S+ hit 200 .* token#2 ")
        .doesNotContainPattern("PUT rush \\S+ - 200 .* token#2 ");
  }

  static List<String> concat(List<String> head, String... tail) {
    List<String> all = new ArrayList<>(head);
    all.addAll(List.of(tail));
    return all;
  }

  /** The sccache with its WebDAV backend that .ci/install-sccache puts under LARDER_CI_SCCACHE, or null. */
  static Path sccache() {
    String prefix = System.getenv("LARDER_CI_SCCACHE");
    Path bin = prefix == null ? null : Path.of(prefix, "bin", "sccache");
    return bin != null && Files.isExecutable(bin) ? bin : null;
  }

  /** Runs {@code sccache gcc -c} on each file under a fresh sccache server; returns its --show-stats. */
  Run compileWithSccache(Path sccache, Path work, Map<String, String> env, String... files) throws Exception {
    List<String> sc = List.of(sccache.toString());
    try {
      Run started = run(work, env, List.of(sccache.toString(), "--start-server"));
      assertThat(started.code()).as(started.output()).isZero();
      for (String c : files) {
        Run cc = run(work, env, List.of(sccache.toString(), "gcc", "-c", c, "-o", c.replace(".c", ".o")));
        assertThat(cc.code()).as("the build succeeds whatever the cache says: " + cc.output()).isZero();
      }
      return run(work, env, List.of(sccache.toString(), "--show-stats"));
    } finally {
      run(work, env, List.of(sccache.toString(), "--stop-server"));
    }
  }

  static long stat(Run stats, String name) {
    var m = java.util.regex.Pattern.compile("(?m)^" + name + "\\s+(\\d+)$").matcher(stats.output());
    assertThat(m.find()).as(name + " in " + stats.output()).isTrue();
    return Long.parseLong(m.group(1));
  }

  /**
   * sccache (Debian unstable's 0.17, WebDAV backend, installed by .ci/install-sccache) with
   * {@code SCCACHE_WEBDAV_ENDPOINT} the server's {@code /sccache} and Basic credentials: a build stores its
   * objects (through PROPFIND/MKCOL/PUT); with sccache's local cache and the objects gone, a second build
   * hits the server for each and the objects are byte-identical. With read-only credentials sccache finds it
   * may not write (its MKCOL probe is refused), reads still hit, a new file compiles and nothing is stored.
   */
  @Test
  void sccacheCompilesFromTheWebdavCacheAndReadOnlyCredentialsStillBuild() throws Exception {
    Path sccache = sccache();
    Assumptions.assumeTrue(sccache != null, "sccache is installed by .ci/run (.ci/install-sccache, LARDER_CI_SCCACHE)");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc is installed by .ci/run");
    withBasicUsers();
    Path work = Files.createDirectories(dir.resolve("sccache-work"));
    Files.writeString(work.resolve("a.c"), "int twice(int x) { return 2 * x; }\n");
    Files.writeString(work.resolve("b.c"), "int thrice(int x) { return 3 * x; }\n");
    Files.writeString(work.resolve("c.c"), "int square(int x) { return x * x; }\n");
    int port;
    try (var s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Map<String, String> env = new HashMap<>(Map.of("SCCACHE_WEBDAV_ENDPOINT", server.url + "/sccache",
        "SCCACHE_DIR", dir.resolve("sccache-local").toString(), "SCCACHE_SERVER_PORT", Integer.toString(port),
        "SCCACHE_IDLE_TIMEOUT", "120", "SCCACHE_WEBDAV_USERNAME", "builder", "SCCACHE_WEBDAV_PASSWORD", "s3cret"));

    Run first = compileWithSccache(sccache, work, env, "a.c", "b.c");
    assertThat(stat(first, "Cache misses")).isEqualTo(2);
    assertThat(stat(first, "Cache write errors")).isZero();
    assertThat(first.output()).contains("webdav");
    byte[] a = Files.readAllBytes(work.resolve("a.o"));
    byte[] b = Files.readAllBytes(work.resolve("b.o"));

    deleteTree(dir.resolve("sccache-local"));
    Files.delete(work.resolve("a.o"));
    Files.delete(work.resolve("b.o"));
    Run second = compileWithSccache(sccache, work, env, "a.c", "b.c");
    assertThat(stat(second, "Cache hits")).as(second.output()).isEqualTo(2);
    assertThat(Files.readAllBytes(work.resolve("a.o"))).isEqualTo(a);
    assertThat(Files.readAllBytes(work.resolve("b.o"))).isEqualTo(b);
    assertThat(server.stderr()).contains("PROPFIND sccache ", "MKCOL sccache ", "PUT sccache sccache:/",
        "GET sccache sccache:/", " hit 200 ", "basic:builder").doesNotContain("s3cret");

    deleteTree(dir.resolve("sccache-local"));
    Files.delete(work.resolve("a.o"));
    env.put("SCCACHE_WEBDAV_USERNAME", "reader");
    env.put("SCCACHE_WEBDAV_PASSWORD", "peek");
    Run readOnly = compileWithSccache(sccache, work, env, "a.c", "c.c");
    assertThat(stat(readOnly, "Cache hits")).as(readOnly.output()).isEqualTo(1);
    assertThat(stat(readOnly, "Cache misses")).isEqualTo(1);
    assertThat(Files.readAllBytes(work.resolve("a.o"))).isEqualTo(a);
    assertThat(work.resolve("c.o")).isNotEmptyFile();
    assertThat(server.stderr()).contains("MKCOL sccache / - 403 ").doesNotContainPattern("PUT sccache \\S+ - 200 .*basic:reader");
  }

  /** The Maven the wrapper of this build unpacked (3.9), or null. */
  static Path wrapperMaven() throws IOException {
    Path dists = Path.of(System.getProperty("user.home"), ".m2", "wrapper", "dists");
    if (!Files.isDirectory(dists)) {
      return null;
    }
    try (var walk = Files.walk(dists, 4)) {
      return walk.filter(p -> p.endsWith(Path.of("bin", "mvn")) && Files.isExecutable(p)).findFirst().orElse(null);
    }
  }

  /**
   * The Apache Maven build cache extension (1.2.0, on the Maven 3.9 this build's wrapper runs) with its
   * remote at the server's {@code /maven}: the first build saves to it; a second, with an empty local build
   * cache and no {@code target/}, restores the project from it and skips the compiler.
   */
  @Test
  void mavenBuildCacheExtensionRestoresFromTheRemote() throws Exception {
    Path mvn = wrapperMaven();
    Assumptions.assumeTrue(mvn != null, "the Maven wrapper's distribution (it runs this build)");
    withBasicUsers();
    Path project = Files.createDirectories(dir.resolve("maven-project"));
    Files.createDirectories(project.resolve(".mvn"));
    Files.createDirectories(project.resolve("src/main/java/demo"));
    Files.writeString(project.resolve("pom.xml"), """
        <project xmlns="http://maven.apache.org/POM/4.0.0">
          <modelVersion>4.0.0</modelVersion>
          <groupId>demo</groupId><artifactId>demo</artifactId><version>1.0</version>
          <properties><maven.compiler.release>17</maven.compiler.release>
            <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
        </project>
        """);
    Files.writeString(project.resolve(".mvn/extensions.xml"), """
        <extensions><extension><groupId>org.apache.maven.extensions</groupId>
          <artifactId>maven-build-cache-extension</artifactId><version>1.2.0</version></extension></extensions>
        """);
    Files.writeString(project.resolve(".mvn/maven-build-cache-config.xml"), """
        <cache xmlns="http://maven.apache.org/BUILD-CACHE-CONFIG/1.2.0"><configuration>
          <enabled>true</enabled><hashAlgorithm>SHA-256</hashAlgorithm>
          <remote enabled="true" saveToRemote="true" id="larder"><url>%s/maven</url></remote>
        </configuration></cache>
        """.formatted(server.url));
    Files.writeString(project.resolve("src/main/java/demo/Hello.java"),
        "package demo;\npublic class Hello { public static String hi() { return \"hi\"; } }\n");
    Map<String, String> env = Map.of("JAVA_HOME", System.getProperty("java.home"));
    Path user = dir.resolve("settings-builder.xml");
    Path reader = dir.resolve("settings-reader.xml");
    String settings = "<settings><servers><server><id>larder</id><username>%s</username><password>%s</password>"
        + "</server></servers></settings>\n";
    Files.writeString(user, settings.formatted("builder", "s3cret"));
    Files.writeString(reader, settings.formatted("reader", "peek"));
    Run first = run(project, env, List.of(mvn.toString(), "-B", "-ntp", "-s", user.toString(),
        "-Dmaven.build.cache.location=" + dir.resolve("mc1"), "package"));
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).as(first.output()).contains("Saved to remote cache " + server.url + "/maven/");
    deleteTree(project.resolve("target"));
    Run second = run(project, env, List.of(mvn.toString(), "-B", "-ntp", "-s", user.toString(),
        "-Dmaven.build.cache.location=" + dir.resolve("mc2"), "package"));
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains("Found cached build, restoring demo:demo from cache")
        .contains("Skipping plugin execution (cached): compiler:compile");
    assertThat(project.resolve("target/demo-1.0.jar")).exists();
    assertThat(server.stderr()).contains("PUT maven http:/maven/v1.1/demo/demo/", "GET maven http:/maven/v1.1/demo/demo/");

    // read-only credentials: the remote still restores; a changed source builds, its save is refused
    deleteTree(project.resolve("target"));
    Run readOnlyHit = run(project, env, List.of(mvn.toString(), "-B", "-ntp", "-s", reader.toString(),
        "-Dmaven.build.cache.location=" + dir.resolve("mc3"), "package"));
    assertThat(readOnlyHit.code()).as(readOnlyHit.output()).isZero();
    assertThat(readOnlyHit.output()).as(readOnlyHit.output()).contains("Found cached build, restoring demo:demo from cache");
    Files.writeString(project.resolve("src/main/java/demo/Hello.java"),
        "package demo;\npublic class Hello { public static String hi() { return \"changed\"; } }\n");
    Run readOnlyMiss = run(project, env, List.of(mvn.toString(), "-B", "-ntp", "-s", reader.toString(),
        "-Dmaven.build.cache.location=" + dir.resolve("mc3"), "package"));
    assertThat(readOnlyMiss.code()).as("a refused save does not fail the build: " + readOnlyMiss.output()).isZero();
    assertThat(readOnlyMiss.output()).doesNotContain("Saved to remote cache");
    assertThat(server.stderr()).containsPattern("PUT maven \\S+ - 403 .* basic:reader ").doesNotContain("s3cret", "peek");
  }

  static void deleteTree(Path p) throws IOException {
    if (Files.exists(p)) {
      try (var walk = Files.walk(p)) {
        for (Path x : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(x);
        }
      }
    }
  }

  @Test
  void gradleTaskOutputComesFromTheRemoteCacheAfterClean() throws Exception {
    Path jdk = jdk17();
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/gradle")) && jdk != null,
        "gradle (and its JDK 17) are installed by .ci/run");
    Path project = Files.createDirectories(dir.resolve("project"));
    Files.writeString(project.resolve("settings.gradle"), """
        rootProject.name = 'demo'
        buildCache {
          local { enabled = false }
          remote(HttpBuildCache) {
            url = '%s/cache/'
            push = true
          }
        }
        """.formatted(url));
    Files.writeString(project.resolve("build.gradle"), "apply plugin: 'java'\n");
    Path src = Files.createDirectories(project.resolve("src/main/java/demo"));
    Files.writeString(src.resolve("Hello.java"), "package demo;\npublic class Hello { public static String hi() { return \"hi\"; } }\n");
    Map<String, String> env = Map.of("JAVA_HOME", jdk.toString(), "GRADLE_USER_HOME", dir.resolve("gradle-home").toString());
    // no --offline: it turns the remote cache off
    List<String> build = List.of("gradle", "--build-cache", "--no-daemon", "--console=plain", "compileJava");
    Run first = run(project, env, build);
    assertThat(first.code()).as(first.output()).isZero();
    assertThat(first.output()).doesNotContain("FROM-CACHE");
    assertThat(run(project, env, List.of("gradle", "--no-daemon", "--console=plain", "clean")).code()).isZero();
    Run second = run(project, env, build);
    assertThat(second.code()).as(second.output()).isZero();
    assertThat(second.output()).as(second.output()).contains(":compileJava FROM-CACHE");
    assertThat(Files.exists(project.resolve("build/classes/java/main/demo/Hello.class"))).isTrue();
  }
}
