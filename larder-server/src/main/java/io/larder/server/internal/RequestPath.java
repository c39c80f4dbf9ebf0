package io.larder.server.internal;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * A request target, decoded once: the path (percent-decoded as UTF-8, refusing encoded separators and
 * control characters) and the raw query. Segments are checked only by the protocols that use them: a path
 * that tries to leave its namespace ({@code .} or {@code ..} segments, empty segments) is refused there.
 */
final class RequestPath {
  /** A path that is refused (400), with the reason to give the client. */
  static final class BadPath extends Exception {
    private static final long serialVersionUID = 1L;

    BadPath(String message) {
      super(message, null, false, false);
    }
  }

  final String path;
  final String query;
  private String[] segments;

  private RequestPath(String path, String query) {
    this.path = path;
    this.query = query;
  }

  /** Parses the raw request target (path and optional query). */
  static RequestPath parse(String target) throws BadPath {
    int q = target.indexOf('?');
    String rawPath = q < 0 ? target : target.substring(0, q);
    if (!rawPath.startsWith("/")) {
      throw new BadPath("the path must start with /");
    }
    return new RequestPath(decode(rawPath), q < 0 ? "" : target.substring(q + 1));
  }

  /** The path's segments, none of them empty, {@code .} or {@code ..}. */
  String[] segments() throws BadPath {
    if (segments == null) {
      String[] s = path.substring(1).split("/", -1);
      for (String seg : s) {
        if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
          throw new BadPath("the path has an empty, '.' or '..' segment");
        }
      }
      segments = s;
    }
    return segments;
  }

  /** One query parameter, decoded; {@code null} if absent. */
  String param(String name) {
    return param(query, name);
  }

  static String param(String query, String name) {
    for (String part : query.split("&")) {
      int eq = part.indexOf('=');
      String k = eq < 0 ? part : part.substring(0, eq);
      if (k.equals(name)) {
        return URLDecoder.decode(eq < 0 ? "" : part.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
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
}
