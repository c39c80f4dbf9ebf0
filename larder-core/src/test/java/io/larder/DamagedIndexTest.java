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
        .hasMessageContaining("index").hasMessageContaining("damaged").hasMessageContaining("set it aside");
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
