package io.larder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Build keys: deterministic across places, sensitive to every input, and a memo that is never wrong. */
class BuildKeyTest {
  @TempDir Path dir;
  Path a;

  @BeforeEach
  void tree() throws Exception {
    a = makeTree(dir.resolve("clone-a"));
  }

  static Path makeTree(Path root) throws Exception {
    Files.createDirectories(root.resolve("src/main/java/demo"));
    Files.createDirectories(root.resolve("src/gen"));
    Files.writeString(root.resolve("src/main/java/demo/A.java"), "class A {}\n");
    Files.writeString(root.resolve("src/main/java/demo/B.java"), "class B { int x = 1; }\n");
    Files.writeString(root.resolve("src/gen/Skip.java"), "generated\n");
    Files.writeString(root.resolve("pom.xml"), "<project/>\n");
    Files.writeString(root.resolve("notes.txt"), "not an input\n");
    return root;
  }

  BuildKey base(Path root) {
    return BuildKey.in(root).files("src/**/*.java").files("pom.xml").exclude("src/gen/**").arg("-O2").arg("-g")
        .environment(Map.of("CC", "gcc-12")).env("CC").platform("linux-x86_64").dep("0123abcd");
  }

  String key(Path root, Consumer<BuildKey> change) {
    BuildKey k = base(root);
    change.accept(k);
    return k.compute().key();
  }

  @Test
  void theSameInputsInAnotherDirectoryGiveTheSameKey() throws Exception {
    Path b = makeTree(dir.resolve("elsewhere/clone-b"));
    String ka = base(a).compute().key();
    assertThat(ka).matches("[0-9a-f]{64}");
    assertThat(base(b).compute().key()).isEqualTo(ka);
    assertThat(base(a).compute().key()).as("and on every run").isEqualTo(ka);
    // the order files are named in does not matter; their set does
    assertThat(BuildKey.in(a).files("pom.xml").files("src/**/*.java").exclude("src/gen/**").arg("-O2").arg("-g")
        .environment(Map.of("CC", "gcc-12")).env("CC").platform("linux-x86_64").dep("0123abcd").compute().key())
        .isEqualTo(ka);
  }

  @Test
  void changingAnyInputChangesTheKey() throws Exception {
    String k = base(a).compute().key();
    assertThat(key(a, x -> x.arg("-Wall"))).isNotEqualTo(k);
    assertThat(BuildKey.in(a).files("src/**/*.java").files("pom.xml").exclude("src/gen/**").arg("-g").arg("-O2")
        .environment(Map.of("CC", "gcc-12")).env("CC").platform("linux-x86_64").dep("0123abcd").compute().key())
        .as("argument order").isNotEqualTo(k);
    assertThat(BuildKey.in(a).files("src/**/*.java").files("pom.xml").exclude("src/gen/**").arg("-O2").arg("-g")
        .environment(Map.of("CC", "gcc-13")).env("CC").platform("linux-x86_64").dep("0123abcd").compute().key())
        .as("an environment variable").isNotEqualTo(k);
    assertThat(BuildKey.in(a).files("src/**/*.java").files("pom.xml").exclude("src/gen/**").arg("-O2").arg("-g")
        .environment(Map.of("CC", "gcc-12")).env("CC").platform("linux-aarch64").dep("0123abcd").compute().key())
        .as("the platform").isNotEqualTo(k);
    assertThat(key(a, x -> x.dep("ffff"))).as("a dependency key").isNotEqualTo(k);
    assertThat(key(a, x -> x.toolVersion("echo gcc 12.2"))).isNotEqualTo(key(a, x -> x.toolVersion("echo gcc 12.3")));
    assertThat(key(a, x -> x.files("notes.txt"))).as("one more file").isNotEqualTo(k);

    Path b = makeTree(dir.resolve("b"));
    Files.writeString(b.resolve("src/main/java/demo/B.java"), "class B { int x = 2; }\n"); // one byte
    assertThat(base(b).compute().key()).as("one byte of a file").isNotEqualTo(k);

    Path c = makeTree(dir.resolve("c"));
    Files.move(c.resolve("src/main/java/demo/B.java"), c.resolve("src/main/java/demo/C.java"));
    assertThat(base(c).compute().key()).as("a file's name").isNotEqualTo(k);

    Path d = makeTree(dir.resolve("d"));
    Files.setPosixFilePermissions(d.resolve("pom.xml"), PosixFilePermissions.fromString("rwxr-xr-x"));
    assertThat(base(d).compute().key()).as("the executable bit").isNotEqualTo(k);

    Path e = makeTree(dir.resolve("e"));
    Files.writeString(e.resolve("src/gen/Skip.java"), "changed, but excluded\n");
    Files.writeString(e.resolve("notes.txt"), "changed, but not an input\n");
    assertThat(base(e).compute().key()).as("what is not an input").isEqualTo(k);
  }

