package io.larder;

/**
 * What one garbage collection removed (or, in a dry run, would remove).
 *
 * @param expired entries past their TTL
 * @param evicted entries evicted for age or size
 * @param blobsRemoved content no entry referenced any more (inline and files)
 * @param bytesFreed bytes of that content
 * @param tmpRemoved abandoned temporary files
 * @param bytesBefore content bytes referenced by entries before eviction
 * @param bytesAfter content bytes referenced by entries after it (what a max-size is compared with)
 * @param dryRun whether nothing was changed
 */
public record GcReport(long expired, long evicted, long blobsRemoved, long bytesFreed, long tmpRemoved,
    long bytesBefore, long bytesAfter, boolean dryRun) {

  /**
   * How far the content is over {@code maxSize} after this collection (0 when under it, or no max-size): what
   * eviction could not take because it is protected (the newest {@code keep-per-group} of each group, keys
   * waiting for their upload to a remote tier).
   */
  public long overBy(long maxSize) {
    return maxSize < 0 ? 0 : Math.max(0, bytesAfter - maxSize);
  }
}
