package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.OutputSymlink;
import build.bazel.remote.execution.v2.Tree;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Action results as the action cache keeps them, whichever transport stored them: protobuf (Bazel, gRPC
 * clients) or JSON (moon over HTTP); checked before they are stored, and checked for completeness before
 * they are served — a result whose outputs are not all in the CAS is a miss, so that a client rebuilds
 * instead of failing on a download.
 */
public final class ActionResults {
  /** Bytes inlined into one GetActionResult reply at most (stdout, stderr and outputs asked for). */
  static final long INLINE_LIMIT = 1 << 20;

  private static final JsonFormat.Parser JSON_IN = JsonFormat.parser().ignoringUnknownFields();
  private static final JsonFormat.Printer JSON_OUT = JsonFormat.printer().omittingInsignificantWhitespace();

  private final Cas cas;
  private final boolean checkCompleteness;

  public ActionResults(Cas cas, boolean checkCompleteness) {
    this.cas = cas;
    this.checkCompleteness = checkCompleteness;
  }

  /**
   * The action result stored as {@code bytes}: protobuf, or JSON if it starts with '{'. Empty if it is
   * neither (other tools store their own formats under {@code /ac/}, ccache among them).
   */
  public static Optional<ActionResult> parse(byte[] bytes) {
    if (isJson(bytes)) {
      return fromJson(new String(bytes, StandardCharsets.UTF_8));
    }
    try {
      ActionResult r = ActionResult.parseFrom(bytes);
      // fields this server does not know are a sign of something that is not an action result at all
      return r.getUnknownFields().asMap().isEmpty() ? Optional.of(r) : Optional.empty();
    } catch (InvalidProtocolBufferException e) {
      return Optional.empty();
    }
  }

  /** Whether stored bytes are JSON (they start with '{', after white space), not protobuf. */
  private static boolean isJson(byte[] bytes) {
    int i = 0;
    while (i < bytes.length && Character.isWhitespace(bytes[i])) {
      i++;
    }
    return i < bytes.length && bytes[i] == '{';
  }

  /** An action result as stored under a key: its bytes, what they say, and whether they are JSON. */
  public record Stored(byte[] bytes, ActionResult result, boolean json) {}

  /** The largest entry read as a possible action result (they are a few KiB; anything bigger is not one). */
  static final long MAX_STORED = 16 << 20;

  /**
   * The action result stored under {@code key}, read (and its access recorded) once; empty on a miss, or if
   * the entry is not an action result — other tools keep their own content under {@code /ac/}, which is
   * never read whole into memory here when it is large.
   */
  public static Optional<Stored> load(io.larder.Larder store, String key) {
    Optional<io.larder.Content> found = store.get(key);
    if (found.isEmpty()) {
      return Optional.empty();
    }
    byte[] bytes;
    try (io.larder.Content c = found.get()) {
      if (c.size() > MAX_STORED) {
        return Optional.empty();
      }
      bytes = c.readAllBytes();
    }
    return parse(bytes).map(r -> new Stored(bytes, r, isJson(bytes)));
  }

