package io.larder.cli;

import io.larder.GcOptions;
import io.larder.GcReport;
import io.larder.Larder;
import io.larder.config.JsonShapes;
import io.larder.config.LarderConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "gc", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Collect garbage once: expired entries, eviction by age and size, unreferenced content.",
        "Evicts by age and size least recently used first, keeping the newest entry of each group; removes content"
            + " no entry references and stale temporary files. Safe while other processes use the store."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder gc", "  larder gc --max-size 10G --max-age 30d --dry-run", "  larder gc --max-size 500M --keep-per-group 2 --json",
        "  larder --store s3://build-cache/team-a gc --bucket --dry-run"})
final class GcCommand extends Base {
  @Option(names = "--max-size", paramLabel = "SIZE", description = "Keep at most this much content: 500M, 10G, 1T or bytes.")
  String maxSize;

  @Option(names = "--max-age", paramLabel = "DURATION", description = "Evict entries not read for this long: 12h, 30d, 2w.")
  String maxAge;

  @Option(names = "--keep-per-group", paramLabel = "N", description = "Never evict the newest N entries of a group (key up to its last ':'); default 1.")
  Integer keepPerGroup;

  @Option(names = "--group-segments", paramLabel = "N", description = "A group is a key's first N ':'-segments (default 0: up to its last ':').")
  Integer groupSegments;

  @Option(names = "--grace", paramLabel = "DURATION", description = "Do not collect files no entry ever referenced that are younger (a put in progress; default 10m).")
  String grace;

  @Option(names = "--bucket", description = {"Collect the shared S3 tier instead of the local store: expired entries,",
      "content no entry references and abandoned uploads (run it from one node at a time; --grace defaults to 24h)."})
  boolean bucket;

  @Option(names = "--dry-run", description = "Report what would go; change nothing.")
  boolean dryRun;

  @Option(names = "--deletes-per-second", paramLabel = "N", description = "Pace file deletions (default 2000; 0: no limit).")
  Integer deletesPerSecond;

  @Override
  java.util.Map<LarderConfig.Key, String> commandFlags() {
    java.util.Map<LarderConfig.Key, String> f = new java.util.EnumMap<>(LarderConfig.Key.class);
    flag(f, LarderConfig.Key.MAX_SIZE, maxSize);
    flag(f, LarderConfig.Key.MAX_AGE, maxAge);
    flag(f, LarderConfig.Key.KEEP_PER_GROUP, keepPerGroup);
    flag(f, LarderConfig.Key.GROUP_SEGMENTS, groupSegments);
    return f;
  }

  @Override
  int run() throws Exception {
    GcOptions o = config().gcOptions().dryRun(dryRun); // larder.toml, LARDER_*, --set, then the flags above
    if (deletesPerSecond != null) {
      o = o.deletesPerSecond(deletesPerSecond);
    }
    if (grace != null) {
      o = o.grace(PutCommand.parseDuration(grace));
    }
    if (bucket) {
      return collectBucket();
    }
    GcReport r;
    try (Larder cache = open()) {
      r = cache.gc(o);
    }
    long over = r.overBy(o.maxSize());
    String why = "the newest " + o.keepPerGroup() + " of each group (keep-per-group) and keys waiting for their"
        + " upload to S3 are not evicted";
    if (options.json) {
      com.fasterxml.jackson.databind.node.ObjectNode n = JsonShapes.gcReport(r);
      if (o.maxSize() >= 0) {
        n.put("maxSize", o.maxSize()).put("overMaxSize", over);
        if (over > 0) {
          n.put("why", why);
        }
      }
      printJson(n);
    } else {
      String verb = r.dryRun() ? "would remove" : "removed";
      out.printf("expired    %d entries%n", r.expired());
      out.printf("evicted    %d entries%n", r.evicted());
      out.printf("content    %s %d blobs, %s; %s referenced %s%n", verb, r.blobsRemoved(), humanSize(r.bytesFreed()),
          humanSize(r.bytesAfter()), r.dryRun() ? "would stay" : "left");
      out.printf("tmp        %d stale files%n", r.tmpRemoved());
      if (over > 0) {
        out.printf("max-size   not reached: %s over %s (%s)%n", humanSize(over), humanSize(o.maxSize()), why);
      }
    }
    return Main.OK;
  }

  private int collectBucket() throws Exception {
    java.time.Duration g = grace != null ? PutCommand.parseDuration(grace) : java.time.Duration.ofHours(24);
    GcReport r;
    String where;
    try (Larder cache = open()) {
      where = cache.remoteTier().orElseThrow(() -> new Main.UsageException(
          "--bucket needs a shared S3 tier: --store s3://BUCKET/PREFIX or the s3-bucket setting"));
      r = cache.collectTier(g, dryRun);
    }
    if (options.json) {
      printJson(JsonShapes.gcReport(r));
    } else {
      String verb = r.dryRun() ? "would remove" : "removed";
      out.printf("bucket     %s (%s of content)%n", where, humanSize(r.bytesBefore()));
      out.printf("expired    %s %d entries%n", verb, r.expired());
      out.printf("content    %s %d blobs, %s%n", verb, r.blobsRemoved(), humanSize(r.bytesFreed()));
      out.printf("uploads    %d abandoned uploads aborted%n", r.tmpRemoved());
    }
    return Main.OK;
  }
}
