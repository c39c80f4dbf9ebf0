package io.larder.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "completion", mixinStandardHelpOptions = true,
    description = "Print a shell-completion script for bash or zsh.",
    footerHeading = "%nExamples:%n",
    footer = {"  source <(larder completion bash)", "  larder completion zsh > \"$${fpath[1]}/_larder\""})
final class CompletionCommand implements java.util.concurrent.Callable<Integer> {
  @Parameters(paramLabel = "SHELL", description = "bash or zsh")
  String shell;

  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    String script = AutoComplete.bash("larder", spec.root().commandLine());
    switch (shell) {
      case "bash" -> System.out.print(script);
      case "zsh" -> {
        // picocli's script runs under zsh through bashcompinit.
        System.out.println("autoload -U +X compinit && compinit");
        System.out.println("autoload -U +X bashcompinit && bashcompinit");
        System.out.print(script);
      }
      default -> throw new Main.UsageException("unknown shell '" + shell + "': use bash or zsh");
    }
    System.out.flush();
    return Main.OK;
  }
}