  @Test
  void explainListsEveryInputAndNamesCannotForgeManifestLines() throws Exception {
    BuildKey.Result r = base(a).compute();
    assertThat(r.inputs()).extracting(BuildKey.Input::kind)
        .containsExactly("platform", "env", "arg", "arg", "dep", "file", "file", "file");
    assertThat(r.inputs()).extracting(BuildKey.Input::name)
        .contains("pom.xml", "src/main/java/demo/A.java", "src/main/java/demo/B.java");
    assertThat(r.manifest()).startsWith(BuildKey.FORMAT + "\n");
    Files.writeString(a.resolve("odd\nfile 0000"), "x");
    BuildKey.Result odd = BuildKey.in(a).files("odd*").compute();
    assertThat(odd.manifest().lines().count()).as("a newline in a name is escaped").isEqualTo(2);
  }

  @Test
  void badInputsAreClearErrors() {
    assertThatThrownBy(() -> BuildKey.in(a).files("nothing/**/*.c").compute())
        .isInstanceOf(LarderException.InvalidInput.class).hasMessageContaining("matches no file");
    assertThatThrownBy(() -> BuildKey.in(a).toolVersion("exit 3").compute()).hasMessageContaining("exited with 3");
    assertThatThrownBy(() -> BuildKey.in(a).files("../outside").compute()).hasMessageContaining("outside");
  }

  @Test
  void theMemoSkipsUnchangedFilesAndIsNeverWrongWhenSizeAndMtimeAreKept() throws Exception {
    Path memoFile = dir.resolve("memo.tsv");
    BuildKey.Result first = base(a).memo(FileMemo.open(memoFile, 0)).compute();
    assertThat(first.filesRead()).isEqualTo(3);
    BuildKey.Result second = base(a).memo(FileMemo.open(memoFile, 0)).compute();
    assertThat(second.filesRead()).as("all from the memo").isZero();
    assertThat(second.key()).isEqualTo(first.key());

    // change a byte but keep the size and put the modification time back, as a careless tool might
    Path b = a.resolve("src/main/java/demo/B.java");
    FileTime mtime = Files.getLastModifiedTime(b);
    Files.writeString(b, "class B { int x = 9; }\n");
    Files.setLastModifiedTime(b, mtime);
    BuildKey.Result third = base(a).memo(FileMemo.open(memoFile, 0)).compute();
    assertThat(third.filesRead()).as("its ctime moved: read again").isEqualTo(1);
    assertThat(third.key()).isNotEqualTo(first.key()).isEqualTo(base(a).compute().key());
  }

  @Test
  void filesChangedJustBeforeHashingAreNotRemembered() throws Exception {
    Path memoFile = dir.resolve("memo.tsv");
    base(a).memo(FileMemo.open(memoFile)).compute(); // the files were written a moment ago: racily recent
    assertThat(base(a).memo(FileMemo.open(memoFile)).compute().filesRead()).isEqualTo(3);
  }

  @Test
  void symlinksAreInputsByTheirTarget() throws Exception {
    Path b = makeTree(dir.resolve("links"));
    Files.createSymbolicLink(b.resolve("src/main/java/demo/L.java"), Path.of("A.java"));
    String k1 = base(b).compute().key();
    Files.delete(b.resolve("src/main/java/demo/L.java"));
    Files.createSymbolicLink(b.resolve("src/main/java/demo/L.java"), Path.of("B.java"));
    assertThat(base(b).compute().key()).isNotEqualTo(k1);
    assertThat(new String(Files.readAllBytes(b.resolve("pom.xml")), StandardCharsets.UTF_8)).isNotEmpty();
  }
}
