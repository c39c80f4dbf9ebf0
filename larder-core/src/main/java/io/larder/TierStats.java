package io.larder;

/**
 * What a store opened with a remote tier did since it was opened.
 *
 * @param localHits reads by key answered from the local store
 * @param remoteHits local misses answered by the remote tier (now also kept locally)
 * @param misses reads found in neither
 * @param remoteErrors lookups or writes that failed because the tier was unreachable or refused
 * @param remoteCorrupt content fetched from the tier that did not match its digest (not served, not kept)
 * @param writesThrough puts stored in the tier (written through, or uploaded from the write-behind queue)
 * @param pendingWrites keys queued for the tier and not uploaded yet (write-behind)
 * @param localCopyFailures local copies of content the tier has (after a write-through put or a remote hit)
 *     that could not be written, e.g. on a full disk: nothing is lost (the tier has it), but each costs a
 *     fetch on the next read
 */
public record TierStats(long localHits, long remoteHits, long misses, long remoteErrors, long remoteCorrupt,
    long writesThrough, long pendingWrites, long localCopyFailures) {}
