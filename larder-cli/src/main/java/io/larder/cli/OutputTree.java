package io.larder.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Algorithm;
import io.larder.LarderException;
import io.larder.config.JsonShapes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The outputs of a cached command: captured into the store as a manifest (one JSON entry per output
 * path: file, directory or symbolic link, with its permissions) plus one blob per distinct file content,
 * under {@code exec-blob:<sha256>} (so a file that did not change between versions is stored once), and
 * restored from it.
 *
 * <p>Restoring writes each file beside its target under a temporary name and renames it into place, so
 * every output path holds either what it held before or the whole recorded file, never part of it. Paths
 * are checked before anything is written: none may be absolute, contain {@code ..}, or lead through a
 * symbolic link out of the working directory.
 */
final class OutputTree {
  static final String BLOB = "exec-blob:";
  private static final String TMP_PREFIX = ".larder-restore-";

  private OutputTree() {}

  /** The recorded run cannot be restored whole (a blob was evicted): run the command instead. */
  static final class Incomplete extends Exception {
    private static final long serialVersionUID = 1L;

    Incomplete(String message) {
      super(message);
    }
  }

  /** Stores a file's content as a blob entry (unless stored already); returns {"sha256","size"}. */
  static ObjectNode storeFile(ExecCache cache, Path file) throws IOException {
    String hex = sha256(file);
    long size = Files.size(file);
    if (!cache.has(BLOB + hex)) {
      cache.put(BLOB + hex, file, null);
    }
    return JsonShapes.MAPPER.createObjectNode().put("sha256", hex).put("size", size);
  }

  /** Copies a recorded blob (stdout, stderr) to {@code to}; false if it is gone or does not match its digest. */
  static boolean copyBlob(ExecCache cache, JsonNode ref, OutputStream to) throws IOException {
    Path tmp = Files.createTempFile("larder-exec-blob", ".tmp");
    try {
      if (!fetch(cache, ref.get("sha256").asText(), tmp)) {
        return false;
      }
      Files.copy(tmp, to);
      return true;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Writes blob {@code hex} to {@code target} and checks it against its digest (the bytes may come from the network). */
  private static boolean fetch(ExecCache cache, String hex, Path target) throws IOException {
    Optional<InputStream> in = cache.open(BLOB + hex);
    if (in.isEmpty()) {
      return false;
    }
    java.security.MessageDigest md = Algorithm.SHA256.newDigest();
    try (InputStream s = new java.security.DigestInputStream(in.get(), md)) {
      Files.copy(s, target, StandardCopyOption.REPLACE_EXISTING);
    }
    return java.util.HexFormat.of().formatHex(md.digest()).equals(hex);
  }

  /** Refuses output globs that name anything outside {@code work} (checked before the command runs). */
  static void checkInside(Path work, java.util.List<String> globs) {
    for (String glob : globs) {
      if (Path.of(glob).isAbsolute() || !work.resolve(glob).normalize().startsWith(work)) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "--outputs '" + glob + "' is outside the working directory");
      }
    }
  }

