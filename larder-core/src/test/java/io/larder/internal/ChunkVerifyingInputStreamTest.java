package io.larder.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.LarderException;
import io.larder.spi.Chunks;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** Ranges served chunk by chunk: exactly the requested bytes when the chunks match, nothing of a bad chunk. */
class ChunkVerifyingInputStreamTest {
  static final int CHUNK = 1000;

  static byte[] data(int size, int seed) {
    byte[] d = new byte[size];
    new java.util.Random(seed).nextBytes(d);
    return d;
  }

  static Chunks chunksOf(byte[] d) throws Exception {
    Chunks.Hashing h = Chunks.hashing(new ByteArrayInputStream(d), CHUNK);
    h.readNBytes(d.length / 3); // part read by the caller, the rest by finish()
    return h.finish();
  }

  static InputStream range(byte[] stored, Chunks chunks, long offset, long length, Runnable onCorrupt) {
    long start = ChunkVerifyingInputStream.start(chunks, offset);
    long span = ChunkVerifyingInputStream.span(chunks, stored.length, offset, length);
    InputStream raw = new ByteArrayInputStream(stored, (int) start, (int) span);
    return new ChunkVerifyingInputStream(raw, chunks, stored.length, offset, length, "test", onCorrupt);
  }

  @Property(tries = 300)
  void servesExactlyTheRange(@ForAll @IntRange(min = 1, max = 5_500) int size, @ForAll @IntRange(max = 5_500) int off,
      @ForAll @IntRange(max = 6_000) int len) throws Exception {
    byte[] d = data(size, size);
    int offset = off % (size + 1);
    int length = Math.min(len, size - offset);
    Chunks chunks = chunksOf(d);
    assertThat(chunks.count()).isEqualTo((size + CHUNK - 1) / CHUNK);
    assertThat(chunks.fits(size)).isTrue();
    long span = ChunkVerifyingInputStream.span(chunks, size, offset, length);
    assertThat(span).as("whole chunks, never more than two extra").isLessThanOrEqualTo(length + 2L * CHUNK);
    try (InputStream in = range(d, chunks, offset, length, () -> { throw new AssertionError("not corrupt"); })) {
      assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(d, offset, offset + length));
    }
  }

  @Property(tries = 200)
  void aDamagedChunkReleasesNoneOfItsBytes(@ForAll @IntRange(min = 1, max = 5_500) int size,
      @ForAll @IntRange(max = 5_499) int flip, @ForAll @IntRange(max = 5_500) int off) throws Exception {
    byte[] d = data(size, size + 1);
    Chunks chunks = chunksOf(d);
    int at = flip % size;
    byte[] bad = d.clone();
    bad[at] ^= 0x40;
    int offset = off % size;
    int length = size - offset;
    AtomicInteger corrupt = new AtomicInteger();
    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
    InputStream in = range(bad, chunks, offset, length, corrupt::incrementAndGet);
    byte[] buf = new byte[97];
    boolean failed = false;
    try {
      for (int n; (n = in.read(buf)) > 0; ) {
        got.write(buf, 0, n);
      }
    } catch (LarderException.IntegrityFailure e) {
      failed = true;
    }
    int badChunkStart = at / CHUNK * CHUNK;
    if (at < offset / CHUNK * CHUNK) {
      assertThat(failed).as("the damage is before the range's chunks").isFalse();
      assertThat(got.toByteArray()).isEqualTo(Arrays.copyOfRange(d, offset, size));
    } else {
      assertThat(failed).isTrue();
      assertThat(corrupt).hasValue(1);
      assertThat(got.toByteArray()).as("only bytes of the chunks before the damaged one")
          .isEqualTo(Arrays.copyOfRange(d, offset, Math.max(offset, badChunkStart)));
    }
  }

  @org.junit.jupiter.api.Test
  void aShortObjectIsDamageToo() throws Exception {
    byte[] d = data(3_500, 9);
    Chunks chunks = chunksOf(d);
    InputStream raw = new ByteArrayInputStream(d, 2_000, 1_200); // the object ends early
    InputStream in = new ChunkVerifyingInputStream(raw, chunks, d.length, 2_100, 1_400, "test", () -> { });
    assertThatThrownBy(in::readAllBytes).isInstanceOf(LarderException.IntegrityFailure.class)
        .hasMessageContaining("early");
  }
}
