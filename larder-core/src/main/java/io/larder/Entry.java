package io.larder;

import java.time.Instant;
import java.util.Optional;

/**
 * An index entry: a key pointing at content.
 *
 * @param key the key, as given to {@code put}
 * @param integrity the digest addressing the content (the store's algorithm)
 * @param size content size in bytes
 * @param created when the entry was written
 * @param accessed when the entry was last written or read by key, to within a minute: a read is recorded
 *     only if this is over a minute old, and recorded reads are written to the index in batches (ten seconds
 *     or 262,144 keys late at most, and on close)
 * @param expires when the entry stops being served, or {@code null} for never
 * @param metadata a JSON object given at put time, or {@code null}
 */
public record Entry(
    String key, Integrity integrity, long size, Instant created, Instant accessed, Instant expires, String metadata) {

  public Optional<Instant> expiresAt() {
    return Optional.ofNullable(expires);
  }

  public Optional<String> metadataJson() {
    return Optional.ofNullable(metadata);
  }

  /** Whether the entry is expired at {@code now}. */
  public boolean isExpired(Instant now) {
    return expires != null && !now.isBefore(expires);
  }
}
