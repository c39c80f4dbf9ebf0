package io.larder.cli;

import io.larder.Larder;
import io.larder.Stats;
import picocli.CommandLine.Command;

@Command(name = "stats", mixinStandardHelpOptions = true, description = "Show entries, blobs, bytes, index size and the store's path.",
    footerHeading = "%nExample:%n", footer = "  larder stats --json")
final class StatsCommand extends Base {
  @Override
  int run() throws Exception {
    Stats s;
    try (Larder cache = open()) {
      s = cache.stats();
    }
    if (options.json) {
      var n = Jsons.MAPPER.createObjectNode();
      n.put("entries", s.entries());
      n.put("blobs", s.blobs());
      n.put("bytes", s.bytes());
      n.put("inlineBlobs", s.inlineBlobs());
      n.put("indexBytes", s.indexBytes());
      n.put("path", s.root().toString());
      var c = n.putObject("config");
      config().effective().forEach((k, v) -> {
        var o = c.putObject(k.configName());
        o.put("value", v.value());
        o.put("source", v.source());
      });
      printJson(n);
    } else {
      out.printf("path       %s%n", s.root());
      out.printf("entries    %d%n", s.entries());
      out.printf("blobs      %d (%d inline in the index)%n", s.blobs(), s.inlineBlobs());
      out.printf("bytes      %s (%d)%n", humanSize(s.bytes()), s.bytes());
      out.printf("index      %s%n", humanSize(s.indexBytes()));
      out.println("config");
      config().effective().forEach((k, v) -> out.printf("  %-15s %-14s (%s)%n", k.configName(), v.value(), v.source()));
    }
    return Main.OK;
  }
}
