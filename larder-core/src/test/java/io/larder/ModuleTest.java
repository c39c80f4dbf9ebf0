package io.larder;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine is hidden by the language: the module io.larder exports its API packages only. */
class ModuleTest {
  @TempDir Path dir;

  static Path classes() throws Exception {
    return Path.of(Larder.class.getProtectionDomain().getCodeSource().getLocation().toURI());
  }

  @Test
  void theModuleExportsTheApiPackagesOnly() throws Exception {
    ModuleDescriptor d = ModuleFinder.of(classes()).find("io.larder").orElseThrow().descriptor();
    assertThat(d.exports()).extracting(ModuleDescriptor.Exports::source)
        .containsExactlyInAnyOrder("io.larder", "io.larder.spi");
    assertThat(d.packages()).contains("io.larder.internal");
  }

  /** Compiles a module {@code app} whose one class has {@code body}; returns javac's messages ("" if it compiled). */
  String compileApp(String imports, String body) throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/app/app"));
    Files.writeString(src.getParent().resolve("module-info.java"), "module app { requires io.larder; }");
    Files.writeString(src.resolve("App.java"), "package app;\n" + imports + "\npublic class App {\n" + body + "\n}\n");
    // the module path: this module's classes and the jars it requires, from the test's class path
    String modulePath = Stream.concat(Stream.of(classes().toString()),
            Stream.of(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(p -> p.contains("sqlite-jdbc") || p.contains("zstd-jni") || p.contains("jackson-core")))
        .collect(Collectors.joining(File.pathSeparator));
    Path javac = Path.of(System.getProperty("java.home"), "bin", "javac");
    Process p = new ProcessBuilder(javac.toString(), "-d", dir.resolve("out").toString(), "--module-path", modulePath,
        src.getParent().resolve("module-info.java").toString(), src.resolve("App.java").toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    return p.waitFor() == 0 ? "" : out;
  }

  @Test
  void aModularProgramUsesTheApiButCannotReachTheEngine() throws Exception {
    assertThat(compileApp("import io.larder.Larder;", "Larder open(java.nio.file.Path p) { return Larder.open(p); }"))
        .isEmpty();
    assertThat(compileApp("import io.larder.internal.Keys;", "String k(String s) { return Keys.check(s); }"))
        .contains("io.larder.internal").contains("not visible");
  }
}
