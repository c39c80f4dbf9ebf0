package io.larder;

/**
 * What a {@code put} has survived once it returns.
 *
 * <p>Under both levels a reader never sees a partial blob and never receives bytes that do not match
 * their digest: reads verify, so the difference is only in what can be <em>lost</em>.
 */
public enum Durability {
  /**
   * The blob file and its directory are fsynced, and the index commits with {@code synchronous=FULL},
   * before {@code put} returns: the entry survives power loss. Costs several times the throughput of
   * small puts (see BENCHMARKS.md).
   */
  POWER_SAFE,
  /**
   * Nothing is fsynced by Larder; the index commits with {@code synchronous=NORMAL} in WAL mode. An
   * acknowledged put survives the crash or {@code kill -9} of any process; after a power loss the most
   * recent puts may be missing (a miss, never bad bytes). The default: a cache can refetch, and this is
   * what npm's cacache and most build caches do.
   */
  PROCESS_SAFE
}
