package io.larder.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Looks at a store's directory from outside, as a test must. */
public final class StoreFiles {
  private StoreFiles() {}

  public static List<Path> blobFiles(Path root) {
    return files(root.resolve("content-v2"));
  }

  public static List<Path> tmpFiles(Path root) {
    return files(root.resolve("tmp"));
  }

  private static List<Path> files(Path dir) {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The content a blob file holds, decoded with zstd-jni's own stream decoder if it is a {@code .zst} file
   * (not with the store's reader, so that a test checks the store against an independent decoder).
   */
  public static byte[] contentOf(Path blobFile) {
    try {
      byte[] raw = Files.readAllBytes(blobFile);
      if (!blobFile.toString().endsWith(".zst")) {
        return raw;
      }
      try (var in = new com.github.luben.zstd.ZstdInputStream(new java.io.ByteArrayInputStream(raw))) {
        return in.readAllBytes();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The hex digest a blob file is named by (its last three path elements, without {@code .zst}). */
  public static String digestHexOf(Path blobFile) {
    String name = blobFile.getFileName().toString().replaceFirst("\\.zst$", "");
    return blobFile.getParent().getParent().getFileName().toString() + blobFile.getParent().getFileName() + name;
  }

  /** Flips one byte of a file in place, as bit rot or a stray writer would. */
  public static void flipByte(Path file, long position) {
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ,
        java.nio.file.StandardOpenOption.WRITE)) {
      var b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, position);
      b.flip();
      byte v = b.get(0);
      b.put(0, (byte) (v ^ 0x5a));
      ch.write(b, position);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
