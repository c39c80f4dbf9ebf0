package io.larder.server;

import java.util.Map;
import java.util.Optional;

/**
 * The store keys the server's protocols own. A protocol's keys are written only through that protocol, so
 * that what it serves is what it stored (a Bazel CAS key holds content whose digest is its name): the REST
 * API and the command line read them, but refuse to write them.
 */
public final class Namespaces {
  /** Bazel's action cache ({@code /ac/}). */
  public static final String BAZEL_AC = "bazel:ac:";
  /** Bazel's content-addressable store ({@code /cas/}). */
  public static final String BAZEL_CAS = "bazel:cas:";
  /** Entries named by their path (Gradle, ccache, Maven, curl). */
  public static final String PATHS = "http:";
  /** Turborepo's artifacts. */
  public static final String TURBO = "turbo:";
  /** Nx's self-hosted remote cache ({@code /v1/cache/}). */
  public static final String NX = "nx:";
  /** sccache's WebDAV storage ({@code /sccache/}). */
  public static final String SCCACHE = "sccache:";

  private static final Map<String, String> OWNERS = Map.of(BAZEL_AC, "Bazel's /ac/", BAZEL_CAS, "Bazel's /cas/",
      PATHS, "the key-value paths (PUT /<path>)", TURBO, "Turborepo's /v8/artifacts/", NX, "Nx's /v1/cache/",
      SCCACHE, "sccache's /sccache/");

  private Namespaces() {}

  /** The key of Bazel's action cache entry for an action's SHA-256 (hex) in {@code instance} ("" for none). */
  public static String actionKey(String instance, String hex) {
    return BAZEL_AC + (instance.isEmpty() ? "" : instance + "/") + hex;
  }

  /** The key of the CAS blob with SHA-256 {@code hex} (one CAS for all instances). */
  public static String casKey(String hex) {
    return BAZEL_CAS + hex;
  }

  /** Which protocol owns {@code key} (for messages), if one does. */
  public static Optional<String> owner(String key) {
    for (Map.Entry<String, String> e : OWNERS.entrySet()) {
      if (key.startsWith(e.getKey())) {
        return Optional.of(e.getValue());
      }
    }
    return Optional.empty();
  }

  /** The message for a write of {@code key} that is refused because {@code owner} owns it. */
  public static String refusal(String key, String owner) {
    return "'" + key + "' is in a namespace that only " + owner + " writes (so that it serves what it stored);"
        + " choose a key outside bazel:ac:, bazel:cas:, http:, turbo:, nx: and sccache:";
  }
}
