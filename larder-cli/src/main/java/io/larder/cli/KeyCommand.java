package io.larder.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.BuildKey;
import io.larder.FileMemo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "key", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print a deterministic cache key for a build step: a SHA-256 over its input files (by content",
        "and relative path, never by time), strings, environment variables, the platform, tool versions and",
        "other keys. The same inputs give the same key on every machine; any changed byte changes it."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder key --files 'src/**/*.java' --files pom.xml --arg -O2 --env JAVA_HOME --platform",
        "  larder key --files src --exclude '**/*.tmp' --tool-version 'javac -version' --explain",
        "  larder key --files lib --dep \"$(larder key --files common)\" --json"})
final class KeyCommand extends Base {
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

  @Option(names = "--explain", description = "Also print every input and its digest.")
  boolean explain;

  /** The builder for these options, shared with `larder exec --key-from`. */
  BuildKey builder() {
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
      k.memo(FileMemo.open(options.storeDir().resolve("key-memo.tsv")));
    }
    return k;
  }

  @Override
  int run() throws Exception {
    BuildKey.Result r = builder().compute();
    if (options.json) {
      ObjectNode n = Jsons.MAPPER.createObjectNode();
      n.put("key", r.key());
      ArrayNode inputs = n.putArray("inputs");
      for (BuildKey.Input i : r.inputs()) {
        inputs.addObject().put("kind", i.kind()).put("name", i.name()).put("sha256", i.sha256());
      }
      printJson(n);
    } else {
      out.println(r.key());
      if (explain) {
        for (BuildKey.Input i : r.inputs()) {
          out.println("  " + i.kind() + "\t" + i.sha256() + "\t" + i.name());
        }
      }
    }
    return Main.OK;
  }
}
