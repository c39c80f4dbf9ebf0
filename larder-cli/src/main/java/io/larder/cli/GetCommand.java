package io.larder.cli;

import io.larder.Content;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "get", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Write the content of KEY (or of a digest) to standard output or a file.",
        "Content is verified against its digest as it is read; on a mismatch the bad copy is removed and the",
        "command exits 3. Written to a file (-o), nothing is left behind unless it verified."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder get build:mylib:1.0.0 -o mylib.jar", "  larder get --digest sha256:e3b0c442...b855 > blob"})
final class GetCommand extends Base {
  @Override
  boolean readsStore() {
    return true;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Target target;

  static final class Target {
    @Parameters(paramLabel = "KEY", description = "The key.")
    String key;

    @Option(names = "--digest", paramLabel = "SRI", description = "Read by content digest instead of key (SRI, sha256:<hex> or hex).")
    String digest;
  }

  @Option(names = {"-o", "--output"}, paramLabel = "FILE",
      description = "Write to FILE instead of standard output ('-': standard output). A file is replaced atomically,"
          + " keeping its mode; a symbolic link keeps pointing at the replaced file; a device, FIFO or /dev/stdout"
          + " is written through, never replaced; a file you may not write is refused.")
  Path output;

  @Override
  int run() throws Exception {
    try (Larder cache = open()) {
      Optional<Content> c = target.digest != null
          ? cache.getByDigest(Integrity.parse(target.digest)) : cache.get(target.key);
      if (c.isEmpty()) {
        throw new LarderException.NotFound(
            (target.digest != null ? "no content with digest " + target.digest : "no entry for key '" + target.key + "'")
                + " in " + cache.root());
      }
      try (Content content = c.get(); Progress progress = new Progress("get", content.length(), options)) {
        if (output != null && !output.toString().equals("-")) {
          content.copyTo(output, progress::advance);
        } else {
          OutputStream stdout = progress.wrap(new java.io.FileOutputStream(java.io.FileDescriptor.out));
          content.stream().transferTo(stdout);
          stdout.flush();
        }
      }
    }
    return Main.OK;
  }
}
