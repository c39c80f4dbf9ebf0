package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.DigestFunction;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.larder.LarderException;
import java.util.regex.Pattern;

/**
 * What every REAPI service checks the same way: digests (SHA-256 only), digest functions, instance names;
 * and the one mapping of store errors to gRPC status codes.
 */
final class Reapi {
  /** The SHA-256 of no bytes: clients never upload it, and every server has it. */
  static final String EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  private Reapi() {}

  /** The hash of a well-formed SHA-256 digest. */
  static String hex(Digest d) {
    if (!HEX64.matcher(d.getHash()).matches()) {
      throw invalid("a digest's hash is 64 lowercase hex digits (this server stores SHA-256), not '"
          + printable(d.getHash()) + "'");
    }
    if (d.getSizeBytes() < 0) {
      throw invalid("a digest's size is not negative (digest " + d.getHash() + "/" + d.getSizeBytes() + ")");
    }
    return d.getHash();
  }

  /** Whether {@code d} is the empty blob (present everywhere, stored nowhere). */
  static boolean isEmpty(Digest d) {
    return d.getSizeBytes() == 0 && d.getHash().equals(EMPTY);
  }

  /** Refuses a digest function other than SHA-256 (UNKNOWN means the client's default: SHA-256). */
  static void checkFunction(DigestFunction.Value f) {
    if (f != DigestFunction.Value.UNKNOWN && f != DigestFunction.Value.SHA256) {
      throw invalid("this server stores SHA-256 digests only, not " + f + " (see GetCapabilities)");
    }
  }

  /**
   * Checks an instance name: "" or '/'-separated segments, none empty, '.' or '..', and none of the words a
   * ByteStream resource name uses to mark where the instance ends.
   */
  static String instance(String name) {
    if (name.isEmpty()) {
      return name;
    }
    for (String seg : name.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..") || seg.equals("blobs") || seg.equals("uploads")
          || seg.equals("compressed-blobs") || seg.equals("actionResults") || seg.equals("operations")) {
        throw invalid("an instance name is '/'-separated segments, none empty, '.', '..' or a word the API reserves"
            + " (blobs, uploads, compressed-blobs, actionResults, operations), not '" + printable(name) + "'");
      }
      for (int i = 0; i < seg.length(); i++) {
        char c = seg.charAt(i);
        if (c < 0x20 || c == 0x7f) {
          throw invalid("an instance name may not contain control characters");
        }
      }
    }
    return name;
  }

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  /** The status of a store error: one code per kind of error, with the error's message. */
  static Status status(LarderException e) {
    Status s = switch (e.kind()) {
      case NOT_FOUND, CORRUPT -> Status.NOT_FOUND;
      case DIGEST_MISMATCH, SIZE_MISMATCH, INVALID_KEY, INVALID_INTEGRITY, INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
      case INSUFFICIENT_STORAGE -> Status.RESOURCE_EXHAUSTED;
      case BUSY, CLOSED -> Status.UNAVAILABLE;
      case READ_ONLY -> Status.PERMISSION_DENIED;
      case IO -> Status.INTERNAL;
    };
    return s.withDescription(e.getMessage());
  }

  /** At most 100 characters, control characters shown as '?': for messages that quote a client's input. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && i < 100; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return s.length() > 100 ? b + "…" : b.toString();
  }
}
