package io.larder;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A deterministic cache key from everything that determines a build step's result: files (by content and
 * relative path, never by time), strings, environment variables, the platform, tool versions and other
 * keys. The same inputs give the same key on every machine; changing one byte of any input changes it.
 *
 * <pre>{@code
 * BuildKey.Result k = BuildKey.in(projectDir)
 *     .files("src/**\/*.java").files("pom.xml").exclude("**\/generated/**")
 *     .arg("-O2").env("CC").platform(BuildKey.currentPlatform()).dep(otherKey)
 *     .compute();
 * k.key();      // 64 hex digits
 * k.inputs();   // every input and its digest (what --explain prints)
 * }</pre>
 *
 * <p>The key is the SHA-256 of a manifest: one line per input, {@code <kind> <name> <sha256 hex>}, sorted by
 * kind and then name (file names are relative, with {@code /}), preceded by a format version line. Files are
 * hashed in parallel. With a {@link FileMemo}, a file whose stamp is unchanged is not read again (see there
 * for exactly when a stamp is trusted).
 */
public final class BuildKey {
  /** Changes whenever the manifest's format does, so that keys of different formats never collide. */
  public static final String FORMAT = "larder-key-v1";

  /** One input and its digest. {@code kind} is file, arg, env, platform, tool or dep. */
  public record Input(String kind, String name, String sha256) {}

  /**
   * The key and what it was computed from.
   *
   * @param filesRead how many files were read (the others' digests came from the memo)
   */
  public record Result(String key, List<Input> inputs, int filesRead) {
    /** The manifest whose SHA-256 is the key. */
    public String manifest() {
      StringBuilder sb = new StringBuilder(FORMAT).append('\n');
      for (Input i : inputs) {
        sb.append(i.kind()).append(' ').append(escape(i.name())).append(' ').append(i.sha256()).append('\n');
      }
      return sb.toString();
    }
  }

