package io.larder.cli;

import io.larder.LarderException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code larder} command. */
@Command(
    name = "larder",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = "A content-addressable cache: put and get bytes by key or digest, verified on every read.",
    footerHeading = "%nExit codes:%n",
    footer = {
      "  0  success",
      "  1  not found (a miss)",
      "  2  usage error (bad option, key or integrity string)",
      "  3  integrity error: content did not match its digest or expected size",
      "  4  any other error (I/O, disk full, store busy, permissions)",
      "",
      "Store: --cache DIR, else $LARDER_CACHE, else $XDG_CACHE_HOME/larder,",
      "  else ~/.cache/larder."
    })
public final class Main {
  @CommandLine.Mixin Options options = new Options();

  public static final int OK = 0;
  public static final int MISS = 1;
  public static final int USAGE = 2;
  public static final int INTEGRITY = 3;
  public static final int OTHER = 4;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** The subcommands, in the order help lists them. */
  private static final java.util.Map<String, java.util.function.Supplier<Object>> COMMANDS = new java.util.LinkedHashMap<>();

  static {
    COMMANDS.put("put", PutCommand::new);
    COMMANDS.put("get", GetCommand::new);
    COMMANDS.put("info", InfoCommand::new);
    COMMANDS.put("ls", LsCommand::new);
    COMMANDS.put("rm", RmCommand::new);
    COMMANDS.put("verify", VerifyCommand::new);
    COMMANDS.put("stats", StatsCommand::new);
    COMMANDS.put("gc", GcCommand::new);
    COMMANDS.put("serve", ServeCommand::new);
    COMMANDS.put("key", KeyCommand::new);
    COMMANDS.put("exec", ExecCommand::new);
    COMMANDS.put("completion", CompletionCommand::new);
    COMMANDS.put("man-page", ManPageCommand::new);
    COMMANDS.put("help", CommandLine.HelpCommand::new);
  }

  /** Global options that take a value (the value is not a command name). */
  private static final java.util.Set<String> GLOBAL_WITH_VALUE = java.util.Set.of("--cache", "--set", "--store");

  /**
   * The command line model, with only the subcommand being run when it is clear which one it is: building
   * picocli's model of every command by reflection was a third of the start-up time of a short command.
   * Help, completion and anything unclear get every command.
   */
  static CommandLine commandLine(String... args) {
    CommandLine cl = new CommandLine(new Main());
    String sub = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (GLOBAL_WITH_VALUE.contains(a)) {
        i++;
      } else if (!a.startsWith("-")) {
        sub = a;
        break;
      }
    }
    if (sub != null && COMMANDS.containsKey(sub) && !sub.equals("help") && !sub.equals("completion")
        && !sub.equals("man-page")) {
      cl.addSubcommand(sub, COMMANDS.get(sub).get());
    } else {
      COMMANDS.forEach((name, make) -> cl.addSubcommand(name, make.get()));
    }
    return cl;
  }

  /** Runs the CLI; returns the exit code. */
  public static int run(String... args) {
    CommandLine cl = commandLine(args);
    cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      Object root = commandLine.getCommandSpec().root().userObject();
      boolean verbose = root instanceof Main m && m.options.verbose;
      int code = report(ex, commandLine.getErr(), verbose);
      if (root instanceof Main m && m.options.json && code != BROKEN_PIPE) {
        jsonError(describe(ex), code);
      }
      return code;
    });
    cl.setParameterExceptionHandler((ex, args1) -> {
      PrintWriter err = ex.getCommandLine().getErr();
      err.println("larder: " + ex.getMessage());
      err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
      if (java.util.Arrays.asList(args1).contains("--json")) {
        jsonError(ex.getMessage(), USAGE);
      }
      return USAGE;
    });
    return cl.execute(args);
  }

  /**
   * With {@code --json}, an error is also one JSON object on standard output (besides its line on stderr):
   * {@code {"error": {"message": "...", "exitCode": 3}}}, newline-terminated.
   */
  static void jsonError(String message, int code) {
    com.fasterxml.jackson.databind.node.ObjectNode n = Base.Jsons.MAPPER.createObjectNode();
    n.putObject("error").put("message", message).put("exitCode", code);
    System.out.println(n);
    System.out.flush();
  }

  /** The exit code of a command whose output went to a closed pipe (`larder get … | head`): 128 + SIGPIPE, as a shell shows it. */
  static final int BROKEN_PIPE = 141;

  /** Maps an error to one line on stderr and an exit code, in one place. */
  static int report(Exception ex, PrintWriter err, boolean verbose) {
    if (isBrokenPipe(ex) && !verbose) {
      return BROKEN_PIPE; // the reader went away (head, a closed pager): quietly, as cat does
    }
    int code = exitCode(ex);
    err.println("larder: " + describe(ex));
    if (verbose) {
      ex.printStackTrace(err);
    }
    err.flush();
    return code;
  }

  static boolean isBrokenPipe(Throwable ex) {
    for (Throwable t = ex; t != null; t = t.getCause()) {
      if (t instanceof java.io.IOException && t.getMessage() != null && t.getMessage().contains("Broken pipe")) {
        return true;
      }
    }
    return false;
  }

  /** An error in words a user can act on: its message, never a Java class name. */
  static String describe(Throwable ex) {
    if (ex instanceof java.net.ConnectException) { // its message is the JDK's, or none
      return "cannot connect: connection refused or unreachable";
    }
    if (ex.getMessage() != null && !ex.getMessage().isBlank()) {
      return ex.getMessage();
    }
    return "an unexpected error without a message; run again with -v and report it";
  }

  static int exitCode(Throwable ex) {
    if (ex instanceof LarderException le) {
      return switch (le.kind()) {
        case NOT_FOUND -> MISS;
        case DIGEST_MISMATCH, SIZE_MISMATCH, CORRUPT -> INTEGRITY;
        case INVALID_KEY, INVALID_INTEGRITY, INVALID_ARGUMENT -> USAGE;
        case INSUFFICIENT_STORAGE, BUSY, IO, CLOSED, READ_ONLY -> OTHER;
      };
    }
    if (ex instanceof UsageException) {
      return USAGE;
    }
    return OTHER;
  }

  /** A usage error found after parsing (e.g. a malformed --ttl). */
  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      java.util.Properties git = new java.util.Properties();
      try (java.io.InputStream in = Main.class.getResourceAsStream("git.properties")) {
        if (in != null) {
          git.load(in);
        }
      } catch (java.io.IOException ignored) {
        // no commit to show
      }
      String commit = git.getProperty("git.commit.id.abbrev", "unknown")
          + ("true".equals(git.getProperty("git.dirty")) ? " (with uncommitted changes)" : "");
      return new String[] {"larder " + (v == null ? "(version unknown: not run from its jar)" : v), "commit " + commit,
          "JDK " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")"};
    }
  }
}
