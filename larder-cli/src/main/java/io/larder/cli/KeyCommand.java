package io.larder.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.BuildKey;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "key", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print a deterministic cache key for a build step.",
        "A SHA-256 over its input files (by content and relative path, never by time), strings, environment"
            + " variables, the platform, tool versions and other keys. The same inputs give the same key on every"
            + " machine; any changed byte changes it."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder key --files 'src/**/*.java' --files pom.xml --arg -O2 --env JAVA_HOME --platform",
        "  larder key --files src --exclude '**/*.tmp' --tool-version 'javac -version' --explain",
        "  larder key --files lib --dep \"$(larder key --files common)\" --json"})
final class KeyCommand extends Base {
  @picocli.CommandLine.Mixin
  KeyOptions key = new KeyOptions();

  @Option(names = "--explain", description = "Also print every input and its digest.")
  boolean explain;

  @Override
  int run() throws Exception {
    BuildKey.Result r = key.builder(options.storeDir()).compute();
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
