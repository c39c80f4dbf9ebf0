package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.SmallDisk;
import io.larder.testkit.StoreFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guarantee 8, for real: a store on a 2 MiB tmpfs. Needs root (to mount); skipped otherwise.
 */
class DiskFullTest {
  @TempDir Path parent;
  SmallDisk disk;
  Path mount;

  @BeforeEach
  void mountSmallFileSystem() throws Exception {
    disk = SmallDisk.mount(parent.resolve("small"), "2m");
    mount = disk.path();
  }

  @AfterEach
  void unmount() throws Exception {
    if (disk != null) {
      disk.close();
    }
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

  /**
   * Harden #1: a commit that fails on a full disk fails alone. Later writes are refused with
   * INSUFFICIENT_STORAGE while the disk stays full, removals and collection still work (they are how space
   * is freed), and once space is free writes succeed again, in the same open store.
   */
  @Test
  void aFullDiskDuringACommitDoesNotBreakLaterWrites() throws IOException {
    Random random = new Random(2);
    Path ballast = mount.resolve("ballast");
    Files.write(ballast, new byte[400_000]); // room to give back later
    try (Larder cache = Larder.open(mount, LarderOptions.defaults().inlineThreshold(16 * 1024))) {
      byte[] keep = new byte[4_000];
      random.nextBytes(keep);
      cache.put("keep", keep);
      // Large puts until the disk refuses one, then small inline ones until the index itself cannot grow.
      int failures = 0;
      for (int size : new int[] {100_000, 8_000}) {
        for (int i = 0; i < 10_000; i++) {
          byte[] b = new byte[size];
          random.nextBytes(b);
          try {
            cache.put("fill:" + size + ":" + i, b);
          } catch (LarderException e) {
            assertThat(e.kind()).as(e.getMessage()).isEqualTo(LarderException.Kind.INSUFFICIENT_STORAGE);
            failures++;
            break;
          }
        }
      }
      assertThat(failures).isEqualTo(2);
      // While the disk is full, every further write is refused the same way (never a broken connection).
      for (int i = 0; i < 5; i++) {
        byte[] b = new byte[8_000];
        random.nextBytes(b);
        assertThatThrownBy(() -> cache.put("more", b))
            .isInstanceOfSatisfying(LarderException.class,
                e -> assertThat(e.kind()).as(e.getMessage()).isEqualTo(LarderException.Kind.INSUFFICIENT_STORAGE));
      }
      // Removing and collecting work at a full disk: they are how space comes back.
      assertThat(cache.remove("fill:100000:0")).isTrue();
      assertThat(cache.removePrefix("fill:8000:")).isPositive();
      cache.gc(GcOptions.defaults().grace(java.time.Duration.ZERO));
      Files.delete(ballast);
      byte[] after = new byte[8_000];
      random.nextBytes(after);
      cache.put("after", after);
      assertThat(cache.getBytes("after")).hasValueSatisfying(b -> assertThat(b).isEqualTo(after));
      assertThat(cache.getBytes("keep")).hasValueSatisfying(b -> assertThat(b).isEqualTo(keep));
      assertThat(cache.contains("fill:100000:0")).isFalse();
    }
  }
}
