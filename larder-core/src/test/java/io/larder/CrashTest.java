package io.larder;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.testkit.ChildJvm;
import io.larder.testkit.MutableClock;
import io.larder.testkit.Payloads;
import io.larder.testkit.PutLoop;
import io.larder.testkit.StoreFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guarantee 6: a child JVM putting in a loop is killed with SIGKILL at a random moment, again and again.
 * After each kill every put it acknowledged is present and verifies, and nothing corrupt is served.
 */
class CrashTest {
  @TempDir Path dir;

  @Test
  @Tag("slow")
  void acknowledgedPutsSurviveKill9() throws Exception {
    runKills(Integer.getInteger("larder.crash.kills", 50), 12345);
  }

  @Test
  @Tag("long")
  void acknowledgedPutsSurviveManyKill9s() throws Exception {
    runKills(Integer.getInteger("larder.crash.kills.long", 500), System.nanoTime());
  }

  private void runKills(int kills, long seed) throws Exception {
    Random random = new Random(seed);
    List<String> acknowledged = new ArrayList<>();
    int maxSize = 64 * 1024; // a mix of inline and file blobs
    for (int k = 0; k < kills; k++) {
      Process child = ChildJvm.start(PutLoop.class, dir.toString(), "crash" + k + ":", String.valueOf(maxSize));
      List<String> acked = new ArrayList<>();
      Thread reader = Thread.ofPlatform().start(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            synchronized (acked) {
              acked.add(line);
            }
          }
        } catch (java.io.IOException ignored) {
          // the child died
        }
      });
      // Wait for the child to be putting, then kill it at a random moment.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        synchronized (acked) {
          if (!acked.isEmpty()) {
            break;
          }
        }
        assertThat(child.isAlive()).as("child exited early").isTrue();
        assertThat(System.nanoTime()).as("child never put").isLessThan(deadline);
        Thread.sleep(5);
      }
      Thread.sleep(random.nextInt(300));
      child.destroyForcibly(); // SIGKILL
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
      reader.join();
      synchronized (acked) {
        acknowledged.addAll(acked);
      }
      // After each kill: every acknowledged put is present and verifies.
      try (Larder cache = Larder.open(dir)) {
        for (String key : acked) {
          assertThat(cache.getBytes(key)).as("acknowledged %s after kill %d", key, k)
              .hasValueSatisfying(b -> assertThat(b).isEqualTo(Payloads.forKey(key, maxSize)));
        }
      }
    }
    MutableClock later = new MutableClock(Instant.now().plus(Duration.ofHours(2)));
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().clock(later))) {
      for (String key : acknowledged) {
        assertThat(cache.getBytes(key)).as(key).isPresent();
      }
      VerifyReport report = cache.verify();
      assertThat(report.corruptRemoved()).as("no blob file is ever partial").isZero();
      assertThat(report.missingRemoved()).isZero();
    }
    assertThat(StoreFiles.tmpFiles(dir)).as("stale tmp files are removed after the grace period").isEmpty();
    assertThat(acknowledged.size()).isGreaterThan(kills);
  }
}
