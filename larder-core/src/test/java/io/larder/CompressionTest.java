package io.larder;

import static io.larder.testkit.Payloads.random;
import static io.larder.testkit.Payloads.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.StoreFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** zstd at rest: digests and reads of the uncompressed bytes, seekable ranges, raw for incompressible data. */
class CompressionTest {
  @TempDir Path dir;
  Larder cache;

  @BeforeEach
  void open() {
    cache = Larder.open(dir, LarderOptions.defaults().compression(Compression.ZSTD));
  }

  @AfterEach
  void close() {
    cache.close();
  }

  private static List<Path> zstFiles(Path root) {
    return StoreFiles.blobFiles(root).stream().filter(p -> p.toString().endsWith(".zst")).toList();
  }

  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(ints = {20_000, 262_144, 700_000, 1_048_576, 3_500_000})
  void compressibleContentIsStoredCompressedAndReadBackWhole(int size) {
    byte[] data = text(size, size);
    Entry e = cache.put("k", data);
    assertThat(e.integrity()).as("the digest is of the uncompressed bytes").isEqualTo(Integrity.compute(Algorithm.SHA256, data));
    assertThat(e.size()).isEqualTo(size);
    List<Path> files = StoreFiles.blobFiles(dir);
    assertThat(files).hasSize(1);
    assertThat(files.get(0).toString()).endsWith(".zst");
    assertThat(files.get(0).toFile().length()).as("stored smaller").isLessThan(size / 2);
    assertThat(cache.getBytes("k")).hasValue(data);
    assertThat(cache.verify().clean()).isTrue();
  }

  @Test
  void incompressibleContentIsStoredRaw() {
    byte[] data = random(3_000_000, 7);
    cache.put("r", data);
    List<Path> files = StoreFiles.blobFiles(dir);
    assertThat(files).hasSize(1);
    assertThat(files.get(0).toString()).doesNotEndWith(".zst");
    assertThat(files.get(0).toFile().length()).isEqualTo(data.length);
    assertThat(cache.getBytes("r")).hasValue(data);
  }

  @Test
  void rangesAcrossFrameBoundariesReturnExactlyTheirBytes() throws IOException {
    int frame = 256 * 1024;
    byte[] data = text(5 * frame + 12_345, 3);
    cache.put("k", data);
    assertThat(zstFiles(dir)).hasSize(1);
    Random r = new Random(11);
    List<long[]> ranges = new java.util.ArrayList<>(List.of(new long[] {0, 10}, new long[] {frame - 1, 2},
        new long[] {frame, frame}, new long[] {frame - 5, 2L * frame + 10}, new long[] {data.length - 1, 100},
        new long[] {data.length, 10}, new long[] {0, data.length}, new long[] {3L * frame + 7, 0}));
    for (int i = 0; i < 40; i++) {
      long off = r.nextInt(data.length);
      ranges.add(new long[] {off, r.nextInt(3 * frame)});
    }
    for (long[] range : ranges) {
      int off = (int) range[0];
      int end = (int) Math.min(data.length, range[0] + range[1]);
      try (Content c = cache.getRange("k", range[0], range[1]).orElseThrow()) {
        assertThat(c.stream().readAllBytes()).as("range %d+%d", range[0], range[1])
            .isEqualTo(Arrays.copyOfRange(data, off, end));
      }
    }
  }

