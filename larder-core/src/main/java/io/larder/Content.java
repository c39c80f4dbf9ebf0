package io.larder;

import io.larder.internal.Errors;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;

/**
 * Content being read from a store: a stream plus what is known about it. Close it when done.
 *
 * <p><b>Verification.</b> A whole-content stream hashes what it reads and, at its end, throws
 * {@link LarderException.IntegrityFailure} (kind {@code CORRUPT}) if the bytes do not match their digest;
 * the bad copy has then been removed. A consumer that streams elsewhere must treat the data as invalid if
 * reading to the end throws. {@link #readAllBytes()} and {@link #copyTo(Path)} do that for you: they never
 * return or leave behind bytes that failed verification. Range reads are verified as described on
 * {@link Larder#getRange}.
 */
public final class Content implements AutoCloseable {
  private final Entry entry;
  private final Integrity integrity;
  private final long size;
  private final long offset;
  private final long length;
  private final InputStream stream;
  private final java.nio.channels.FileChannel channel;

  Content(Entry entry, Integrity integrity, long size, long offset, long length, InputStream stream) {
    this(entry, integrity, size, offset, length, stream, null);
  }

  Content(Entry entry, Integrity integrity, long size, long offset, long length, InputStream stream,
      java.nio.channels.FileChannel channel) {
    this.channel = channel;
    this.entry = entry;
    this.integrity = integrity;
    this.size = size;
    this.offset = offset;
    this.length = length;
    this.stream = stream;
  }

  /** The entry read by key; empty when read by digest. */
  public Optional<Entry> entry() {
    return Optional.ofNullable(entry);
  }

  /** The digest of the whole content. */
  public Integrity integrity() {
    return integrity;
  }

  /** The size of the whole content. */
  public long size() {
    return size;
  }

  /** Where this read starts in the content (0 unless it is a range read). */
  public long offset() {
    return offset;
  }

  /** How many bytes this read returns. */
  public long length() {
    return length;
  }

  /**
   * The file holding exactly these bytes from {@link #offset()} for {@link #length()}, present only for a
   * trusted read of an uncompressed blob file (see {@link LarderOptions#verifyEveryRead()}), so that a server
   * can send it without copying (sendfile). Use either it or {@link #stream()}, not both; closing this
   * content closes it.
   */
  public Optional<java.nio.channels.FileChannel> channel() {
    return Optional.ofNullable(channel);
  }

  /** The bytes, verified as described above. */
  public InputStream stream() {
    return stream;
  }

  /** Reads everything; returns only verified bytes. */
  public byte[] readAllBytes() {
    try (stream) {
      return stream.readAllBytes();
    } catch (IOException e) {
      throw Errors.io("reading content " + integrity, e);
    }
  }

  /**
   * Writes the bytes to {@code target} atomically: into a temporary file beside it, renamed over it only
   * once verified. On failure the target is untouched.
   *
   * @return the number of bytes written
   */
  public long copyTo(Path target) {
    return copyTo(target, n -> { });
  }

  /**
   * {@link #copyTo(Path)}, telling {@code progress} how many bytes each step wrote (for progress displays).
   */
  public long copyTo(Path target, java.util.function.LongConsumer progress) {
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".larder-tmp");
    boolean moved = false;
    try (stream) {
      long n;
      try (java.io.OutputStream out = Files.newOutputStream(tmp, java.nio.file.StandardOpenOption.CREATE_NEW,
          java.nio.file.StandardOpenOption.WRITE)) {
        n = stream.transferTo(new java.io.FilterOutputStream(out) {
          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            progress.accept(len);
          }
        });
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      return n;
    } catch (IOException e) {
      throw Errors.io("writing " + target, e);
    } finally {
      if (!moved) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }

  @Override
  public void close() {
    try {
      stream.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
