package io.larder.cli;

import io.larder.Larder;
import io.larder.VerifyReport;
import picocli.CommandLine.Command;

@Command(name = "verify", mixinStandardHelpOptions = true,
    description = {"Re-hash every blob; remove corrupt ones and the entries pointing at them.",
        "Exits 3 if anything was corrupt or missing, 0 if the store was healthy."},
    footerHeading = "%nExamples:%n", footer = {"  larder verify --json",
        "  larder verify --dry-run     (report only; also what a read-only store gets)",
        "  larder verify --repair      (a damaged index: stop every user of the store first)"})
final class VerifyCommand extends Base {
  @picocli.CommandLine.Option(names = "--repair", description = "The index is damaged: set it aside (index.damaged-TIME/),"
      + " make a new one from every entry that can still be read and verified. Stop every user of the store first.")
  boolean repair;

  @picocli.CommandLine.Option(names = "--dry-run", description = "Report what is corrupt or missing, change nothing"
      + " (the store is opened read-only; so is a store this user cannot write).")
  boolean dryRun;

  @Override
  boolean readsStore() {
    return true;
  }

  @Override
  int run() throws Exception {
    if (repair) {
      return repair();
    }
    VerifyReport r;
    boolean readOnly;
    try (Larder cache = dryRun ? open(o -> o.readOnly(true)) : open(); Progress progress = new Progress("verify", cache.stats().bytes(), options)) {
      r = cache.verify(progress::advance);
      readOnly = cache.options().readOnly();
    }
    if (options.json) {
      printJson(io.larder.config.JsonShapes.verifyReport(r));
    } else {
      out.printf("checked    %d blobs, %s%n", r.blobsChecked(), humanSize(r.bytesChecked()));
      String kept = " (read-only: left as they are)";
      out.printf("corrupt    %d %s%n", r.corruptRemoved(), readOnly ? "found" + kept : "removed");
      out.printf("missing    %d %s%n", r.missingRemoved(), readOnly ? "found" + kept : "forgotten");
      out.printf("entries    %d removed%n", r.entriesRemoved());
    }
    return r.clean() ? Main.OK : Main.INTEGRITY;
  }

  private int repair() throws Exception {
    java.nio.file.Path dir = options.storeDir();
    if (!java.nio.file.Files.exists(dir.resolve("index.db"))) {
      throw new Main.UsageException("there is no store at " + dir + " (no index.db) to repair");
    }
    Larder.RepairReport r = Larder.repair(dir);
    if (options.json) {
      var n = Jsons.MAPPER.createObjectNode();
      n.put("recovered", r.recovered());
      n.put("contentMissing", r.contentMissing());
      n.put("contentCorrupt", r.contentCorrupt());
      n.put("wholeIndexRead", r.wholeIndexRead());
      n.put("damagedIndex", r.damagedIndex().toString());
      printJson(n);
    } else {
      out.printf("recovered  %d entries (content verified)%n", r.recovered());
      out.printf("lost       %d entries whose content is gone, %d whose content was corrupt%s%n", r.contentMissing(),
          r.contentCorrupt(), r.wholeIndexRead() ? "" : "; entries on damaged pages of the index could not be read");
      out.printf("old index  %s (kept; sqlite3's .recover may save more)%n", r.damagedIndex());
    }
    return Main.OK;
  }
}
