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
      printJson(n);
    } else {
      out.printf("path       %s%n", s.root());
      out.printf("entries    %d%n", s.entries());
      out.printf("blobs      %d (%d inline in the index)%n", s.blobs(), s.inlineBlobs());
      out.printf("bytes      %s (%d)%n", humanSize(s.bytes()), s.bytes());
      out.printf("index      %s%n", humanSize(s.indexBytes()));
    }
    return Main.OK;
  }
}
