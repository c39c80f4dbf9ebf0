package io.larder.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The file-system operations of the write path, behind one interface so that tests can fail any one of
 * them (see {@code FaultyFileOps} in the test kit).
 */
public interface FileOps {
  /** Creates a new file for writing; fails if it exists. */
  FileChannel create(Path file) throws IOException;

  /** Writes all of {@code buffer}. */
  void write(FileChannel channel, ByteBuffer buffer) throws IOException;

  /** fsync of a file's data. */
  void force(FileChannel channel) throws IOException;

  /** fsync of a directory, so that a rename into it survives power loss. */
  void forceDirectory(Path dir) throws IOException;

  /** Atomic rename, replacing the target if it exists. */
  void move(Path from, Path to) throws IOException;

  /** Deletes a file; returns whether it existed. */
  boolean delete(Path file) throws IOException;

  void createDirectories(Path dir) throws IOException;

  /** The real file system. */
  FileOps REAL = new FileOps() {
    @Override
    public FileChannel create(Path file) throws IOException {
      return FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE);
    }

    @Override
    public void write(FileChannel channel, ByteBuffer buffer) throws IOException {
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
    }

    @Override
    public void force(FileChannel channel) throws IOException {
      channel.force(true);
    }

    @Override
    public void forceDirectory(Path dir) throws IOException {
      try (FileChannel ch = FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
        ch.force(true);
      }
    }

    @Override
    public void move(Path from, Path to) throws IOException {
      java.nio.file.Files.move(from, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public boolean delete(Path file) throws IOException {
      return java.nio.file.Files.deleteIfExists(file);
    }

    @Override
    public void createDirectories(Path dir) throws IOException {
      java.nio.file.Files.createDirectories(dir);
    }
  };
}
