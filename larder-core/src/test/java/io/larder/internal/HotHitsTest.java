package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.spi.Index.Hit;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HotHitsTest {
  @TempDir Path dir;

  @Test
  void aKeyReadAfterAFullGenerationIsKeptWhileNothingIsCommitted() {
    try (SqliteDb db = new SqliteDb(dir.resolve("index.db"), Durability.PROCESS_SAFE, w -> null);
        HotHits hot = new HotHits(db)) {
      db.openWriter(); // the file, in WAL mode; nothing is committed after this
      AtomicInteger lookups = new AtomicInteger();
      Function<String, Optional<Hit>> lookup = k -> {
        lookups.incrementAndGet();
        return Optional.of(hit(k));
      };
      for (int i = 0; i < HotHits.HOT_KEYS + 100; i++) {
        hot.get("random-" + i, lookup); // more keys than a generation holds
      }
      lookups.set(0);
      for (int i = 0; i < 10; i++) {
        assertThat(hot.get("hot", lookup)).isPresent();
      }
      assertThat(lookups).as("looked up once, then kept").hasValue(1);
    }
  }

  private static Hit hit(String key) {
    byte[] data = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Instant t = Instant.ofEpochMilli(1_000);
    return new Hit(new Entry(key, Integrity.compute(Algorithm.SHA256, data), data.length, t, t, null, null), data);
  }
}
