package io.larder;

import static io.larder.testkit.Payloads.random;
import static io.larder.testkit.Payloads.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.testkit.StoreFiles;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** verifyEveryRead(false): files verified since they last changed are trusted; a changed file is not. */
class TrustedReadsTest {
  @TempDir Path dir;

  @Test
  void aFileThisProcessWroteIsTrustedAndOfferedAsAChannel() throws Exception {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      byte[] data = random(200_000, 1);
      cache.put("k", data);
      try (Content c = cache.get("k").orElseThrow()) {
        FileChannel ch = c.channel().orElseThrow();
        ByteBuffer b = ByteBuffer.allocate(data.length);
        while (b.hasRemaining() && ch.read(b) > 0) {
          // fill
        }
        assertThat(b.array()).isEqualTo(data);
      }
      assertThat(cache.getBytes("k")).hasValue(data);
    }
  }

  @Test
  void aPutOfTrustedStoredContentIsHashedButNotWrittenAgain() throws Exception {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      byte[] data = random(300_000, 6);
      Integrity d = Integrity.compute(Algorithm.SHA256, data);
      cache.put("a", data);
      Path file = StoreFiles.blobFiles(dir).get(0);
      Object inode = java.nio.file.Files.getAttribute(file, "unix:ino");
      java.nio.file.Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(0));
      cache.getBytes("a"); // verified again (its stamp moved), trusted from now on
      cache.put("b", new java.io.ByteArrayInputStream(data), PutOptions.defaults().integrity(d));
      assertThat(java.nio.file.Files.getAttribute(file, "unix:ino")).as("the same file: not rewritten").isEqualTo(inode);
      assertThat(java.nio.file.Files.getLastModifiedTime(file).toMillis()).as("but its time refreshed, for the collector")
          .isGreaterThan(0);
      assertThat(cache.getBytes("b")).hasValue(data);
      byte[] other = random(300_000, 7);
      assertThatThrownBy(() -> cache.put("c", new java.io.ByteArrayInputStream(other), PutOptions.defaults().integrity(d)))
          .isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
              e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.DIGEST_MISMATCH));
      assertThat(cache.info("c")).as("a mismatching upload stores nothing").isEmpty();
      assertThat(cache.getBytes("a")).hasValue(data);
    }
  }

  @Test
  void concurrentPutsOfTheSameTrustedContentDoNotRewriteIt() throws Exception {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      byte[] data = random(200_000, 8);
      Integrity d = Integrity.compute(Algorithm.SHA256, data);
      cache.put("a", data); // written and hashed by this process: trusted
      Path file = StoreFiles.blobFiles(dir).get(0);
      Object inode = java.nio.file.Files.getAttribute(file, "unix:ino");
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
      List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < 150; i++) {
            cache.put("k" + id + "-" + i, new java.io.ByteArrayInputStream(data), PutOptions.defaults().integrity(d));
          }
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> f : done) {
        f.get();
      }
      pool.shutdown();
      assertThat(java.nio.file.Files.getAttribute(file, "unix:ino"))
          .as("one another's touches did not make the others rewrite the file").isEqualTo(inode);
      assertThat(cache.getBytes("k3-149")).hasValue(data);
    }
  }

  @Test
  void everyReadIsVerifiedByDefaultAndNoChannelIsOffered() {
    try (Larder cache = Larder.open(dir)) {
      cache.put("k", random(200_000, 2));
      try (Content c = cache.get("k").orElseThrow()) {
        assertThat(c.channel()).isEmpty();
      }
    }
  }

  @Test
  void aFileChangedOnDiskIsVerifiedAgainAndCaught() {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      byte[] data = random(200_000, 3);
      cache.put("k", data);
      assertThat(cache.getBytes("k")).hasValue(data); // trusted
      Path file = StoreFiles.blobFiles(dir).get(0);
      StoreFiles.flipByte(file, 1000); // a write: the file's ctime moves
      assertThatThrownBy(() -> cache.getBytes("k")).isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
          e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.CORRUPT));
      assertThat(cache.info("k")).isEmpty();
    }
  }

  @Test
  void inlineContentChangedInTheIndexIsCaughtAfterHotReadsThatWereNotHashedAgain() throws Exception {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      byte[] data = "hello world".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      cache.put("small", data);
      for (int i = 0; i < 3; i++) { // verified once, then the same bytes in memory: trusted
        assertThat(cache.getBytes("small")).hasValue(data);
      }
      // another writer (here a plain SQLite connection) changes the stored bytes while the store is open
      try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("index.db"));
          var s = c.createStatement()) {
        s.execute("PRAGMA busy_timeout = 5000");
        s.executeUpdate("UPDATE blobs SET data = X'68656c6c6f20776f726c64FF' WHERE data IS NOT NULL");
      }
      assertThatThrownBy(() -> cache.getBytes("small")).isInstanceOfSatisfying(LarderException.IntegrityFailure.class,
          e -> assertThat(e.kind()).isEqualTo(LarderException.Kind.CORRUPT));
      assertThat(cache.contains("small")).isFalse();
    }
  }

  @Test
  void aFileAnotherProcessWroteIsVerifiedOnItsFirstRead() {
    byte[] data = random(200_000, 4);
    try (Larder writer = Larder.open(dir)) {
      writer.put("k", data);
    }
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false))) {
      try (Content c = cache.get("k").orElseThrow()) {
        assertThat(c.channel()).as("not verified by this process yet").isEmpty();
        assertThat(c.readAllBytes()).isEqualTo(data);
      }
      try (Content c = cache.get("k").orElseThrow()) {
        assertThat(c.channel()).as("verified by the read before").isPresent();
      }
    }
  }

  @Test
  void compressedFilesAreTrustedWithoutAChannelAndStillCheckedByTheirFrames() {
    try (Larder cache = Larder.open(dir, LarderOptions.defaults().verifyEveryRead(false).compression(Compression.ZSTD))) {
      byte[] data = text(600_000, 5);
      cache.put("k", data);
      try (Content c = cache.get("k").orElseThrow()) {
        assertThat(c.channel()).isEmpty();
        assertThat(c.readAllBytes()).isEqualTo(data);
      }
    }
  }
}
