package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A damaged index.db is reported as damage (CORRUPT, with what to do), not as an I/O error. */
class DamagedIndexTest {
  @TempDir Path dir;

  /** A closed store of many small entries, then every page of its index but the first overwritten. */
  Path damagedStore() throws Exception {
    try (Larder cache = Larder.open(dir)) {
      Random r = new Random(1);
      for (int i = 0; i < 2_000; i++) {
        byte[] b = new byte[500];
        r.nextBytes(b);
        cache.put("k:" + i, b);
      }
    }
    Path db = dir.resolve("index.db");
    assertThat(Files.size(db)).isGreaterThan(100_000);
    try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
      byte[] junk = new byte[(int) f.length() - 4096];
      new Random(2).nextBytes(junk);
      f.seek(4096);
      f.write(junk);
    }
    return db;
  }

  @Test
  void verifyOfADamagedIndexIsCorruptionWithAdvice() throws Exception {
    damagedStore();
    assertThatThrownBy(() -> {
      try (Larder cache = Larder.open(dir)) {
        cache.verify();
      }
    }).isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.CORRUPT))
        .hasMessageContaining("index").hasMessageContaining("damaged").hasMessageContaining("verify --repair");
  }

  static byte[] content(int i, int size) {
    byte[] b = new byte[size];
    new Random(i).nextBytes(b);
    return b;
  }

  @Test
  void repairRebuildsTheIndexFromWhatCanStillBeReadAndVerified() throws Exception {
    try (Larder cache = Larder.open(dir)) {
      for (int i = 0; i < 3_000; i++) {
        cache.put(String.format("k:%05d", i), content(i, 500), PutOptions.defaults().metadata("{\"i\":" + i + "}"));
      }
      for (int i = 0; i < 5; i++) {
        cache.put("file:" + i, content(10_000 + i, 100_000)); // blob files, read back from content-v2
      }
    }
    Path db = dir.resolve("index.db");
    long pages = Files.size(db) / 4096;
    try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
      // a few pages in the middle of the file damaged, the rest intact
      byte[] junk = new byte[4096 * 3];
      new Random(3).nextBytes(junk);
      f.seek(4096 * (pages / 2));
      f.write(junk);
    }
    Larder.RepairReport r = Larder.repair(dir);
    assertThat(r.damagedIndex()).isDirectory();
    assertThat(r.damagedIndex().resolve("index.db")).exists();
    assertThat(r.recovered()).isGreaterThan(1_000);
    assertThat(r.contentCorrupt()).isZero();
    assertThat(r.recovered() + r.contentMissing()).as("what was read is recovered or said lost").isLessThanOrEqualTo(3_005);
    assertThat(r.recovered()).as("the damage cost something").isLessThan(3_005);
    try (Larder cache = Larder.open(dir)) {
      assertThat(cache.stats().entries()).isEqualTo(r.recovered());
      assertThat(cache.verify().clean()).isTrue();
      long checked = 0;
      for (Entry e : cache.list("").toList()) {
        byte[] got = cache.getBytes(e.key()).orElseThrow();
        if (e.key().startsWith("k:")) {
          int i = Integer.parseInt(e.key().substring(2));
          assertThat(got).isEqualTo(content(i, 500));
          assertThat(e.metadata()).isEqualTo("{\"i\":" + i + "}");
        } else {
          assertThat(got).isEqualTo(content(10_000 + Integer.parseInt(e.key().substring(5)), 100_000));
        }
        checked++;
      }
      assertThat(checked).isEqualTo(r.recovered());
    }
  }

  @Test
  void aFileThatIsNotAnIndexIsCorruptionToo() throws Exception {
    Files.writeString(dir.resolve("index.db"), "this is not a database, but it is long enough to have a header".repeat(100));
    assertThatThrownBy(() -> Larder.open(dir).close())
        .isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
            e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.CORRUPT))
        .hasMessageContaining("damaged");
  }
}
