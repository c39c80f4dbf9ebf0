package io.larder.server.internal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
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

  /**
   * Parses the raw request target: origin form ({@code /path?query}), or absolute form
   * ({@code http://host/path?query}, which RFC 9112 says a server must accept; the authority is ignored).
   */
  static RequestPath parse(String target) throws BadPath {
    target = originForm(target);
    int q = target.indexOf('?');
    String rawPath = q < 0 ? target : target.substring(0, q);
    if (!rawPath.startsWith("/")) {
      throw new BadPath("the path must start with /");
    }
    return new RequestPath(decode(rawPath), q < 0 ? "" : target.substring(q + 1));
  }

  private static String originForm(String target) {
    int scheme = target.indexOf("://");
    if (scheme <= 0 || target.startsWith("/")) {
      return target;
    }
    String name = target.substring(0, scheme);
    if (!name.equalsIgnoreCase("http") && !name.equalsIgnoreCase("https")) {
      return target;
    }
    int path = target.indexOf('/', scheme + 3);
    int query = target.indexOf('?', scheme + 3);
    if (path < 0 || query >= 0 && query < path) {
      return "/" + (query < 0 ? "" : target.substring(query));
    }
    return target.substring(path);
  }

  /** The path's segments, none of them empty, {@code .} or {@code ..}. */
  String[] segments() throws BadPath {
    if (segments == null) {
      segments = checkSegments(path);
    }
    return segments;
  }

  /** The segments of {@code path} ("/a/b": a, b; "": none), refusing empty, {@code .} and {@code ..} ones. */
  static String[] checkSegments(String path) throws BadPath {
    if (path.isEmpty()) {
      return new String[0];
    }
    String[] s = path.substring(1).split("/", -1);
    for (String seg : s) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw new BadPath("the path has an empty, '.' or '..' segment");
      }
    }
    return s;
  }

  /**
   * One query parameter, decoded ({@code +} is a space, {@code %XX} a byte of UTF-8); {@code null} if absent.
   *
   * @throws BadPath if its value has a malformed escape or is not UTF-8
   */
  String param(String name) throws BadPath {
    for (String part : query.split("&")) {
      int eq = part.indexOf('=');
      String k = eq < 0 ? part : part.substring(0, eq);
      if (k.equals(name)) {
        return decode(eq < 0 ? "" : part.substring(eq + 1).replace('+', ' '), "the query parameter '" + name + "'");
      }
    }
    return null;
  }

  /** Percent-decodes a path, refusing encoded separators and control characters. */
  static String decode(String raw) throws BadPath {
    if (raw.indexOf('%') >= 0 && (raw.contains("%2f") || raw.contains("%2F") || raw.contains("%5c") || raw.contains("%5C"))) {
      throw new BadPath("the path has an encoded '/' or '\\'");
    }
    String s = decode(raw, "the path");
    checkChars(s);
    return s;
  }

  /**
   * Percent-decodes {@code raw} as UTF-8. Characters over U+007F are taken as the raw bytes they arrived as
   * (the request line is read byte for byte), so that a path sent unencoded in UTF-8 means what it says.
   */
  private static String decode(String raw, String what) throws BadPath {
    boolean plain = true;
    for (int i = 0; i < raw.length() && plain; i++) {
      char c = raw.charAt(i);
      plain = c != '%' && c <= 0x7f;
    }
    if (plain) {
      return raw;
    }
    byte[] out = new byte[raw.length()];
    int n = 0;
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) {
          throw new BadPath("a '%' in " + what + " is not followed by two hex digits");
        }
        out[n++] = (byte) (hex(raw.charAt(i + 1), what) * 16 + hex(raw.charAt(i + 2), what));
        i += 2;
      } else if (c > 0xff) {
        throw new BadPath(what + " has a character that is not a byte");
      } else {
        out[n++] = (byte) c;
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(out, 0, n)).toString();
    } catch (CharacterCodingException e) {
      throw new BadPath(what + " is not valid UTF-8 once decoded");
    }
  }

  /** Refuses control characters (C0, DEL and C1) and backslashes. */
  private static void checkChars(String s) throws BadPath {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\\') {
        throw new BadPath("the path has a control character or a '\\'");
      }
    }
  }

  private static int hex(char c, String what) throws BadPath {
    int v = Character.digit(c, 16);
    if (v < 0 || c > 0x7f) {
      throw new BadPath("a '%' in " + what + " is not followed by two hex digits");
    }
    return v;
  }
}
