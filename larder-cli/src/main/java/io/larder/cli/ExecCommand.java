package io.larder.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.BuildKey;
import io.larder.Larder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "exec", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run a command only if its inputs changed. The key is computed as by 'larder key' (plus the",
        "command and the output globs). On a hit the recorded outputs, stdout, stderr and exit code are",
        "restored without running the command; on a miss it runs, streams its output, and if it exits 0 its",
        "outputs (files, directories, permissions, symbolic links, empty directories) are stored."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder exec --files 'src/**' --files Makefile --outputs build --name lib -- make",
        "  larder exec --files src --outputs 'out/**' --dry-run -- ./build.sh",
        "  larder exec --files '*.c' --outputs app --cache-failures -- cc -o app main.c"})
final class ExecCommand extends Base {
  @Mixin
  KeyOptions key = new KeyOptions();

  @Option(names = "--outputs", paramLabel = "GLOB", required = true,
      description = "What the command produces: a glob, file or directory relative to the working directory. Repeatable.")
  List<String> outputs = new ArrayList<>();

  @Option(names = "--name", paramLabel = "NAME", description = "Names this step, so that --dry-run can say what changed since its last run.")
  String name = "default";

  @Option(names = "--cache-failures", description = "Also record a run that exits non-zero (and replay its exit code).")
  boolean cacheFailures;

  @Option(names = "--dry-run", description = "Say hit or miss, and on a miss which inputs changed since the last run of --name.")
  boolean dryRun;

  @Option(names = "--remote", paramLabel = "URL",
      description = "Also use a 'larder serve' server (after the local store; runs are stored in both).")
  String remote;

  @Option(names = "--remote-only", description = "Use only the --remote server, not the local store.")
  boolean remoteOnly;

  @Option(names = "--remote-token", paramLabel = "TOKEN", description = "The server's token (default: $LARDER_REMOTE_TOKEN; or give http://USER:PASSWORD@HOST).")
  String remoteToken;

  @Option(names = "--remote-timeout", paramLabel = "DURATION", defaultValue = "30s",
      description = "How long to wait for the server to connect, and for each answer (default: ${DEFAULT-VALUE}).")
  String remoteTimeout;

  @Option(names = "--no-default-excludes",
      description = "Let the input globs take the step's own --outputs and .git/ too (by default they are left out,"
          + " so that a build does not change its own key).")
  boolean noDefaultExcludes;

  @Parameters(paramLabel = "COMMAND", arity = "1..*", description = "The command and its arguments (after --).")
  List<String> command = new ArrayList<>();

  @Override
  int run() throws Exception {
    Path work = Path.of("").toAbsolutePath();
    BuildKey b = key.builder(options.storeDir());
    if (!noDefaultExcludes) {
      b.exclude(".git").exclude(".git/**");
      for (String o : outputs) {
        String glob = o.replaceAll("/+$", "");
        b.exclude(glob).exclude(glob + "/**");
      }
    }
    b.arg("\u0000command");
    command.forEach(b::arg);
    b.arg("\u0000outputs");
    outputs.forEach(b::arg);
    BuildKey.Result k = b.compute();
    if (!name.matches("[A-Za-z0-9._-]+")) {
      throw new Main.UsageException("--name is letters, digits, '.', '_' and '-', not '" + name + "'");
    }
    if (remoteOnly && remote == null) {
      throw new Main.UsageException("--remote-only needs --remote URL");
    }
    OutputTree.checkInside(work, outputs); // before anything runs
    String entryKey = "exec:" + name + ":" + k.key();
    try (Larder local = remoteOnly ? null : open()) {
      String token = remoteToken != null ? remoteToken : System.getenv("LARDER_REMOTE_TOKEN");
      List<ExecCache> layers = new ArrayList<>();
      if (local != null) {
        layers.add(ExecCache.local(local));
      }
      if (remote != null) {
        // a cache that cannot be reached, or refuses us, is a warning and a miss: never the build's failure
        ExecCache.Remote r = ExecCache.Remote.parse(remote, token);
        layers.add(ExecCache.tolerant(ExecCache.remote(r, PutCommand.parseDuration(remoteTimeout)), r.url()));
      }
      ExecCache store = layers.size() == 1 ? layers.get(0) : ExecCache.layered(layers);
      Optional<JsonNode> recorded = readJson(store, entryKey);
      if (dryRun) {
        return dryRun(store, k, recorded);
      }
      if (recorded.isPresent()) {
        try {
          OutputTree.restore(store, work, recorded.get().get("outputs"));
          replay(store, recorded.get());
          if (!options.quiet) {
            System.err.println("larder: hit " + k.key().substring(0, 12) + " (" + name + "): restored "
                + recorded.get().get("outputs").size() + " outputs");
          }
          return recorded.get().get("exitCode").asInt();
        } catch (OutputTree.Incomplete e) {
          System.err.println("larder: the recorded run is incomplete (" + e.getMessage() + "): running the command");
        }
      }
      return runAndRecord(store, work, k, entryKey);
    }
  }

