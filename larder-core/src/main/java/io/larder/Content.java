package io.larder;

import io.larder.internal.Errors;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.LongConsumer;

/**
 * Content being read from a store: a stream plus what is known about it. Close it when done.
 *
 * <p><b>Verification.</b> A whole-content stream hashes what it reads and, at its end, throws
 * {@link LarderException.IntegrityFailure} (kind {@code CORRUPT}) if the bytes do not match their digest;
 * the bad copy has then been removed. A consumer that streams elsewhere must treat the data as invalid if
 * reading to the end throws. {@link #readAllBytes()} and {@link #copyTo(Path)} (to a file) do that for you:
 * they never return or leave behind bytes that failed verification. Range reads are verified as described on
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
   * Writes the bytes to {@code target}, never damaging what is there:
   *
   * <ul>
   *   <li>a new path or a regular file: the bytes go into a temporary file beside it, renamed over it only
   *       once verified (there is no failure mode where the target holds part of the content, or bytes that
   *       failed verification); an existing file keeps its permissions; the temporary file never stays;
   *   <li>a symbolic link to a regular file: the file it points at is replaced that way, and the link stays;
   *       a link to nothing is refused;
   *   <li>anything that is not a regular file — a device, a FIFO, a socket, or any path under {@code /dev}
   *       or {@code /proc} such as {@code /dev/stdout} — is written through, as a stream: never replaced, so
   *       {@code /dev/null} stays a device. Like any stream, it may then have received bytes before a
   *       verification failure at the end is thrown;
   *   <li>a directory is refused, and so is a file this user may not write (renaming over it could
   *       otherwise replace another user's file in a directory this user may write).
   * </ul>
   *
   * @return the number of bytes written
   * @throws LarderException.InvalidInput for a directory or a symbolic link to nothing
   * @throws LarderException.StorageFailure for a file this user may not write, or one in a directory where this
   *     user cannot create the file that replaces it
   */
  public long copyTo(Path target) {
    return copyTo(target, n -> { });
  }

  /**
   * {@link #copyTo(Path)}, telling {@code progress} how many bytes each step wrote (for progress displays).
   */
  public long copyTo(Path target, LongConsumer progress) {
    BasicFileAttributes found;
    try {
      found = Files.readAttributes(target, BasicFileAttributes.class); // through symbolic links
    } catch (NoSuchFileException e) {
      if (Files.isSymbolicLink(target)) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
            target + " is a symbolic link to nothing; remove it or give the path it should point at");
      }
      found = null;
    } catch (IOException e) {
      throw Errors.io("looking at " + target, e);
    }
    if (found != null && found.isDirectory()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          target + " is a directory; give a file name");
    }
    Path absolute = target.toAbsolutePath().normalize();
    if (found != null && !found.isRegularFile() || absolute.startsWith("/dev") || absolute.startsWith("/proc")) {
      return writeThrough(target, progress);
    }
    try {
      Path file = found != null && Files.isSymbolicLink(target) ? target.toRealPath() : target;
      if (found != null && !Files.isWritable(file)) {
        // Renaming over it would succeed in a directory this user may write, replacing another user's file.
        throw new LarderException.StorageFailure(LarderException.Kind.IO, file + " is not writable by this user"
            + " (its mode or owner, or a read-only file system); it was left as it was: give another path", null);
      }
      return replace(file, found == null ? null : permissions(file), progress);
    } catch (IOException e) {
      throw Errors.io("writing " + target, e);
    }
  }

  private static Set<PosixFilePermission> permissions(Path file) {
    try {
      return Files.getPosixFilePermissions(file);
    } catch (IOException | UnsupportedOperationException e) {
      return null; // not a POSIX file system: the new file gets the defaults
    }
  }

  /** Writes into a temporary file beside {@code file}, then renames it over {@code file} once verified. */
  private long replace(Path file, Set<PosixFilePermission> keep, LongConsumer progress) {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = dir.resolve("." + file.getFileName() + "." + UUID.randomUUID() + ".larder-tmp");
    boolean moved = false;
    try (stream) {
      long n;
      OutputStream opened;
      try {
        opened = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (java.nio.file.AccessDeniedException e) {
        throw new LarderException.StorageFailure(LarderException.Kind.IO, "cannot write " + file + ": the directory "
            + dir + " is not writable by this user (the file is replaced through a new file beside it);"
            + " nothing was changed", e);
      }
      try (OutputStream out = opened) {
        n = transfer(out, progress);
      }
      if (keep != null) {
        Files.setPosixFilePermissions(tmp, keep);
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      return n;
    } catch (IOException e) {
      throw Errors.io("writing " + file, e);
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

  /** Streams into what is at {@code target} (a device, a FIFO, /dev/stdout), opening it without creating or truncating. */
  private long writeThrough(Path target, LongConsumer progress) {
    try (stream; OutputStream out = Files.newOutputStream(target, StandardOpenOption.WRITE)) {
      return transfer(out, progress);
    } catch (IOException e) {
      throw Errors.io("writing " + target, e);
    }
  }

  private long transfer(OutputStream out, LongConsumer progress) throws IOException {
    return stream.transferTo(new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        progress.accept(len);
      }
    });
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
