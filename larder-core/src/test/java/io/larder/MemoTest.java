package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The opt-in memo serves what its Memo says it may, for no longer, and forgets what its own Larder changes. */
class MemoTest {
  @TempDir Path dir;
  final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  Larder memoized() {
    return Larder.open(dir, LarderOptions.defaults().clock(clock).memo(new Memo(1 << 20, Duration.ofSeconds(2))));
  }

  Larder other() {
    return Larder.open(dir, LarderOptions.defaults().clock(clock));
  }

  static String text(Larder l, String key) {
    return l.getBytes(key).map(b -> new String(b, StandardCharsets.UTF_8)).orElse(null);
  }

  @Test
  void anotherProcessesChangeIsSeenOnceTheMemoedReadIsMaxAgeOld() {
    try (Larder a = memoized(); Larder b = other()) {
      a.put("k", "one".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("one");
      b.put("k", "two".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).as("served from the memo, stale as documented").isEqualTo("one");
      clock.advance(Duration.ofMillis(1999));
      assertThat(text(a, "k")).isEqualTo("one");
      clock.advance(Duration.ofMillis(1));
      assertThat(text(a, "k")).as("maxAge passed: read from the index again").isEqualTo("two");

      b.remove("k");
      assertThat(text(a, "k")).isEqualTo("two");
      clock.advance(Duration.ofSeconds(2));
      assertThat(text(a, "k")).isNull();
    }
  }

  @Test
  void withoutAMemoAnotherProcessesChangeIsSeenAtOnce() {
    try (Larder a = other(); Larder b = other()) {
      a.put("k", "one".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("one");
      b.put("k", "two".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("two");
    }
  }

  @Test
  void changesThroughTheSameLarderAreSeenAtOnce() {
    try (Larder a = memoized()) {
      a.put("k", "one".getBytes(StandardCharsets.UTF_8));
      a.put("p/x", "x".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("one");
      assertThat(text(a, "p/x")).isEqualTo("x");
      a.put("k", "two".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("two");
      a.remove("k");
      assertThat(text(a, "k")).isNull();
      a.removePrefix("p/");
      assertThat(text(a, "p/x")).isNull();
      a.put("k", "three".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "k")).isEqualTo("three");
      a.clear();
      assertThat(text(a, "k")).isNull();
    }
  }

  @Test
  void anExpiredEntryIsNeverServedFromTheMemo() {
    try (Larder a = memoized()) {
      a.put("k", "soon gone".getBytes(StandardCharsets.UTF_8), PutOptions.defaults().ttl(Duration.ofMillis(500)));
      assertThat(text(a, "k")).isEqualTo("soon gone");
      clock.advance(Duration.ofMillis(500));
      assertThat(text(a, "k")).isNull();
    }
  }

  @Test
  void contentLargerThanMaxEntryBytesIsNotMemoized() {
    try (Larder a = memoized(); Larder b = other()) {
      byte[] big = new byte[(int) new Memo(1 << 20, Duration.ofSeconds(2)).maxEntryBytes() + 1];
      a.put("big", big);
      assertThat(a.getBytes("big")).get().isEqualTo(big);
      b.put("big", "small now".getBytes(StandardCharsets.UTF_8));
      assertThat(text(a, "big")).isEqualTo("small now");
    }
  }

  @Test
  void theMemoHoldsAtMostMaxBytesDroppingTheOldestFirst() {
    Memo m = new Memo(64 * 1024, Duration.ofMinutes(1)); // entries up to 4 KiB
    try (Larder a = Larder.open(dir, LarderOptions.defaults().clock(clock).memo(m)); Larder b = other()) {
      for (int i = 0; i < 32; i++) {
        a.put("k" + i, new byte[4096]);
        a.getBytes("k" + i);
      }
      for (int i = 0; i < 32; i++) {
        b.put("k" + i, ("new " + i).getBytes(StandardCharsets.UTF_8));
      }
      int stale = 0;
      for (int i = 31; i >= 0; i--) { // newest first: reading an old one again must not push the newest out
        if (a.getBytes("k" + i).orElseThrow().length == 4096) {
          stale++;
          assertThat(i).as("only the newest are kept").isGreaterThanOrEqualTo(16);
        }
      }
      assertThat(stale).as("64 KiB holds 16 of the 4 KiB reads").isEqualTo(16);
    }
  }

  @Test
  void aMemoNeedsASizeAndAnAge() {
    assertThatThrownBy(() -> new Memo(0, Duration.ofSeconds(1))).isInstanceOf(LarderException.InvalidInput.class);
    assertThatThrownBy(() -> new Memo(1, Duration.ZERO)).isInstanceOf(LarderException.InvalidInput.class);
  }
}
