package io.larder;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Guarantee 9: random sequences of put / get / remove / removePrefix / reopen agree with an in-memory
 * model (a sorted map) after every step.
 */
class StoreModelProperties {

  sealed interface Op permits Put, Get, Remove, RemovePrefix, Reopen, Collect {}

  record Put(String key, int content) implements Op {}

  record Get(String key) implements Op {}

  record Remove(String key) implements Op {}

  record RemovePrefix(String prefix) implements Op {}

  record Reopen() implements Op {}

  /** A collection that evicts nothing: it may only take content no entry references. */
  record Collect() implements Op {}

  /** A few contents, so that keys share blobs; sizes on both sides of the inline threshold. */
  static byte[] content(int n) {
    int[] sizes = {0, 1, 100, 16 * 1024, 16 * 1024 + 1, 70_000};
    byte[] b = new byte[sizes[n % sizes.length]];
    new Random(n).nextBytes(b);
    return b;
  }

  @Provide
  Arbitrary<Op> ops() {
    Arbitrary<String> keys = Arbitraries.strings().withChars('a', 'b', ':', 'é').ofMinLength(1).ofMaxLength(4);
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(6, Combinators.combine(keys, Arbitraries.integers().between(0, 11)).as(Put::new)),
        net.jqwik.api.Tuple.of(3, keys.map(Get::new)),
        net.jqwik.api.Tuple.of(2, keys.map(Remove::new)),
        net.jqwik.api.Tuple.of(1, keys.map(RemovePrefix::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Reopen())),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Collect())));
  }

  @Property(tries = 60)
  void theStoreAgreesWithAMapAfterEveryStep(@ForAll @Size(max = 40) List<@net.jqwik.api.From("ops") Op> ops)
      throws IOException {
    Path dir = Files.createTempDirectory("larder-prop");
    TreeMap<String, byte[]> model = new TreeMap<>();
    Larder cache = Larder.open(dir);
    try {
      for (Op op : ops) {
        switch (op) {
          case Put p -> {
            byte[] data = content(p.content());
            cache.put(p.key(), data);
            model.put(p.key(), data);
          }
          case Get g -> assertThat(cache.getBytes(g.key()).orElse(null)).isEqualTo(model.get(g.key()));
          case Remove r -> assertThat(cache.remove(r.key())).isEqualTo(model.remove(r.key()) != null);
          case RemovePrefix rp -> {
            List<String> gone = new ArrayList<>(model.subMap(rp.prefix(), rp.prefix() + Character.MAX_VALUE).keySet());
            gone.removeIf(k -> !k.startsWith(rp.prefix()));
            gone.forEach(model::remove);
            assertThat(cache.removePrefix(rp.prefix())).isEqualTo(gone.size());
          }
          case Reopen ignored -> {
            cache.close();
            cache = Larder.open(dir);
          }
          case Collect ignored -> cache.gc(GcOptions.defaults().grace(java.time.Duration.ZERO).keepPerGroup(0));
        }
        // After every step: the same keys, in the same order, with the same bytes.
        assertThat(cache.list("").map(Entry::key).toList()).containsExactlyElementsOf(model.keySet());
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
          assertThat(cache.getBytes(e.getKey())).hasValueSatisfying(b -> assertThat(b).isEqualTo(e.getValue()));
        }
        for (String prefix : List.of("a", "a:", "b", "é")) {
          assertThat(cache.list(prefix).map(Entry::key).toList())
              .containsExactlyElementsOf(model.keySet().stream().filter(k -> k.startsWith(prefix)).toList());
        }
      }
      assertThat(cache.verify().clean()).isTrue();
      // After a final collection, exactly the content the model's entries hold is left.
      cache.gc(GcOptions.defaults().grace(java.time.Duration.ZERO).keepPerGroup(0));
      long distinct = model.values().stream().map(java.nio.ByteBuffer::wrap).distinct().count();
      assertThat(cache.stats().blobs()).isEqualTo(distinct);
    } finally {
      cache.close();
      try (Stream<Path> s = Files.walk(dir)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
