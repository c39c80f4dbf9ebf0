package io.larder.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A fish completion script made from the command-line model: the commands with their summaries, every
 * option of each (long and short names, whether it takes a value, its description), directories for
 * {@code --cache}, and the store's keys (at most {@value CompletionCommand#KEY_LIMIT}) for get, info and rm.
 */
final class FishCompletion {
  private FishCompletion() {}

  static String script(CommandLine root) {
    StringBuilder s = new StringBuilder("# fish completion for larder: larder completion fish | source\n");
    s.append("complete -c larder -e\n");
    s.append("function __larder_keys\n")
        .append("    set -l tokens (commandline -opc)\n")
        .append("    set -l cache\n")
        .append("    for i in (seq (count $tokens))\n")
        .append("        if test \"$tokens[$i]\" = --cache; and test $i -lt (count $tokens)\n")
        .append("            set cache --cache $tokens[(math $i + 1)]\n")
        .append("        end\n")
        .append("    end\n")
        .append("    larder $cache ls --limit ").append(CompletionCommand.KEY_LIMIT)
        .append(" -- (commandline -ct) 2>/dev/null\n")
        .append("end\n");
    List<String> names = new ArrayList<>(root.getSubcommands().keySet());
    String none = "not __fish_seen_subcommand_from " + String.join(" ", names);
    for (OptionSpec o : root.getCommandSpec().options()) {
      s.append(option("__fish_use_subcommand", o));
    }
    for (var e : root.getSubcommands().entrySet()) {
      CommandSpec spec = e.getValue().getCommandSpec();
      s.append("complete -c larder -f -n '").append(none).append("' -a ").append(e.getKey())
          .append(" -d ").append(quote(summary(spec.usageMessage().description()))).append('\n');
      String when = "__fish_seen_subcommand_from " + e.getKey();
      for (OptionSpec o : spec.options()) {
        if (o.scopeType() == CommandLine.ScopeType.INHERIT && !o.inherited()) {
          continue;
        }
        s.append(option(when, o));
      }
    }
    s.append("complete -c larder -f -n '__fish_seen_subcommand_from get info rm' -a '(__larder_keys)'\n");
    return s.toString();
  }

  private static String option(String when, OptionSpec o) {
    StringBuilder s = new StringBuilder("complete -c larder -n '").append(when).append('\'');
    for (String n : o.names()) {
      if (n.startsWith("--")) {
        s.append(" -l ").append(n.substring(2));
      } else if (n.startsWith("-") && n.length() == 2) {
        s.append(" -s ").append(n.substring(1));
      }
    }
    if (o.arity().max() > 0) {
      s.append(o.longestName().equals("--cache") ? " -r -f -a '(__fish_complete_directories)'" : " -r");
    }
    return s.append(" -d ").append(quote(summary(o.description()))).append('\n').toString();
  }

  /** The first sentence of a description, for fish's one-line descriptions. */
  static String summary(String[] description) {
    String d = description.length == 0 ? "" : description[0];
    int dot = d.indexOf(". ");
    return (dot > 0 ? d.substring(0, dot + 1) : d).replace("%n", " ").strip();
  }

  private static String quote(String s) {
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }
}
