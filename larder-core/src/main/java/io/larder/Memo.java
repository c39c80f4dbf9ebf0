package io.larder;

import java.time.Duration;
import java.util.Objects;

/**
 * An in-process memo of small contents read by key (like cacache's {@code memoize}), for a process that
 * reads the same records again and again: {@code LarderOptions.defaults().memo(new Memo(64 << 20,
 * Duration.ofSeconds(2)))}. Off by default.
 *
 * <p>What a memo hit is: the bytes of an entry of at most {@link #maxEntryBytes()} that this {@link Larder}
 * read by key (and verified against their digest) at most {@link #maxAge()} ago, served from memory without
 * looking at the index. So it is never wrong bytes — only possibly an older version:
 * <ul>
 *   <li>A put, remove, {@code removePrefix}, {@code clear}, {@code removeContent}, collection or
 *       verification made <em>through this {@code Larder}</em> is seen at once (the memo forgets what it
 *       touches, and a read racing with it is not memoized).
 *   <li>The same changes made by <em>another process</em> (or another {@code Larder} open on the same
 *       directory, or a collection evicting the entry) may go unseen for up to {@code maxAge}: meanwhile
 *       the memo keeps serving the content the key had when it was last read from the index, even if the
 *       key was replaced or removed since.
 *   <li>An entry with an expiry is never served from the memo after it expires.
 *   <li>A memo hit does not record an access time: the entry's access time lags its last read by at most
 *       {@code maxAge} (it is recorded when the memo reads it from the index again).
 * </ul>
 * At most {@link #maxBytes()} of content is kept; the oldest entries go first.
 *
 * @param maxBytes how many bytes of content the memo holds at most (more than 0)
 * @param maxAge how long a memoized read is served without looking at the index (more than 0)
 */
public record Memo(long maxBytes, Duration maxAge) {
  public Memo {
    Objects.requireNonNull(maxAge, "maxAge");
    if (maxBytes <= 0 || maxAge.isNegative() || maxAge.isZero()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "a memo needs a size and an age above 0 (maxBytes " + maxBytes + ", maxAge " + maxAge + ")");
    }
  }

  /** Entries larger than this are not memoized: a sixteenth of {@link #maxBytes()}, at most 1 MiB. */
  public long maxEntryBytes() {
    return Math.min(maxBytes / 16, 1 << 20);
  }
}