  private int runAndRecord(ExecCache store, Path work, BuildKey.Result k, String entryKey) throws Exception {
    long t0 = System.nanoTime();
    Process p;
    try {
      p = new ProcessBuilder(command).directory(work.toFile()).redirectInput(ProcessBuilder.Redirect.INHERIT).start();
    } catch (IOException e) {
      // as a shell does: 127 when there is no such program, 126 when it cannot be run
      String why = e.getMessage() == null ? "" : e.getMessage();
      boolean missing = why.contains("error=2,") || why.contains("error: 2") || why.contains("No such file");
      System.err.println("larder: cannot run '" + command.get(0) + "': "
          + (missing ? "no such program (check the PATH)" : "it is not executable"));
      return missing ? 127 : 126;
    }
    Path outFile = Files.createTempFile("larder-exec-stdout", ".log");
    Path errFile = Files.createTempFile("larder-exec-stderr", ".log");
    try {
      Thread o = tee(p.getInputStream(), System.out, outFile);
      Thread e = tee(p.getErrorStream(), System.err, errFile);
      int code = p.waitFor();
      o.join();
      e.join();
      long millis = (System.nanoTime() - t0) / 1_000_000;
      if (code != 0 && !cacheFailures) {
        return code; // a failure records nothing
      }
      ObjectNode m = Jsons.MAPPER.createObjectNode();
      m.put("format", 1);
      ArrayNode cmd = m.putArray("command");
      command.forEach(cmd::add);
      m.put("exitCode", code);
      m.put("durationMillis", millis);
      m.put("host", java.net.InetAddress.getLocalHost().getHostName());
      m.put("time", java.time.Instant.now().toString());
      m.put("key", k.key());
      ArrayNode inputs = m.putArray("inputs");
      for (BuildKey.Input i : k.inputs()) {
        inputs.addObject().put("kind", i.kind()).put("name", i.name()).put("sha256", i.sha256());
      }
      m.set("stdout", OutputTree.storeFile(store, outFile));
      m.set("stderr", OutputTree.storeFile(store, errFile));
      m.set("outputs", OutputTree.capture(store, work, outputs));
      byte[] json = Jsons.MAPPER.writeValueAsBytes(m);
      String meta = Jsons.MAPPER.writeValueAsString(Jsons.MAPPER.createObjectNode().put("command", String.join(" ", command))
          .put("durationMillis", millis).put("host", m.get("host").asText()).put("time", m.get("time").asText()));
      store.put(entryKey, json, meta);
      store.put("exec-last:" + name, json, meta);
      return code;
    } finally {
      Files.deleteIfExists(outFile);
      Files.deleteIfExists(errFile);
    }
  }

  /** Copies a child's output to ours as it comes, and to a file for the record. */
  private static Thread tee(InputStream from, OutputStream to, Path file) {
    return Thread.ofPlatform().start(() -> {
      try (InputStream in = from; OutputStream f = Files.newOutputStream(file)) {
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) > 0; ) {
          to.write(buf, 0, n);
          to.flush();
          f.write(buf, 0, n);
        }
      } catch (IOException ignored) {
        // the child closed its end
      }
    });
  }

  private static void replay(ExecCache store, JsonNode m) throws IOException {
    OutputTree.copyBlob(store, m.get("stdout"), System.out);
    System.out.flush();
    OutputTree.copyBlob(store, m.get("stderr"), System.err);
    System.err.flush();
  }

  private int dryRun(ExecCache store, BuildKey.Result k, Optional<JsonNode> recorded) throws IOException {
    if (recorded.isPresent()) {
      out.println("hit " + k.key() + " (" + name + ")");
      return Main.OK;
    }
    out.println("miss " + k.key() + " (" + name + ")");
    Optional<JsonNode> last = readJson(store, "exec-last:" + name);
    if (last.isEmpty()) {
      out.println("  no earlier run of '" + name + "' is recorded");
      return Main.MISS;
    }
    Map<String, String> before = new TreeMap<>();
    last.get().get("inputs").forEach(i -> before.put(i.get("kind").asText() + " " + i.get("name").asText(), i.get("sha256").asText()));
    Map<String, String> now = new TreeMap<>();
    k.inputs().forEach(i -> now.put(i.kind() + " " + i.name(), i.sha256()));
    now.forEach((n, d) -> {
      String was = before.get(n);
      if (was == null) {
        out.println("  added    " + n);
      } else if (!was.equals(d)) {
        out.println("  changed  " + n);
      }
    });
    before.keySet().stream().filter(n -> !now.containsKey(n)).forEach(n -> out.println("  removed  " + n));
    return Main.MISS; // a miss, as for get: 1
  }

  private static Optional<JsonNode> readJson(ExecCache store, String key) throws IOException {
    Optional<InputStream> c = store.open(key);
    if (c.isEmpty()) {
      return Optional.empty();
    }
    try (InputStream in = c.get()) {
      return Optional.of(Jsons.MAPPER.readTree(in.readAllBytes()));
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // damaged or not ours: treated as a miss
    }
  }
}
