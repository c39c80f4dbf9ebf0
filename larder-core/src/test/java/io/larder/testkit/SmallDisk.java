package io.larder.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** A real, small file system (tmpfs) for disk-full tests. Mounting needs root: the test is skipped otherwise. */
public final class SmallDisk implements AutoCloseable {
  private final Path mount;

  private SmallDisk(Path mount) {
    this.mount = mount;
  }

  /** Mounts a tmpfs of {@code size} (as mount's {@code size=}, e.g. {@code 2m}) at {@code dir}, or skips the test. */
  public static SmallDisk mount(Path dir, String size) throws Exception {
    Files.createDirectories(dir);
    Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
        .redirectErrorStream(true).start();
    boolean ok = p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
    Assumptions.assumeTrue(ok, "cannot mount a tmpfs here (needs root): "
        + new String(p.getInputStream().readAllBytes()).strip());
    return new SmallDisk(dir);
  }

  public Path path() {
    return mount;
  }

  @Override
  public void close() throws java.io.IOException {
    try {
      new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
