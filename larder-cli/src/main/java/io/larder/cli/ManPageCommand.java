package io.larder.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Spec;

/**
 * Prints larder(1) in roff, made from the same command model as {@code --help}, so that the manual never
 * says something the tool does not do. The distribution archive ships its output as {@code man/man1/larder.1};
 * {@code larder man-page | man -l -} reads it from any install.
 */
@Command(name = "man-page", hidden = true, description = "Print the manual page (roff), e.g. larder man-page | man -l -")
final class ManPageCommand implements java.util.concurrent.Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintStream out = System.out;
    CommandSpec root = spec.root();
    String version = new Main.Version().getVersion()[0];
    out.println(".TH LARDER 1 \"\" \"" + esc(version) + "\" \"User Commands\"");
    out.println(".SH NAME");
    out.println("larder \\- " + esc(lowerFirst(text(root.usageMessage().description()))));
    out.println(".SH SYNOPSIS");
    out.println(".B larder");
    out.println("[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]");
    out.println(".SH DESCRIPTION");
    paragraph(out, text(root.usageMessage().description()));
    out.println(".SH OPTIONS");
    out.println("These options are taken by every command, before or after its name.");
    options(out, root);
    out.println(".SH COMMANDS");
    for (var e : root.subcommands().entrySet()) {
      CommandSpec sub = e.getValue().getCommandSpec();
      if (sub.usageMessage().hidden() || e.getKey().equals("help")) {
        continue;
      }
      out.println(".SS \"larder " + esc(e.getKey()) + synopsis(sub) + "\"");
      paragraph(out, text(sub.usageMessage().description()));
      options(out, sub);
      List<String> footer = List.of(sub.usageMessage().footer());
      if (!footer.isEmpty()) {
        out.println(".PP");
        out.println(esc(text(sub.usageMessage().footerHeading())).strip());
        out.println(".nf");
        footer.forEach(line -> out.println(esc(text(line))));
        out.println(".fi");
      }
    }
    out.println(".SH EXIT STATUS");
    out.println(".nf");
    for (String line : root.usageMessage().footer()) {
      out.println(esc(text(line)));
    }
    out.println(".fi");
    out.println(".SH FILES");
    out.println(".TP");
    out.println(".I larder.toml");
    out.println("Settings, in the store directory; overridden by LARDER_* environment variables and \\-\\-set.");
    out.println(".SH SEE ALSO");
    out.println("The README and docs/ of the distribution; larder \\fICOMMAND\\fR \\-\\-help.");
    out.flush();
    return Main.OK;
  }

  private static String synopsis(CommandSpec sub) {
    StringBuilder s = new StringBuilder();
    for (PositionalParamSpec p : sub.positionalParameters()) {
      if (!p.hidden()) {
        s.append(' ').append(p.paramLabel());
      }
    }
    return esc(s.toString());
  }

  private static void options(PrintStream out, CommandSpec command) {
    for (OptionSpec o : command.options()) {
      if (o.hidden() || o.inherited() || o.usageHelp() || o.versionHelp()) {
        continue;
      }
      out.println(".TP");
      String names = String.join(", ", o.names());
      String label = o.typeInfo().isBoolean() ? "" : " " + o.paramLabel();
      out.println("\\fB" + esc(names) + "\\fR" + (label.isEmpty() ? "" : "\\fI" + esc(label) + "\\fR"));
      out.println(esc(text(o.description())));
    }
  }

  private static void paragraph(PrintStream out, String text) {
    for (String line : text.split("\n")) {
      if (line.isBlank()) {
        out.println(".PP");
      } else {
        out.println(esc(line));
      }
    }
  }

  /** picocli's description lines as text: its {@code %n} line breaks resolved. */
  private static String text(String... lines) {
    return String.join("\n", lines).replace("%n", "\n").replace("%%", "%");
  }

  private static String lowerFirst(String s) {
    String first = s.split("\n")[0];
    first = first.endsWith(".") ? first.substring(0, first.length() - 1) : first;
    return first.isEmpty() ? first : first.substring(0, 1).toLowerCase(Locale.ROOT) + first.substring(1);
  }

  /** Escapes text for roff: backslashes, hyphens, and a control character at the start of a line. */
  static String esc(String s) {
    StringBuilder b = new StringBuilder();
    for (String line : s.split("\n", -1)) {
      if (!b.isEmpty()) {
        b.append('\n');
      }
      String e = line.replace("\\", "\\e").replace("-", "\\-");
      if (e.startsWith(".") || e.startsWith("'")) {
        e = "\\&" + e;
      }
      b.append(e);
    }
    return b.toString();
  }
}
