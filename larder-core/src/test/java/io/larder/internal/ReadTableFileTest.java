package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.spi.Index.Hit;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file format on its own. Tables of stores are mapped in gibibyte segments; these tables use the smallest
 * segments a record fits (2 MiB), so that records meet segment boundaries in a file of a few megabytes.
 */
class ReadTableFileTest {
  private static final int SMALLEST = 21;

  @TempDir Path dir;

  private record Stored(String digest, String metadata, byte[] inline) {}

  private Path build(Map<String, Stored> records, int shift) throws Exception {
    Path file = dir.resolve("index-read.tbl");
    try (ReadTableFile.Builder b = new ReadTableFile.Builder(dir.resolve("t.tmp"), 7, 3, records.size(), shift)) {
      for (Map.Entry<String, Stored> e : records.entrySet()) {
        Stored s = e.getValue();
        b.add(e.getKey(), s.digest(), s.inline() == null ? 0 : s.inline().length, 1, 2, null, s.metadata(), s.inline());
      }
      b.publish(file);
    }
    return file;
  }

  private static Stored stored(byte[] inline, String metadata) {
    return new Stored(Integrity.compute(Algorithm.SHA256, inline).toString(), metadata, inline);
  }

  /** The bytes a record takes in the file (as the format's javadoc lays it out). */
  private static long recordBytes(String key, Stored s) {
    return 4 + 4 + key.getBytes(StandardCharsets.UTF_8).length + 4 + s.digest().length() + 32
        + 4 + (s.metadata() == null ? 0 : s.metadata().getBytes(StandardCharsets.UTF_8).length)
        + 4 + (s.inline() == null ? 0 : s.inline().length) + 4;
  }

  @Test
  void recordsOfEverySizeAreFoundAcrossManySegmentBoundaries() throws Exception {
    Random random = new Random(21);
    Map<String, Stored> records = new LinkedHashMap<>();
    for (int i = 0; i < 60; i++) {
      byte[] inline = new byte[random.nextInt(1 << 20)];
      random.nextBytes(inline);
      records.put("key-" + i, stored(inline, i % 3 == 0 ? null : "{\"n\":" + i + "}"));
    }
    Path file = build(records, SMALLEST);

    ReadTableFile table = ReadTableFile.open(file);
    assertThat(table.count).isEqualTo(60);
    for (Map.Entry<String, Stored> e : records.entrySet()) {
      Hit hit = table.find(e.getKey()).orElseThrow();
      assertThat(hit.inline()).isEqualTo(e.getValue().inline());
      assertThat(hit.entry().integrity().toString()).isEqualTo(e.getValue().digest());
      assertThat(hit.entry().metadata()).isEqualTo(e.getValue().metadata());
    }
    assertThat(table.find("key-60")).isEmpty();

    long slots;
    try (FileChannel ch = FileChannel.open(file)) {
      ByteBuffer h = ByteBuffer.allocate(ReadTableFile.HEADER);
      ch.read(h, 0);
      slots = h.getLong(24);
    }
    long dense = ReadTableFile.HEADER + 8L * slots
        + records.entrySet().stream().mapToLong(e -> recordBytes(e.getKey(), e.getValue())).sum();
    assertThat(Files.size(file)).as("many segments, and records moved past their boundaries (holes)")
        .isGreaterThan(10L << SMALLEST).isGreaterThan(dense);
  }

  @Test
  void theLargestRecordFitsTheSmallestSegment() throws Exception {
    byte[] inline = new byte[1 << 20];
    new Random(1).nextBytes(inline);
    String key = "k".repeat(4096);
    String metadata = "{\"m\":\"" + "x".repeat((64 << 10) - 10) + "\"}";
    Map<String, Stored> records = new LinkedHashMap<>();
    records.put("small", stored(new byte[10], null));
    records.put(key, stored(inline, metadata));
    records.put("after", stored(new byte[100], null));
    ReadTableFile table = ReadTableFile.open(build(records, SMALLEST));
    assertThat(table.find(key).orElseThrow().inline()).isEqualTo(inline);
    assertThat(table.find(key).orElseThrow().entry().metadata()).isEqualTo(metadata);
    assertThat(table.find("after").orElseThrow().inline()).hasSize(100);
  }

  @Test
  void aHeaderWithASegmentSizeOutsideTheFormatIsDamaged() throws Exception {
    Map<String, Stored> records = new LinkedHashMap<>();
    records.put("a", stored(new byte[10], null));
    Path file = build(records, SMALLEST);
    for (long shift : new long[] {SMALLEST - 1, ReadTableFile.SEGMENT_SHIFT + 1, 0}) {
      rewriteShift(file, shift);
      assertThatThrownBy(() -> ReadTableFile.open(file)).isInstanceOf(ReadTableFile.Damaged.class);
    }
    rewriteShift(file, SMALLEST);
    assertThat(ReadTableFile.open(file).find("a")).isPresent();
  }

  /** Sets the header's segment shift and its checksum, as a writer of another format would. */
  private static void rewriteShift(Path file, long shift) throws Exception {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer h = ByteBuffer.allocate(ReadTableFile.HEADER);
      ch.read(h, 0);
      h.putLong(48, shift);
      CRC32C crc = new CRC32C();
      crc.update(h.array(), 0, 56);
      h.putInt(56, (int) crc.getValue());
      h.rewind();
      ch.write(h, 0);
    }
  }
}
