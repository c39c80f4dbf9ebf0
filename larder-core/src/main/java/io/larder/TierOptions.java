package io.larder;

/**
 * How a store writes to its remote tier ({@link Larder#open(java.nio.file.Path, LarderOptions,
 * io.larder.spi.RemoteTier, TierOptions)}).
 *
 * @param writeBehind false (default): a put returns once its entry is in the tier (write-through; the
 *     local copy is written right after, and this node's own reads of the key wait for it). True: a
 *     put returns once it is stored locally and its key is queued on disk ({@code tier-queue/} in the store);
 *     a background thread uploads, retrying while the tier fails, and a process that opens the store later
 *     uploads what an earlier one left. <b>Loss window</b>: until its upload, an acknowledged put exists on
 *     this machine only — lost with its disk, and not uploaded at all if its entry is removed or expires
 *     locally first (eviction skips queued keys); other nodes miss it meanwhile
 * @param queueLimit at most this many keys wait (default 10,000); a put that finds the queue full is written
 *     through instead, so a long outage slows puts down (and fails them, as write-through does) rather than
 *     growing the queue without bound
 */
public record TierOptions(boolean writeBehind, int queueLimit) {
  public TierOptions {
    if (queueLimit < 1) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "the write-behind queue limit must be at least 1, not " + queueLimit);
    }
  }

  /** Write-through. */
  public static TierOptions defaults() {
    return new TierOptions(false, 10_000);
  }

  public TierOptions writeBehind(boolean on) {
    return new TierOptions(on, queueLimit);
  }

  public TierOptions queueLimit(int n) {
    return new TierOptions(writeBehind, n);
  }
}
