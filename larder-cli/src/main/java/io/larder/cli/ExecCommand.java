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
    description = {"Run a command only if its inputs changed; otherwise replay its recorded run.",
        "The key is computed as by 'larder key' (plus the command and the output globs). On a hit the recorded"
            + " outputs, stdout, stderr and exit code are restored without running the command; on a miss it runs,"
            + " streams its output, and if it exits 0 its outputs (files, directories, permissions, symbolic links,"
            + " empty directories) are stored."},
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
          if (options.json) { // stdout is the command's: the report is one JSON line on stderr
            System.err.println(Jsons.MAPPER.writeValueAsString(Jsons.MAPPER.createObjectNode().put("hit", true)
                .put("key", k.key()).put("name", name).put("outputs", recorded.get().get("outputs").size())
                .put("exitCode", recorded.get().get("exitCode").asInt())));
          } else if (!options.quiet) {
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
    Path bothFile = Files.createTempFile("larder-exec-output", ".log");
    Interleaved both = new Interleaved(bothFile);
    try {
      Thread o = tee(p.getInputStream(), System.out, outFile, both, 1);
      Thread e = tee(p.getErrorStream(), System.err, errFile, both, 2);
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
      m.put("time", io.larder.config.JsonShapes.time(java.time.Instant.now()));
      m.put("key", k.key());
      ArrayNode inputs = m.putArray("inputs");
      for (BuildKey.Input i : k.inputs()) {
        inputs.addObject().put("kind", i.kind()).put("name", i.name()).put("sha256", i.sha256());
      }
      m.set("stdout", OutputTree.storeFile(store, outFile));
      m.set("stderr", OutputTree.storeFile(store, errFile));
      both.close();
      m.set("interleaved", OutputTree.storeFile(store, bothFile)); // stdout and stderr in the order they came
      m.set("outputs", OutputTree.capture(store, work, outputs));
      byte[] json = Jsons.MAPPER.writeValueAsBytes(m);
      String meta = Jsons.MAPPER.writeValueAsString(Jsons.MAPPER.createObjectNode().put("command", String.join(" ", command))
          .put("durationMillis", millis).put("host", m.get("host").asText()).put("time", m.get("time").asText()));
      store.put(entryKey, json, meta);
      store.put("exec-last:" + name, json, meta);
      return code;
    } finally {
      both.close();
      Files.deleteIfExists(outFile);
      Files.deleteIfExists(errFile);
      Files.deleteIfExists(bothFile);
    }
  }

  /**
   * Both of a command's outputs in one file, in the order they were read: records of a stream number (1
   * stdout, 2 stderr), a length (4 bytes) and that many bytes.
   */
  private static final class Interleaved {
    private final java.io.DataOutputStream out;
    private boolean closed;

    Interleaved(Path file) throws IOException {
      out = new java.io.DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(file)));
    }

    synchronized void write(int stream, byte[] b, int len) throws IOException {
      if (!closed) {
        out.writeByte(stream);
        out.writeInt(len);
        out.write(b, 0, len);
      }
    }

    synchronized void close() throws IOException {
      if (!closed) {
        closed = true;
        out.close();
      }
    }
  }

  /** Copies a child's output to ours as it comes, and to a file and the interleaved record. */
  private static Thread tee(InputStream from, OutputStream to, Path file, Interleaved both, int stream) {
    return Thread.ofPlatform().start(() -> {
      try (InputStream in = from; OutputStream f = Files.newOutputStream(file)) {
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) > 0; ) {
          to.write(buf, 0, n);
          to.flush();
          f.write(buf, 0, n);
          both.write(stream, buf, n);
        }
      } catch (IOException ignored) {
        // the child closed its end
      }
    });
  }

  /** Writes a run's stdout and stderr again, interleaved as they came when the record has that order. */
  private static void replay(ExecCache store, JsonNode m) throws IOException {
    if (m.has("interleaved")) {
      Path record = Files.createTempFile("larder-exec-output", ".log");
      try {
        boolean stored;
        try (OutputStream f = Files.newOutputStream(record)) {
          stored = OutputTree.copyBlob(store, m.get("interleaved"), f);
        }
        if (stored) {
          try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(record)))) {
            for (int stream; (stream = in.read()) >= 0; ) {
              byte[] chunk = new byte[in.readInt()];
              in.readFully(chunk);
              java.io.PrintStream to = stream == 2 ? System.err : System.out;
              to.write(chunk);
              to.flush();
            }
          }
          return;
        }
      } finally {
        Files.deleteIfExists(record);
      }
    }
    OutputTree.copyBlob(store, m.get("stdout"), System.out);
    System.out.flush();
    OutputTree.copyBlob(store, m.get("stderr"), System.err);
    System.err.flush();
  }

  private int dryRun(ExecCache store, BuildKey.Result k, Optional<JsonNode> recorded) throws Exception {
    if (options.json) {
      return dryRunJson(store, k, recorded);
    }
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
    for (String[] c : changes(last.get(), k)) {
      out.println(String.format("  %-9s%s", c[0], c[1]));
    }
    return Main.MISS; // a miss, as for get: 1
  }

  /** What changed between the last recorded run's inputs and these: {added|changed|removed, "kind name"}. */
  private static List<String[]> changes(JsonNode last, BuildKey.Result k) {
    Map<String, String> before = new TreeMap<>();
    last.get("inputs").forEach(i -> before.put(i.get("kind").asText() + " " + i.get("name").asText(), i.get("sha256").asText()));
    Map<String, String> now = new TreeMap<>();
    k.inputs().forEach(i -> now.put(i.kind() + " " + i.name(), i.sha256()));
    List<String[]> changes = new ArrayList<>();
    now.forEach((n, d) -> {
      String was = before.get(n);
      if (was == null || !was.equals(d)) {
        changes.add(new String[] {was == null ? "added" : "changed", n});
      }
    });
    before.keySet().stream().filter(n -> !now.containsKey(n)).forEach(n -> changes.add(new String[] {"removed", n}));
    return changes;
  }

  /** {@link #dryRun} as one JSON object: hit, key, name, and on a miss what changed since the last run. */
  private int dryRunJson(ExecCache store, BuildKey.Result k, Optional<JsonNode> recorded) throws Exception {
    com.fasterxml.jackson.databind.node.ObjectNode o = Jsons.MAPPER.createObjectNode()
        .put("hit", recorded.isPresent()).put("key", k.key()).put("name", name);
    if (recorded.isEmpty()) {
      Optional<JsonNode> last = readJson(store, "exec-last:" + name);
      o.put("earlierRun", last.isPresent());
      com.fasterxml.jackson.databind.node.ArrayNode changes = o.putArray("changes");
      if (last.isPresent()) {
        for (String[] c : changes(last.get(), k)) {
          changes.addObject().put("change", c[0]).put("input", c[1]);
        }
      }
    }
    printJson(o);
    return recorded.isPresent() ? Main.OK : Main.MISS;
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