  @Test
  void filesAreStandardZstdThatTheZstdToolDecodes() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/zstd")), "the zstd tool is not installed");
    byte[] data = text(1_500_000, 5);
    cache.put("k", data);
    Path file = zstFiles(dir).get(0);
    Process p = new ProcessBuilder("/usr/bin/zstd", "-d", "-c", file.toString()).start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    p.getInputStream().transferTo(out);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
    assertThat(out.toByteArray()).isEqualTo(data);
  }

  @ParameterizedTest(name = "damage at {0} of the file")
  @ValueSource(doubles = {0.0, 0.3, 0.97, 0.9999})
  void aDamagedCompressedFileIsReportedAndRemovedNeverServed(double where) {
    byte[] data = text(1_200_000, 9);
    cache.put("k", data);
    Path file = zstFiles(dir).get(0);
    StoreFiles.flipByte(file, (long) ((file.toFile().length() - 1) * where));
    assertThatThrownBy(() -> cache.getBytes("k"))
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
            ex -> assertThat(ex.kind()).isEqualTo(LarderException.Kind.CORRUPT));
    assertThat(cache.info("k")).as("the entry went with its bad copy").isEmpty();
    assertThat(StoreFiles.blobFiles(dir)).isEmpty();
  }

  @Test
  void aRangeOfADamagedFrameIsReportedEvenWhenTheFileWasTrusted() {
    byte[] data = text(1_200_000, 13);
    cache.put("k", data);
    // The first range read checks the whole blob and trusts it while its stamp holds.
    assertThat(cache.getRange("k", 0, 10).orElseThrow().readAllBytes()).isEqualTo(Arrays.copyOf(data, 10));
    Path file = zstFiles(dir).get(0);
    long size = file.toFile().length();
    StoreFiles.flipByte(file, size / 2);
    assertThatThrownBy(() -> cache.getRange("k", data.length / 2, 1000).orElseThrow().readAllBytes())
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
            ex -> assertThat(ex.kind()).isEqualTo(LarderException.Kind.CORRUPT));
    assertThat(cache.info("k")).isEmpty();
  }

  @Test
  void verifyFindsADamagedCompressedBlob() {
    cache.put("a", text(400_000, 1));
    cache.put("b", text(400_000, 2));
    Path bad = zstFiles(dir).get(0);
    StoreFiles.flipByte(bad, 100);
    VerifyReport r = cache.verify();
    assertThat(r.corruptRemoved()).isEqualTo(1);
    assertThat(r.blobsChecked()).isEqualTo(2);
    assertThat(zstFiles(dir)).hasSize(1);
  }

  @Test
  void theSettingCanChangeOnAStoreThatHasContent() {
    cache.close();
    byte[] a = text(300_000, 21);
    byte[] b = text(300_000, 22);
    try (Larder plain = Larder.open(dir)) {
      plain.put("a", a);
    }
    assertThat(zstFiles(dir)).isEmpty();
    cache = Larder.open(dir, LarderOptions.defaults().compression(Compression.ZSTD));
    assertThat(cache.getBytes("a")).as("raw blobs stay readable").hasValue(a);
    cache.put("b", b);
    cache.put("a2", a); // the same content again: now compressed, and the raw copy goes
    assertThat(zstFiles(dir)).hasSize(2);
    assertThat(StoreFiles.blobFiles(dir)).hasSize(2);
    cache.close();
    cache = Larder.open(dir);
    assertThat(cache.getBytes("a")).as("compressed blobs stay readable without the setting").hasValue(a);
    assertThat(cache.getBytes("b")).hasValue(b);
    assertThat(cache.verify().clean()).isTrue();
  }

  @Test
  void collectionRemovesUnreferencedCompressedBlobs() {
    cache.put("a", text(300_000, 31));
    cache.put("b", text(300_000, 32));
    cache.remove("a");
    GcReport r = cache.gc(GcOptions.defaults().grace(java.time.Duration.ZERO).keepPerGroup(0));
    assertThat(r.blobsRemoved()).isEqualTo(1);
    assertThat(zstFiles(dir)).hasSize(1);
    assertThat(cache.getBytes("b")).isPresent();
  }

  @Test
  void levelsAreParsedAndBadOnesRefused() {
    assertThat(Compression.parse("zstd:9").zstdLevel()).isEqualTo(9);
    assertThat(Compression.parse("ZSTD")).isEqualTo(Compression.ZSTD);
    assertThat(Compression.parse("none").enabled()).isFalse();
    assertThatThrownBy(() -> Compression.parse("zstd:0")).hasMessageContaining("none, zstd or zstd:LEVEL");
    assertThatThrownBy(() -> Compression.parse("gzip")).hasMessageContaining("unknown compression 'gzip'");
  }
}
