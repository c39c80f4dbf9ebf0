package io.larder.cli;

import io.larder.Entry;
import io.larder.Larder;
import io.larder.LarderException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the entry of KEY (from the index; the content is not read).",
    footerHeading = "%nExample:%n", footer = "  larder info build:mylib:1.0.0 --json")
final class InfoCommand extends Base {
  @Override
  boolean readsStore() {
    return true;
  }

  @Parameters(paramLabel = "KEY", description = "The key.")
  String key;

  @Override
  int run() throws Exception {
    Entry e;
    try (Larder cache = open()) {
      e = cache.info(key).orElseThrow(() -> new LarderException.NotFound(
          "no entry for key '" + key + "' in " + cache.root()));
    }
    if (options.json) {
      printJson(entryJson(e));
      return Main.OK;
    }
    out.printf("key        %s%n", e.key());
    out.printf("integrity  %s%n", e.integrity());
    out.printf("size       %s (%d bytes)%n", humanSize(e.size()), e.size());
    out.printf("created    %s%n", io.larder.config.JsonShapes.time(e.created()));
    out.printf("accessed   %s%n", io.larder.config.JsonShapes.time(e.accessed()));
    out.printf("expires    %s%n", e.expires() == null ? "never" : io.larder.config.JsonShapes.time(e.expires()));
    if (e.metadata() != null) {
      out.printf("metadata   %s%n", e.metadata());
    }
    return Main.OK;
  }
}