  /**
   * Captures what the globs name under {@code work}, in path order. A glob that names nothing is an error
   * (a typo recorded as a step without outputs would make every later run a "hit" that restores nothing).
   */
  static ArrayNode capture(ExecCache store, Path work, java.util.List<String> globs) throws IOException {
    checkInside(work, globs);
    TreeMap<String, Path> found = new TreeMap<>();
    for (String glob : globs) {
      if (!captureGlob(glob, work.resolve(glob).normalize(), work, found)) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "--outputs '" + glob
            + "' matched nothing after the command ran: nothing was recorded (a typo, or an output the command"
            + " no longer makes?)");
      }
    }
    return manifest(store, found);
  }

  /**
   * Adds what one glob (or the file or directory {@code literal}) names under {@code work} to {@code found};
   * returns whether it named anything.
   */
  private static boolean captureGlob(String glob, Path literal, Path work, TreeMap<String, Path> found)
      throws IOException {
    boolean wildcard = glob.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
    PathMatcher m = wildcard ? FileSystems.getDefault().getPathMatcher("glob:" + glob) : null;
    Path start = wildcard ? work : literal;
    if (!Files.exists(start, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    boolean[] any = new boolean[1];
    Files.walkFileTree(start, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
        Path rel = work.relativize(dir);
        if (!rel.toString().isEmpty() && (m == null || m.matches(rel))) {
          found.put(unix(rel), dir);
          any[0] = true;
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        Path rel = work.relativize(file);
        if (m == null || m.matches(rel)) {
          found.put(unix(rel), file);
          any[0] = true;
        }
        return FileVisitResult.CONTINUE;
      }
    });
    return any[0];
  }

  /** The manifest of what was found: each path with its type, mode and content (stored now). */
  private static ArrayNode manifest(ExecCache store, TreeMap<String, Path> found) throws IOException {
    ArrayNode out = JsonShapes.MAPPER.createArrayNode();
    for (var e : found.entrySet()) {
      Path p = e.getValue();
      ObjectNode n = out.addObject().put("path", e.getKey());
      if (Files.isSymbolicLink(p)) {
        n.put("type", "symlink").put("target", Files.readSymbolicLink(p).toString());
      } else if (Files.isDirectory(p)) {
        n.put("type", "dir").put("mode", mode(p));
      } else {
        n.put("type", "file").put("mode", mode(p)).setAll(storeFile(store, p));
      }
    }
    return out;
  }

  /**
   * Restores a manifest into {@code work}. Checks every path and blob before writing anything. Every file and
   * directory restored gets one time, the moment the restore began: newer than the inputs it was built from,
   * and no output newer than another, so that make (or any tool that compares times) rebuilds nothing that
   * was restored.
   */
  static void restore(ExecCache store, Path work, JsonNode outputs) throws Incomplete, IOException {
    java.nio.file.attribute.FileTime restoredAt = java.nio.file.attribute.FileTime.from(java.time.Instant.now());
    Path real = work.toRealPath();
    for (JsonNode o : outputs) {
      String path = o.get("path").asText();
      Path rel = Path.of(path);
      if (rel.isAbsolute() || path.isEmpty() || rel.normalize().startsWith("..") || path.contains("\\")
          || java.util.Arrays.asList(path.split("/")).contains("..")) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "the recorded output '" + path + "' is outside the working directory: nothing restored");
      }
      if (o.get("type").asText().equals("file") && !store.has(BLOB + o.get("sha256").asText())) {
        throw new Incomplete("the content of " + path + " is no longer stored");
      }
    }
    java.util.Set<Path> swept = new java.util.HashSet<>();
    for (JsonNode o : outputs) {
      Path target = work.resolve(o.get("path").asText());
      Path parent = target.getParent();
      Files.createDirectories(parent);
      if (swept.add(parent)) {
        sweepStale(parent);
      }
      if (!parent.toRealPath().startsWith(real)) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "restoring "
            + o.get("path").asText() + " would write through a symbolic link out of " + work + ": stopped");
      }
      switch (o.get("type").asText()) {
        case "dir" -> {
          if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectory(target);
          }
          setMode(target, o);
        }
        case "symlink" -> {
          Path tmp = parent.resolve(TMP_PREFIX + UUID.randomUUID());
          Files.createSymbolicLink(tmp, Path.of(o.get("target").asText()));
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        default -> {
          Path tmp = parent.resolve(TMP_PREFIX + UUID.randomUUID());
          try {
            if (!fetch(store, o.get("sha256").asText(), tmp)) { // checked before it is put in place
              throw new Incomplete("the content of " + o.get("path").asText() + " is gone or damaged");
            }
            setMode(tmp, o);
            Files.setLastModifiedTime(tmp, restoredAt);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
          } finally {
            Files.deleteIfExists(tmp);
          }
        }
      }
    }
    // Directories last: restoring what they hold changed their times.
    for (JsonNode o : outputs) {
      if (o.get("type").asText().equals("dir")) {
        Files.setLastModifiedTime(work.resolve(o.get("path").asText()), restoredAt);
      }
    }
  }

  /**
   * Removes temporary files of restores that were killed (kill -9, power loss) more than ten minutes ago;
   * younger ones may belong to a restore running now in another process.
   */
  private static void sweepStale(Path dir) {
    java.time.Instant cutoff = java.time.Instant.now().minus(java.time.Duration.ofMinutes(10));
    try (var s = Files.newDirectoryStream(dir, TMP_PREFIX + "*")) {
      for (Path p : s) {
        if (Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(cutoff)) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException ignored) {
      // best effort
    }
  }

  private static String mode(Path p) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  private static void setMode(Path p, JsonNode o) throws IOException {
    if (o.has("mode")) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(o.get("mode").asText()));
    }
  }

  private static String unix(Path rel) {
    return rel.toString().replace(java.io.File.separatorChar, '/');
  }

  private static String sha256(Path file) throws IOException {
    java.security.MessageDigest md = Algorithm.SHA256.newDigest();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[256 * 1024];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }
}
