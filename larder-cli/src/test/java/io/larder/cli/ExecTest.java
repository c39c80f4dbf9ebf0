package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `larder exec`: hits restore outputs exactly without running the command; misses run and record. */
class ExecTest {
  @TempDir Path dir;
  Path work;
  Path store;
  Path runs;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void project() throws Exception {
    work = Files.createDirectories(dir.resolve("project"));
    store = dir.resolve("store");
    runs = dir.resolve("runs.log");
    Files.createDirectories(work.resolve("src"));
    Files.writeString(work.resolve("src/main.c"), "int main(void) { return 0; }\n");
    Files.writeString(work.resolve("build.sh"), """
        #!/bin/sh
        echo run >> "$RUNS"
        mkdir -p out/empty out/sub
        cp src/main.c out/sub/main.c
        printf 'hello\\n' > out/a.txt
        chmod 751 out/a.txt
        ln -sf a.txt out/link
        echo "built on stdout"
        echo "warned on stderr" >&2
        exit "${EXIT:-0}"
        """);
    Files.setPosixFilePermissions(work.resolve("build.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  Run exec(String exit, String... extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(System.getProperty("larder.launcher"), "--cache", store.toString(),
        "exec", "--files", "src", "--files", "build.sh", "--outputs", "out", "--name", "build"));
    cmd.addAll(List.of(extra));
    cmd.addAll(List.of("--", "./build.sh"));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    pb.environment().put("RUNS", runs.toString());
    pb.environment().put("EXIT", exit);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out, err);
  }

  long runCount() throws Exception {
    return Files.exists(runs) ? Files.readAllLines(runs).size() : 0;
  }

  static void deleteTree(Path p) throws Exception {
    if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      try (var s = Files.walk(p)) {
        for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
  }

  @Test
  void aHitRestoresFilesPermissionsSymlinksEmptyDirectoriesAndOutputWithoutRunning() throws Exception {
    Run first = exec("0");
    assertThat(first.code()).isZero();
    assertThat(first.out()).isEqualTo("built on stdout\n");
    assertThat(first.err()).contains("warned on stderr");
    assertThat(runCount()).isEqualTo(1);
    deleteTree(work.resolve("out"));

    Run second = exec("0");
    assertThat(runCount()).as("not run again").isEqualTo(1);
    assertThat(second.code()).isZero();
    assertThat(second.out()).isEqualTo("built on stdout\n");
    assertThat(second.err()).contains("warned on stderr", "hit");
    Path out = work.resolve("out");
    assertThat(Files.readString(out.resolve("a.txt"))).isEqualTo("hello\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("a.txt")))).isEqualTo("rwxr-x--x");
    assertThat(Files.readSymbolicLink(out.resolve("link"))).isEqualTo(Path.of("a.txt"));
    assertThat(Files.isDirectory(out.resolve("empty"))).isTrue();
    assertThat(Files.list(out.resolve("empty")).count()).isZero();
    assertThat(Files.readString(out.resolve("sub/main.c"))).isEqualTo("int main(void) { return 0; }\n");
    try (var s = Files.list(out)) {
      assertThat(s.map(p -> p.getFileName().toString())).as("no temporary files left")
          .noneMatch(n -> n.startsWith(".larder-restore-"));
    }

    // a changed input is a miss, and --dry-run says which
    Files.writeString(work.resolve("src/main.c"), "int main(void) { return 1; }\n");
    Run dry = exec("0", "--dry-run");
    assertThat(dry.out()).startsWith("miss ").contains("  changed  file src/main.c\n");
    assertThat(dry.code()).as("a miss is 1").isEqualTo(1);
    Run dryJson = exec("0", "--dry-run", "--json");
    assertThat(dryJson.code()).isEqualTo(1);
    var miss = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dryJson.out());
    assertThat(dryJson.out()).endsWith("}\n");
    assertThat(miss.get("hit").asBoolean()).isFalse();
    assertThat(miss.get("name").asText()).isEqualTo("build");
    assertThat(miss.get("earlierRun").asBoolean()).isTrue();
    assertThat(miss.get("changes").toString()).isEqualTo("[{\"change\":\"changed\",\"input\":\"file src/main.c\"}]");
    assertThat(runCount()).isEqualTo(1);
    exec("0");
    assertThat(runCount()).isEqualTo(2);
    Run hit = exec("0", "--dry-run");
    assertThat(hit.out()).startsWith("hit ");
    assertThat(hit.code()).isZero();
    assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(exec("0", "--dry-run", "--json").out())
        .get("hit").asBoolean()).isTrue();
    deleteTree(work.resolve("out"));
    Run replayed = exec("0", "--json");
    assertThat(replayed.out()).as("stdout stays the command's").isEqualTo("built on stdout\n");
    var report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(replayed.err().lines()
        .filter(l -> l.startsWith("{")).findFirst().orElseThrow());
    assertThat(report.get("hit").asBoolean()).isTrue();
    assertThat(report.get("exitCode").asInt()).isZero();
  }

  /** Runs {@code larder exec … -- COMMAND} in {@code work} through a shell, stdout and stderr into one pipe. */
  String execMerged(String inputs, String outputs, String command) throws Exception {
    String larder = System.getProperty("larder.launcher");
    ProcessBuilder pb = new ProcessBuilder("sh", "-c", "'" + larder + "' --cache '" + store + "' exec " + inputs
        + " --outputs " + outputs + " -- " + command + " 2>&1").directory(work.toFile());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  @Test
  void aReplayKeepsTheOrderOfStdoutAndStderr() throws Exception {
    Files.writeString(work.resolve("talk.sh"), """
        #!/bin/sh
        mkdir -p said
        echo one; sleep 0.3
        echo two >&2; sleep 0.3
        echo three; sleep 0.3
        echo four >&2
        echo done > said/it
        """);
    Files.setPosixFilePermissions(work.resolve("talk.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
    String first = execMerged("--files talk.sh", "said", "./talk.sh");
    assertThat(first.lines().filter(l -> !l.startsWith("larder:"))).containsExactly("one", "two", "three", "four");
    deleteTree(work.resolve("said"));
    String replay = execMerged("--files talk.sh", "said", "./talk.sh");
    assertThat(replay).contains("larder:"); // a hit says so
    assertThat(replay.lines().filter(l -> !l.startsWith("larder:"))).as("replayed as it came")
        .containsExactly("one", "two", "three", "four");
  }

  @Test
  void restoredOutputsShareOneTimeSoMakeRebuildsNothing() throws Exception {
    Files.writeString(work.resolve("Makefile"), """
        out/bin: out/obj
        	cp out/obj out/bin
        out/obj: src/main.c
        	mkdir -p out && cp src/main.c out/obj
        """);
    execMerged("--files src --files Makefile", "out", "make out/bin");
    deleteTree(work.resolve("out"));
    execMerged("--files src --files Makefile", "out", "make out/bin"); // a hit: restored, make not run
    java.nio.file.attribute.FileTime bin = Files.getLastModifiedTime(work.resolve("out/bin"));
    assertThat(Files.getLastModifiedTime(work.resolve("out/obj"))).isEqualTo(bin);
    assertThat(Files.getLastModifiedTime(work.resolve("out"))).isEqualTo(bin);
    assertThat(bin.compareTo(Files.getLastModifiedTime(work.resolve("src/main.c")))).isPositive();
    Process q = new ProcessBuilder("make", "-q", "out/bin").directory(work.toFile()).start();
    assertThat(q.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(q.exitValue()).as("make -q: everything restored is up to date").isZero();
  }

  @Test
  void outputsThatMatchNothingAreAnErrorAndNothingIsRecorded() throws Exception {
    List<String> cmd = List.of(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
        "--files", "src", "--outputs", "out", "--outputs", "bulid", "--name", "typo", "--", "./build.sh");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    pb.environment().put("RUNS", runs.toString());
    Process p = pb.start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(err).contains("--outputs 'bulid' matched nothing");
    assertThat(runCount()).isEqualTo(1);
    Process again = pb.start();
    again.getErrorStream().readAllBytes();
    assertThat(again.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(runCount()).as("nothing was recorded: it runs again").isEqualTo(2);
  }

  @Test
  void inputGlobsLeaveOutTheStepsOwnOutputsAndGitSoABuildDoesNotChangeItsOwnKey() throws Exception {
    Files.createDirectories(work.resolve(".git"));
    Files.writeString(work.resolve(".git/HEAD"), "ref: refs/heads/main\n");
    List<String> cmd = List.of(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
        "--files", "**", "--outputs", "out", "--name", "all", "--", "./build.sh");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
    pb.environment().put("RUNS", runs.toString());
    for (int i = 0; i < 2; i++) {
      Process p = pb.start();
      p.getInputStream().readAllBytes();
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      Files.writeString(work.resolve(".git/HEAD"), "ref: refs/heads/other" + i + "\n"); // git moved on
    }
    assertThat(runCount()).as("the second run is a hit: out/ and .git/ are not inputs").isEqualTo(1);
  }

  @Test
  void aProgramThatDoesNotExistExits127LikeAShell() throws Exception {
    Process p = new ProcessBuilder(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
        "--files", "src", "--outputs", "out", "--", "./no-such-program").directory(work.toFile()).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(127);
    assertThat(err).contains("cannot run './no-such-program'").doesNotContain("Exception");
  }

  @Test
  void aRunRecordedThroughAServerIsAHitInAnotherCloneAndFillsItsLocalStore() throws Exception {
    try (ServeProcess server = ServeProcess.start(dir.resolve("server-store"), java.util.Map.of(), "--no-access-log")) {
      String url = server.url;
      Run a = exec("0", "--remote", url, "--remote-only");
      assertThat(a.code()).as(a.err()).isZero();
      assertThat(runCount()).isEqualTo(1);

      // another clone of the project, in another directory, with its own local store
      Path clone = Files.createDirectories(dir.resolve("elsewhere/clone"));
      Files.createDirectories(clone.resolve("src"));
      Files.copy(work.resolve("src/main.c"), clone.resolve("src/main.c"));
      Files.copy(work.resolve("build.sh"), clone.resolve("build.sh"), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
      work = clone;
      store = dir.resolve("clone-store");
      Run b = exec("0", "--remote", url);
      assertThat(b.code()).as(b.err()).isZero();
      assertThat(runCount()).as("a hit from the server").isEqualTo(1);
      assertThat(Files.readString(clone.resolve("out/a.txt"))).isEqualTo("hello\n");
      assertThat(b.out()).isEqualTo("built on stdout\n");
      deleteTree(clone.resolve("out"));
      server.terminate();
      Run c = exec("0");
      assertThat(c.code()).isZero();
      assertThat(runCount()).as("now a local hit, the server gone").isEqualTo(1);
      assertThat(Files.readSymbolicLink(clone.resolve("out/link"))).isEqualTo(Path.of("a.txt"));
    }
  }

  static long warnings(Run r) {
    return r.err().lines().filter(l -> l.startsWith("larder: warning")).count();
  }

  @Test
  void aCacheThatCannotBeReachedIsOneWarningAndTheCommandRunsWithItsOwnExitCode() throws Exception {
    String down = "http://127.0.0.1:1"; // nothing listens on port 1
    Run a = exec("0", "--remote", down);
    assertThat(a.code()).as(a.err()).isZero();
    assertThat(runCount()).as("the command ran, as on a miss").isEqualTo(1);
    assertThat(warnings(a)).as(a.err()).isEqualTo(1);
    assertThat(a.err()).contains("the cache at " + down + " is unavailable").doesNotContain("Exception");
    assertThat(Files.readString(work.resolve("out/a.txt"))).isEqualTo("hello\n");
    Run b = exec("7", "--remote", down, "--remote-only");
    assertThat(b.code()).as("the command's exit code, not the cache's").isEqualTo(7);
    assertThat(runCount()).isEqualTo(2);
    Run c = exec("0", "--remote", down);
    assertThat(c.code()).isZero();
    assertThat(runCount()).as("recorded locally all the same: a local hit now").isEqualTo(2);
  }

  @Test
  void credentialsInTheUrlWorkAreNeverPrintedAndRefusedOnesAreAWarning() throws Exception {
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "basic builder:s3cret-pw rw\n");
    try (ServeProcess server = ServeProcess.start(dir.resolve("server-store"), java.util.Map.of(),
        "--no-access-log", "--auth-file", auth.toString())) {
      String host = server.url.substring("http://".length());
      Run refused = exec("0", "--remote", "http://builder:wrong-pw@" + host, "--remote-only");
      assertThat(refused.code()).as(refused.err()).isZero();
      assertThat(warnings(refused)).isEqualTo(1);
      assertThat(refused.err()).contains("refused").contains(server.url).doesNotContain("wrong-pw");
      assertThat(runCount()).isEqualTo(1);

      Run stored = exec("0", "--remote", "http://builder:s3cret-pw@" + host, "--remote-only");
      assertThat(stored.code()).as(stored.err()).isZero();
      assertThat(stored.err()).doesNotContain("warning").doesNotContain("s3cret-pw");
      assertThat(runCount()).isEqualTo(2);
      deleteTree(work.resolve("out"));
      Run hit = exec("0", "--remote", "http://builder:s3cret-pw@" + host, "--remote-only");
      assertThat(hit.code()).isZero();
      assertThat(runCount()).as("a hit from the server, with Basic credentials").isEqualTo(2);
      assertThat(Files.readString(work.resolve("out/a.txt"))).isEqualTo("hello\n");
    }
  }

  @Test
  void aFailingCommandIsNotRecordedUnlessAsked() throws Exception {
    assertThat(exec("3").code()).isEqualTo(3);
    assertThat(exec("3").code()).isEqualTo(3);
    assertThat(runCount()).as("failures run every time").isEqualTo(2);
    assertThat(exec("3", "--cache-failures").code()).isEqualTo(3);
    Run replayed = exec("3", "--cache-failures");
    assertThat(replayed.code()).as("the recorded exit code").isEqualTo(3);
    assertThat(runCount()).isEqualTo(3);
  }

  @Test
  void outputsOutsideTheWorkingDirectoryAreRefused() throws Exception {
    List<String> cmd = List.of(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
        "--files", "src", "--outputs", "../elsewhere", "--", "true");
    Process p = new ProcessBuilder(cmd).directory(work.toFile()).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(err).contains("outside the working directory");
    List<String> runs = List.of(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
        "--files", "src", "--outputs", "../elsewhere", "--", "touch", "ran");
    Process q = new ProcessBuilder(runs).directory(work.toFile()).start();
    q.getErrorStream().readAllBytes();
    assertThat(q.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(q.exitValue()).isEqualTo(2);
    assertThat(work.resolve("ran")).as("refused before the command ran").doesNotExist();
  }

  @Test
  @Tag("slow")
  void aRestoreKilledAtAnyMomentLeavesEachOutputWholeOrAbsent() throws Exception {
    Files.writeString(work.resolve("build.sh"), """
        #!/bin/sh
        echo run >> "$RUNS"
        mkdir -p out
        head -c 200000000 /dev/urandom > out/big.bin
        printf 'small\\n' > out/small.txt
        """);
    assertThat(exec("0").code()).isZero();
    byte[] whole = java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(work.resolve("out/big.bin")));
    for (int delayMillis : new int[] {300, 600, 900, 1200, 1500, 2000}) {
      deleteTree(work.resolve("out"));
      ProcessBuilder pb = new ProcessBuilder(System.getProperty("larder.launcher"), "--cache", store.toString(), "exec",
          "--files", "src", "--files", "build.sh", "--outputs", "out", "--name", "build", "--", "./build.sh")
          .directory(work.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
      pb.environment().put("RUNS", runs.toString());
      Process p = pb.start();
      Thread.sleep(delayMillis);
      p.destroyForcibly(); // kill -9, wherever the restore is
      p.waitFor(30, TimeUnit.SECONDS);
      Path big = work.resolve("out/big.bin");
      if (Files.exists(big)) {
        assertThat(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(big)))
            .as("killed after %d ms: big.bin is whole", delayMillis).isEqualTo(whole);
      }
      Path small = work.resolve("out/small.txt");
      if (Files.exists(small)) {
        assertThat(Files.readString(small)).isEqualTo("small\n");
      }
    }
    assertThat(runCount()).as("every run after the first was a hit").isEqualTo(1);
  }

  @Test
  @Tag("slow")
  void twoProcessesExecutingTheSameKeyRunItAtMostTwiceAndTheEntryStaysWhole() throws Exception {
    Files.writeString(work.resolve("build.sh"), Files.readString(work.resolve("build.sh")).replace("exit", "sleep 1; exit"));
    List<Thread> threads = new ArrayList<>();
    List<Integer> codes = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < 2; i++) {
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          codes.add(exec("0").code());
        } catch (Exception e) {
          codes.add(-1);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(codes).containsExactly(0, 0);
    assertThat(runCount()).isBetween(1L, 2L);
    deleteTree(work.resolve("out"));
    long before = runCount();
    assertThat(exec("0").code()).isZero();
    assertThat(runCount()).as("a hit now").isEqualTo(before);
    assertThat(Files.readString(work.resolve("out/a.txt"))).isEqualTo("hello\n");
  }
}
