package io.larder.server.internal;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What a request path names: one protocol and the store key (or digest) it maps to. All protocols share one
 * port; the path decides:
 *
 * <ul>
 *   <li>{@code /healthz}, {@code /readyz}, {@code /metrics};
 *   <li>{@code /v1/…}: Larder's REST API;
 *   <li>{@code /v8/artifacts/status} and {@code /v8/artifacts/<hash>}: Turborepo;
 *   <li>{@code [/<instance>]/ac/<64 hex>} and {@code [/<instance>]/cas/<64 hex>}: Bazel's HTTP cache (also
 *       ccache's {@code bazel} layout, which uses {@code ac/});
 *   <li>any other path: a key–value entry named by the path (Gradle's {@code <base>/<key>}, ccache's
 *       {@code subdirs} and {@code flat} layouts, plain {@code curl}).
 * </ul>
 *
 * <p>Paths are decoded once; a path that tries to leave its namespace ({@code .} or {@code ..} segments,
 * an encoded {@code /} or {@code \}, a NUL or other control character, empty segments) or a malformed
 * digest is refused with {@link BadPath}.
 *
 * @param protocol the protocol, also the label of its metrics
 * @param key the store key for entries ({@code null} for routes without one)
 * @param rest for REST: the path after {@code /v1/}
 */
public record Route(Protocol protocol, String key, String rest) {

  public enum Protocol {
    HEALTH("health"), METRICS("metrics"), REST("rest"), TURBO("turborepo"), TURBO_STATUS("turborepo"),
    BAZEL_AC("bazel-ac"), BAZEL_CAS("bazel-cas"), KV("kv");

    private final String label;

    Protocol(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** A path that is refused (400), with the reason to give the client. */
  public static final class BadPath extends Exception {
    private static final long serialVersionUID = 1L;

    public BadPath(String message) {
      super(message, null, false, false);
    }
  }

  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  /** Key prefixes in the store, so that each protocol has its own namespace. */
  public static final String AC = "bazel:ac:";
  public static final String CAS = "bazel:cas:";
  public static final String KV_PREFIX = "http:";
  public static final String TURBO_PREFIX = "turbo:";

  /** Parses the raw request target (path and optional query). */
  public static Route parse(String target) throws BadPath {
    int q = target.indexOf('?');
    String rawPath = q < 0 ? target : target.substring(0, q);
    String query = q < 0 ? "" : target.substring(q + 1);
    if (!rawPath.startsWith("/")) {
      throw new BadPath("the path must start with /");
    }
    String path = decode(rawPath);
    switch (path) {
      case "/healthz", "/readyz" -> {
        return new Route(Protocol.HEALTH, null, path.substring(1));
      }
      case "/metrics" -> {
        return new Route(Protocol.METRICS, null, null);
      }
      default -> { }
    }
    if (path.startsWith("/v1/") || path.equals("/v1")) {
      return new Route(Protocol.REST, null, path.length() <= 4 ? "" : path.substring(4));
    }
    if (path.equals("/v8/artifacts/status")) {
      return new Route(Protocol.TURBO_STATUS, null, null);
    }
    String[] segments = path.substring(1).split("/", -1);
    for (String s : segments) {
      if (s.isEmpty() || s.equals(".") || s.equals("..")) {
        throw new BadPath("the path has an empty, '.' or '..' segment");
      }
    }
    if (path.startsWith("/v8/artifacts/") && segments.length == 3) {
      String team = queryParam(query, "teamId");
      if (team == null) {
        team = queryParam(query, "slug");
      }
      return new Route(Protocol.TURBO, TURBO_PREFIX + (team == null ? "" : team) + ":" + segments[2], null);
    }
    int n = segments.length;
    if (n >= 2 && (segments[n - 2].equals("ac") || segments[n - 2].equals("cas"))) {
      String hex = segments[n - 1];
      if (!HEX64.matcher(hex).matches()) {
        throw new BadPath("a Bazel cache path ends with 64 lowercase hex digits (a SHA-256), not '" + hex + "'");
      }
      String instance = String.join("/", java.util.Arrays.copyOf(segments, n - 2));
      if (segments[n - 2].equals("cas")) {
        return new Route(Protocol.BAZEL_CAS, CAS + hex, instance);
      }
      return new Route(Protocol.BAZEL_AC, AC + (instance.isEmpty() ? "" : instance + "/") + hex, instance);
    }
    return new Route(Protocol.KV, KV_PREFIX + path, null);
  }

  /** The SHA-256 hex of a Bazel CAS route. */
  public String casHex() {
    return key.substring(CAS.length());
  }

  /** Percent-decodes a path, refusing encoded separators and control characters. */
  static String decode(String raw) throws BadPath {
    if (raw.indexOf('%') < 0) {
      checkChars(raw);
      return raw;
    }
    byte[] out = new byte[raw.length()];
    int n = 0;
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) {
          throw new BadPath("a '%' in the path is not followed by two hex digits");
        }
        int v = hex(raw.charAt(i + 1)) * 16 + hex(raw.charAt(i + 2));
        if (v == '/' || v == '\\') {
          throw new BadPath("the path has an encoded '/' or '\\'");
        }
        out[n++] = (byte) v;
        i += 2;
      } else if (c > 0x7f) {
        throw new BadPath("the path has a raw non-ASCII character; percent-encode it");
      } else {
        out[n++] = (byte) c;
      }
    }
    String s = new String(out, 0, n, StandardCharsets.UTF_8);
    if (s.indexOf('\uFFFD') >= 0) {
      throw new BadPath("the path is not valid UTF-8 once decoded");
    }
    checkChars(s);
    return s;
  }

  private static void checkChars(String s) throws BadPath {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\\') {
        throw new BadPath("the path has a control character or a '\\'");
      }
    }
  }

  private static int hex(char c) throws BadPath {
    int v = Character.digit(c, 16);
    if (v < 0) {
      throw new BadPath("a '%' in the path is not followed by two hex digits");
    }
    return v;
  }

  /** One query parameter, decoded; {@code null} if absent. */
  public static String queryParam(String query, String name) {
    for (String part : query.split("&")) {
      int eq = part.indexOf('=');
      String k = eq < 0 ? part : part.substring(0, eq);
      if (k.equals(name)) {
        return java.net.URLDecoder.decode(eq < 0 ? "" : part.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return protocol.name().toLowerCase(Locale.ROOT) + (key == null ? "" : " " + key);
  }
}
