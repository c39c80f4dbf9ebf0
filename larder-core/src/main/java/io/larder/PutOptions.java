package io.larder;

import io.larder.internal.Json;
import java.time.Duration;

/**
 * Options of one put. Immutable; start from {@link #defaults()}:
 * {@code PutOptions.defaults().integrity(Integrity.parse(sri)).ttl(Duration.ofDays(7))}.
 *
 * @param metadata a JSON object stored with the entry, or {@code null}; at most 64 KiB
 * @param integrity the integrity the content must have, or {@code null}; a mismatch stores nothing
 * @param size the size the content must have, or -1; a mismatch stores nothing
 * @param ttl how long the entry is served, or {@code null} for no expiry
 */
public record PutOptions(String metadata, Integrity integrity, long size, Duration ttl) {

  /** The largest metadata accepted, in UTF-8 bytes. */
  public static final int MAX_METADATA_BYTES = 64 * 1024;

  private static final PutOptions DEFAULTS = new PutOptions(null, null, -1, null);

  /** The longest TTL accepted: 100 years (36,500 days). */
  public static final Duration MAX_TTL = Duration.ofDays(36_500);

  public PutOptions {
    if (size < -1) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "expected size must be 0 or more bytes, not " + size);
    }
    checkTtl("ttl", ttl);
    if (metadata != null) {
      metadata = Json.requireObject(metadata, MAX_METADATA_BYTES);
    }
  }

  /** Refuses a TTL ({@code what} names the setting) that is not positive or longer than {@link #MAX_TTL}. */
  static void checkTtl(String what, Duration ttl) {
    if (ttl != null && (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0)) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          what + " must be positive and at most 100 years (36500 days), not " + ttl.getSeconds() + " seconds");
    }
  }

  public static PutOptions defaults() {
    return DEFAULTS;
  }

  public PutOptions metadata(String jsonObject) {
    return new PutOptions(jsonObject, integrity, size, ttl);
  }

  public PutOptions integrity(Integrity expected) {
    return new PutOptions(metadata, expected, size, ttl);
  }

  public PutOptions size(long expectedSize) {
    return new PutOptions(metadata, integrity, expectedSize, ttl);
  }

  public PutOptions ttl(Duration timeToLive) {
    return new PutOptions(metadata, integrity, size, timeToLive);
  }
}
