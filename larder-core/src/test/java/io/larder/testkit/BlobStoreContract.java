package io.larder.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.BlobStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * What every {@link BlobStore} must do, as its Javadoc promises. A store implementation's test extends
 * this and says how to make a fresh, empty store.
 */
public abstract class BlobStoreContract {
  /** A fresh, empty store for one test. */
  protected abstract BlobStore store();

  private static byte[] read(BlobStore s, Integrity d, long offset, long length) throws IOException {
    try (InputStream in = s.open(d, offset, length).orElseThrow()) {
      return in.readAllBytes();
    }
  }

  @Test
  void putThenOpenWholeAndRanges() throws Exception {
    BlobStore s = store();
    for (int size : new int[] {0, 1, 70_000, 3_000_000}) {
      byte[] data = Payloads.random(size, size);
      BlobStore.StoredBlob b = s.put(new ByteArrayInputStream(data), null, -1);
      assertThat(b.size()).isEqualTo(size);
      assertThat(b.digest()).isEqualTo(Integrity.compute(Algorithm.SHA256, data));
      assertThat(s.exists(b.digest())).isTrue();
      assertThat(read(s, b.digest(), 0, Long.MAX_VALUE)).isEqualTo(data);
      if (size > 10) {
        assertThat(read(s, b.digest(), 3, 5)).isEqualTo(Arrays.copyOfRange(data, 3, 8));
        assertThat(read(s, b.digest(), size - 4, 100)).isEqualTo(Arrays.copyOfRange(data, size - 4, size));
      }
    }
  }

  @Test
  void aMissIsEmptyNotAnError() {
    BlobStore s = store();
    Integrity absent = Integrity.compute(Algorithm.SHA256, "absent".getBytes());
    assertThat(s.open(absent, 0, Long.MAX_VALUE)).isEmpty();
    assertThat(s.exists(absent)).isFalse();
    assertThat(s.delete(absent)).isFalse();
    assertThat(s.stamp(absent)).isEmpty();
  }

  @Test
  void aMismatchOrAShortOrFailingStreamLeavesNothing() {
    BlobStore s = store();
    byte[] data = Payloads.random(2_000_000, 1);
    Integrity other = Integrity.compute(Algorithm.SHA256, Payloads.random(10, 2));
    assertThatThrownBy(() -> s.put(new ByteArrayInputStream(data), other, -1))
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.DIGEST_MISMATCH));
    assertThatThrownBy(() -> s.put(new ByteArrayInputStream(data), null, data.length + 1L))
        .isInstanceOf(LarderException.IntegrityFailure.class);
    InputStream failing = new InputStream() {
      int n;

      @Override
      public int read() throws IOException {
        if (n++ > 1_500_000) {
          throw new IOException("the client went away");
        }
        return 7;
      }
    };
    assertThatThrownBy(() -> s.put(failing, null, -1)).isInstanceOf(LarderException.class);
    List<Integrity> all = new ArrayList<>();
    s.forEach(all::add);
    assertThat(all).as("nothing became visible").isEmpty();
    assertThat(s.exists(Integrity.compute(Algorithm.SHA256, data))).isFalse();
  }

  @Test
  void putOfExistingContentSucceedsAndDeleteRemoves() {
    BlobStore s = store();
    byte[] data = Payloads.random(100_000, 3);
    Integrity d = s.put(new ByteArrayInputStream(data), null, -1).digest();
    assertThat(s.put(new ByteArrayInputStream(data), d, data.length).digest()).isEqualTo(d);
    assertThat(s.stamp(d)).isPresent();
    assertThat(s.delete(d)).isTrue();
    assertThat(s.exists(d)).isFalse();
    assertThat(s.open(d, 0, 1)).isEmpty();
  }

  @Test
  void aHoldOfAMissingBlobIsEmptyAndAHeldBlobDeletedMeanwhileIsEitherRestoredWholeOrReportedGone() throws Exception {
    BlobStore s = store();
    byte[] data = Payloads.random(300_000, 4);
    Integrity d = Integrity.compute(io.larder.Algorithm.SHA256, data);
    assertThat(s.hold(d)).isEmpty();
    s.put(new ByteArrayInputStream(data), d, data.length);
    try (BlobStore.Hold hold = s.hold(d).orElseThrow()) {
      assertThat(hold.restore()).as("nothing to restore while it is there").isTrue();
      s.delete(d);
      if (hold.restore()) {
        assertThat(read(s, d, 0, data.length)).isEqualTo(data);
      } else {
        assertThat(s.exists(d)).isFalse(); // a store that holds nothing says so
      }
    }
  }

  @Test
  void forEachListsEveryBlobOnce() {
    BlobStore s = store();
    Set<Integrity> put = new HashSet<>();
    for (int i = 0; i < 30; i++) {
      put.add(s.put(new ByteArrayInputStream(Payloads.random(20_000 + i, 100 + i)), null, -1).digest());
    }
    List<Integrity> listed = new ArrayList<>();
    s.forEach(listed::add);
    assertThat(listed).hasSize(30).containsExactlyInAnyOrderElementsOf(put);
  }

  @Test
  void concurrentPutsOfTheSameContentAllSucceedWithOneBlob() throws Exception {
    BlobStore s = store();
    byte[] data = Payloads.random(1_500_000, 4);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<BlobStore.StoredBlob>> fs = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        fs.add(pool.submit(() -> s.put(new ByteArrayInputStream(data), null, data.length)));
      }
      for (Future<BlobStore.StoredBlob> f : fs) {
        assertThat(f.get().digest()).isEqualTo(Integrity.compute(Algorithm.SHA256, data));
      }
    } finally {
      pool.shutdown();
    }
    List<Integrity> listed = new ArrayList<>();
    s.forEach(listed::add);
    assertThat(listed).hasSize(1);
    assertThat(read(s, listed.get(0), 0, Long.MAX_VALUE)).isEqualTo(data);
  }

  @Test
  void aCollectorDeletesOnlyWhatIsOldEnoughAndConfirmed() {
    BlobStore s = store();
    Integrity d = s.put(new ByteArrayInputStream(Payloads.random(50_000, 5)), null, -1).digest();
    assertThat(s.deleteIfUnchangedSince(d, Instant.now().minusSeconds(3600), () -> true))
        .as("written just now: kept").isFalse();
    assertThat(s.deleteIfUnchangedSince(d, Instant.now().plusSeconds(3600), () -> false))
        .as("not confirmed: kept").isFalse();
    assertThat(s.exists(d)).isTrue();
    assertThat(s.deleteIfUnchangedSince(d, Instant.now().plusSeconds(3600), () -> true)).isTrue();
    assertThat(s.exists(d)).isFalse();
  }
}
