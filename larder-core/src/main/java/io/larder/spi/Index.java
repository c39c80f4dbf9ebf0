package io.larder.spi;

import io.larder.Entry;
import io.larder.Integrity;
import java.io.Closeable;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The ordered map of entries, and the record of blobs (with small blobs' bytes held inline).
 *
 * <p>Every method is one transaction: it happens whole or not at all, and is safe to call from many
 * threads and many processes at once. Keys are ordered by Unicode code point (UTF-8 byte order), and
 * prefix scans are O(log n + k).
 */
public interface Index extends Closeable {

  /** A blob as the index records it; {@code inline} holds its bytes when it lives in the index, else null. */
  record BlobRecord(Integrity digest, long size, byte[] inline) {}

  /** An entry with its blob's inline bytes, or null when the blob is a file. */
  record Hit(Entry entry, byte[] inline) {}

  /**
   * What an eviction did.
   *
   * @param evicted entries removed (in a dry run: that would be)
   * @param bytesFreed content bytes no entry references any more because of it
   * @param bytesBefore content bytes referenced before it
   */
  record Eviction(long evicted, long bytesFreed, long bytesBefore) {}

  /** How many records went, and their content's bytes. */
  record Removed(long count, long bytes) {}

  /**
   * What the index holds.
   *
   * @param entries entries
   * @param blobs blob records (inline or files)
   * @param blobBytes their content's bytes
   * @param inlineBlobs blobs whose bytes live in the index
   * @param indexBytes the index's own size on disk
   */
  record Counts(long entries, long blobs, long blobBytes, long inlineBlobs, long indexBytes) {}

  /**
   * Inserts or replaces the entry for {@code entry.key()} and records its blob, in one transaction.
   * The caller must have published a non-inline blob before calling: an entry is never written before its
   * blob is in place. Content that the replaced entry alone referenced stays recorded until it is collected.
   */
  void put(Entry entry, BlobRecord blob);

  /**
   * {@link #put}, only if {@code stillStored} says the blob file is still in place, asked inside the
   * transaction once it holds the index's write lock. A collector forgets a record in a transaction of its
   * own with the file set aside, so a put whose file it took between publication and this commit is told
   * so here, instead of recording an entry whose content is gone. This default asks first and puts second:
   * an index used with a collector must answer both in one transaction.
   *
   * @return whether the entry was recorded
   */
  default boolean putIfStored(Entry entry, BlobRecord blob, java.util.function.BooleanSupplier stillStored) {
    if (!stillStored.getAsBoolean()) {
      return false;
    }
    put(entry, blob);
    return true;
  }

  /**
   * The entry for {@code key}, with its inline bytes if {@code withInline}. A lookup with its inline bytes
   * (the read path) may report the access time the entry was written with instead of its latest recorded
   * read: it only decides whether this read is recorded.
   */
  Optional<Hit> get(String key, boolean withInline);

  /**
   * The entries, expired or not and without content, of those of {@code keys} that the index holds, in no
   * particular order. An index answers a batch in one lookup where it can; this default asks key by key.
   */
  default List<Entry> entries(java.util.Collection<String> keys) {
    List<Entry> found = new java.util.ArrayList<>();
    for (String k : keys) {
      get(k, false).ifPresent(h -> found.add(h.entry()));
    }
    return found;
  }

  /** The blob record for {@code digest}, with its inline bytes if {@code withInline}. */
  Optional<BlobRecord> blob(Integrity digest, boolean withInline);

  /**
   * Removes one entry. Returns whether it existed. Content no entry references any more (inline or a file)
   * stays recorded until garbage collection removes it, so removal costs one B-tree delete.
   */
  boolean remove(String key);

  /** Removes every entry whose key starts with {@code prefix}, in one transaction. Returns how many. */
  long removePrefix(String prefix);

  /** Forgets a blob and removes every entry that points at it. Returns how many entries went. */
  long removeBlob(Integrity digest);

  /** Up to {@code limit} entries with keys starting with {@code prefix} and greater than {@code after}. */
  List<Entry> scan(String prefix, String after, int limit);

  /** Up to {@code limit} blob records with digests greater than {@code after} (null for the start). */
  List<BlobRecord> blobs(String after, int limit, boolean withInline);

  /**
   * Records read times in one transaction: {@code accessedMillis[i]} (epoch milliseconds) for the key whose
   * {@link #keyHash} is {@code keyHashes[i]}. An access time only moves forward; a hash no entry has is
   * ignored (or kept until a later eviction sweeps it). Callers pass hashes in ascending order, so that
   * neighbours share the index's pages.
   */
  void recordAccess(long[] keyHashes, long[] accessedMillis);

  /**
   * The 64-bit hash by which {@link #recordAccess} names a key: FNV-1a over the key's UTF-16 code units, then
   * MurmurHash3's 64-bit finalizer. An index may store it, so it never changes. Two keys with one hash (among a million keys,
   * one chance in about 37 million) share their recorded reads: access times only order eviction.
   */
  static long keyHash(String key) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < key.length(); i++) {
      h ^= key.charAt(i);
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ h >>> 33;
  }

  /**
   * Removes up to {@code limit} entries that expired at or before {@code now}; returns how many (in a dry
   * run, counts them all and removes nothing).
   */
  long removeExpired(Instant now, int limit, boolean dryRun);

  /**
   * Evicts entries, least recently accessed first, never one of the {@code keepPerGroup} newest (by creation)
   * of its group (see {@link io.larder.GcOptions#groupSegments()}): every entry accessed before {@code accessedBefore} (if not null), then, if the content
   * referenced exceeds {@code maxBytes} (if not -1), more until it is at most {@code targetBytes}. An entry
   * read or rewritten while this runs is kept, and so is every entry whose key is in {@code keep} (keys
   * still waiting for their upload to a remote tier). Works in small transactions, in JVM memory that does
   * not grow with the number of entries.
   *
   */
  Eviction evict(Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup, int groupSegments,
      Set<String> keep, boolean dryRun);

  /**
   * Forgets inline content no entry references, in transactions small enough to commit on a full disk
   * (each of them whole). Returns what went (in a dry run, what would).
   */
  Removed removeUnreferencedInline(boolean dryRun);

  /**
   * The index's own housekeeping, done by each collection that is not a dry run: e.g. emptying a log that no
   * reader keeps up with any more. This default has none.
   */
  default void tidy() {}

  /** Up to {@code limit} records of blob files no entry references, by digest after {@code after}. */
  List<BlobRecord> unreferencedFiles(String after, int limit);

  /** Forgets a blob file's record if no entry references it (one transaction). Returns whether it did. */
  boolean forgetIfUnreferenced(Integrity digest);

  /** What the index holds. */
  Counts counts();
}
