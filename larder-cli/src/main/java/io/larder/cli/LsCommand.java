package io.larder.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import io.larder.Entry;
import io.larder.Larder;
import java.util.Iterator;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "ls", mixinStandardHelpOptions = true, sortOptions = false, description = "List entries whose keys start with PREFIX, in key order.",
    footerHeading = "%nExamples:%n", footer = {"  larder ls build:mylib:", "  larder ls --long --limit 20", "  larder ls npm: --json"})
final class LsCommand extends Base {
  @Override
  boolean readsStore() {
    return true;
  }

  @Parameters(arity = "0..1", paramLabel = "PREFIX", description = "Key prefix (default: everything).")
  String prefix = "";

  @Option(names = "--limit", paramLabel = "N", description = "Print at most N entries.")
  Long limit;

  @Option(names = {"-l", "--long"}, description = "Also print size, creation time and integrity.")
  boolean longFormat;

  @Override
  int run() throws Exception {
    if (limit != null && limit < 0) {
      throw new Main.UsageException("--limit must be 0 or more");
    }
    try (Larder cache = open(); Stream<Entry> s = cache.list(prefix)) {
      Stream<Entry> entries = limit == null ? s : s.limit(limit);
      Iterator<Entry> it = entries.iterator();
      if (options.json) {
        try (JsonGenerator g = Jsons.MAPPER.getFactory().createGenerator(out)) {
          g.writeStartArray();
          while (it.hasNext()) {
            Jsons.MAPPER.writeTree(g, entryJson(it.next()));
          }
          g.writeEndArray();
        }
        out.println();
        return Main.OK;
      }
      while (it.hasNext()) {
        Entry e = it.next();
        if (longFormat) {
          out.printf("%10s  %-24s  %s  %s%n", humanSize(e.size()), io.larder.config.JsonShapes.time(e.created()),
              e.integrity().strongest().sri(), e.key());
        } else {
          out.println(e.key());
        }
      }
    }
    return Main.OK;
  }
}
