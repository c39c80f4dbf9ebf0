package io.larder.spi;

import io.larder.Integrity;
import java.io.Closeable;
import java.io.InputStream;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Immutable content named by its digest. The local-disk implementation stores one file per blob; an
 * object store fits the same contract (no rename needed: an object becomes visible whole on PUT; ranged
 * GET; conditional create).
 *
 * <p>All methods are safe to call from many threads and many processes at once.
 */
public interface BlobStore extends Closeable {

  /** A blob that was stored: its address and size. */
  record StoredBlob(Integrity digest, long size) {}

  /**
   * Streams {@code content} into the store in constant memory, hashing it on the way.
   *
   * <p><b>Atomic:</b> the blob becomes visible under its address whole or not at all; a concurrent
   * reader never sees part of it. If a blob with the same digest exists it holds the same bytes, and the
   * put still succeeds (its time is refreshed so that a collector does not take it as unreferenced).
   *
   * <p><b>Verified:</b> if {@code expected} is given, the content must match it on the strongest
   * algorithm they share; if {@code expectedSize} is not -1, the content must be exactly that long. On a
   * mismatch an {@link io.larder.LarderException.IntegrityFailure} is thrown and nothing becomes visible.
   *
   * <p><b>On failure</b> (mismatch, I/O error, full disk, a failing input stream) nothing is left behind:
   * no blob, no temporary file — except after a crash of the process itself, when a temporary file may
   * remain until {@link #removeTmpOlderThan} takes it.
   *
   * @return the digest in the store's addressing algorithm, and the size
   */
  StoredBlob put(InputStream content, Integrity expected, long expectedSize);

  /**
   * Opens the raw bytes {@code [offset, offset + length)} of a blob, <em>unverified</em>: callers verify.
   *
   * @return empty if there is no such blob
   */
  Optional<InputStream> open(Integrity digest, long offset, long length);

  /**
   * The blob as a file of exactly its bytes (stored raw, not compressed), for sending without copying;
   * empty if the store cannot offer that for this blob. The caller closes the channel.
   */
  default Optional<java.nio.channels.FileChannel> openFile(Integrity digest) {
    return Optional.empty();
  }

  /**
   * Refreshes the time of an existing blob, as a put of the same content would, so that a collector does
   * not take it as unreferenced (a collector that set it aside meanwhile puts it back; see
   * {@link #deleteIfUnchangedSince}).
   *
   * @return false if there is no such blob (then store it with {@link #put})
   */
  default boolean touch(Integrity digest) {
    return false;
  }

  /** Whether the blob exists. */
  boolean exists(Integrity digest);

  /**
   * Keeps the bytes the blob has now reachable until the hold is closed, even if the blob is deleted
   * meanwhile (by a collector, in any process), so that a put which finds its content gone before it could
   * commit its entry publishes the same bytes again ({@link Hold#restore}) instead of failing. Empty if there
   * is no such blob. This default holds nothing (its restore only says whether the blob is there): for
   * stores whose blobs a collector does not delete while puts run, or that cannot keep bytes apart from
   * their name.
   */
  default Optional<Hold> hold(Integrity digest) {
    if (!exists(digest)) {
      return Optional.empty();
    }
    return Optional.of(new Hold() {
      @Override
      public boolean restore() {
        return exists(digest);
      }

      @Override
      public void close() {}
    });
  }

  /** What {@link #hold} returns: a second reference to a blob's bytes, released by {@link #close}. */
  interface Hold extends AutoCloseable {

    /**
     * Publishes the held bytes under the blob's address again if the blob is gone (a blob there now is
     * left as it is).
     *
     * @return whether the blob is there afterwards
     */
    boolean restore();

    @Override
    void close();
  }

  /**
   * Removes a blob. Readers that already opened it may finish reading it (POSIX semantics).
   *
   * @return whether it existed
   */
  boolean delete(Integrity digest);

  /**
   * Removes a blob only if it has not been written since {@code notWrittenSince} and {@code confirm}
   * agrees, safely against a concurrent put of the same content: the blob is first set aside, a blob
   * republished meanwhile is left in place, and {@code confirm} (e.g. "forget its record if no entry
   * references it", in one transaction) is asked while it is aside; if it says no, the blob is put back.
   * A reader may find the blob missing for that instant and should look again once before concluding
   * it is gone.
   *
   * @return whether a blob was removed
   */
  boolean deleteIfUnchangedSince(Integrity digest, Instant notWrittenSince, java.util.function.BooleanSupplier confirm);

  /** Calls {@code action} for every blob in the store, in no particular order. */
  void forEach(Consumer<Integrity> action);

  /** A token that changes whenever the blob's bytes may have changed (e.g. size, mtime and inode). */
  Optional<Object> stamp(Integrity digest);

  /**
   * Removes temporary files of writes that were abandoned (by a crashed process) before {@code cutoff}.
   *
   * @return how many were removed
   */
  int removeTmpOlderThan(Instant cutoff);
}
