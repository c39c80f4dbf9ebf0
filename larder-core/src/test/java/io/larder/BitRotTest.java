package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;

import io.larder.testkit.StoreFiles;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bit rot below the file system: a byte of a blob flipped in the disk image under a mounted ext4 (the file's
 * size, times and inode unchanged, so its stamp still says "verified"). With {@code verify-reads =
 * when-changed} the trusted file is spot-checked: the damage is caught within a bounded number of reads of
 * that blob, the copy is removed, and it is never served again. Needs root (loop mounts, dropping the page
 * cache): skipped otherwise.
 */
@Tag("slow")
class BitRotTest {
  @TempDir Path dir;

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    boolean ok = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    Assumptions.assumeTrue(ok, String.join(" ", cmd) + " failed here (needs root and e2fsprogs): " + out.strip());
    return out;
  }

  @Test
  void aBlobRottenBelowTheFileSystemIsCaughtWithinTheSpotCheckInterval() throws Exception {
    Path image = dir.resolve("disk.img");
    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    run("truncate", "-s", "32M", image.toString());
    run("mkfs.ext4", "-q", "-F", "-b", "4096", image.toString());
    run("mount", "-o", "loop", image.toString(), mnt.toString());
    try {
      byte[] data = random(200_000, 42);
      Path root = mnt.resolve("store");
      try (Larder cache = Larder.open(root, LarderOptions.defaults().verifyEveryRead(false))) {
        cache.put("k", data);
        assertThat(cache.getBytes("k")).hasValue(data); // trusted: this process wrote and hashed it
        Path blob = StoreFiles.blobFiles(root).get(0);
        run("sync"); // on the image, where debugfs looks
        String block = run("debugfs", "-R", "bmap /" + mnt.relativize(blob) + " 0", image.toString()).lines()
            .filter(l -> l.strip().matches("\\d+")).findFirst().orElseThrow().strip();
        try (RandomAccessFile img = new RandomAccessFile(image.toFile(), "rw")) {
          long at = Long.parseLong(block) * 4096 + 100;
          img.seek(at);
          int b = img.read();
          img.seek(at);
          img.write(b ^ 1);
          img.getFD().sync();
        }
        try {
          Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3"); // the file system now reads the rotten block
        } catch (java.io.IOException e) {
          Assumptions.abort("cannot drop the page cache here: " + e);
        }

        int servedWrong = 0;
        boolean caught = false;
        for (int i = 0; i < ReadTrust.SPOT_CHECK_EVERY && !caught; i++) {
          try {
            Optional<byte[]> got = cache.getBytes("k");
            assertThat(got).as("never the original bytes: the disk changed them").hasValueSatisfying(
                g -> assertThat(Arrays.equals(g, data)).isFalse());
            servedWrong++;
          } catch (LarderException.IntegrityFailure e) {
            assertThat(e.kind()).isEqualTo(LarderException.Kind.CORRUPT);
            caught = true;
          }
        }
        assertThat(caught).as("caught within " + ReadTrust.SPOT_CHECK_EVERY + " reads of the blob").isTrue();
        assertThat(servedWrong).isLessThan(ReadTrust.SPOT_CHECK_EVERY);
        assertThat(cache.getBytes("k")).as("the bad copy was removed with its entry").isEmpty();
        assertThat(StoreFiles.blobFiles(root)).isEmpty();
      }
    } finally {
      new ProcessBuilder(List.of("umount", "-l", mnt.toString())).start().waitFor(30, TimeUnit.SECONDS);
    }
  }
}
