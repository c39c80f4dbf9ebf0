package io.larder.cli;

import io.larder.Larder;
import io.larder.VerifyReport;
import picocli.CommandLine.Command;

@Command(name = "verify", mixinStandardHelpOptions = true,
    description = {"Re-hash every blob; remove corrupt ones and the entries pointing at them.",
        "Exits 3 if anything was corrupt or missing, 0 if the store was healthy."},
    footerHeading = "%nExample:%n", footer = "  larder verify --json")
final class VerifyCommand extends Base {
  @Override
  boolean readsStore() {
    return true;
  }

  @Override
  int run() throws Exception {
    VerifyReport r;
    try (Larder cache = open(); Progress progress = new Progress("verify", cache.stats().bytes(), options)) {
      r = cache.verify(progress::advance);
    }
    if (options.json) {
      var n = Jsons.MAPPER.createObjectNode();
      n.put("blobsChecked", r.blobsChecked());
      n.put("bytesChecked", r.bytesChecked());
      n.put("corruptRemoved", r.corruptRemoved());
      n.put("missingRemoved", r.missingRemoved());
      n.put("entriesRemoved", r.entriesRemoved());
      n.put("clean", r.clean());
      printJson(n);
    } else {
      out.printf("checked    %d blobs, %s%n", r.blobsChecked(), humanSize(r.bytesChecked()));
      out.printf("corrupt    %d removed%n", r.corruptRemoved());
      out.printf("missing    %d forgotten%n", r.missingRemoved());
      out.printf("entries    %d removed%n", r.entriesRemoved());
    }
    return r.clean() ? Main.OK : Main.INTEGRITY;
  }
}
