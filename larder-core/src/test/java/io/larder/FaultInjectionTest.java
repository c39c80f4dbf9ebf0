package io.larder;

import static io.larder.testkit.Payloads.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.larder.internal.FileOps;
import io.larder.testkit.FaultyFileOps;
import io.larder.testkit.FaultyFileOps.Op;
import io.larder.testkit.FaultyIndex;
import io.larder.testkit.Payloads;
import io.larder.testkit.StoreFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Guarantee 8: fail the N-th write / fsync / rename / delete / … for N = 1, 2, … until the put completes.
 * Every failed put leaves no entry, no partial blob and no tmp file, and every earlier entry still verifies.
 */
class FaultInjectionTest {
  @TempDir Path dir;


  static java.util.stream.Stream<Arguments> opsWithAndWithoutCompression() {
    return java.util.Arrays.stream(Op.values())
        .flatMap(op -> java.util.stream.Stream.of(Arguments.of(op, Compression.NONE), Arguments.of(op, Compression.ZSTD)));
  }

  @ParameterizedTest(name = "{0}, compression {1}")
  @MethodSource("opsWithAndWithoutCompression")
  void everyFailedPutLeavesTheStoreAsItWas(Op op, Compression compression) throws IOException {
    FaultyFileOps faulty = new FaultyFileOps(FileOps.REAL, "Input/output error");
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().durability(Durability.POWER_SAFE)
        .compression(compression), faulty, UnaryOperator.identity())) {
      for (int i = 0; i < 5; i++) {
        cache.put("before:" + i, random(i % 2 == 0 ? 100 : 300_000, i));
      }
      int failures = 0;
      for (int n = 1; ; n++) {
        // several 256 KiB writes (or frames), compressible when compression is on
        byte[] data = compression.enabled() ? Payloads.text(2_100_000, 1000 + n) : random(1_100_000, 1000 + n);
        String key = "k:" + n;
        Set<String> blobsBefore = blobNames();
        faulty.failNth(op, n);
        try {
          cache.put(key, data);
          assertThat(faulty.fired()).as("a put that succeeded saw no fault").isFalse();
          faulty.disarm();
          assertThat(cache.getBytes(key)).hasValueSatisfying(b -> assertThat(b).isEqualTo(data));
          break;
        } catch (LarderException e) {
          faulty.disarm();
          assertThat(faulty.fired()).as("only an injected fault may fail a put: " + e).isTrue();
          assertThat(e.kind()).isEqualTo(LarderException.Kind.IO);
          assertThat(e.getMessage()).contains("Input/output error");
          failures++;
          assertThat(cache.contains(key)).isFalse();
          assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
          assertEveryBlobFileIsWhole();
          Set<String> added = new TreeSet<>(blobNames());
          added.removeAll(blobsBefore);
          if (op != Op.FORCE_DIR) {
            assertThat(added).as("no blob appears when the put fails before publishing").isEmpty();
          }
          for (int i = 0; i < 5; i++) {
            assertThat(cache.getBytes("before:" + i)).hasValueSatisfying(b -> assertThat(b).isNotEmpty());
          }
        }
        if (n > 100) {
          fail("the put never completed");
        }
      }
      if (op == Op.CREATE || op == Op.WRITE || op == Op.MOVE || op == Op.FORCE || op == Op.FORCE_DIR) {
        assertThat(failures).as("the sweep exercised the operation").isPositive();
      }
      assertThat(cache.verify().corruptRemoved()).isZero();
    }
  }

  @Test
  void aFailedIndexCommitAfterPublishingLeavesNoEntryAndOnlyAWholeBlob() throws IOException {
    FaultyIndex[] index = new FaultyIndex[1];
    try (Larder cache = Larder.open(dir, LarderOptions.defaults(), FileOps.REAL, i -> index[0] = new FaultyIndex(i))) {
      cache.put("before", random(200_000, 1));
      index[0].failNthPut(1);
      assertThatThrownBy(() -> cache.put("k", random(200_000, 2))).isInstanceOf(LarderException.StorageFailure.class);
      index[0].failNthPut(1);
      assertThatThrownBy(() -> cache.put("small", random(20, 3))).isInstanceOf(LarderException.StorageFailure.class);
      assertThat(cache.contains("k")).isFalse();
      assertThat(cache.contains("small")).isFalse();
      assertThat(cache.stats().blobs()).as("the inline blob went with its failed transaction").isEqualTo(1);
      assertThat(cache.getBytes("before")).isPresent();
      assertThat(StoreFiles.tmpFiles(dir)).isEmpty();
      assertEveryBlobFileIsWhole();
    }
  }

  @Test
  void aFailedDeleteDuringRemoveContentIsAnErrorAndNoEntryPointsAtNothing() {
    FaultyFileOps faulty = new FaultyFileOps(FileOps.REAL, "Device or resource busy");
    try (Larder cache = Larder.open(dir, LarderOptions.defaults(), faulty, UnaryOperator.identity())) {
      byte[] data = random(100_000, 4);
      cache.put("a", data);
      faulty.failNth(Op.DELETE, 1);
      Integrity d = Integrity.compute(Algorithm.SHA256, data);
      assertThatThrownBy(() -> cache.removeContent(d)).isInstanceOf(LarderException.StorageFailure.class)
          .hasMessageContaining("Device or resource busy");
      faulty.disarm();
      assertThat(cache.contains("a")).isFalse();
      assertThat(cache.removeContent(d)).isTrue();
      assertThat(StoreFiles.blobFiles(dir)).isEmpty();
    }
  }

  private Set<String> blobNames() {
    Set<String> names = new TreeSet<>();
    for (Path p : StoreFiles.blobFiles(dir)) {
      names.add(p.toString());
    }
    return names;
  }

  private void assertEveryBlobFileIsWhole() throws IOException {
    for (Path p : StoreFiles.blobFiles(dir)) {
      try {
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(StoreFiles.contentOf(p)));
        assertThat(actual).as("blob file %s holds exactly its digest's bytes", p).isEqualTo(StoreFiles.digestHexOf(p));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new AssertionError(e);
      }
    }
  }
}
