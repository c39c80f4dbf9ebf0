package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Durability;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.spi.Index;
import io.larder.spi.Index.Hit;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.Size;

/**
 * Whatever is written, by this index or another one on the same file, and whenever the read table is rebuilt,
 * a read through it finds exactly what the index holds: the same entries, the same bytes, nothing removed.
 */
class ReadTableProperties {
  sealed interface Op permits Put, PutElsewhere, Remove, RemovePrefix, Build, Reopen {}

  record Put(String key, int content) implements Op {}

  /** A put by another index on the same file, which has no read table (another process, an older version). */
  record PutElsewhere(String key, int content) implements Op {}

  record Remove(String key) implements Op {}

  record RemovePrefix(String prefix) implements Op {}

  record Build() implements Op {}

  record Reopen() implements Op {}

  static final List<String> KEYS = List.of("a", "b", "a:", "a:b", "ab", "b:a", "é", "a:é");

  @Provide
  Arbitrary<Op> ops() {
    Arbitrary<String> keys = Arbitraries.of(KEYS);
    Arbitrary<Integer> contents = Arbitraries.integers().between(0, 9);
    return Arbitraries.frequencyOf(
        Tuple.of(5, Combinators.combine(keys, contents).as(Put::new)),
        Tuple.of(3, Combinators.combine(keys, contents).as(PutElsewhere::new)),
        Tuple.of(2, keys.map(Remove::new)),
        Tuple.of(1, Arbitraries.of("a", "a:", "b").map(RemovePrefix::new)),
        Tuple.of(3, Arbitraries.just(new Build())),
        Tuple.of(1, Arbitraries.just(new Reopen())));
  }

  /** Content {@code n}: inline bytes, except every fourth, which is a blob file (no inline bytes). */
  static Index.BlobRecord blob(int n) {
    byte[] data = ("content " + n).getBytes(StandardCharsets.UTF_8);
    Integrity d = Integrity.compute(Algorithm.SHA256, data);
    return new Index.BlobRecord(d, data.length, n % 4 == 0 ? null : data);
  }

  static void put(Index index, String key, int n) {
    Index.BlobRecord b = blob(n);
    Instant at = Instant.ofEpochMilli(1_000_000 + n);
    index.put(new Entry(key, b.digest(), b.size(), at, at, n % 3 == 0 ? at.plusSeconds(3600) : null, "m" + n), b);
  }

  @Property(tries = 40)
  void aReadThroughTheTableFindsWhatTheIndexHolds(@ForAll @Size(max = 30) List<@net.jqwik.api.From("ops") Op> ops)
      throws Exception {
    Path dir = Files.createTempDirectory("larder-read-table");
    Path file = dir.resolve("index.db");
    TreeMap<String, Integer> model = new TreeMap<>();
    SqliteIndex index = new SqliteIndex(file, Durability.PROCESS_SAFE, false, true);
    SqliteIndex other = new SqliteIndex(file, Durability.PROCESS_SAFE, false, false);
    try {
      for (Op op : ops) {
        switch (op) {
          case Put p -> {
            put(index, p.key(), p.content());
            model.put(p.key(), p.content());
          }
          case PutElsewhere p -> {
            put(other, p.key(), p.content());
            model.put(p.key(), p.content());
          }
          case Remove r -> assertThat(index.remove(r.key())).isEqualTo(model.remove(r.key()) != null);
          case RemovePrefix rp -> {
            long gone = model.keySet().stream().filter(k -> k.startsWith(rp.prefix())).count();
            model.keySet().removeIf(k -> k.startsWith(rp.prefix()));
            assertThat(other.removePrefix(rp.prefix())).isEqualTo(gone);
          }
          case Build b -> assertThat(index.readTable().rebuild()).isTrue();
          case Reopen r -> {
            index.close();
            other.close();
            index = new SqliteIndex(file, Durability.PROCESS_SAFE, false, true);
            other = new SqliteIndex(file, Durability.PROCESS_SAFE, false, false);
          }
        }
        for (String key : KEYS) {
          Optional<Hit> hit = index.get(key, true);
          Integer n = model.get(key);
          if (n == null) {
            assertThat(hit).as(key).isEmpty();
          } else {
            Index.BlobRecord b = blob(n);
            assertThat(hit).as(key).isPresent();
            assertThat(hit.get().entry().integrity()).isEqualTo(b.digest());
            assertThat(hit.get().entry().metadata()).isEqualTo("m" + n);
            assertThat(hit.get().entry().created()).isEqualTo(Instant.ofEpochMilli(1_000_000 + n));
            assertThat(hit.get().entry().expires()).isEqualTo(n % 3 == 0 ? Instant.ofEpochMilli(1_000_000 + n).plusSeconds(3600) : null);
            assertThat(Arrays.equals(hit.get().inline(), b.inline())).as(key + " bytes").isTrue();
          }
        }
      }
    } finally {
      index.close();
      other.close();
      try (Stream<Path> s = Files.walk(dir)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
