package io.larder.server.internal;

/**
 * What a request's {@code Range} header asks of content of a known size (RFC 9110): the whole content (no
 * header, one that is not about bytes, several ranges — not supported, so the whole is sent as the RFC
 * allows — or one that cannot be parsed, which is ignored), one part of it, or nothing it can satisfy (416).
 */
sealed interface ByteRange {
  /** The whole content. */
  record Whole() implements ByteRange {}

  /** {@code length} bytes from {@code offset}, within the content. */
  record Part(long offset, long length) implements ByteRange {}

  /** A range that starts past the end, or ends before it starts: answered with 416 and the size. */
  record Unsatisfiable(long size) implements ByteRange {}

  ByteRange WHOLE = new Whole();

  /** The range {@code header} (or {@code null}) asks of content of {@code size} bytes. */
  static ByteRange of(String header, long size) {
    if (header == null || !header.startsWith("bytes=") || header.contains(",")) {
      return WHOLE;
    }
    String spec = header.substring(6).strip();
    int dash = spec.indexOf('-');
    try {
      long first;
      long last;
      if (dash < 0) {
        return WHOLE;
      } else if (dash == 0) {
        long suffix = Long.parseLong(spec.substring(1));
        first = Math.max(0, size - suffix);
        last = size - 1;
      } else {
        first = Long.parseLong(spec.substring(0, dash));
        last = dash == spec.length() - 1 ? size - 1 : Math.min(size - 1, Long.parseLong(spec.substring(dash + 1)));
      }
      if (first >= size || last < first) {
        return new Unsatisfiable(size);
      }
      return new Part(first, last - first + 1);
    } catch (NumberFormatException e) {
      return WHOLE; // an unparsable Range is ignored (RFC 9110)
    }
  }
}
