package io.larder.cli;

import io.larder.Larder;
import io.larder.Stats;
import io.larder.config.JsonShapes;
import picocli.CommandLine.Command;

@Command(name = "stats", mixinStandardHelpOptions = true, description = "Show entries, blobs, bytes, index size and the store's path.",
    footerHeading = "%nExample:%n", footer = "  larder stats --json")
final class StatsCommand extends Base {
  @Override
  boolean readsStore() {
    return true;
  }

  @Override
  int run() throws Exception {
    Stats s;
    String tier;
    long pending;
    try (Larder cache = open()) {
      s = cache.stats();
      tier = cache.remoteTier().orElse(null);
      pending = cache.tierStats().pendingWrites();
    }
    if (options.json) {
      com.fasterxml.jackson.databind.node.ObjectNode n = JsonShapes.stats(s, config());
      if (tier != null) {
        n.putObject("tier").put("location", tier).put("pendingWrites", pending);
      }
      printJson(n);
    } else {
      out.printf("path       %s%n", s.root());
      if (tier != null) {
        out.printf("tier       %s (%d puts waiting to be uploaded)%n", tier, pending);
      }
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