  /** The action result in {@code json} (protobuf's JSON mapping: camelCase or the proto's names). */
  public static Optional<ActionResult> fromJson(String json) {
    try {
      ActionResult.Builder b = ActionResult.newBuilder();
      JSON_IN.merge(json, b);
      return Optional.of(b.build());
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The action result as JSON (protobuf's JSON mapping). */
  public static String toJson(ActionResult r) {
    try {
      return JSON_OUT.print(r);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("an ActionResult always prints", e);
    }
  }

  /**
   * Refuses a result a client must not be served: an output path that is empty, absolute or leaves the
   * output root; a malformed digest.
   */
  @SuppressWarnings("deprecation") // the symlink fields of API 2.0, which older clients still send
  public static void validate(ActionResult r) {
    for (OutputFile f : r.getOutputFilesList()) {
      path(f.getPath());
      Reapi.hex(f.getDigest());
    }
    for (OutputDirectory d : r.getOutputDirectoriesList()) {
      // "" is allowed here: the whole output root as one directory
      if (!d.getPath().isEmpty()) {
        path(d.getPath());
      }
      Reapi.hex(d.getTreeDigest());
    }
    for (List<OutputSymlink> links : List.of(r.getOutputSymlinksList(), r.getOutputFileSymlinksList(),
        r.getOutputDirectorySymlinksList())) {
      for (OutputSymlink s : links) {
        path(s.getPath());
        if (s.getTarget().isEmpty()) {
          throw Reapi.invalid("the symlink '" + Reapi.printable(s.getPath()) + "' has no target");
        }
      }
    }
    if (r.hasStdoutDigest()) {
      Reapi.hex(r.getStdoutDigest());
    }
    if (r.hasStderrDigest()) {
      Reapi.hex(r.getStderrDigest());
    }
  }

  private static void path(String p) {
    if (p.isEmpty() || p.startsWith("/") || p.contains("\0")) {
      throw Reapi.invalid("an output path is relative and not empty, not '" + Reapi.printable(p) + "'");
    }
    for (String seg : p.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw Reapi.invalid("an output path has no empty, '.' or '..' segment: '" + Reapi.printable(p) + "'");
      }
    }
  }

  /**
   * Stores what {@code r} carries inline (output contents, stdout, stderr) in the CAS, and returns it with
   * digests in their place: the action cache keeps each blob once, and inlines it again when a reader asks.
   */
  ActionResult storeInlined(ActionResult r) {
    ActionResult.Builder b = r.toBuilder();
    for (int i = 0; i < b.getOutputFilesCount(); i++) {
      OutputFile f = b.getOutputFiles(i);
      if (!f.getContents().isEmpty()) {
        Digest d = cas.put(f.getContents().toByteArray());
        if (!d.equals(f.getDigest())) {
          throw Reapi.invalid("the inlined contents of '" + Reapi.printable(f.getPath()) + "' do not match its digest "
              + f.getDigest().getHash() + "/" + f.getDigest().getSizeBytes());
        }
        b.setOutputFiles(i, f.toBuilder().clearContents());
      }
    }
    if (!r.getStdoutRaw().isEmpty()) {
      b.setStdoutDigest(cas.put(r.getStdoutRaw().toByteArray())).clearStdoutRaw();
    }
    if (!r.getStderrRaw().isEmpty()) {
      b.setStderrDigest(cas.put(r.getStderrRaw().toByteArray())).clearStderrRaw();
    }
    return b.build();
  }

  /**
   * Whether every blob {@code r} references is in the CAS (output files, stdout and stderr, the tree of each
   * output directory and every file in it), refreshing each one found so that eviction keeps them with the
   * result. Always true when completeness checking is off.
   */
  public boolean complete(ActionResult r) {
    if (!checkCompleteness) {
      return true;
    }
    List<Digest> needed = new ArrayList<>();
    for (OutputFile f : r.getOutputFilesList()) {
      needed.add(f.getDigest());
    }
    if (r.hasStdoutDigest()) {
      needed.add(r.getStdoutDigest());
    }
    if (r.hasStderrDigest()) {
      needed.add(r.getStderrDigest());
    }
    for (OutputDirectory d : r.getOutputDirectoriesList()) {
      Optional<byte[]> tree = cas.read(d.getTreeDigest());
      if (tree.isEmpty()) {
        return false;
      }
      Tree t;
      try {
        t = Tree.parseFrom(tree.get());
      } catch (InvalidProtocolBufferException e) {
        return false; // not a tree: the result cannot be used
      }
      needed.add(d.getTreeDigest());
      files(t.getRoot(), needed);
      for (Directory child : t.getChildrenList()) {
        files(child, needed);
      }
    }
    return present(needed);
  }

  private static void files(Directory d, Collection<Digest> into) {
    for (FileNode f : d.getFilesList()) {
      into.add(f.getDigest());
    }
  }

  private boolean present(List<Digest> digests) {
    Set<Digest> unique = new HashSet<>(digests);
    for (Digest d : unique) {
      Reapi.hex(d); // a malformed digest in a stored result: the result is not usable
    }
    Set<String> found = cas.present(unique);
    for (Digest d : unique) {
      if (!found.contains(d.getHash())) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code r} with stdout, stderr and the outputs named in {@code files} inlined as a GetActionResult asked
   * (up to {@link #INLINE_LIMIT} bytes in all; what does not fit, or is not stored, stays a digest).
   */
  ActionResult inline(ActionResult r, boolean stdout, boolean stderr, Collection<String> files) {
    long budget = INLINE_LIMIT;
    ActionResult.Builder b = r.toBuilder();
    if (stdout && r.getStdoutRaw().isEmpty() && r.hasStdoutDigest() && r.getStdoutDigest().getSizeBytes() <= budget) {
      Optional<byte[]> data = cas.read(r.getStdoutDigest());
      if (data.isPresent()) {
        b.setStdoutRaw(ByteString.copyFrom(data.get()));
        budget -= data.get().length;
      }
    }
    if (stderr && r.getStderrRaw().isEmpty() && r.hasStderrDigest() && r.getStderrDigest().getSizeBytes() <= budget) {
      Optional<byte[]> data = cas.read(r.getStderrDigest());
      if (data.isPresent()) {
        b.setStderrRaw(ByteString.copyFrom(data.get()));
        budget -= data.get().length;
      }
    }
    if (!files.isEmpty()) {
      Set<String> wanted = new HashSet<>(files);
      for (int i = 0; i < b.getOutputFilesCount(); i++) {
        OutputFile f = b.getOutputFiles(i);
        if (wanted.contains(f.getPath()) && f.getContents().isEmpty() && f.getDigest().getSizeBytes() <= budget) {
          Optional<byte[]> data = cas.read(f.getDigest());
          if (data.isPresent()) {
            b.setOutputFiles(i, f.toBuilder().setContents(ByteString.copyFrom(data.get())));
            budget -= data.get().length;
          }
        }
      }
    }
    return b.build();
  }
}
