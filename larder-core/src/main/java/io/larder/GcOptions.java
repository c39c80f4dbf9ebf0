package io.larder;

import java.time.Duration;

/**
 * What one garbage collection does ({@link Larder#gc}). Immutable; start from {@link #defaults()}:
 * {@code GcOptions.defaults().maxSize(10L << 30).maxAge(Duration.ofDays(30))}.
 *
 * @param maxSize the most content bytes to keep (unique content, however many keys share it), or -1 for no
 *     limit. Above it, least recently accessed entries are evicted until {@code lowWater} of it remains
 * @param lowWater the fraction of {@code maxSize} that eviction brings the store down to; default 0.9
 * @param maxAge evict entries not accessed for this long, or {@code null} for no limit
 * @param keepPerGroup never evict the newest this-many entries (by creation) of a group; default 1. Expiry
 *     ignores it
 * @param groupSegments what a group is: 0 (default) for the key up to its last {@code :}
 *     ({@code build:mylib:1.0.1} is in {@code build:mylib}); N for its first N {@code :}-separated segments
 *     ({@code build:mylib:1.0.1:linux} with 2 is in {@code build:mylib})
 * @param grace content files that no entry has ever referenced (no record: a put publishes its file before
 *     it commits its entry) are not collected until they are this old, so a put between the two keeps its
 *     file; default 10 minutes. Content that entries referenced and no longer do (removed, expired or
 *     evicted entries) is collected at once, whatever its age: a put of the same content at that moment
 *     finds out inside its own commit and records nothing rather than an entry without content
 * @param dryRun report what would go, change nothing
 * @param deletesPerSecond the most content files deleted per second, or 0 for no limit; default 2,000.
 *     Deleting in a burst slows everyone's file creation for a while afterwards (ext4), so collection is paced
 */
public record GcOptions(long maxSize, double lowWater, Duration maxAge, int keepPerGroup, int groupSegments,
    Duration grace, boolean dryRun, int deletesPerSecond) {

  public GcOptions {
    if (maxSize < -1) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "max-size must be 0 or more bytes");
    }
    if (!(lowWater > 0 && lowWater <= 1)) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "low-water must be in (0, 1]");
    }
    if (maxAge != null && (maxAge.isNegative() || maxAge.isZero())) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "max-age must be positive");
    }
    if (keepPerGroup < 0) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "keep-per-group must be 0 or more");
    }
    if (groupSegments < 0) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "group-segments must be 0 or more");
    }
    if (deletesPerSecond < 0) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "deletesPerSecond must be 0 or more");
    }
    if (grace == null || grace.isNegative()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "grace must not be negative");
    }
  }

  public static GcOptions defaults() {
    return new GcOptions(-1, 0.9, null, 1, 0, Duration.ofMinutes(10), false, 2_000);
  }

  public GcOptions maxSize(long bytes) {
    return new GcOptions(bytes, lowWater, maxAge, keepPerGroup, groupSegments, grace, dryRun, deletesPerSecond);
  }

  public GcOptions lowWater(double fraction) {
    return new GcOptions(maxSize, fraction, maxAge, keepPerGroup, groupSegments, grace, dryRun, deletesPerSecond);
  }

  public GcOptions maxAge(Duration age) {
    return new GcOptions(maxSize, lowWater, age, keepPerGroup, groupSegments, grace, dryRun, deletesPerSecond);
  }

  public GcOptions keepPerGroup(int n) {
    return new GcOptions(maxSize, lowWater, maxAge, n, groupSegments, grace, dryRun, deletesPerSecond);
  }

  public GcOptions grace(Duration g) {
    return new GcOptions(maxSize, lowWater, maxAge, keepPerGroup, groupSegments, g, dryRun, deletesPerSecond);
  }

  public GcOptions dryRun(boolean dry) {
    return new GcOptions(maxSize, lowWater, maxAge, keepPerGroup, groupSegments, grace, dry, deletesPerSecond);
  }

  public GcOptions deletesPerSecond(int rate) {
    return new GcOptions(maxSize, lowWater, maxAge, keepPerGroup, groupSegments, grace, dryRun, rate);
  }

  public GcOptions groupSegments(int segments) {
    return new GcOptions(maxSize, lowWater, maxAge, keepPerGroup, segments, grace, dryRun, deletesPerSecond);
  }
}
