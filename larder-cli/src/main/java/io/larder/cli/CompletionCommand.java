package io.larder.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "completion", mixinStandardHelpOptions = true,
    description = {"Print a shell-completion script for bash, zsh or fish: commands, options, directories for"
        + " --cache, and the store's keys for get, info and rm (at most " + CompletionCommand.KEY_LIMIT + ")."},
    footerHeading = "%nExamples:%n",
    footer = {"  source <(larder completion bash)", "  larder completion zsh > \"$${fpath[1]}/_larder\"",
        "  larder completion fish > ~/.config/fish/completions/larder.fish"})
final class CompletionCommand implements java.util.concurrent.Callable<Integer> {
  /** At most this many keys are offered (listed from the store by prefix, in key order). */
  static final int KEY_LIMIT = 200;

  @Parameters(paramLabel = "SHELL", description = "bash, zsh or fish")
  String shell;

  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    switch (shell) {
      case "bash" -> System.out.print(bash());
      case "zsh" -> {
        // picocli's script runs under zsh through bashcompinit.
        System.out.println("autoload -U +X compinit && compinit");
        System.out.println("autoload -U +X bashcompinit && bashcompinit");
        System.out.print(bash());
      }
      case "fish" -> System.out.print(FishCompletion.script(spec.root().commandLine()));
      default -> throw new Main.UsageException("unknown shell '" + shell + "': use bash, zsh or fish");
    }
    System.out.flush();
    return Main.OK;
  }

  /**
   * picocli's script, and in front of it a function that completes the positional KEY of get, info and rm from
   * the store (the --cache given on the line, else the default; keys starting with the word typed, at most
   * {@value #KEY_LIMIT}), handing everything else to picocli's. Colons in keys are word breaks to bash: the
   * part before the last one is trimmed from the candidates, as bash-completion's __ltrim_colon_completions does.
   */
  private String bash() {
    return AutoComplete.bash("larder", spec.root().commandLine()) + """

        function _larder_complete() {
          local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub= cache=() i
          for ((i = 1; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in
              --cache) cache=(--cache "${COMP_WORDS[i+1]}") ;;
              get|info|rm) [ -z "$sub" ] && sub=${COMP_WORDS[i]} ;;
            esac
          done
          if [ -n "$sub" ] && [[ $cur != -* ]] && [[ $prev != -* ]]; then
            local word=$cur
            # bash splits words at ':' (COMP_WORDBREAKS): the key typed so far is the words since the last space
            if [[ $COMP_WORDBREAKS == *:* ]]; then word=${COMP_LINE:0:COMP_POINT}; word=${word##* }; fi
            local IFS=$'\n' keys
            keys=$(larder "${cache[@]}" ls --limit %d -- "$word" 2>/dev/null)
            if [ -n "$keys" ]; then
              COMPREPLY=($keys)
              if [[ $word == *:* ]]; then COMPREPLY=("${COMPREPLY[@]#"${word%%"${word##*:}"}"}"); fi
              return 0
            fi
          fi
          _complete_larder "$@"
        }
        complete -F _larder_complete -o default larder
        """.formatted(KEY_LIMIT);
  }
}
