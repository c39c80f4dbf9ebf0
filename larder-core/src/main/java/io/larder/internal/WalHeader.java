package io.larder.internal;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The WAL-index header of an SQLite database in WAL mode, read from its shared-memory file ({@code -shm})
 * without a lock, to tell cheaply that nothing was committed since an earlier look.
 *
 * <p>SQLite's documented WAL-index format (sqlite.org/walformat.html): the file begins with two copies of a
 * 48-byte header whose fields include a counter of transactions, the last valid frame of the WAL and the
 * WAL's salts; every commit, by any connection of any process, rewrites both copies (the second first)
 * before any reader can see the commit, and a reader that finds the two copies different knows a writer is
 * between them. So: two reads of equal, initialised copies that are also equal to each other mean no commit
 * happened between them. Any doubt (no file yet, copies different, not initialised, an I/O error) answers
 * "changed", and the caller asks SQLite the slow way ({@code PRAGMA data_version}).
 *
 * <p>The file is never truncated while a connection of this process holds the database open (SQLite resets
 * it only when the first connection opens it), and this class is used only while one does. Its file stays
 * open until {@link #close()}, which must come after every connection's close (see there).
 */
final class WalHeader implements AutoCloseable {
  private static final int COPY = 48;
  private static final int IS_INIT = 12; // the byte that is 1 once the header is valid
  private final Path shm;
  private volatile MappedByteBuffer map;
  private volatile boolean closed;
  private FileChannel channel; // kept open: see close()

  WalHeader(Path shm) {
    this.shm = shm;
  }

  /** The current header as six longs, or null when it cannot be read consistently right now. */
  long[] read() {
    MappedByteBuffer m = mapped();
    if (m == null) {
      return null;
    }
    long[] first = new long[COPY / 8];
    for (int i = 0; i < first.length; i++) {
      first[i] = m.getLong(i * 8);
    }
    VarHandle.fullFence(); // the writer writes the second copy first: read the first copy first
    for (int i = 0; i < first.length; i++) {
      if (m.getLong(COPY + i * 8) != first[i]) {
        return null;
      }
    }
    return m.get(IS_INIT) == 1 ? first : null;
  }

  /**
   * The header's transaction counter ({@code iChange}: one more with every commit), from a {@link #read()}
   * result. The header is in the machine's byte order; the buffer reads big-endian.
   */
  static int transactions(long[] header) {
    int bigEndian = (int) (header[1] >>> 32);
    return java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.BIG_ENDIAN ? bigEndian : Integer.reverseBytes(bigEndian);
  }

  /** True only if the header is readable and equal to {@code earlier} (a {@link #read()} result). */
  boolean unchangedSince(long[] earlier) {
    if (earlier == null) {
      return false;
    }
    MappedByteBuffer m = mapped();
    if (m == null) {
      return false;
    }
    for (int i = 0; i < earlier.length; i++) {
      if (m.getLong(i * 8) != earlier[i]) {
        return false;
      }
    }
    VarHandle.fullFence();
    for (int i = 0; i < earlier.length; i++) {
      if (m.getLong(COPY + i * 8) != earlier[i]) {
        return false;
      }
    }
    return true;
  }

  private MappedByteBuffer mapped() {
    MappedByteBuffer m = map;
    if (m != null || closed) {
      return m;
    }
    synchronized (this) {
      if (map == null && !closed) {
        try {
          if (channel == null) {
            channel = FileChannel.open(shm, StandardOpenOption.READ);
          }
          if (channel.size() >= 2 * COPY) {
            map = channel.map(FileChannel.MapMode.READ_ONLY, 0, 2 * COPY);
          }
        } catch (java.nio.file.NoSuchFileException e) {
          return null; // not made yet: the slow way until it is
        } catch (IOException | UnsupportedOperationException e) {
          closed = true; // no shared-memory file to read (another locking mode): always the slow way
        }
      }
      return map;
    }
  }

  /**
   * Stops reading the file. Call it only once every SQLite connection of this process to the database is
   * closed: closing a file descriptor drops every POSIX lock the process holds on that file, SQLite's on the
   * shared memory included (another process would then take itself for the first user, reset the file, and
   * a connection of ours still mapping it would crash). So the channel stays open until then.
   */
  @Override
  public synchronized void close() {
    closed = true;
    map = null;
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // closing
      }
      channel = null;
    }
  }

  @Override
  public String toString() {
    return "WalHeader[" + shm + ", " + Arrays.toString(read()) + "]";
  }
}
