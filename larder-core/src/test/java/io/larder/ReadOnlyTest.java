package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.StoreFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A store opened read-only: everything is readable, every write refused, nothing changed or created. */
class ReadOnlyTest {
  @TempDir Path dir;

  static final LarderOptions RO = LarderOptions.defaults().readOnly(true);

  @Test
  void everythingReadsAndEveryWriteIsRefusedWithNothingChanged() throws Exception {
    byte[] small = random(100, 1);
    byte[] big = random(100_000, 2);
    try (Larder w = Larder.open(dir)) {
      w.put("small", small);
      w.put("big", big);
    }
    long indexBytes = Files.size(dir.resolve("index.db"));
    try (Larder ro = Larder.open(dir, RO)) {
      assertThat(ro.getBytes("small")).hasValue(small);
      assertThat(ro.getBytes("big")).hasValue(big);
      assertThat(ro.info("big")).isPresent();
      assertThat(ro.list("").map(Entry::key)).containsExactly("big", "small");
      assertThat(ro.stats().entries()).isEqualTo(2);
      assertThat(ro.verify().clean()).isTrue();
      // a lookup that counts as a read (the gRPC CAS's FindMissingBlobs): answered, nothing recorded
      assertThat(ro.touch(List.of("small", "absent"))).containsExactly("small");
      List<ThrowingCallable> writes = List.of(() -> ro.put("new", small), () -> ro.remove("small"),
          () -> ro.removePrefix("s"), ro::clear, () -> ro.gc(GcOptions.defaults()),
          () -> ro.removeContent(ro.info("small").orElseThrow().integrity()));
      for (ThrowingCallable write : writes) {
        assertThatThrownBy(write).isInstanceOfSatisfying(LarderException.StorageFailure.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.READ_ONLY)).hasMessageContaining("read-only");
      }
    }
    try (Larder w = Larder.open(dir)) {
      assertThat(w.list("").map(Entry::key)).containsExactly("big", "small");
      assertThat(w.getBytes("small")).hasValue(small);
    }
    assertThat(indexBytes).isPositive();
  }

  @Test
  void aReadOnlyStoreSeesWhatAWriterCommitsMeanwhile() {
    try (Larder w = Larder.open(dir)) {
      w.put("a", random(10, 1));
      try (Larder ro = Larder.open(dir, RO)) {
        assertThat(ro.contains("b")).isFalse();
        w.put("b", random(10, 2));
        assertThat(ro.contains("b")).isTrue();
        w.remove("a");
        assertThat(ro.getBytes("a")).isEmpty();
      }
    }
  }

  @Test
  void readOnlyVerifyCountsCorruptionLeavesItAndAReadNeverServesIt() {
    byte[] big = random(100_000, 3);
    try (Larder w = Larder.open(dir)) {
      w.put("big", big);
    }
    Path file = StoreFiles.blobFiles(dir).getFirst();
    StoreFiles.flipByte(file, 500);
    try (Larder ro = Larder.open(dir, RO)) {
      VerifyReport r = ro.verify();
      assertThat(r.corruptRemoved()).as("found").isEqualTo(1);
      assertThat(r.entriesRemoved()).isZero();
      assertThat(file).as("left for a writable process").exists();
      assertThat(ro.info("big")).isPresent();
      assertThatThrownBy(() -> ro.getBytes("big")).isInstanceOf(LarderException.IntegrityFailure.class);
    }
    try (Larder w = Larder.open(dir)) {
      assertThat(w.verify().corruptRemoved()).isEqualTo(1);
      assertThat(w.info("big")).isEmpty();
    }
  }

  @Test
  void aMissingStoreIsNotCreated() {
    Path none = dir.resolve("none");
    assertThatThrownBy(() -> Larder.open(none, RO)).isInstanceOf(LarderException.StorageFailure.class)
        .hasMessageContaining("no store at");
    assertThat(none).doesNotExist();
  }
}
