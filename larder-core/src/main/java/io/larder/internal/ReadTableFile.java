package io.larder.internal;

import io.larder.Entry;
import io.larder.Integrity;
import io.larder.spi.Index;
import io.larder.spi.Index.Hit;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The file format of the read table (see {@link ReadTable}): every entry of the index at one point of its
 * change log, with its inline content, in an open-addressing hash table that a read probes in the memory map
 * (one slot, then the record: two memory accesses where the index's B-trees take two descents).
 *
 * <pre>
 * header (64 bytes): magic, epoch, base, slot count, end of the records, record count, segment shift, CRC-32C
 *                    of the 56 bytes before it
 * slots:             slot count longs (a power of two, at least twice the records): 0 for none, else the
 *                    record's offset in the low 40 bits and the top 24 bits of its key's hash above them
 * records:           length of the body; body: key, digest (SRI), size, created, accessed, expires (or
 *                    Long.MIN_VALUE), metadata (or length -1), inline content (or length -1), each string or
 *                    byte array after its length as an int; then the CRC-32C of the length and the body.
 *                    A record never spans a segment boundary: the file is mapped in segments of 2^shift
 *                    bytes (a gibibyte; smaller in tests, down to the 2 MiB a record may take).
 * </pre>
 *
 * All numbers big-endian. The epoch names the change log the base belongs to (a new index has a new one), the
 * base is the last change the table includes. A record whose CRC does not match, an offset out of the file or
 * a probe that does not end is {@link Damaged}: its caller then asks the index itself.
 */
final class ReadTableFile {
  static final long MAGIC = 0x4c41524452524431L; // "LARDRRD1"
  static final int HEADER = 64;
  /** Segments of a gibibyte: the most one {@link MappedByteBuffer} maps. */
  static final int SEGMENT_SHIFT = 30;
  /** Room for the largest record: inline content of at most 1 MiB, metadata of 64 KiB, a key of 4 KiB. */
  static final int MAX_RECORD = 2 << 20;
  private static final int MIN_SEGMENT_SHIFT = Integer.numberOfTrailingZeros(MAX_RECORD);
  private static final long OFFSET_MASK = (1L << 40) - 1;
  private static final long NONE = Long.MIN_VALUE;

  /** The file does not hold what it says: a read of it must be answered by the index instead. */
  static final class Damaged extends Exception {
    Damaged(String message) {
      super(message, null, false, false);
    }
  }

  final long epoch;
  final long base;
  final long count;
  private final int slots;
  private final long end;
  private final int shift;
  private final MappedByteBuffer[] maps;

  private ReadTableFile(long epoch, long base, long count, int slots, long end, int shift, MappedByteBuffer[] maps) {
    this.epoch = epoch;
    this.base = base;
    this.count = count;
    this.slots = slots;
    this.end = end;
    this.shift = shift;
    this.maps = maps;
  }

  /** Maps {@code file}; throws {@link Damaged} if its header is not that of a whole table. */
  static ReadTableFile open(Path file) throws IOException, Damaged {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < HEADER) {
        throw new Damaged(file + " is shorter than a header");
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER);
      while (h.hasRemaining() && ch.read(h, h.position()) >= 0) {
        // read the whole header
      }
      h.flip();
      CRC32C crc = new CRC32C();
      crc.update(h.array(), 0, 56);
      if (h.getLong(0) != MAGIC || h.getInt(56) != (int) crc.getValue()) {
        throw new Damaged(file + " has no valid header");
      }
      long slots = h.getLong(24);
      long end = h.getLong(32);
      long shift = h.getLong(48);
      if (Long.bitCount(slots) != 1 || slots > 1 << 30 || end != size || end < HEADER + slots * 8
          || shift < MIN_SEGMENT_SHIFT || shift > SEGMENT_SHIFT) {
        throw new Damaged(file + " does not have the size its header gives");
      }
      long segment = 1L << shift;
      MappedByteBuffer[] maps = new MappedByteBuffer[(int) ((size + segment - 1) >>> shift)];
      for (int i = 0; i < maps.length; i++) {
        long start = (long) i << shift;
        maps[i] = ch.map(FileChannel.MapMode.READ_ONLY, start, Math.min(segment, size - start));
      }
      return new ReadTableFile(h.getLong(8), h.getLong(16), h.getLong(40), (int) slots, end, (int) shift, maps);
    }
  }

  /** The entry under {@code key} with its inline bytes, or empty if the table has none. */
  Optional<Hit> find(String key) throws Damaged {
    byte[] wanted = key.getBytes(StandardCharsets.UTF_8);
    long hash = Index.keyHash(key);
    long tag = hash >>> 40;
    int mask = slots - 1;
    int i = (int) hash & mask;
    try {
      for (int probes = 0; probes < slots; probes++, i = (i + 1) & mask) {
        long at = HEADER + 8L * i;
        long slot = maps[(int) (at >>> shift)].getLong((int) (at & ((1L << shift) - 1)));
        if (slot == 0) {
          return Optional.empty();
        }
        if (slot >>> 40 == tag) {
          Hit hit = record(slot & OFFSET_MASK, wanted);
          if (hit != null) {
            return Optional.of(hit);
          }
        }
      }
    } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
      throw new Damaged("a record of the read table lies outside it: " + e.getMessage());
    }
    throw new Damaged("the read table's slots are all taken");
  }

  /** The record at {@code offset} if its key is {@code wanted}, else null. */
  private Hit record(long offset, byte[] wanted) throws Damaged {
    if (offset < HEADER + 8L * slots || offset + 8 > end) {
      throw new Damaged("a slot of the read table points outside its records");
    }
    ByteBuffer m = maps[(int) (offset >>> shift)];
    int p = (int) (offset & ((1L << shift) - 1));
    int length = m.getInt(p);
    int keyLength = m.getInt(p + 4);
    if (keyLength != wanted.length || !Arrays.equals(bytes(m, p + 8, keyLength), wanted)) {
      return null;
    }
    if (length < 0 || p + 8L + length > m.limit()) {
      throw new Damaged("a record of the read table is longer than the file");
    }
    CRC32C crc = new CRC32C();
    crc.update(m.slice(p, 4 + length));
    if (m.getInt(p + 4 + length) != (int) crc.getValue()) {
      throw new Damaged("a record of the read table does not match its checksum");
    }
    int q = p + 8 + keyLength;
    int digestLength = m.getInt(q);
    String digest = new String(bytes(m, q + 4, digestLength), StandardCharsets.ISO_8859_1);
    q += 4 + digestLength;
    long size = m.getLong(q);
    long created = m.getLong(q + 8);
    long accessed = m.getLong(q + 16);
    long expires = m.getLong(q + 24);
    q += 32;
    int metadataLength = m.getInt(q);
    String metadata = metadataLength < 0 ? null : new String(bytes(m, q + 4, metadataLength), StandardCharsets.UTF_8);
    q += 4 + Math.max(metadataLength, 0);
    int inlineLength = m.getInt(q);
    byte[] inline = inlineLength < 0 ? null : bytes(m, q + 4, inlineLength);
    Entry entry = new Entry(new String(wanted, StandardCharsets.UTF_8), Integrity.parse(digest), size,
        Instant.ofEpochMilli(created), Instant.ofEpochMilli(accessed), expires == NONE ? null : Instant.ofEpochMilli(expires),
        metadata);
    return new Hit(entry, inline);
  }

  private static byte[] bytes(ByteBuffer m, int at, int length) {
    byte[] b = new byte[length];
    m.get(at, b);
    return b;
  }

  /**
   * Writes a table to a file of its own and publishes it atomically under its final name: the records as
   * they are added, then the slots and the header, then a sync, then the rename.
   */
  static final class Builder implements AutoCloseable {
    private final Path tmp;
    private final FileChannel out;
    private final long epoch;
    private final long base;
    private final long[] table;
    private final int shift;
    private final ByteBuffer buffer = ByteBuffer.allocate(MAX_RECORD).order(ByteOrder.BIG_ENDIAN);
    private final CRC32C crc = new CRC32C();
    private long position; // of the buffer's start in the file
    private long count;

    /** A table of at most {@code capacity} records, written to {@code tmp}. */
    Builder(Path tmp, long epoch, long base, long capacity) throws IOException {
      this(tmp, epoch, base, capacity, SEGMENT_SHIFT);
    }

    /** The same with segments of 2^{@code shift} bytes (tests: boundaries without a file of gibibytes). */
    Builder(Path tmp, long epoch, long base, long capacity, int shift) throws IOException {
      if (shift < MIN_SEGMENT_SHIFT || shift > SEGMENT_SHIFT) {
        throw new IllegalArgumentException("segment shift " + shift);
      }
      this.shift = shift;
      this.tmp = tmp;
      this.epoch = epoch;
      this.base = base;
      long slots = Long.highestOneBit(Math.max(512, capacity) * 2 - 1) << 1;
      if (slots > 1 << 30) {
        throw new IOException("a read table holds at most " + (1 << 29) + " entries, not " + capacity);
      }
      this.table = new long[(int) slots];
      this.out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      this.position = HEADER + 8L * slots;
    }

    void add(String key, String digest, long size, long created, long accessed, Long expires, String metadata,
        byte[] inline) throws IOException {
      if (count + 1 > table.length / 2) {
        throw new IOException("more entries than the read table was sized for");
      }
      byte[] k = key.getBytes(StandardCharsets.UTF_8);
      byte[] d = digest.getBytes(StandardCharsets.ISO_8859_1);
      byte[] meta = metadata == null ? null : metadata.getBytes(StandardCharsets.UTF_8);
      int body = 4 + k.length + 4 + d.length + 32 + 4 + (meta == null ? 0 : meta.length) + 4
          + (inline == null ? 0 : inline.length);
      int record = 4 + body + 4;
      if (record > buffer.capacity()) {
        throw new IOException("an entry of " + record + " bytes does not fit a read table's record");
      }
      if (buffer.remaining() < record) {
        flush();
      }
      long at = position + buffer.position();
      if (at >>> shift != (at + record - 1) >>> shift) { // start at the next segment (a hole before it)
        flush();
        position = ((at >>> shift) + 1) << shift;
        at = position;
      }
      int start = buffer.position();
      buffer.putInt(body).putInt(k.length).put(k).putInt(d.length).put(d);
      buffer.putLong(size).putLong(created).putLong(accessed).putLong(expires == null ? NONE : expires);
      putBytes(meta);
      putBytes(inline);
      crc.reset();
      crc.update(buffer.array(), start, 4 + body);
      buffer.putInt((int) crc.getValue());
      long hash = Index.keyHash(key);
      int mask = table.length - 1;
      int i = (int) hash & mask;
      while (table[i] != 0) {
        i = (i + 1) & mask;
      }
      table[i] = (hash >>> 40) << 40 | at;
      count++;
    }

    private void putBytes(byte[] b) {
      if (b == null) {
        buffer.putInt(-1);
      } else {
        buffer.putInt(b.length).put(b);
      }
    }

    private void flush() throws IOException {
      buffer.flip();
      int n = buffer.remaining();
      while (buffer.hasRemaining()) {
        out.write(buffer, position + buffer.position());
      }
      position += n;
      buffer.clear();
    }

    /** Finishes the file and renames it to {@code target}, replacing any table there. */
    void publish(Path target) throws IOException {
      flush();
      long end = position;
      ByteBuffer slotBytes = ByteBuffer.allocate(1 << 20);
      long at = HEADER;
      for (int i = 0; i < table.length; ) {
        slotBytes.clear();
        while (slotBytes.hasRemaining() && i < table.length) {
          slotBytes.putLong(table[i++]);
        }
        slotBytes.flip();
        while (slotBytes.hasRemaining()) {
          at += out.write(slotBytes, at);
        }
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER);
      h.putLong(MAGIC).putLong(epoch).putLong(base).putLong(table.length).putLong(end).putLong(count).putLong(shift);
      crc.reset();
      crc.update(h.array(), 0, 56);
      h.putInt((int) crc.getValue()).putInt(0).flip();
      while (h.hasRemaining()) {
        out.write(h, h.position());
      }
      out.truncate(end);
      out.force(true);
      out.close();
      FileOps.REAL.move(tmp, target);
      FileOps.REAL.forceDirectory(target.getParent());
    }

    @Override
    public void close() throws IOException {
      out.close();
      Files.deleteIfExists(tmp);
    }
  }
}
