package io.larder.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The training run for the class-data-sharing archive: the launcher runs it once per jar with
 * {@code -XX:ArchiveClassesAtExit}, so that the archive holds what the common short commands load, and not
 * only what the first command after a build happened to load (an archive made by {@code --version} left
 * {@code get} and {@code info} loading ~390 classes from the jar on every run). It runs them against a
 * scratch store, prints nothing, and removes the store.
 */
public final class CdsTraining {
  private CdsTraining() {}

  public static void main(String[] args) throws IOException {
    Path dir = Files.createTempDirectory("larder-cds-");
    PrintStream out = System.out;
    PrintStream err = System.err;
    PrintStream none = new PrintStream(OutputStream.nullOutputStream());
    System.setOut(none);
    System.setErr(none);
    try {
      String store = dir.resolve("store").toString();
      Path file = dir.resolve("content");
      Files.write(file, new byte[100_000]);
      String[][] commands = {
        {"put", "train:key", file.toString()},
        {"get", "train:key", "-o", dir.resolve("out").toString()},
        {"info", "train:key"},
        {"--json", "info", "train:key"},
        {"ls", "-l"},
        {"stats"},
        {"verify"},
        {"get", "train:missing"},
        {"rm", "--yes", "train:key"},
      };
      for (String[] command : commands) {
        String[] line = new String[command.length + 2];
        line[0] = "--cache";
        line[1] = store;
        System.arraycopy(command, 0, line, 2, command.length);
        Main.run(line);
      }
      Main.run("--help");
    } finally {
      System.setOut(out);
      System.setErr(err);
      try (Stream<Path> all = Files.walk(dir)) {
        all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
