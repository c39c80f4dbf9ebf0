package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/** The pending-reads table holds what a map keeping the latest time per hash holds, through its growth. */
class HashTimesTest {
  record Note(long hash, long time) {}

  @Property(tries = 200)
  void holdsTheLatestTimeOfEveryHashNoted(@ForAll @Size(max = 2_000) List<@LongRange(min = -40, max = 40) Long> small,
      @ForAll @Size(max = 300) List<Long> wide, @ForAll @LongRange(min = 0, max = 1L << 50) long time) {
    Map<Long, Long> model = new HashMap<>();
    HashTimes table = new HashTimes();
    int i = 0;
    // Small hashes collide in their slots (and include 0); wide ones are spread out. Times go up and down.
    for (List<Long> hashes : List.of(small, wide)) {
      for (long h : hashes) {
        long t = time + (i++ % 7) * 1000 - 3000;
        boolean isNew = !model.containsKey(h);
        model.merge(h, t, Math::max);
        assertThat(table.merge(h, t)).isEqualTo(isNew);
      }
    }
    assertThat(table.size()).isEqualTo(model.size());
    assertThat(java.util.Arrays.stream(table.hashes()).boxed().toList()).containsExactlyInAnyOrderElementsOf(model.keySet());
    model.forEach((h, t) -> assertThat(table.get(h)).isEqualTo(t));
    assertThat(table.get(Long.MAX_VALUE)).isEqualTo(model.getOrDefault(Long.MAX_VALUE, Long.MIN_VALUE));
  }
}
