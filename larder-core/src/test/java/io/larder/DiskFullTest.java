package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.StoreFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guarantee 8, for real: a store on a 2 MiB tmpfs. Needs root (to mount); skipped otherwise.
 */
class DiskFullTest {
  @TempDir Path parent;
  Path mount;

  @BeforeEach
  void mountSmallFileSystem() throws Exception {
    mount = parent.resolve("small");
    Files.createDirectories(mount);
    Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.toString())
        .redirectErrorStream(true).start();
    boolean ok = p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
    Assumptions.assumeTrue(ok, "cannot mount a tmpfs here (needs root): "
        + new String(p.getInputStream().readAllBytes()).strip());
  }

  @AfterEach
  void unmount() throws Exception {
    new ProcessBuilder("umount", "-l", mount.toString()).inheritIO().start().waitFor(20, TimeUnit.SECONDS);
  }

  @Test
  void aFullDiskIsATypedErrorAndLosesNothingCommitted() throws IOException {
    Random random = new Random(1);
    try (Larder cache = Larder.open(mount)) {
      byte[] first = new byte[300_000];
      random.nextBytes(first);
      cache.put("first", first);
      byte[] big = new byte[3_000_000];
      random.nextBytes(big);
      assertThatThrownBy(() -> cache.put("big", big))
          .isInstanceOfSatisfying(LarderException.StorageFailure.class,
              e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.INSUFFICIENT_STORAGE))
          .hasMessageContaining("no space left");
      assertThat(cache.contains("big")).isFalse();
      assertThat(StoreFiles.tmpFiles(mount)).isEmpty();

      // Fill the disk with small entries until the index itself cannot grow.
      LarderException full = null;
      int stored = 0;
      for (int i = 0; i < 100_000 && full == null; i++) {
        byte[] small = new byte[8_000];
        random.nextBytes(small);
        try {
          cache.put("small:" + i, small);
          stored++;
        } catch (LarderException e) {
          full = e;
        }
      }
      assertThat(full).isNotNull();
      assertThat(full.kind()).isEqualTo(LarderException.Kind.INSUFFICIENT_STORAGE);
      assertThat(cache.getBytes("first")).hasValueSatisfying(b -> assertThat(b).isEqualTo(first));
      assertThat(cache.list("small:").count()).isEqualTo(stored);
      assertThat(StoreFiles.tmpFiles(mount)).isEmpty();
    }
    // Reopening a full store still serves what was committed.
    try (Larder cache = Larder.open(mount)) {
      assertThat(cache.getBytes("first")).isPresent();
    }
  }
}
