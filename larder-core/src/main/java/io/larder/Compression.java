package io.larder;

import java.util.Locale;

/**
 * How blob files are stored at rest. Digests, sizes and reads are always of the uncompressed bytes; only
 * the files on disk differ.
 *
 * <p>With zstd, a blob file is written as independent frames of 256 KiB of content followed by a seek
 * table (zstd's "seekable format"), so a range read decompresses only the frames it needs, and the file
 * can be read by the {@code zstd} command-line tool. Content whose first frame does not shrink by at least
 * 10 % (already-compressed or random data) is stored raw. Content kept inline in the index (up to the
 * inline threshold) is never compressed. A store may hold both forms at once (after the setting changed):
 * reads find either.
 *
 * @param zstdLevel 0 for none, otherwise the zstd level (1 to 19; 3 is zstd's default)
 */
public record Compression(int zstdLevel) {

  /** Files are stored as they are. The default. */
  public static final Compression NONE = new Compression(0);

  /** zstd at its default level, 3. */
  public static final Compression ZSTD = new Compression(3);

  /**
   * Checks the level.
   *
   * @throws LarderException.InvalidInput when it is not between 0 (none) and 19
   */
  public Compression {
    if (zstdLevel < 0 || zstdLevel > 19) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "a zstd level is between 1 and 19, not " + zstdLevel);
    }
  }

  /** Whether blob files are compressed. */
  public boolean enabled() {
    return zstdLevel > 0;
  }

  /**
   * Parses {@code none}, {@code zstd} or {@code zstd:LEVEL} (1 to 19).
   *
   * @throws LarderException.InvalidInput for anything else
   */
  public static Compression parse(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    if (t.equals("none")) {
      return NONE;
    }
    if (t.equals("zstd")) {
      return ZSTD;
    }
    if (t.startsWith("zstd:")) {
      try {
        int level = Integer.parseInt(t.substring(5));
        if (level >= 1) {
          return new Compression(level);
        }
      } catch (NumberFormatException e) {
        // refused below
      }
    }
    throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
        "unknown compression '" + text + "': expected none, zstd or zstd:LEVEL (1 to 19)");
  }

  @Override
  public String toString() {
    return enabled() ? (zstdLevel == 3 ? "zstd" : "zstd:" + zstdLevel) : "none";
  }
}
