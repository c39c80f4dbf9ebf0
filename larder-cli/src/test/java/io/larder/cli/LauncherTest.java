package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Drives the real {@code ./larder} launcher as a child process, as people and scripts do. */
class LauncherTest {
  @TempDir Path dir;

  record Result(int code, byte[] stdout, String stderr) {
    String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }
  }

  Result larder(byte[] stdin, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("larder.launcher"));
    cmd.add("--cache");
    cmd.add(dir.resolve("store").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    Thread feeder = Thread.ofPlatform().start(() -> {
      try (var in = p.getOutputStream()) {
        if (stdin != null) {
          in.write(stdin);
        }
      } catch (IOException ignored) {
        // the process may not read its input
      }
    });
    var err = new java.io.ByteArrayOutputStream();
    Thread errReader = Thread.ofPlatform().start(() -> {
      try {
        p.getErrorStream().transferTo(err);
      } catch (IOException ignored) {
        // closed
      }
    });
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    feeder.join();
    errReader.join();
    return new Result(p.exitValue(), out, err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void binaryRoundTripThroughStdinAndStdout() throws Exception {
    byte[] data = new byte[3 * 1024 * 1024 + 17];
    new Random(1).nextBytes(data);
    Result put = larder(data, "put", "bin:1", "-");
    assertThat(put.code()).as(put.stderr()).isZero();
    assertThat(put.out().strip()).startsWith("sha256-");
    Result get = larder(null, "get", "bin:1");
    assertThat(get.code()).isZero();
    assertThat(get.stdout()).isEqualTo(data);
    Result byDigest = larder(null, "get", "--digest", put.out().strip());
    assertThat(byDigest.stdout()).isEqualTo(data);
  }

  @Test
  void emptyContentAndFilesAndOutputFiles() throws Exception {
    assertThat(larder(new byte[0], "put", "empty").code()).isZero();
    assertThat(larder(null, "get", "empty").stdout()).isEmpty();
    Path src = dir.resolve("src.txt");
    Files.writeString(src, "from a file");
    assertThat(larder(null, "put", "f", src.toString()).code()).isZero();
    Path out = dir.resolve("out.txt");
    assertThat(larder(null, "get", "f", "-o", out.toString()).code()).isZero();
    assertThat(Files.readString(out)).isEqualTo("from a file");
    Result missingFile = larder(null, "put", "g", dir.resolve("nope").toString());
    assertThat(missingFile.code()).isEqualTo(1);
    assertThat(missingFile.stderr()).contains("no such file");
  }

  @Test
  void exitCodesForMissUsageAndIntegrity() throws Exception {
    Result miss = larder(null, "get", "absent");
    assertThat(miss.code()).isEqualTo(1);
    assertThat(miss.stderr()).startsWith("larder: no entry for key 'absent'").doesNotContain("Exception");
    assertThat(larder(null, "info", "absent").code()).isEqualTo(1);

    assertThat(larder(null, "frobnicate").code()).isEqualTo(2);
    assertThat(larder(null, "put", "k", "-", "--integrity", "bogus").code()).isEqualTo(2);
    assertThat(larder(null, "put", "k", "-", "--ttl", "soon").stderr()).contains("invalid duration");
    assertThat(larder("x".getBytes(), "put", "a\tb", "-").code()).as("control characters in a key").isEqualTo(2);

    Result mismatch = larder("hello".getBytes(), "put", "k", "-", "--size", "4");
    assertThat(mismatch.code()).isEqualTo(3);
    assertThat(mismatch.stderr()).contains("expected 4 bytes");
    assertThat(larder(null, "info", "k").code()).isEqualTo(1);
  }

  @Test
  void aCorruptBlobMakesGetExit3AndSaySo() throws Exception {
    byte[] data = new byte[100_000];
    new Random(2).nextBytes(data);
    assertThat(larder(data, "put", "c", "-").code()).isZero();
    Path blob;
    try (Stream<Path> s = Files.walk(dir.resolve("store/content-v2"))) {
      blob = s.filter(Files::isRegularFile).findFirst().orElseThrow();
    }
    byte[] bytes = Files.readAllBytes(blob);
    bytes[500] ^= 1;
    Files.write(blob, bytes);
    Path out = dir.resolve("c.out");
    Result get = larder(null, "get", "c", "-o", out.toString());
    assertThat(get.code()).isEqualTo(3);
    assertThat(get.stderr()).contains("corrupted").contains("removed");
    assertThat(Files.exists(out)).isFalse();
    assertThat(larder(null, "get", "c").code()).as("the entry went with the bad blob").isEqualTo(1);
  }

  @Test
  void lsInfoRmVerifyAndStatsWithJson() throws Exception {
    for (String k : List.of("build:a:1", "build:a:2", "build:b:1", "odd key/../ü 😀")) {
      assertThat(larder(k.getBytes(StandardCharsets.UTF_8), "put", k, "-", "--meta", "owner=ci", "--ttl", "7d").code()).isZero();
    }
    assertThat(larder(null, "ls", "build:a:").out()).isEqualTo("build:a:1\nbuild:a:2\n");
    assertThat(larder(null, "ls", "--limit", "1").out()).isEqualTo("build:a:1\n");
    assertThat(larder(null, "ls", "--long").out()).contains("sha256-").contains("odd key/../ü 😀");

    ObjectMapper json = new ObjectMapper();
    JsonNode list = json.readTree(larder(null, "ls", "build:", "--json").stdout());
    assertThat(list.isArray()).isTrue();
    assertThat(list).hasSize(3);
    JsonNode info = json.readTree(larder(null, "info", "odd key/../ü 😀", "--json").stdout());
    assertThat(info.get("key").asText()).isEqualTo("odd key/../ü 😀");
    assertThat(info.get("size").asLong()).isEqualTo("odd key/../ü 😀".getBytes(StandardCharsets.UTF_8).length);
    assertThat(info.get("metadata").get("owner").asText()).isEqualTo("ci");
    assertThat(info.get("expires").isTextual()).isTrue();
    assertThat(info.fieldNames()).toIterable()
        .containsExactly("key", "integrity", "size", "created", "accessed", "expires", "metadata");

    assertThat(larder(null, "rm", "--prefix", "build:a:").code()).isZero(); // not a TTY: no question
    assertThat(larder(null, "ls").out()).isEqualTo("build:b:1\nodd key/../ü 😀\n");
    Result rm = larder(null, "rm", "build:b:1", "absent", "--json");
    assertThat(rm.code()).isEqualTo(1);
    assertThat(json.readTree(rm.stdout()).get("removed").asInt()).isEqualTo(1);

    JsonNode verify = json.readTree(larder(null, "verify", "--json").stdout());
    assertThat(verify.get("clean").asBoolean()).isTrue();
    JsonNode stats = json.readTree(larder(null, "stats", "--json").stdout());
    assertThat(stats.get("entries").asLong()).isEqualTo(1);
    assertThat(stats.get("path").asText()).isEqualTo(dir.resolve("store").toAbsolutePath().toString());
  }

  @Test
  void anUnwritableStoreIsAClearError() throws Exception {
    Path file = dir.resolve("store");
    Files.writeString(file, "not a directory");
    Result r = larder("x".getBytes(), "put", "k", "-");
    assertThat(r.code()).isEqualTo(4);
    assertThat(r.stderr()).startsWith("larder: creating the store directory").doesNotContain("\tat ");
  }
}
