package io.larder.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Entry;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.LarderOptions;
import io.larder.config.JsonShapes;
import io.larder.config.LarderConfig;
import io.larder.s3.S3BlobStore;
import io.larder.s3.S3Tier;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.ParentCommand;

/** What every command shares: the global options, opening the store, JSON and human output. */
abstract class Base implements Callable<Integer> {

  @ParentCommand Main main;

  Options options;

  final PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false,
      StandardCharsets.UTF_8);

  private LarderConfig config;

  /** The store's configuration: larder.toml, then LARDER_* variables, then --set and command flags. */
  LarderConfig config() {
    if (config == null) {
      java.util.Map<LarderConfig.Key, LarderConfig.Setting> flags =
          new java.util.EnumMap<>(LarderConfig.Key.class);
      options.settings.forEach((k, v) -> {
        LarderConfig.Key key = java.util.Arrays.stream(LarderConfig.Key.values())
            .filter(x -> x.configName().equals(k)).findFirst()
            .orElseThrow(() -> new Main.UsageException("--set: unknown setting '" + k + "'"));
        flags.put(key, new LarderConfig.Setting(v, "--set " + k));
      });
      if (options.store != null) {
        storeFlags(options.store).forEach((k, v) -> flags.put(k, new LarderConfig.Setting(v, "--store")));
      }
      if (options.readOnly) {
        flags.put(LarderConfig.Key.READ_ONLY, new LarderConfig.Setting("true", "--read-only"));
      }
      commandFlags().forEach((k, v) -> flags.put(k, new LarderConfig.Setting(v, "--" + k.configName())));
      config = LarderConfig.load(options.storeDir(), System.getenv(), flags);
    }
    return config;
  }

  /** The settings {@code --store s3://bucket/prefix} stands for. */
  static java.util.Map<LarderConfig.Key, String> storeFlags(String store) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?")
        .matcher(store);
    if (!m.matches()) {
      throw new Main.UsageException("--store takes s3://BUCKET or s3://BUCKET/PREFIX, not '" + store
          + "' (a local store directory is --cache DIR)");
    }
    String prefix = m.group(2) == null ? "" : m.group(2);
    if (!prefix.isEmpty() && !prefix.endsWith("/")) {
      prefix += "/";
    }
    return java.util.Map.of(LarderConfig.Key.S3_BUCKET, m.group(1),
        LarderConfig.Key.S3_PREFIX, prefix);
  }

  /** Settings this command's own flags give (e.g. gc --max-size). */
  java.util.Map<LarderConfig.Key, String> commandFlags() {
    return java.util.Map.of();
  }

  /** Adds a command's own flag to {@link #commandFlags()} if it was given. */
  static void flag(java.util.Map<LarderConfig.Key, String> flags, LarderConfig.Key key,
      Object value) {
    if (value != null) {
      flags.put(key, value.toString());
    }
  }

  /**
   * Whether the command only reads a store (get, info, ls, stats, verify): it then never creates one — a
   * mistyped {@code --cache} is an error, not a new empty store.
   */
  boolean readsStore() {
    return false;
  }

  Larder open() {
    return open(java.util.function.UnaryOperator.identity());
  }

  /** {@link #open()}, with {@code adjust} applied to the options the configuration gives. */
  Larder open(java.util.function.UnaryOperator<LarderOptions> adjust) {
    LarderConfig c = config();
    LarderOptions o = adjust.apply(c.storeOptions(LarderOptions.defaults()));
    String bucket = c.value(LarderConfig.Key.S3_BUCKET);
    if (readsStore() && bucket == null && !Files.exists(options.storeDir().resolve("index.db"))) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "there is no store at " + options.storeDir()
          + " (no index.db); check --cache or $LARDER_CACHE, or put something first", null);
    }
    if (readsStore() && bucket == null && !o.readOnly() && !writable(options.storeDir())) {
      o = o.readOnly(true); // another user's store, a read-only mount: still readable
    }
    if (bucket == null) {
      return Larder.open(options.storeDir(), o);
    }
    // the shared S3 tier: credentials from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID, profiles, roles)
    String endpoint = c.value(LarderConfig.Key.S3_ENDPOINT);
    String pathStyle = c.value(LarderConfig.Key.S3_PATH_STYLE);
    boolean path = pathStyle == null || pathStyle.equals("auto") ? endpoint != null : Boolean.parseBoolean(pathStyle);
    S3BlobStore.Config s3 = new S3BlobStore.Config(bucket,
        c.value(LarderConfig.Key.S3_PREFIX), endpoint == null ? null : java.net.URI.create(endpoint),
        c.value(LarderConfig.Key.S3_REGION), path, null, null);
    return Larder.open(options.storeDir(), o, new S3Tier(s3, options.storeDir().resolve("tmp")),
        c.tierOptions());
  }

  /** Whether this process may change the store: its directory and its index (access(2) for this user). */
  static boolean writable(java.nio.file.Path dir) {
    return Files.isWritable(dir) && Files.isWritable(dir.resolve("index.db")) && !readOnlyMount(dir);
  }

  /** Whether {@code dir} is on a file system mounted read-only (access(2) does not say so for root). */
  static boolean readOnlyMount(java.nio.file.Path dir) {
    try {
      return Files.getFileStore(dir).isReadOnly();
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Override
  public final Integer call() throws Exception {
    options = main.options;
    try {
      return run();
    } finally {
      out.flush();
    }
  }

  abstract int run() throws Exception;

  void printJson(Object node) throws Exception {
    out.println(Jsons.MAPPER.writeValueAsString(node));
  }

  /** Jackson takes a noticeable part of start-up: loaded only by commands that print or read JSON. */
  static final class Jsons {
    static final ObjectMapper MAPPER = JsonShapes.MAPPER;

    private Jsons() {}
  }

  /** The JSON shape of an entry, shared by every command that prints entries. */
  static ObjectNode entryJson(Entry e) {
    return JsonShapes.entry(e);
  }

  static String humanSize(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
  }
}
