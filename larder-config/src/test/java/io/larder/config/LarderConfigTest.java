package io.larder.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.Durability;
import io.larder.GcOptions;
import io.larder.LarderException;
import io.larder.LarderOptions;
import io.larder.config.LarderConfig.Key;
import io.larder.config.LarderConfig.Setting;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LarderConfigTest {
  @TempDir Path root;

  @Test
  void defaultsWithoutAFile() {
    LarderConfig c = LarderConfig.load(root, Map.of(), Map.of());
    assertThat(c.effective().values()).allMatch(s -> s.source().equals("default"));
    assertThat(c.storeOptions(LarderOptions.defaults()).durability()).isEqualTo(Durability.PROCESS_SAFE);
    assertThat(c.storeOptions(LarderOptions.defaults()).readTable()).isFalse();
    GcOptions gc = c.gcOptions();
    assertThat(gc.maxSize()).isEqualTo(-1);
    assertThat(gc.maxAge()).isNull();
    assertThat(gc.keepPerGroup()).isEqualTo(1);
    assertThat(c.gcInterval()).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void fileThenEnvironmentThenFlags() throws Exception {
    Files.writeString(root.resolve("larder.toml"), """
        max-size = "10G"
        max-age = "30d"
        keep-per-group = 2
        default-ttl = "7d"
        durability = "power-safe"
        gc-interval = "15m"
        read-table = true
        """);
    LarderConfig c = LarderConfig.load(root, Map.of("LARDER_MAX_AGE", "12h", "LARDER_KEEP_PER_GROUP", "4"),
        Map.of(Key.KEEP_PER_GROUP, new Setting("5", "--keep-per-group")));
    assertThat(c.effective().get(Key.MAX_SIZE)).isEqualTo(new Setting("10G", "larder.toml"));
    assertThat(c.effective().get(Key.MAX_AGE)).isEqualTo(new Setting("12h", "LARDER_MAX_AGE"));
    assertThat(c.effective().get(Key.KEEP_PER_GROUP)).isEqualTo(new Setting("5", "--keep-per-group"));
    GcOptions gc = c.gcOptions();
    assertThat(gc.maxSize()).isEqualTo(10L << 30);
    assertThat(gc.maxAge()).isEqualTo(Duration.ofHours(12));
    assertThat(gc.keepPerGroup()).isEqualTo(5);
    LarderOptions o = c.storeOptions(LarderOptions.defaults());
    assertThat(o.durability()).isEqualTo(Durability.POWER_SAFE);
    assertThat(o.defaultTtl()).isEqualTo(Duration.ofDays(7));
    assertThat(o.readTable()).isTrue();
    assertThat(c.gcInterval()).isEqualTo(Duration.ofMinutes(15));
  }

  @Test
  void invalidValuesAreRefusedNamingKeySourceAndForm() throws Exception {
    assertRefused("max-size = \"lots\"", Map.of(), "invalid max-size 'lots' (from larder.toml)", "e.g. 10G");
    assertRefused("", Map.of("LARDER_MAX_AGE", "soon"), "invalid max-age 'soon' (from LARDER_MAX_AGE)", "30d");
    assertRefused("keep-per-group = -1", Map.of(), "invalid keep-per-group '-1'", "0 or more");
    assertRefused("durability = \"maybe\"", Map.of(), "invalid durability 'maybe'", "process-safe or power-safe");
    assertRefused("compression = \"lz4\"", Map.of(), "invalid compression 'lz4'", "none, zstd or zstd:LEVEL");
    assertRefused("max-sise = 1", Map.of(), "unknown key 'max-sise'", "known keys: max-size");
    assertRefused("max-size = [1, 2]", Map.of(), "must be a single value", "a size");
    assertRefused("max-size = ", Map.of(), "is not valid TOML", "larder.toml");
  }

  private void assertRefused(String toml, Map<String, String> env, String... messages) throws Exception {
    Files.writeString(root.resolve("larder.toml"), toml + "\n");
    assertThatThrownBy(() -> LarderConfig.load(root, env, Map.of()))
        .isInstanceOfSatisfying(LarderException.InvalidInput.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.INVALID_ARGUMENT))
        .hasMessageContainingAll(messages);
  }

  @Test
  void durationsAndSizes() {
    assertThat(LarderConfig.duration("90s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(LarderConfig.duration("2w")).isEqualTo(Duration.ofDays(14));
    assertThat(LarderConfig.duration("PT1H")).isEqualTo(Duration.ofHours(1));
    assertThat(LarderConfig.duration("p1d")).isEqualTo(Duration.ofDays(1));
    assertThatThrownBy(() -> LarderConfig.duration("1 fortnight")).isInstanceOf(IllegalArgumentException.class);
    for (var e : Map.of("1024", 1024L, "1K", 1024L, "1.5M", 1572864L, "2GiB", 2L << 30, "1t", 1L << 40).entrySet()) {
      LarderConfig c = LarderConfig.load(root, Map.of("LARDER_MAX_SIZE", e.getKey()), Map.of());
      assertThat(c.gcOptions().maxSize()).as(e.getKey()).isEqualTo(e.getValue());
    }
  }
}
