package io.larder;

/**
 * What {@link Larder#verify()} found.
 *
 * @param blobsChecked blobs re-hashed
 * @param bytesChecked bytes re-hashed
 * @param corruptRemoved blobs whose bytes did not match their digest; removed
 * @param missingRemoved blobs the index knew of whose file had gone; forgotten
 * @param entriesRemoved entries that pointed at corrupt or missing blobs; removed
 */
public record VerifyReport(long blobsChecked, long bytesChecked, long corruptRemoved, long missingRemoved,
    long entriesRemoved) {

  /** Whether the store was healthy. */
  public boolean clean() {
    return corruptRemoved == 0 && missingRemoved == 0;
  }
}
