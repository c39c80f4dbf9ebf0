package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;

import io.larder.testkit.StoreFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The continuous scrub: passes follow one another, each re-hashing every blob, and one finds a blob whose
 * bytes changed while its file's size and times did not (what reads that trust unchanged files cannot see).
 */
class PacedScrubTest {
  @TempDir Path dir;

  @Test
  void eachPassFindsDamageThatChangedNoFileAttributeAndPassesFollowOneAnother() throws Exception {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      for (int i = 0; i < 10; i++) {
        cache.put("k" + i, random(50_000, i));
      }
      cache.put("small", random(100, 99)); // inline, checked too
      byte[] k3 = random(50_000, 3);
      assertThat(cache.getBytes("k3")).hasValue(k3); // read once: the file is trusted from now on
      Path file = StoreFiles.blobFiles(dir).stream().filter(f -> {
        try {
          return java.util.Arrays.equals(Files.readAllBytes(f), k3);
        } catch (java.io.IOException e) {
          return false;
        }
      }).findFirst().orElseThrow();
      FileTime mtime = Files.getLastModifiedTime(file);
      byte[] damaged = k3.clone();
      damaged[12_345] ^= 0x10;
      Files.write(file, damaged);
      Files.setLastModifiedTime(file, mtime);

      BlockingQueue<VerifyReport> passes = new LinkedBlockingQueue<>();
      BlockingQueue<LarderException> errors = new LinkedBlockingQueue<>();
      Larder.Schedule scrub = cache.scrubEvery(Duration.ofMillis(300), passes::add, errors::add);
      try {
        VerifyReport first = passes.poll(60, TimeUnit.SECONDS);
        assertThat(first).isNotNull();
        assertThat(first.blobsChecked()).isEqualTo(11);
        assertThat(first.corruptRemoved()).isEqualTo(1);
        assertThat(first.entriesRemoved()).isEqualTo(1);
        assertThat(cache.contains("k3")).isFalse();
        VerifyReport second = passes.poll(60, TimeUnit.SECONDS);
        assertThat(second).as("the next pass follows").isNotNull();
        assertThat(second.clean()).isTrue();
        assertThat(second.blobsChecked()).isEqualTo(10);
      } finally {
        scrub.close();
      }
      assertThat(errors).isEmpty();
      for (int i = 0; i < 10; i++) {
        if (i != 3) {
          assertThat(cache.getBytes("k" + i)).hasValue(random(50_000, i));
        }
      }
    }
  }
}