  /** One read buffer per hashing thread (allocating a direct buffer per file cost more than hashing small files). */
  private static final ThreadLocal<ByteBuffer> BUFFERS = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(256 * 1024));

  private static final List<String> KIND_ORDER = List.of("platform", "tool", "env", "arg", "dep", "file");

  private final Path root;
  private final List<String> fileGlobs = new ArrayList<>();
  private final List<String> excludes = new ArrayList<>();
  private final List<Input> direct = new ArrayList<>();
  private final List<String> toolCommands = new ArrayList<>();
  private Map<String, String> environment = System.getenv();
  private FileMemo memo;
  private int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
  private int argIndex;
  private final java.util.concurrent.atomic.AtomicInteger filesRead = new java.util.concurrent.atomic.AtomicInteger();

  private BuildKey(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  /** A key over files relative to {@code root} (a project directory). */
  public static BuildKey in(Path root) {
    return new BuildKey(root);
  }

  /** Files matching a glob relative to the root ({@code src/**\/*.java}, {@code pom.xml}); a directory means everything under it. */
  public BuildKey files(String glob) {
    fileGlobs.add(Objects.requireNonNull(glob));
    return this;
  }

  /** Leaves out files matching a glob relative to the root. */
  public BuildKey exclude(String glob) {
    excludes.add(Objects.requireNonNull(glob));
    return this;
  }

  /** A string, such as a compiler flag. Order matters: {@code -O2 -g} and {@code -g -O2} differ. */
  public BuildKey arg(String value) {
    direct.add(new Input("arg", String.format(Locale.ROOT, "%04d", argIndex++), sha256(value)));
    return this;
  }

  /** An environment variable by name (its value, or its absence, goes into the key). */
  public BuildKey env(String name) {
    String v = environment.get(name);
    direct.add(new Input("env", name, v == null ? "unset" : sha256(v)));
    return this;
  }

  /** The platform, e.g. {@code linux-x86_64}. */
  public BuildKey platform(String platform) {
    direct.add(new Input("platform", "platform", sha256(platform)));
    return this;
  }

  /** Another key, so that keys chain like a dependency graph. */
  public BuildKey dep(String key) {
    direct.add(new Input("dep", key, sha256(key)));
    return this;
  }

  /** A tool's version: the command runs through {@code sh -c} and its output (stdout and stderr) is hashed. */
  public BuildKey toolVersion(String command) {
    toolCommands.add(Objects.requireNonNull(command));
    return this;
  }

  /** The environment {@link #env} reads (default: this process's). */
  public BuildKey environment(Map<String, String> env) {
    this.environment = Objects.requireNonNull(env);
    return this;
  }

  /** Reuses file digests whose stamps are unchanged (see {@link FileMemo}). */
  public BuildKey memo(FileMemo m) {
    this.memo = m;
    return this;
  }

  /** How many threads hash files (default: the number of processors, at least 2). */
  public BuildKey threads(int n) {
    this.threads = Math.max(1, n);
    return this;
  }

  /** This machine's platform: {@code <os>-<arch>}, e.g. {@code linux-x86_64}, {@code mac-aarch64}. */
  public static String currentPlatform() {
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String o = os.contains("linux") ? "linux" : os.contains("mac") ? "mac" : os.contains("win") ? "windows" : os.replace(' ', '_');
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    String a = switch (arch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch64";
      default -> arch;
    };
    return o + "-" + a;
  }

  /**
   * Computes the key.
   *
   * @throws LarderException.InvalidInput if a glob matches nothing, a tool command fails, or a file cannot be read
   */
  public Result compute() {
    List<Input> all = new ArrayList<>(direct);
    for (String cmd : toolCommands) {
      all.add(new Input("tool", cmd, sha256(runTool(cmd))));
    }
    all.addAll(hashFiles());
    all.sort((x, y) -> {
      int k = Integer.compare(KIND_ORDER.indexOf(x.kind()), KIND_ORDER.indexOf(y.kind()));
      return k != 0 ? k : x.name().compareTo(y.name());
    });
    Result partial = new Result(null, List.copyOf(all), 0);
    return new Result(sha256(partial.manifest()), partial.inputs(), filesRead.get());
  }

  private List<Input> hashFiles() {
    if (fileGlobs.isEmpty()) {
      return List.of();
    }
    TreeMap<String, Path> files = new TreeMap<>();
    List<PathMatcher> ex = excludes.stream().map(BuildKey::matcher).toList();
    for (String glob : fileGlobs) {
      if (collect(glob, ex, files) == 0) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "--files '" + glob + "' matches no file under " + root);
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, Math.max(1, files.size())),
        r -> Thread.ofPlatform().daemon().name("larder-key-hash").unstarted(r));
    try {
      List<Future<Input>> futures = new ArrayList<>(files.size());
      for (Map.Entry<String, Path> f : files.entrySet()) {
        futures.add(pool.submit(() -> new Input("file", f.getKey(), fileDigest(f.getValue()))));
      }
      List<Input> out = new ArrayList<>(futures.size());
      for (Future<Input> fu : futures) {
        try {
          out.add(fu.get());
        } catch (java.util.concurrent.ExecutionException e) {
          if (e.getCause() instanceof LarderException le) {
            throw le;
          }
          throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
              "hashing the input files failed: " + e.getCause().getMessage());
        }
      }
      if (memo != null) {
        memo.save();
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "interrupted while hashing files");
    } finally {
      pool.shutdownNow();
    }
  }

  /** Adds the files a glob matches; returns how many it matched (some may have been added by another glob). */
  private int collect(String glob, List<PathMatcher> ex, TreeMap<String, Path> into) {
    Path literal = root.resolve(glob).normalize();
    if (!literal.startsWith(root)) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "--files '" + glob + "' is outside " + root);
    }
    boolean hasWildcard = glob.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
    PathMatcher m = hasWildcard ? matcher(glob) : null;
    Path start = hasWildcard ? root.resolve(staticPrefix(glob)) : literal;
    if (!Files.exists(start, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    int[] matched = {0};
    try {
      Files.walkFileTree(start, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          Path rel = root.relativize(file);
          if ((m == null || m.matches(rel)) && ex.stream().noneMatch(e -> e.matches(rel))
              && (attrs.isRegularFile() || attrs.isSymbolicLink())) {
            into.put(unixPath(rel), file);
            matched[0]++;
          }
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "listing the files of '" + glob + "' failed: " + e.getMessage());
    }
    return matched[0];
  }

  /** The directories of a glob before its first wildcard, where the walk starts. */
  private static String staticPrefix(String glob) {
    String[] parts = glob.split("/");
    StringBuilder sb = new StringBuilder();
    for (String p : parts) {
      if (p.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{')) {
        break;
      }
      sb.append(p).append('/');
    }
    return sb.length() == 0 ? "." : sb.toString();
  }

  private static PathMatcher matcher(String glob) {
    return FileSystems.getDefault().getPathMatcher("glob:" + glob);
  }

  private static String unixPath(Path rel) {
    return rel.toString().replace(java.io.File.separatorChar, '/');
  }

  private String fileDigest(Path file) throws IOException {
    if (Files.isSymbolicLink(file)) {
      return sha256("symlink:" + Files.readSymbolicLink(file)); // the link itself, not where it points
    }
    if (memo != null) {
      String known = memo.lookup(file);
      if (known != null) {
        return known;
      }
    }
    FileMemo.Stamp before = memo != null ? FileMemo.stamp(file) : null;
    filesRead.incrementAndGet();
    MessageDigest md = Algorithm.SHA256.newDigest();
    boolean executable = Files.isExecutable(file);
    md.update((byte) (executable ? 'x' : '-')); // the executable bit changes what a build produces
    try (FileChannel ch = FileChannel.open(file)) {
      ByteBuffer buf = BUFFERS.get();
      buf.clear();
      while (ch.read(buf) > 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    String hex = HexFormat.of().formatHex(md.digest());
    if (memo != null) {
      memo.record(file, before, hex);
    }
    return hex;
  }

  private static byte[] runTool(String command) {
    try {
      Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
      p.getOutputStream().close();
      byte[] out;
      try (InputStream in = p.getInputStream()) {
        out = in.readAllBytes();
      }
      int code = p.waitFor();
      if (code != 0) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "--tool-version '" + command + "' exited with " + code + ": "
                + new String(out, StandardCharsets.UTF_8).strip());
      }
      return out;
    } catch (IOException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "--tool-version '" + command + "' could not run: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "interrupted running " + command);
    }
  }

  static String sha256(String s) {
    return sha256(s.getBytes(StandardCharsets.UTF_8));
  }

  static String sha256(byte[] b) {
    return HexFormat.of().formatHex(Algorithm.SHA256.newDigest().digest(b));
  }

  /** Names in the manifest are escaped so that a newline or space in a file name cannot forge a line. */
  private static String escape(String name) {
    StringBuilder sb = new StringBuilder(name.length());
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '\\' || c == ' ' || c < 0x20) {
        sb.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }
}
