package io.larder.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** Options every command takes, before or after its name (picocli inherited options held by {@link Main}). */
public final class Options {
  @Option(names = "--cache", scope = ScopeType.INHERIT, paramLabel = "DIR",
      description = "Store directory (default: $LARDER_CACHE, $XDG_CACHE_HOME/larder or ~/.cache/larder).")
  Path cache;

  @Option(names = "--store", scope = ScopeType.INHERIT, paramLabel = "s3://BUCKET[/PREFIX]",
      description = "Work on a shared S3 tier: its entries and content, through the local store (--cache) as a cache. "
          + "Same as --set s3-bucket=BUCKET --set s3-prefix=PREFIX/; s3-endpoint and credentials as for larder serve.")
  String store;

  @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print data as JSON (one stable shape per command).")
  boolean json;

  @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT, description = "Print nothing but data and errors.")
  boolean quiet;

  @Option(names = "--set", paramLabel = "KEY=VALUE", scope = ScopeType.INHERIT,
      description = "Override a setting of larder.toml and LARDER_* variables (repeatable), e.g. --set durability=power-safe.")
  java.util.Map<String, String> settings = new java.util.LinkedHashMap<>();

  @Option(names = "--read-only", scope = ScopeType.INHERIT,
      description = "Open the store read-only: reads work, every write is refused (the read-only setting).")
  boolean readOnly;

  @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT, description = "Print more, and a stack trace with errors.")
  boolean verbose;

  /** The store directory these options name. */
  Path storeDir() {
    if (cache != null) {
      return cache;
    }
    String env = System.getenv("LARDER_CACHE");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Path.of(xdg, "larder");
    }
    return Path.of(System.getProperty("user.home"), ".cache", "larder");
  }
}
