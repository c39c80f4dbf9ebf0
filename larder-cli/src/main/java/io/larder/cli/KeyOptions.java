package io.larder.cli;

import io.larder.BuildKey;
import io.larder.FileMemo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The inputs of a build key: the options of `larder key`, shared by `larder exec`. */
final class KeyOptions {
  @Option(names = "--files", paramLabel = "GLOB", description = "Input files: a glob relative to --dir, or a file or directory. Repeatable.")
  List<String> files = new ArrayList<>();

  @Option(names = "--exclude", paramLabel = "GLOB", description = "Leave out matching files. Repeatable.")
  List<String> excludes = new ArrayList<>();

  @Option(names = "--arg", paramLabel = "STRING", description = "A string input (order matters). Repeatable.")
  List<String> args = new ArrayList<>();

  @Option(names = "--env", paramLabel = "NAME", description = "An environment variable's value (or its absence). Repeatable.")
  List<String> envs = new ArrayList<>();

  @Option(names = "--platform", arity = "0..1", fallbackValue = "", paramLabel = "NAME",
      description = "The platform: this machine's (e.g. linux-x86_64) if no value is given.")
  String platform;

  @Option(names = "--tool-version", paramLabel = "COMMAND", description = "Hash a command's output, e.g. 'gcc --version'. Repeatable.")
  List<String> tools = new ArrayList<>();

  @Option(names = "--dep", paramLabel = "KEY", description = "Another key this one depends on. Repeatable.")
  List<String> deps = new ArrayList<>();

  @Option(names = "--dir", paramLabel = "DIR", description = "The directory file globs are relative to (default: the current one).")
  Path dir;

  @Option(names = "--no-memo", description = "Read every file, ignoring the memo of unchanged files kept in the store.")
  boolean noMemo;

  /** The builder for these options. */
  BuildKey builder(Path storeDir) {
    Path root = dir != null ? dir : Path.of("").toAbsolutePath();
    BuildKey k = BuildKey.in(root);
    files.forEach(k::files);
    excludes.forEach(k::exclude);
    args.forEach(k::arg);
    envs.forEach(k::env);
    if (platform != null) {
      k.platform(platform.isEmpty() ? BuildKey.currentPlatform() : platform);
    }
    tools.forEach(k::toolVersion);
    deps.forEach(k::dep);
    if (!noMemo && !files.isEmpty()) {
      k.memo(FileMemo.open(storeDir.resolve("key-memo.tsv")));
    }
    return k;
  }
}
