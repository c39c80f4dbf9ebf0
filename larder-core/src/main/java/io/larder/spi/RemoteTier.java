package io.larder.spi;

import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Integrity;
import java.io.Closeable;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A shared tier behind the local store (an S3 bucket): entries and blobs that any node can read. A
 * {@link io.larder.Larder} opened with one looks there on a local miss, verifies what it fetches exactly as
 * local content, keeps a copy, and writes every put through to it.
 *
 * <p>Failures are {@link io.larder.LarderException}s; the store turns failed lookups into misses (and
 * counts them) and failed writes into errors for the caller.
 */
public interface RemoteTier extends Closeable {
  /**
   * What the tier knows about a key.
   *
   * @param inline the content itself when the tier keeps small content with its entry (one request instead
   *     of two), else {@code null}; unverified like everything from the tier
   * @param chunks the digests of the blob's chunks when the tier keeps them, else {@code null}: a range read
   *     that misses locally then fetches only the chunks it needs, each verified before it is served
   */
  record RemoteEntry(Integrity integrity, long size, Instant created, Instant expires, String metadata, byte[] inline,
      Chunks chunks) {}

  /**
   * The entry for {@code key}, if the tier has one: with {@code content}, also the content the tier keeps
   * with the entry (in {@code inline}); without, the entry alone ({@code inline} is then {@code null}
   * whether or not the tier keeps content there) — for listings and {@code info}, never for reading the
   * content.
   */
  Optional<RemoteEntry> lookup(String key, boolean content);

  /** The raw (unverified) bytes {@code [offset, offset + length)} of a blob; empty if the tier has none. */
  Optional<InputStream> open(Integrity digest, long offset, long length);

  /**
   * Stores {@code entry} with its content (read from {@code content}, which may be called again to retry):
   * a tier that keeps the content apart stores it first, then the entry, so an entry never points at
   * nothing.
   */
  void store(Entry entry, Supplier<InputStream> content);

  /** Removes the entry (not the blob, which other entries may share). */
  boolean remove(String key);

  /**
   * Up to {@code limit} keys of the tier's entries that start with {@code prefix} and come after
   * {@code afterKey} ({@code null}: from the first) in the tier's own order, which must be a total order
   * on keys that keeps each prefix's keys together (a listing of the object store's names).
   */
  List<String> keys(String prefix, String afterKey, int limit);

  /** Removes every entry whose key starts with {@code prefix} (not the blobs); returns how many. */
  long removePrefix(String prefix);

  /**
   * Collects the tier (run it from one node at a time): removes entries expired by {@code now} and content
   * that no entry references and that was not written or re-referenced within {@code grace} (longer than
   * any collection and any upload takes), and abandoned uploads older than {@code grace}.
   *
   * @return {@code expired}: entries removed; {@code blobsRemoved}/{@code bytesFreed}: content removed;
   *     {@code tmpRemoved}: uploads aborted; {@code bytesBefore}: bytes of content the tier held
   */
  GcReport collect(Instant now, java.time.Duration grace, boolean dryRun);

  /** Where it is, for messages: e.g. {@code s3://bucket/prefix/}. */
  String describe();
}
