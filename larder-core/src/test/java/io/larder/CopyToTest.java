package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.Payloads;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** copyTo never damages what is at its target: files keep their mode, links stay links, devices stay devices. */
class CopyToTest {
  @TempDir Path dir;
  Larder cache;
  final byte[] data = Payloads.random(300_000, 1);

  @BeforeEach
  void open() {
    cache = Larder.open(dir.resolve("store"));
    cache.put("k", data);
  }

  @AfterEach
  void close() {
    cache.close();
  }

  static String kind(Path p) throws Exception {
    Process s = new ProcessBuilder("stat", "-c", "%F", p.toString()).start();
    String out = new String(s.getInputStream().readAllBytes()).strip();
    s.waitFor(10, TimeUnit.SECONDS);
    return out;
  }

  long leftovers() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".larder-tmp")).count();
    }
  }

  @Test
  void anExistingFileIsReplacedWholeAndKeepsItsMode() throws Exception {
    Path f = dir.resolve("out.bin");
    Files.writeString(f, "old");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-x---"));
    assertThat(cache.copyTo("k", f)).isTrue();
    assertThat(Files.readAllBytes(f)).isEqualTo(data);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rwxr-x---");
    Path fresh = dir.resolve("new.bin");
    assertThat(cache.copyTo("k", fresh)).isTrue();
    assertThat(Files.readAllBytes(fresh)).isEqualTo(data);
    assertThat(leftovers()).isZero();
  }

  @Test
  void aSymbolicLinkStaysALinkAndItsFileIsReplaced() throws Exception {
    Path real = Files.createDirectories(dir.resolve("real")).resolve("target.bin");
    Files.writeString(real, "old");
    Path link = Files.createSymbolicLink(dir.resolve("link.bin"), real);
    assertThat(cache.copyTo("k", link)).isTrue();
    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(Files.readAllBytes(real)).isEqualTo(data);

    Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("nowhere"));
    assertThatThrownBy(() -> cache.copyTo("k", dangling)).isInstanceOf(LarderException.InvalidInput.class)
        .hasMessageContaining("symbolic link to nothing");
    assertThat(Files.isSymbolicLink(dangling)).isTrue();
    assertThat(Files.exists(dir.resolve("nowhere"))).isFalse();
    assertThat(leftovers()).isZero();
  }

  @Test
  void aFifoIsWrittenThroughNotReplaced() throws Exception {
    Path fifo = dir.resolve("pipe");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    Assumptions.assumeTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo is not available");
    CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> {
      try {
        return Files.readAllBytes(fifo);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(cache.copyTo("k", fifo)).isTrue();
    assertThat(reader.get(30, TimeUnit.SECONDS)).isEqualTo(data);
    assertThat(kind(fifo)).isEqualTo("fifo");
    assertThat(leftovers()).isZero();
  }

  @Test
  void aDeviceStaysADevice() throws Exception {
    Path device = dir.resolve("null");
    Process mk = new ProcessBuilder("mknod", device.toString(), "c", "1", "3").start(); // the null device
    Assumptions.assumeTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mknod needs root");
    assertThat(cache.copyTo("k", device)).isTrue();
    assertThat(kind(device)).isEqualTo("character special file");
    assertThat(Files.isRegularFile(device, LinkOption.NOFOLLOW_LINKS)).isFalse();
    assertThat(leftovers()).isZero();
  }

  @Test
  void aDirectoryIsRefused() {
    assertThatThrownBy(() -> cache.copyTo("k", dir)).isInstanceOf(LarderException.InvalidInput.class)
        .hasMessageContaining("is a directory");
  }
}
