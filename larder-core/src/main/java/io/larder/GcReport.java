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
 * @param dryRun whether nothing was changed
 */
public record GcReport(long expired, long evicted, long blobsRemoved, long bytesFreed, long tmpRemoved,
    long bytesBefore, boolean dryRun) {}
