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
    return larderAt(dir.resolve("store"), stdin, args);
  }

  Result larderAt(Path store, byte[] stdin, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("larder.launcher"));
    cmd.add("--cache");
    cmd.add(store.toString());
    cmd.addAll(List.of(args));
    return exec(new ProcessBuilder(cmd), stdin);
  }

  /** Runs {@code pb} to its end, feeding it {@code stdin} (or nothing); its exit code, stdout and stderr. */
  static Result exec(ProcessBuilder pb, byte[] stdin) throws Exception {
    Process p = pb.start();
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
    JsonNode putJson = new ObjectMapper().readTree(larder(data, "put", "bin:2", "-", "--json").stdout());
    assertThat(putJson.get("integrity").asText()).isEqualTo(put.out().strip());
    assertThat(putJson.get("size").asLong()).isEqualTo(data.length);
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
    assertThat(missingFile.code()).as("a mistake in the command, not a miss").isEqualTo(2);
    assertThat(missingFile.stderr()).contains("no such file");
    assertThat(larder(null, "get", "f", "-o", "-").out()).as("-o - is standard output").isEqualTo("from a file");
  }

  @Test
  void exitCodesForMissUsageAndIntegrity() throws Exception {
    assertThat(larder("x".getBytes(), "put", "present", "-").code()).isZero(); // a store, for the misses below
    Result miss = larder(null, "get", "absent");
    assertThat(miss.code()).isEqualTo(1);
    assertThat(miss.stderr()).startsWith("larder: no entry for key 'absent'").doesNotContain("Exception");
    assertThat(larder(null, "info", "absent").code()).isEqualTo(1);

    assertThat(larder(null, "frobnicate").code()).isEqualTo(2);
    assertThat(larder(null, "put", "k", "-", "--integrity", "bogus").code()).isEqualTo(2);
    assertThat(larder(null, "put", "k", "-", "--ttl", "soon").stderr()).contains("invalid duration");
    assertThat(larder("x".getBytes(), "put", "a\tb", "-").code()).as("control characters in a key").isEqualTo(2);
    Result forever = larder("x".getBytes(), "put", "k", "-", "--ttl", "9999999999999d");
    assertThat(forever.code()).as("an out-of-range TTL is a usage error").isEqualTo(2);
    assertThat(forever.stderr()).contains("ttl").contains("100 years").doesNotContain("overflow");
    Result reserved = larder("x".getBytes(), "put", "bazel:cas:" + "0".repeat(64), "-");
    assertThat(reserved.code()).as("a protocol's namespace is written through the protocol only").isEqualTo(2);
    assertThat(reserved.stderr()).contains("namespace");

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
  void gcRemovesWhatNoEntryReferencesAndSaysSo() throws Exception {
    byte[] data = new byte[200_000];
    new Random(3).nextBytes(data);
    assertThat(larder(data, "put", "big", "-").code()).isZero();
    assertThat(larder(new byte[] {1}, "put", "small", "-").code()).isZero();
    assertThat(larder(null, "rm", "big", "small").code()).isZero();
    JsonNode dry = new ObjectMapper().readTree(larder(null, "gc", "--grace", "0s", "--dry-run", "--json").stdout());
    assertThat(dry.get("blobsRemoved").asLong()).isEqualTo(2);
    assertThat(dry.get("dryRun").asBoolean()).isTrue();
    Result gc = larder(null, "gc", "--grace", "0s");
    assertThat(gc.code()).as(gc.stderr()).isZero();
    assertThat(gc.out()).contains("removed 2 blobs");
    JsonNode stats = new ObjectMapper().readTree(larder(null, "stats", "--json").stdout());
    assertThat(stats.get("blobs").asLong()).isZero();
    assertThat(larder(null, "gc", "--max-size", "lots").code()).isEqualTo(2);
  }

  @Test
  void withJsonAnErrorIsAlsoAJsonObjectOnStdoutWithItsExitCode() throws Exception {
    Result bad = larder(null, "--json", "put", "k", dir.resolve("no-such-file").toString());
    assertThat(bad.code()).isEqualTo(2);
    JsonNode e = new ObjectMapper().readTree(bad.out()).get("error");
    assertThat(e.get("exitCode").asInt()).isEqualTo(2);
    assertThat(e.get("message").asText()).isNotEmpty();
    assertThat(bad.stderr()).startsWith("larder: ");
    Result usage = larder(null, "--json", "gc", "--max-size", "lots");
    assertThat(usage.code()).isEqualTo(2);
    assertThat(new ObjectMapper().readTree(usage.out()).get("error").get("exitCode").asInt()).isEqualTo(2);
    assertThat(larder(null, "put", "k", dir.resolve("no-such-file").toString()).out()).as("only with --json").isEmpty();
  }

  @Test
  void rmAllEmptiesTheStoreAndItsContentFiles() throws Exception {
    byte[] big = new byte[300_000];
    new Random(11).nextBytes(big);
    assertThat(larder(big, "put", "big", "-").code()).isZero();
    assertThat(larder("small".getBytes(), "put", "a:small", "-").code()).isZero();
    assertThat(larder("x".getBytes(), "put", "b:x", "-").code()).isZero();
    assertThat(larder(null, "rm", "--all", "k").code()).as("--all with keys").isEqualTo(2);
    Result r = larder(null, "rm", "--all", "--yes");
    assertThat(r.code()).as(r.stderr()).isZero();
    assertThat(r.stderr()).contains("removed 3 entries");
    assertThat(larder(null, "ls").out()).isEmpty();
    try (var files = Files.walk(dir.resolve("store/content-v2"))) {
      assertThat(files.filter(Files::isRegularFile)).as("content files removed too").isEmpty();
    }
    assertThat(larder("again".getBytes(), "put", "after", "-").code()).as("the store still works").isZero();
  }

  @Test
  void aDamagedIndexIsReportedThenRepaired() throws Exception {
    for (int i = 0; i < 5; i++) {
      assertThat(larder(("value " + i).getBytes(), "put", "k" + i, "-").code()).isZero();
    }
    Path db = dir.resolve("store/index.db");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(db.toFile(), "rw")) {
      f.seek(100); // the header's page count and more: the file no longer reads as this index
      f.write(new byte[200]);
      f.seek(f.length() - 4096); // and the last page
      byte[] junk = new byte[4096];
      new Random(9).nextBytes(junk);
      f.write(junk);
    }
    Result verify = larder(null, "verify");
    assertThat(verify.code()).as(verify.stderr()).isIn(3, 4);
    Result repair = larder(null, "verify", "--repair");
    assertThat(repair.code()).as(repair.stderr()).isZero();
    assertThat(repair.out()).contains("recovered").contains("old index");
    assertThat(larder(null, "verify").code()).as("the new index verifies").isZero();
    try (var s = Files.list(dir.resolve("store"))) {
      assertThat(s.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("index.damaged-"));
    }
  }

  @Test
  void gcMaxSizeLeavesTheDiskUnderItOrSaysByHowMuchAndWhy() throws Exception {
    byte[] data = new byte[1_000_000];
    Random r = new Random(4);
    for (int i = 0; i < 6; i++) {
      r.nextBytes(data);
      assertThat(larder(data, "put", "build:lib:" + i, "-").code()).isZero(); // one group
      r.nextBytes(data);
      assertThat(larder(data, "put", "g" + i + ":solo", "-").code()).isZero(); // six groups of one
    }
    // Fresh content (within the 10-minute grace) of evicted entries leaves the disk at once.
    Result gc = larder(null, "gc", "--max-size", "8M");
    assertThat(gc.code()).as(gc.stderr()).isZero();
    assertThat(gc.out()).contains("evicted    5 entries").doesNotContain("not reached");
    long onDisk;
    try (var files = Files.walk(dir.resolve("store/content-v2"))) {
      onDisk = files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
    assertThat(onDisk).isLessThanOrEqualTo(8L << 20);
    // Under 3M only what keep-per-group protects is left: it says so, in text and in JSON.
    Result short3 = larder(null, "gc", "--max-size", "3M");
    assertThat(short3.out()).contains("max-size   not reached: ").contains("keep-per-group");
    JsonNode j = new ObjectMapper().readTree(larder(null, "--json", "gc", "--max-size", "3M").stdout());
    assertThat(j.get("overMaxSize").asLong()).isEqualTo(7_000_000 - (3L << 20));
    assertThat(j.get("bytesAfter").asLong()).isEqualTo(7_000_000);
    assertThat(j.get("why").asText()).contains("keep-per-group");
  }

  @Test
  void configurationFromTheFileIsAppliedAndStatsShowsWhereEachValueCameFrom() throws Exception {
    Path store = dir.resolve("store");
    Files.createDirectories(store);
    Files.writeString(store.resolve("larder.toml"), "default-ttl = \"7d\"\nmax-size = \"10G\"\n");
    assertThat(larder("x".getBytes(), "put", "k", "-").code()).isZero();
    JsonNode info = new ObjectMapper().readTree(larder(null, "info", "k", "--json").stdout());
    assertThat(info.get("expires").isTextual()).as("default-ttl applies to puts without --ttl").isTrue();
    JsonNode config = new ObjectMapper().readTree(larder(null, "stats", "--json", "--set", "durability=power-safe").stdout())
        .get("config");
    assertThat(config.get("default-ttl").get("source").asText()).isEqualTo("larder.toml");
    assertThat(config.get("max-size").get("value").asText()).isEqualTo("10G");
    assertThat(config.get("durability").get("source").asText()).isEqualTo("--set durability");
    assertThat(config.get("gc-interval").get("source").asText()).isEqualTo("default");
    Files.writeString(store.resolve("larder.toml"), "max-size = \"lots\"\n");
    Result bad = larder(null, "ls");
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.stderr()).contains("invalid max-size 'lots' (from larder.toml)");
    assertThat(larder(null, "ls", "--set", "max-sise=1").stderr()).contains("unknown setting 'max-sise'");
  }

  @Test
  void theReadTableFromTheConfigurationIsBuiltAndEveryReadSeesTheLastWrite() throws Exception {
    Path store = dir.resolve("store");
    Files.createDirectories(store);
    Files.writeString(store.resolve("larder.toml"), "read-table = true\n");
    for (int i = 0; i < 3; i++) {
      assertThat(larder(("v" + i).getBytes(), "put", "k" + i, "-").code()).isZero();
    }
    assertThat(store.resolve("index-read.tbl")).as("built by a command that opened the store").exists();
    assertThat(larder(null, "get", "k1").out()).isEqualTo("v1");
    assertThat(larder("changed".getBytes(), "put", "k1", "-").code()).isZero();
    assertThat(larder(null, "get", "k1").out()).isEqualTo("changed");
    assertThat(larder(null, "rm", "k2").code()).isZero();
    assertThat(larder(null, "get", "k2").code()).as("a miss").isEqualTo(1);
    assertThat(larder(null, "get", "k0").out()).isEqualTo("v0");
    JsonNode config = new ObjectMapper().readTree(larder(null, "stats", "--json").stdout()).get("config");
    assertThat(config.get("read-table").get("value").asText()).isEqualTo("true");
    assertThat(larder(null, "ls", "--set", "read-table=maybe").stderr()).contains("invalid read-table 'maybe'");
  }

  @Test
  void compressionFromTheConfigurationStoresZstdFilesThatReadBack() throws Exception {
    Path store = dir.resolve("store");
    Files.createDirectories(store);
    Files.writeString(store.resolve("larder.toml"), "compression = \"zstd:6\"\n");
    byte[] text = "the same line of text, again and again\n".repeat(10_000).getBytes(StandardCharsets.UTF_8);
    assertThat(larder(text, "put", "k", "-").code()).isZero();
    List<Path> files;
    try (var s = Files.walk(store.resolve("content-v2"))) {
      files = s.filter(Files::isRegularFile).toList();
    }
    assertThat(files).singleElement().satisfies(f -> {
      assertThat(f.toString()).endsWith(".zst");
      assertThat(Files.size(f)).isLessThan(text.length / 10);
    });
    assertThat(larder(null, "get", "k").stdout()).isEqualTo(text);
    JsonNode config = new ObjectMapper().readTree(larder(null, "stats", "--json").stdout()).get("config");
    assertThat(config.get("compression").get("value").asText()).isEqualTo("zstd:6");
    assertThat(config.get("compression").get("source").asText()).isEqualTo("larder.toml");
    Result bad = larder(null, "ls", "--set", "compression=brotli");
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.stderr()).contains("invalid compression 'brotli'", "none, zstd or zstd:LEVEL");
  }

  @Test
  void keyIsTheSameForTwoClonesAndExplainsItsInputs() throws Exception {
    List<String> keys = new ArrayList<>();
    for (String clone : List.of("one/project", "two/deeper/project")) {
      Path p = dir.resolve(clone);
      Files.createDirectories(p.resolve("src"));
      Files.writeString(p.resolve("src/main.c"), "int main(void) { return 0; }\n");
      Files.writeString(p.resolve("src/util.h"), "#define N 3\n");
      Files.writeString(p.resolve("Makefile"), "all:\n\tcc src/main.c\n");
      Result r = larder(null, "key", "--dir", p.toString(), "--files", "src/**", "--files", "Makefile", "--arg", "-O2",
          "--platform", "linux-x86_64", "--tool-version", "echo cc 12");
      assertThat(r.code()).as(r.stderr()).isZero();
      keys.add(r.out().strip());
    }
    assertThat(keys.get(0)).matches("[0-9a-f]{64}").isEqualTo(keys.get(1));
    Path p = dir.resolve("one/project");
    Result explained = larder(null, "key", "--dir", p.toString(), "--files", "src/**", "--files", "Makefile", "--arg",
        "-O2", "--platform", "linux-x86_64", "--tool-version", "echo cc 12", "--explain");
    assertThat(explained.out()).startsWith(keys.get(0)).contains("file\t", "src/main.c", "Makefile", "tool\t", "echo cc 12");
    Files.writeString(p.resolve("src/util.h"), "#define N 4\n");
    assertThat(larder(null, "key", "--dir", p.toString(), "--files", "src/**", "--files", "Makefile", "--arg", "-O2",
        "--platform", "linux-x86_64", "--tool-version", "echo cc 12").out().strip()).isNotEqualTo(keys.get(0));
    JsonNode json = new ObjectMapper().readTree(larder(null, "key", "--dir", p.toString(), "--files", "Makefile", "--json").stdout());
    assertThat(json.get("inputs").get(0).get("name").asText()).isEqualTo("Makefile");
    Result none = larder(null, "key", "--dir", p.toString(), "--files", "*.rs");
    assertThat(none.code()).isEqualTo(2);
    assertThat(none.stderr()).contains("matches no file");
  }

  @Test
  void aMissingStoreDirectoryIsCreated() throws Exception {
    Path nested = dir.resolve("a/b/c");
    Result r = larderAt(nested, "x".getBytes(), "put", "k", "-");
    assertThat(r.code()).as(r.stderr()).isZero();
    assertThat(Files.isDirectory(nested.resolve("content-v2"))).isTrue();
  }

  @Test
  void readCommandsNeverCreateAStore() throws Exception {
    Path typo = dir.resolve("typo");
    for (String[] args : new String[][] {{"ls"}, {"get", "k"}, {"info", "k"}, {"stats"}, {"verify"}}) {
      Result r = larderAt(typo, null, args);
      assertThat(r.code()).as(String.join(" ", args)).isEqualTo(4);
      assertThat(r.stderr()).contains("there is no store at " + typo);
    }
    assertThat(typo).as("nothing was created").doesNotExist();
  }

  @Test
  void aReadOnlyStoreDirectoryIsAClearErrorWithExitCode4() throws Exception {
    Path ro = dir.resolve("ro");
    Files.createDirectories(ro);
    boolean mounted = false;
    if ("root".equals(System.getProperty("user.name"))) {
      // root ignores permission bits: a read-only file system is a real unwritable directory for root too.
      Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro.toString()).start();
      mounted = p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
      org.junit.jupiter.api.Assumptions.assumeTrue(mounted, "cannot mount a read-only tmpfs here");
    } else {
      ro.toFile().setWritable(false, false);
    }
    try {
      Result r = larderAt(ro, "x".getBytes(), "put", "k", "-");
      assertThat(r.code()).isEqualTo(4);
      assertThat(r.stderr()).startsWith("larder: ").doesNotContain("\tat ")
          .containsAnyOf("Read-only file system", "permission denied", "writable");
    } finally {
      if (mounted) {
        new ProcessBuilder("umount", "-l", ro.toString()).start().waitFor(20, TimeUnit.SECONDS);
      } else {
        ro.toFile().setWritable(true, false);
      }
    }
  }

  /**
   * A store this user cannot write (root: a read-only bind mount of it; others: mode 555) is still read —
   * get, info, ls, stats, verify (reporting only) — and a write fails with a clear message; --read-only does
   * the same to a writable store.
   */
  @Test
  void aStoreThatCannotBeWrittenIsStillReadAndReadOnlyRefusesWrites() throws Exception {
    Path store = dir.resolve("store");
    byte[] big = new byte[200_000];
    new java.util.Random(7).nextBytes(big);
    Files.write(dir.resolve("big"), big);
    assertThat(larder("small".getBytes(), "put", "k", "-").code()).isZero();
    assertThat(larder(null, "put", "big", dir.resolve("big").toString()).code()).isZero();

    Result refused = larder("x".getBytes(), "--read-only", "put", "k2", "-");
    assertThat(refused.code()).isEqualTo(4);
    assertThat(refused.stderr()).contains("refused", "read-only").doesNotContain("\tat ");
    assertThat(larder(null, "--read-only", "rm", "--yes", "k").code()).isEqualTo(4);
    assertThat(larder(null, "--read-only", "get", "k").out()).isEqualTo("small");

    Path view = dir.resolve("view");
    Files.createDirectories(view);
    boolean root = "root".equals(System.getProperty("user.name"));
    if (root) {
      Process bind = new ProcessBuilder("sh", "-c", "mount --bind " + store + " " + view + " && mount -o remount,ro,bind "
          + view).redirectErrorStream(true).start();
      org.junit.jupiter.api.Assumptions.assumeTrue(bind.waitFor(20, TimeUnit.SECONDS) && bind.exitValue() == 0,
          "cannot bind-mount read-only here");
    } else {
      view = store;
      view.toFile().setWritable(false, false);
    }
    try {
      assertThat(larderAt(view, null, "get", "k").out()).isEqualTo("small");
      Result out = larderAt(view, null, "get", "big", "-o", dir.resolve("big.out").toString());
      assertThat(out.code()).as(out.stderr()).isZero();
      assertThat(Files.readAllBytes(dir.resolve("big.out"))).isEqualTo(big);
      assertThat(larderAt(view, null, "info", "k").out()).contains("size");
      assertThat(larderAt(view, null, "ls").out()).isEqualTo("big\nk\n");
      assertThat(larderAt(view, null, "stats").out()).contains("entries    2");
      Result verify = larderAt(view, null, "verify");
      assertThat(verify.code()).as(verify.stderr()).isZero();
      assertThat(verify.out()).contains("checked    2 blobs");
      Result put = larderAt(view, "x".getBytes(), "put", "k2", "-");
      assertThat(put.code()).isEqualTo(4);
      assertThat(put.stderr()).startsWith("larder: ").doesNotContain("\tat ");
    } finally {
      if (root) {
        new ProcessBuilder("umount", view.toString()).start().waitFor(20, TimeUnit.SECONDS);
      } else {
        view.toFile().setWritable(true, false);
      }
    }
    assertThat(larder(null, "verify", "--dry-run").out()).contains("corrupt    0 found (read-only");
  }

  @Test
  void everyCommandsSummaryIsAWholeSentence() throws Exception {
    String help = larder(null, "--help").out();
    List<String> summaries = new ArrayList<>();
    for (String line : help.substring(help.indexOf("Commands:")).lines().skip(1).takeWhile(l -> !l.isBlank()).toList()) {
      if (line.matches("^  \\S.*")) {
        summaries.add(line.strip());
      } else if (!summaries.isEmpty()) {
        summaries.set(summaries.size() - 1, summaries.getLast() + " " + line.strip());
      }
    }
    assertThat(summaries).hasSizeGreaterThan(10).allSatisfy(s -> assertThat(s).as(s).endsWith("."));
  }

  @Test
  void everyTimeIsPrintedInOnePrecision() throws Exception {
    assertThat(larder("x".getBytes(), "put", "k", "-").code()).isZero();
    String millis = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
    Result json = larder(null, "info", "k", "--json");
    assertThat(json.out()).containsPattern("\"created\":\"" + millis + "\"").containsPattern("\"accessed\":\"" + millis + "\"")
        .endsWith("}\n");
    assertThat(larder(null, "info", "k").out()).containsPattern("created    " + millis + "\n");
    assertThat(larder(null, "ls", "-l").out()).containsPattern(" " + millis + " ");
  }

  /**
   * The class-data archive holds what the short commands load whatever the first command after a build was:
   * made by a training run, not by the first command (an archive made by {@code --version} left {@code get}
   * loading its store and SQLite classes from the jar on every run).
   */
  @Test
  void theClassDataArchiveHoldsWhatGetLoadsEvenWhenTheFirstCommandWasVersion() throws Exception {
    Path repo = Path.of(System.getProperty("larder.launcher")).toAbsolutePath().getParent();
    Process jdk = new ProcessBuilder(repo.resolve("scripts/find-jdk").toString()).start();
    String javaHome = new String(jdk.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(jdk.waitFor(30, TimeUnit.SECONDS)).isTrue();
    Path cds = Files.createDirectories(dir.resolve("cds"));
    Path jar = repo.resolve("larder-cli/target/larder-run.jar");
    Path nativeDir = repo.resolve("larder-cli/target/native-all");
    java.util.function.BiFunction<String, List<String>, String> run = (opts, args) -> {
      List<String> cmd = new ArrayList<>(List.of(repo.resolve("scripts/run-larder").toString(), javaHome,
          jar.toString(), nativeDir.toString(), cds.toString()));
      cmd.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("LARDER_JAVA_OPTS", opts);
      try {
        return exec(pb, null).out();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    assertThat(run.apply("", List.of("--version"))).contains("larder ");
    try (Stream<Path> archives = Files.list(cds)) {
      assertThat(archives.map(p -> p.getFileName().toString())).anyMatch(n -> n.endsWith("-cli.jsa"));
    }
    String store = dir.resolve("store").toString();
    assertThat(larder("x".getBytes(), "put", "k", "-").code()).isZero();
    String loaded = run.apply("-Xlog:class+load", List.of("--cache", store, "get", "k"));
    assertThat(loaded).contains("io.larder.cli.GetCommand source: shared objects file",
        "org.sqlite.SQLiteConnection source: shared objects file");
  }

  @Test
  void launchersStartedTogetherWhenSourcesChangedBuildOnceAndAllRun() throws Exception {
    Path launcher = Path.of(System.getProperty("larder.launcher"));
    Path source = launcher.resolveSibling("larder-cli/src/main/java/io/larder/cli/Main.java");
    Files.setLastModifiedTime(source, java.nio.file.attribute.FileTime.from(java.time.Instant.now())); // "changed"
    List<Process> all = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      all.add(new ProcessBuilder(launcher.toString(), "--version").redirectErrorStream(true).start());
    }
    long builds = 0;
    for (Process p : all) {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(600, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(out).isZero();
      assertThat(out).as("no corrupt jar").contains("larder ").doesNotContain("corrupt");
      builds += out.lines().filter(l -> l.startsWith("larder: building")).count();
    }
    assertThat(builds).as("one build, the others waited for it").isEqualTo(1);
  }

  @Test
  void everyCommandHasHelpWithAnExampleAndThereIsAVersion() throws Exception {
    for (String c : List.of("put", "get", "info", "ls", "rm", "verify", "stats", "gc", "completion")) {
      Result r = larder(null, c, "--help");
      assertThat(r.code()).isZero();
      assertThat(r.out()).as(c).contains("Usage: larder " + c).containsPattern("Examples?:");
    }
    assertThat(larder(null, "--help").out()).contains("Exit codes:");
    String version = larder(null, "--version").out();
    assertThat(version).startsWith("larder ").containsPattern("commit [0-9a-f]{7}").contains("JDK " + Runtime.version().feature());
    // the jar's own version, not a fixed string
    assertThat(version).startsWith("larder " + System.getProperty("larder.version") + "\n");
    assertThat(larder(null, "completion", "--help").out()).as("no interpolated ${...}").contains("\"${fpath[1]}/_larder\"");
  }

  @Test
  void theManualPageNamesEveryCommandAndOption() throws Exception {
    Result man = larder(null, "man-page");
    assertThat(man.code()).isZero();
    assertThat(man.out()).startsWith(".TH LARDER 1 ").contains(".SH EXIT STATUS");
    for (String c : List.of("put", "get", "info", "ls", "rm", "verify", "stats", "gc", "serve", "key", "exec", "completion")) {
      assertThat(man.out()).as(c).contains(".SS \"larder " + c);
    }
    assertThat(man.out()).contains("\\-\\-max\\-size").contains("\\-\\-digest").doesNotContain("man\\-page");
    assertThat(larder(null, "--help").out()).as("hidden from help").doesNotContain("man-page");
  }

  @Test
  void completionScriptsForBashAndZsh() throws Exception {
    Result bash = larder(null, "completion", "bash");
    assertThat(bash.code()).isZero();
    assertThat(bash.out()).contains("complete -F").contains("verify");
    assertThat(larder(null, "completion", "zsh").out()).startsWith("autoload -U +X compinit");
    assertThat(larder(null, "completion", "tcsh").code()).isEqualTo(2);
  }

  /** Runs {@code script} in {@code shell} with the launcher's directory first on the PATH; returns stdout. */
  String inShell(String shell, String script) throws Exception {
    Path launcher = Path.of(System.getProperty("larder.launcher"));
    ProcessBuilder pb = new ProcessBuilder(shell, "-c", script).redirectErrorStream(true);
    pb.environment().put("PATH", launcher.getParent() + ":" + System.getenv("PATH"));
    Result r = exec(pb, null);
    assertThat(r.code()).as(r.out()).isZero();
    return r.out();
  }

  @Test
  void bashCompletesKeysOfTheStoreNamedOnTheLineEvenWithColons() throws Exception {
    for (String k : List.of("build:lib:1", "build:lib:2", "other")) {
      assertThat(larder("x".getBytes(), "put", k, "-").code()).isZero();
    }
    Path script = dir.resolve("larder.bash");
    Files.writeString(script, larder(null, "completion", "bash").out());
    String store = dir.resolve("store").toString();
    // what bash hands a completion function for `larder --cache STORE get build:li<TAB>` (':' breaks words)
    String line = "larder --cache " + store + " get build:li";
    String out = inShell("bash", "source " + script + "; COMP_WORDBREAKS=$' \\t\\n:'; COMP_LINE='" + line
        + "'; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(larder --cache " + store + " get build : li); COMP_CWORD=6;"
        + " _larder_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");
    assertThat(out.lines()).containsExactly("lib:1", "lib:2");
    String plain = inShell("bash", "source " + script + "; COMP_LINE='larder --cache " + store + " info o';"
        + " COMP_POINT=${#COMP_LINE}; COMP_WORDS=(larder --cache " + store + " info o); COMP_CWORD=4;"
        + " _larder_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");
    assertThat(plain.lines()).containsExactly("other");
    String commands = inShell("bash", "source " + script + "; COMP_LINE='larder ver'; COMP_POINT=10;"
        + " COMP_WORDS=(larder ver); COMP_CWORD=1; _larder_complete; printf '%s\\n' \"${COMPREPLY[@]}\"");
    assertThat(commands.lines()).contains("verify");
  }

  @Test
  void fishCompletesCommandsOptionsAndKeys() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/fish")), "fish is installed by .ci/run");
    for (String k : List.of("build:lib:1", "other")) {
      assertThat(larder("x".getBytes(), "put", k, "-").code()).isZero();
    }
    Path script = dir.resolve("larder.fish");
    Files.writeString(script, larder(null, "completion", "fish").out());
    String store = dir.resolve("store").toString();
    assertThat(inShell("/usr/bin/fish", "source " + script + "; complete -C 'larder ver'")).contains("verify");
    assertThat(inShell("/usr/bin/fish", "source " + script + "; complete -C 'larder gc --max-'")).contains("--max-size");
    assertThat(inShell("/usr/bin/fish", "source " + script + "; complete -C 'larder --cache " + store + " get bu'").lines())
        .anyMatch(l -> l.startsWith("build:lib:1"));
  }

  @Test
  void progressIsShownOnATerminalOnlyAndNotWithQuiet() throws Exception {
    byte[] data = new byte[2_000_000];
    // Not a terminal (a pipe): stderr stays empty.
    Result piped = larder(data, "put", "p", "-");
    assertThat(piped.stderr()).isEmpty();
    // A terminal (script(1) gives the command a pseudo-terminal) and input that takes over a second. The pause
    // comes after the first MB: the pipe holds only 64 KiB, so it starts once the put is reading, however long
    // the JVM took to start (a pause before any input let a slow start swallow it, and the put then took
    // under a second: seen once under load).
    String store = dir.resolve("store").toString();
    String cmd = "sh -c 'head -c 1000000 /dev/zero; sleep 1.5; head -c 2000000 /dev/zero' | " + System.getProperty("larder.launcher")
        + " --cache " + store + " put slow -";
    Process p = new ProcessBuilder("script", "-qec", cmd, "/dev/null").redirectErrorStream(true).start();
    String tty = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.exitValue() == 0 || !tty.contains("not found"), "no script(1) here");
    assertThat(tty).contains("put  ").contains("/s").contains("sha256-");
    Process quiet = new ProcessBuilder("script", "-qec", cmd.replace(" put slow -", " -q put slow2 -"), "/dev/null")
        .redirectErrorStream(true).start();
    String q = new String(quiet.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    quiet.waitFor(60, TimeUnit.SECONDS);
    assertThat(q).doesNotContain("put  ").contains("sha256-");
  }

  /**
   * {@code get -o} as a user without root's rights (as root: the user nobody, through setpriv; otherwise this
   * user): /dev/null stays the device, the user's own file keeps its mode, a FIFO is written through, a link
   * stays a link, and a file the user cannot write is refused and left as it was — even in a directory the
   * user may write, where an atomic rename would have replaced another user's file.
   */
  @Test
  void getOutputAsAnUnprivilegedUserWritesThroughOrRefusesAndNeverReplacesWhatItCannotWrite() throws Exception {
    boolean root = "root".equals(System.getProperty("user.name"));
    Path home = Files.createDirectories(dir.resolve("u"));
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    Path others = home.resolve("others.txt"); // this test's user's file (root's, as root), in the shared directory
    Files.writeString(others, "not nobody's");
    Files.setPosixFilePermissions(others, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    List<String> as = root
        ? List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=" + home)
        : List.of("env", "HOME=" + home);
    String larder = System.getProperty("larder.launcher") + " --cache " + home.resolve("store");
    java.util.function.Function<String, Result> sh = command -> {
      List<String> cmd = new ArrayList<>(as);
      cmd.addAll(List.of("sh", "-c", "cd " + home + " && " + command));
      try {
        return exec(new ProcessBuilder(cmd), null);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    Result put = sh.apply("head -c 300000 /dev/urandom > data && " + larder + " put k data");
    org.junit.jupiter.api.Assumptions.assumeTrue(put.code() == 0 || !root, "setpriv cannot run the launcher as nobody here: " + put.stderr());
    assertThat(put.code()).as(put.stderr()).isZero();
    byte[] data = Files.readAllBytes(home.resolve("data"));
    if (root) {
      assertThat(sh.apply("id -u").out().strip()).isEqualTo("65534");
    }

    Result devNull = sh.apply(larder + " get k -o /dev/null");
    assertThat(devNull.code()).as(devNull.stderr()).isZero();
    assertThat(sh.apply("stat -c %F /dev/null").out().strip()).isEqualTo("character special file");

    Result own = sh.apply("echo old > mine && chmod 750 mine && " + larder + " get k -o mine && stat -c %a mine");
    assertThat(own.code()).as(own.stderr()).isZero();
    assertThat(own.out().strip()).isEqualTo("750");
    assertThat(Files.readAllBytes(home.resolve("mine"))).isEqualTo(data);

    Result fifo = sh.apply("mkfifo pipe && (cat pipe > from-pipe &) && " + larder + " get k -o pipe && sleep 0.2"
        + " && stat -c %F pipe");
    assertThat(fifo.code()).as(fifo.stderr()).isZero();
    assertThat(fifo.out().strip()).isEqualTo("fifo");
    assertThat(Files.readAllBytes(home.resolve("from-pipe"))).isEqualTo(data);

    Result link = sh.apply("mkdir real && echo old > real/target && ln -s real/target link && " + larder
        + " get k -o link && stat -c %F link");
    assertThat(link.code()).as(link.stderr()).isZero();
    assertThat(link.out().strip()).isEqualTo("symbolic link");
    assertThat(Files.readAllBytes(home.resolve("real/target"))).isEqualTo(data);

    if (root) {
      Result refused = sh.apply(larder + " get k -o others.txt");
      assertThat(refused.code()).isEqualTo(4);
      assertThat(refused.stderr()).startsWith("larder: ").contains("others.txt", "not writable").doesNotContain("\tat ");
      assertThat(Files.readString(others)).isEqualTo("not nobody's");
      assertThat(Files.getOwner(others).getName()).isEqualTo("root");

      Path closed = Files.createDirectories(dir.resolve("closed")); // root's, mode 755: nobody cannot create in it
      Path open = closed.resolve("open.txt");
      Files.writeString(open, "old");
      Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
      Result noDir = sh.apply(larder + " get k -o " + open);
      assertThat(noDir.code()).isEqualTo(4);
      assertThat(noDir.stderr()).contains("the directory " + closed + " is not writable", "nothing was changed")
          .doesNotContain("store directory");
      assertThat(Files.readString(open)).isEqualTo("old");
    }
    try (Stream<Path> left = Files.list(home)) {
      assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".larder-tmp"));
    }
  }

  @Test
  void aReaderThatStopsEarlyEndsGetQuietly() throws Exception {
    byte[] big = new byte[5_000_000]; // more than a pipe holds
    new java.util.Random(5).nextBytes(big);
    assertThat(larder(big, "put", "big", "-").code()).isZero();
    String cmd = "set -o pipefail; " + System.getProperty("larder.launcher") + " --cache " + dir.resolve("store")
        + " get big | head -c 10 > /dev/null";
    Process p = new ProcessBuilder("bash", "-c", cmd).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(err).as("no 'Broken pipe', no error line").isEmpty();
    assertThat(p.exitValue()).as("128 + SIGPIPE, as a shell shows it").isEqualTo(141);
  }

  @Test
  void rmAsksAtATerminalBeforeRemovingMoreThanOneEntry() throws Exception {
    for (String k : List.of("p:1", "p:2", "p:3")) {
      assertThat(larder(new byte[] {1}, "put", k, "-").code()).isZero();
    }
    String rm = System.getProperty("larder.launcher") + " --cache " + dir.resolve("store") + " rm --prefix p:";
    // script(1) runs the command on a pseudo-terminal and passes our standard input to it: a person typing.
    Result declined = atTerminal(rm, "n\n");
    assertThat(declined.out()).contains("Remove 3 entries? [y/N]").contains("nothing removed");
    assertThat(declined.code()).as("declined: nothing done, as a miss").isEqualTo(1);
    assertThat(larder(null, "ls", "p:").out()).isEqualTo("p:1\np:2\np:3\n");
    Result confirmed = atTerminal(rm, "y\n");
    assertThat(confirmed.out()).contains("removed 3 entries");
    assertThat(confirmed.code()).isZero();
    assertThat(larder(null, "ls", "p:").out()).isEmpty();
  }

  /** Runs {@code command} on a pseudo-terminal, typing {@code typed}; its exit code (script -e) and output. */
  private static Result atTerminal(String command, String typed) throws Exception {
    Process p = new ProcessBuilder("script", "-qec", command, "/dev/null").redirectErrorStream(true).start();
    Thread.sleep(1500); // let it reach the question
    p.getOutputStream().write(typed.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().flush();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), out, "");
  }

  @Test
  @org.junit.jupiter.api.Tag("slow")
  void aFileOver2GiBRoundTrips() throws Exception {
    Path big = dir.resolve("big.bin");
    long size = (2L << 30) + 12345;
    try (var raf = new java.io.RandomAccessFile(big.toFile(), "rw")) {
      raf.setLength(size); // sparse: zeros
      raf.seek(size - 5);
      raf.write(new byte[] {1, 2, 3, 4, 5});
    }
    Result put = larder(null, "put", "big", big.toString(), "--size", Long.toString(size));
    assertThat(put.code()).as(put.stderr()).isZero();
    Path out = dir.resolve("big.out");
    assertThat(larder(null, "get", "big", "-o", out.toString()).code()).isZero();
    assertThat(Files.size(out)).isEqualTo(size);
    assertThat(sha256(out)).isEqualTo(sha256(big));
    JsonNode info = new ObjectMapper().readTree(larder(null, "info", "big", "--json").stdout());
    assertThat(info.get("size").asLong()).isEqualTo(size);
    Files.delete(big);
    Files.delete(out);
  }

  private static String sha256(Path p) throws Exception {
    var md = java.security.MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(p)) {
      byte[] buf = new byte[1 << 20];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
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
