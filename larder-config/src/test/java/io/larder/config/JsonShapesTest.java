package io.larder.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class JsonShapesTest {
  @Test
  void everyTimeIsWrittenWithMillisecondsWhateverItsPrecision() {
    assertThat(JsonShapes.time(Instant.parse("2026-12-02T19:02:55Z"))).isEqualTo("2026-12-02T19:02:55.000Z");
    assertThat(JsonShapes.time(Instant.parse("2026-12-02T19:02:55.860Z"))).isEqualTo("2026-12-02T19:02:55.860Z");
    assertThat(JsonShapes.time(Instant.parse("2026-12-02T19:02:55.123456789Z"))).isEqualTo("2026-12-02T19:02:55.123Z");
  }
}
