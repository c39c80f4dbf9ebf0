package io.larder.internal;

import io.larder.LarderException;
import io.larder.LarderException.Kind;
import java.nio.charset.StandardCharsets;

/**
 * The rules for keys. Keys are opaque strings in the index and never become file names, so {@code /},
 * {@code ..} and the like are ordinary characters. Refused: the empty key, keys over {@link #MAX_BYTES}
 * UTF-8 bytes, control characters (they break line-oriented tools), and unpaired surrogates (they have no
 * UTF-8 form).
 */
public final class Keys {
  /** The longest key, in UTF-8 bytes. */
  public static final int MAX_BYTES = 4096;

  private Keys() {}

  public static String check(String key) {
    if (key == null || key.isEmpty()) {
      throw invalid("a key must not be empty");
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x20 || c >= 0x7f && c <= 0x9f) { // C0, DEL and C1 (NEL among them)
        throw invalid("key contains the control character U+" + String.format("%04X", (int) c)
            + " at index " + i + "; keys may not contain control characters (NUL, newline, tab, NEL, …)");
      }
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < key.length() && Character.isLowSurrogate(key.charAt(i + 1))) {
          i++;
          continue;
        }
        throw invalid("key contains an unpaired surrogate at index " + i + "; keys must be valid Unicode");
      }
      if (Character.isLowSurrogate(c)) {
        throw invalid("key contains an unpaired surrogate at index " + i + "; keys must be valid Unicode");
      }
    }
    if (key.length() > MAX_BYTES / 3 && key.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
      throw invalid("key is over " + MAX_BYTES + " bytes of UTF-8");
    }
    return key;
  }

  /** Prefixes follow the same rules, except that the empty prefix (everything) is allowed. */
  public static String checkPrefix(String prefix) {
    if (prefix == null || prefix.isEmpty()) {
      return "";
    }
    return check(prefix);
  }

  /**
   * The group of a key for keep-N-per-group. With {@code segments} 0: the key up to its last {@code :}
   * ({@code build:mylib:1.0.1} → {@code build:mylib}), or "" if it has none. With {@code segments} N > 0:
   * its first N {@code :}-separated segments ({@code build:mylib:1.0.1:linux} with 2 → {@code build:mylib}).
   */
  public static String group(String key, int segments) {
    if (segments <= 0) {
      int i = key.lastIndexOf(':');
      return i < 0 ? "" : key.substring(0, i);
    }
    int i = -1;
    for (int n = 0; n < segments; n++) {
      i = key.indexOf(':', i + 1);
      if (i < 0) {
        return key;
      }
    }
    return key.substring(0, i);
  }

  /**
   * The least string greater than every string that starts with {@code prefix}, in code-point order, or
   * null if there is none (the prefix is empty or all U+10FFFF).
   */
  public static String upperBound(String prefix) {
    int end = prefix.length();
    while (end > 0) {
      int cp = prefix.codePointBefore(end);
      int start = end - Character.charCount(cp);
      if (cp < Character.MAX_CODE_POINT) {
        int next = cp + 1;
        if (next >= Character.MIN_SURROGATE && next <= Character.MAX_SURROGATE) {
          next = Character.MAX_SURROGATE + 1;
        }
        return prefix.substring(0, start) + new String(Character.toChars(next));
      }
      end = start;
    }
    return null;
  }

  private static LarderException invalid(String message) {
    return new LarderException.InvalidInput(Kind.INVALID_KEY, message);
  }
}
