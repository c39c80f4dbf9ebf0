package io.larder.cli;

import io.larder.Larder;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "rm", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Remove entries by key, or every entry under a prefix (in one transaction).",
        "Content shared with other keys stays. On a terminal, asks before removing more than one entry."},
    footerHeading = "%nExamples:%n", footer = {"  larder rm build:mylib:1.0.0", "  larder rm --prefix build:mylib: --yes",
        "  larder rm --all --yes"})
final class RmCommand extends Base {
  @Parameters(arity = "0..*", paramLabel = "KEY", description = "Keys to remove.")
  List<String> keys = new ArrayList<>();

  @Option(names = "--prefix", paramLabel = "PREFIX", description = "Remove every entry whose key starts with PREFIX.")
  String prefix;

  @Option(names = "--all", description = "Empty the store: every entry, and the content only they referenced (safe while other"
      + " processes use it; not with a shared tier).")
  boolean all;

  @Option(names = {"-y", "--yes"}, description = "Do not ask.")
  boolean yes;

  @Override
  int run() throws Exception {
    if (all) {
      if (prefix != null || !keys.isEmpty()) {
        throw new Main.UsageException("--all removes everything: give no keys and no --prefix with it");
      }
      return clear();
    }
    if ((prefix == null) == keys.isEmpty()) {
      throw new Main.UsageException("give keys or --prefix PREFIX (not both)");
    }
    try (Larder cache = open()) {
      long count = prefix != null ? cache.list(prefix).count() : keys.size();
      if (count > 1 && !yes && Tty.interactive() && !confirm(count)) {
        System.err.println("larder: nothing removed");
        return Main.MISS; // declined: not a success a script could take for one
      }
      long removed = 0;
      List<String> missing = new ArrayList<>();
      if (prefix != null) {
        if (count > 10_000 && !options.quiet && Boolean.getBoolean("larder.stderr.tty")) {
          System.err.print("removing " + count + " entries (one transaction)…\r");
        }
        removed = cache.removePrefix(prefix);
      } else {
        for (String k : keys) {
          if (cache.remove(k)) {
            removed++;
          } else {
            missing.add(k);
          }
        }
      }
      if (options.json) {
        var n = Jsons.MAPPER.createObjectNode();
        n.put("removed", removed);
        var m = n.putArray("missing");
        missing.forEach(m::add);
        printJson(n);
      } else if (!options.quiet) {
        System.err.println("removed " + removed + (removed == 1 ? " entry" : " entries"));
      }
      if (!missing.isEmpty()) {
        System.err.println("larder: no entry for " + String.join(", ", missing.stream().map(k -> "'" + k + "'").toList()));
        return Main.MISS;
      }
    }
    return Main.OK;
  }

  private int clear() throws Exception {
    try (Larder cache = open()) {
      if (cache.remoteTier().isPresent()) {
        throw new Main.UsageException("rm --all would empty the shared tier " + cache.remoteTier().get()
            + " for every node; remove prefixes (rm --prefix) instead");
      }
      long count = cache.stats().entries();
      if (count > 0 && !yes && Tty.interactive() && !confirm(count)) {
        System.err.println("larder: nothing removed");
        return Main.MISS;
      }
      long removed = cache.clear();
      if (options.json) {
        printJson(Jsons.MAPPER.createObjectNode().put("removed", removed));
      } else if (!options.quiet) {
        System.err.println("removed " + removed + (removed == 1 ? " entry" : " entries") + " and the content they referenced");
      }
    }
    return Main.OK;
  }

  private static boolean confirm(long count) {
    String answer = System.console().readLine("Remove %d entries? [y/N] ", count);
    return answer != null && (answer.equalsIgnoreCase("y") || answer.equalsIgnoreCase("yes"));
  }
}
