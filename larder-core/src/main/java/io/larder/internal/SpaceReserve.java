package io.larder.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * A file of zeros kept beside the index so that removals can commit on a full disk: they are how space comes
 * back, and a SQLite commit needs room in the write-ahead log even to delete. When a removal finds the disk
 * full, the reserve is given up and the removal tried again; it is made again once a write succeeds.
 * Best effort throughout: a reserve that cannot be made only loses that fallback.
 */
final class SpaceReserve {
  private final Path file;
  private final int bytes;
  private volatile boolean missing = true;
  private volatile long lastTry = System.nanoTime() - RETRY_NANOS;
  /** A reserve that could not be made is tried again after this long, not on every write. */
  private static final long RETRY_NANOS = 10_000_000_000L;

  SpaceReserve(Path file, int bytes) {
    this.file = file;
    this.bytes = bytes;
  }

  /** Makes the reserve if it is missing (after a release, or in a new store); quietly does nothing if it cannot. */
  void restore() {
    if (!missing || System.nanoTime() - lastTry < RETRY_NANOS) {
      return;
    }
    lastTry = System.nanoTime();
    if (Files.isRegularFile(file)) {
      missing = false;
      return;
    }
    Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE)) {
        ByteBuffer zeros = ByteBuffer.allocate(64 * 1024); // written, not sparse: the blocks are really taken
        for (int done = 0; done < bytes; done += zeros.capacity()) {
          zeros.clear();
          while (zeros.hasRemaining()) {
            ch.write(zeros);
          }
        }
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      missing = false;
    } catch (IOException | UnsupportedOperationException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // nothing more to give back
      }
    }
  }

  /** Gives the reserve's space back to the file system; returns whether there was one to give. */
  boolean release() {
    missing = true;
    lastTry = System.nanoTime(); // not taken back by the next write at once: the removal needs it now
    try {
      return Files.deleteIfExists(file);
    } catch (IOException e) {
      return false;
    }
  }
}
