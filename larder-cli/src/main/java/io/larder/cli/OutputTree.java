package io.larder.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Content;
import io.larder.Entry;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.PutOptions;
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

  /** Stores a file's content as a blob entry; returns {"sha256","size"}. */
  static ObjectNode storeFile(Larder store, Path file) throws IOException {
    String hex = sha256(file);
    Entry e = store.put(BLOB + hex, file, PutOptions.defaults());
    if (!e.integrity().hash(io.larder.Algorithm.SHA256).orElseThrow().hex().equals(hex)) {
      throw new IOException(file + " changed while it was stored");
    }
    return io.larder.config.JsonShapes.MAPPER.createObjectNode().put("sha256", hex).put("size", e.size());
  }

  static void copyBlob(Larder store, JsonNode ref, OutputStream to) throws IOException {
    Optional<Content> c = store.get(BLOB + ref.get("sha256").asText());
    if (c.isPresent()) {
      try (Content content = c.get()) {
        to.write(content.readAllBytes());
      }
    }
  }

  /** Captures what the globs name under {@code work}, in path order. */
  static ArrayNode capture(Larder store, Path work, java.util.List<String> globs) throws IOException {
    TreeMap<String, Path> found = new TreeMap<>();
    for (String glob : globs) {
      Path literal = work.resolve(glob).normalize();
      if (!literal.startsWith(work) || Path.of(glob).isAbsolute()) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "--outputs '" + glob + "' is outside the working directory");
      }
      boolean wildcard = glob.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
      PathMatcher m = wildcard ? FileSystems.getDefault().getPathMatcher("glob:" + glob) : null;
      Path start = wildcard ? work : literal;
      if (!Files.exists(start, LinkOption.NOFOLLOW_LINKS)) {
        continue; // an output the command did not produce is simply not recorded
      }
      Files.walkFileTree(start, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
          Path rel = work.relativize(dir);
          if (!rel.toString().isEmpty() && (m == null || m.matches(rel))) {
            found.put(unix(rel), dir);
          }
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          Path rel = work.relativize(file);
          if (m == null || m.matches(rel)) {
            found.put(unix(rel), file);
          }
          return FileVisitResult.CONTINUE;
        }
      });
    }
    ArrayNode out = io.larder.config.JsonShapes.MAPPER.createArrayNode();
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

  /** Restores a manifest into {@code work}. Checks every path and blob before writing anything. */
  static void restore(Larder store, Path work, JsonNode outputs) throws Incomplete, IOException {
    Path real = work.toRealPath();
    for (JsonNode o : outputs) {
      String path = o.get("path").asText();
      Path rel = Path.of(path);
      if (rel.isAbsolute() || path.isEmpty() || rel.normalize().startsWith("..") || path.contains("\\")
          || java.util.Arrays.asList(path.split("/")).contains("..")) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            "the recorded output '" + path + "' is outside the working directory: nothing restored");
      }
      if (o.get("type").asText().equals("file") && store.info(BLOB + o.get("sha256").asText()).isEmpty()) {
        throw new Incomplete("the content of " + path + " is no longer stored");
      }
    }
    for (JsonNode o : outputs) {
      Path target = work.resolve(o.get("path").asText());
      Path parent = target.getParent();
      Files.createDirectories(parent);
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
            Optional<Content> c = store.get(BLOB + o.get("sha256").asText());
            if (c.isEmpty()) {
              throw new Incomplete("the content of " + o.get("path").asText() + " went while restoring");
            }
            try (Content content = c.get()) {
              content.copyTo(tmp); // verified before it is in place
            }
            setMode(tmp, o);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
          } finally {
            Files.deleteIfExists(tmp);
          }
        }
      }
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
    java.security.MessageDigest md = io.larder.Algorithm.SHA256.newDigest();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[256 * 1024];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }
}
