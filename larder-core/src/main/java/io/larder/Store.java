package io.larder;

import java.io.InputStream;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What {@link Larder} delegates to, once it has checked its input: the {@link LocalStore}, or a
 * {@link TieredStore} in front of a remote tier. Keys are valid; digests are in the store's algorithm; each
 * method has the contract of the {@link Larder} method of the same name.
 */
interface Store extends AutoCloseable {
  Entry put(String key, InputStream in, PutOptions options);

  Optional<Content> get(String key);

  Optional<Content> getRange(String key, long offset, long length);

  Optional<Content> getByDigest(Integrity digest);

  Optional<Content> getRangeByDigest(Integrity digest, long offset, long length);

  Optional<Entry> info(String key);

  java.util.Set<String> touch(java.util.Collection<String> keys);

  Stream<Entry> list(String prefix, String afterKey);

  boolean remove(String key);

  long removePrefix(String prefix);

  boolean removeContent(Integrity digest);

  /** What the remote tier did (all zero without one). */
  TierStats tierStats();

  /** Waits for queued uploads to the remote tier; true at once without one. */
  boolean awaitTierWrites(Duration timeout) throws InterruptedException;

  /** Collects the remote tier; refused without one. */
  GcReport collectTier(Duration grace, boolean dryRun);

  /** Where the remote tier is; empty without one. */
  Optional<String> remoteTier();

  @Override
  void close();
}
