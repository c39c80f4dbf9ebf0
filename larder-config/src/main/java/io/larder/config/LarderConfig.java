package io.larder.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.larder.Compression;
import io.larder.Durability;
import io.larder.GcOptions;
import io.larder.LarderException;
import io.larder.LarderException.Kind;
import io.larder.LarderOptions;
import io.larder.TierOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A store's effective configuration: {@code larder.toml} in the store root, overridden by environment
 * variables ({@code LARDER_MAX_SIZE} for {@code max-size}, …), then by command-line flags. Every value
 * remembers where it came from. Invalid values are refused when loading, with a message naming the key,
 * its source and the accepted form.
 *
 * <pre>
 * # larder.toml
 * max-size = "10G"        # content kept at most (bytes, or K/M/G/T); unset: no limit
 * max-age = "30d"         # evict entries not read for this long
 * keep-per-group = 1      # never evict the newest N entries of a group (key up to its last ':')
 * group-segments = 0      # or N: a group is a key's first N ':'-separated segments
 * default-ttl = "7d"      # expiry of entries put without a TTL
 * gc-interval = "1h"      # how often a long-running process (the server) collects
 * durability = "process-safe"   # or "power-safe"
 * compression = "zstd"    # or "none" (default), or "zstd:LEVEL" (1 to 19)
 * bind = "127.0.0.1"      # larder serve: the address to listen on
 * port = 8080             # larder serve: the port
 * grpc-port = 9092        # larder serve: the gRPC remote cache (REAPI); unset or "off": none
 * max-blob-size = "4G"    # larder serve: larger uploads are refused (413)
 * verify-reads = "when-changed"   # or "always": re-hash every read of a blob file
 * read-only = false       # true: only read the store (larder serve answers writes with 403)
 * read-table = false      # true: reads by key from a memory-mapped copy of the index (faster; more disk)
 * scrub-interval = "24h"  # larder serve: re-verify every blob this often ("off": never)
 * auth-file = "/etc/larder/auth"   # larder serve: tokens and Basic credentials (see the README)
 * tls-cert = "/etc/larder/cert.pem" # larder serve: HTTPS (with tls-key; or a .p12 with tls-password)
 * </pre>
 */
public final class LarderConfig {
  /** The keys, in the order they are shown. */
  public enum Key {
    MAX_SIZE("max-size", "a size: bytes or a number with K, M, G or T (e.g. 10G)"),
    MAX_AGE("max-age", "a duration: a number with s, m, h, d or w (e.g. 30d), or ISO-8601 (P30D)"),
    KEEP_PER_GROUP("keep-per-group", "a whole number, 0 or more"),
    GROUP_SEGMENTS("group-segments", "a whole number: 0 for the key up to its last ':', N for its first N segments"),
    DEFAULT_TTL("default-ttl", "a duration: a number with s, m, h, d or w (e.g. 7d), or ISO-8601"),
    GC_INTERVAL("gc-interval", "a duration: a number with s, m, h, d or w (e.g. 1h), or ISO-8601"),
    DURABILITY("durability", "process-safe or power-safe"),
    COMPRESSION("compression", "none, zstd or zstd:LEVEL (1 to 19)"),
    BIND("bind", "an IP address or host name to listen on (e.g. 127.0.0.1, 0.0.0.0)"),
    PORT("port", "a port number, 0 to 65535 (0: any free port)"),
    GRPC_PORT("grpc-port", "a port number, 0 to 65535 (0: any free port), or off"),
    MAX_BLOB_SIZE("max-blob-size", "a size: bytes or a number with K, M, G or T (e.g. 4G)"),
    VERIFY_READS("verify-reads", "always (re-hash every read) or when-changed (trust a file verified since it last"
        + " changed, and small content verified in memory while the index is unchanged)"),
    READ_ONLY("read-only", "true or false: open the store read-only (reads only; every write refused, the server's with 403)"),
    READ_TABLE("read-table", "true or false: read by key from a memory-mapped copy of the index, rebuilt as entries"
        + " change (about twice the random reads of small entries, for a second copy of their bytes on disk)"),
    SCRUB_INTERVAL("scrub-interval", "a duration (e.g. 24h) or off: how long one pass of larder serve's continuous, paced re-verification of every blob takes"),
    AUTH_FILE("auth-file", "the path of an auth file (lines: token SECRET rw|ro, basic USER:PASSWORD rw|ro, anonymous ro)"),
    TLS_CERT("tls-cert", "the path of a PEM certificate chain, or of a PKCS#12 file (.p12, .pfx)"),
    TLS_KEY("tls-key", "the path of the PEM private key (PKCS#8) that goes with tls-cert"),
    TLS_PASSWORD("tls-password", "the PKCS#12 file's password"),
    TLS_CLIENT_CA("tls-client-ca", "the path of PEM CA certificates; clients must then present a certificate they signed"),
    S3_BUCKET("s3-bucket", "a bucket name: the shared S3 tier behind this store"),
    S3_PREFIX("s3-prefix", "a key prefix inside the bucket (e.g. team-a/)"),
    S3_ENDPOINT("s3-endpoint", "an S3-compatible server's URL (e.g. http://minio:9000); none for AWS"),
    S3_REGION("s3-region", "a region name (e.g. eu-west-1)"),
    S3_PATH_STYLE("s3-path-style", "true or false: path-style addressing (default: true with an endpoint)"),
    S3_WRITES("s3-writes", "through (a put waits until it is in S3) or behind (queued on disk, uploaded in the background)"),
    S3_QUEUE_LIMIT("s3-queue-limit", "a number of keys: the most that wait for S3 when writing behind (then puts write through)");

    private final String name;
    private final String form;

    Key(String name, String form) {
      this.name = name;
      this.form = form;
    }

    public String configName() {
      return name;
    }

    /** The environment variable, e.g. {@code LARDER_MAX_SIZE}. */
    public String envName() {
      return "LARDER_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    static Key byName(String name) {
      for (Key k : values()) {
        if (k.name.equals(name)) {
          return k;
        }
      }
      return null;
    }
  }

  /** A value as given, and where: "larder.toml", "LARDER_MAX_SIZE", "--max-size", or "default". */
  public record Setting(String value, String source) {}

  private final Map<Key, Setting> settings;
  private final Long maxSize;
  private final Duration maxAge;
  private final int keepPerGroup;
  private final int groupSegments;
  private final Duration defaultTtl;
  private final Duration gcInterval;
  private final Durability durability;
  private final Compression compression;
  private final boolean verifyEveryRead;
  private final boolean readOnly;
  private final boolean readTable;
  private final Duration scrubInterval;
  private final long maxBlobSize;
  private final int port;
  private final int grpcPort;
  private final String bind;
  private final TierOptions tierOptions;

  private LarderConfig(Map<Key, Setting> settings) {
    this.settings = settings;
    this.maxSize = get(Key.MAX_SIZE) == null ? null : parseSize(Key.MAX_SIZE);
    this.maxAge = get(Key.MAX_AGE) == null ? null : parseDuration(Key.MAX_AGE);
    this.keepPerGroup = get(Key.KEEP_PER_GROUP) == null ? 1 : parseCount(Key.KEEP_PER_GROUP);
    this.groupSegments = get(Key.GROUP_SEGMENTS) == null ? 0 : parseCount(Key.GROUP_SEGMENTS);
    this.defaultTtl = get(Key.DEFAULT_TTL) == null ? null : parseDuration(Key.DEFAULT_TTL);
    this.gcInterval = get(Key.GC_INTERVAL) == null ? Duration.ofHours(1) : parseDuration(Key.GC_INTERVAL);
    this.durability = parseDurability();
    this.compression = parseCompression();
    this.verifyEveryRead = parseVerifyReads();
    this.readOnly = parseBoolean(Key.READ_ONLY);
    this.readTable = parseBoolean(Key.READ_TABLE);
    Setting scrub = get(Key.SCRUB_INTERVAL);
    this.scrubInterval = scrub == null ? Duration.ofHours(24)
        : scrub.value().strip().equalsIgnoreCase("off") ? null : parseDuration(Key.SCRUB_INTERVAL);
    this.maxBlobSize = get(Key.MAX_BLOB_SIZE) == null ? 4L << 30 : parseSize(Key.MAX_BLOB_SIZE);
    this.port = get(Key.PORT) == null ? 8080 : parseCount(Key.PORT);
    if (port > 65535) {
      throw invalid(Key.PORT, get(Key.PORT), null);
    }
    Setting grpc = get(Key.GRPC_PORT);
    this.grpcPort = grpc == null || grpc.value().strip().equalsIgnoreCase("off") ? -1 : parseCount(Key.GRPC_PORT);
    if (grpcPort > 65535) {
      throw invalid(Key.GRPC_PORT, grpc, null);
    }
    this.bind = get(Key.BIND) == null ? "127.0.0.1" : get(Key.BIND).value().strip();
    Setting writes = get(Key.S3_WRITES);
    String w = writes == null ? "through" : writes.value().strip().toLowerCase(java.util.Locale.ROOT);
    if (!w.equals("through") && !w.equals("behind")) {
      throw invalid(Key.S3_WRITES, writes, null);
    }
    int queueLimit = get(Key.S3_QUEUE_LIMIT) == null ? 10_000 : parseCount(Key.S3_QUEUE_LIMIT);
    if (queueLimit < 1) {
      throw invalid(Key.S3_QUEUE_LIMIT, get(Key.S3_QUEUE_LIMIT), "it must be at least 1");
    }
    this.tierOptions = TierOptions.defaults().writeBehind(w.equals("behind")).queueLimit(queueLimit);
  }

  /** How the store writes to its S3 tier (s3-writes, s3-queue-limit). */
  public TierOptions tierOptions() {
    return tierOptions;
  }

  /**
   * Loads the configuration of the store at {@code root}: its {@code larder.toml} (if any), then
   * {@code env}, then {@code flags} (each with the source to show, e.g. {@code --max-size}).
   */
  public static LarderConfig load(Path root, Map<String, String> env, Map<Key, Setting> flags) {
    Map<Key, Setting> s = new LinkedHashMap<>();
    Path file = root.resolve("larder.toml");
    if (Files.isRegularFile(file)) { // most stores have none: then the TOML parser is never loaded
      readFile(file, s);
    }
    for (Key k : Key.values()) {
      String v = env.get(k.envName());
      if (v != null && !v.isBlank()) {
        s.put(k, new Setting(v, k.envName()));
      }
    }
    s.putAll(flags);
    return new LarderConfig(s);
  }

  private static void readFile(Path file, Map<Key, Setting> into) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new LarderException.StorageFailure(Kind.IO, "reading " + file + " failed: " + e.getMessage(), e);
    }
    JsonNode tree;
    try {
      tree = new TomlMapper().readTree(text);
    } catch (IOException e) {
      throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, file + " is not valid TOML: " + firstLine(e.getMessage()));
    }
    for (Map.Entry<String, JsonNode> e : tree.properties()) {
      Key k = Key.byName(e.getKey());
      if (k == null) {
        throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, file + ": unknown key '" + e.getKey()
            + "'; known keys: " + String.join(", ", java.util.Arrays.stream(Key.values()).map(Key::configName).toList()));
      }
      JsonNode v = e.getValue();
      if (!v.isValueNode()) {
        throw new LarderException.InvalidInput(Kind.INVALID_ARGUMENT,
            file + ": " + k.configName() + " must be a single value, " + k.form);
      }
      into.put(k, new Setting(v.asText(), "larder.toml"));
    }
  }

  private static String firstLine(String m) {
    return m == null ? "" : m.lines().findFirst().orElse("");
  }

  private Setting get(Key k) {
    return settings.get(k);
  }

  /** Every key with its effective value and source ("default" when nothing set it). */
  public Map<Key, Setting> effective() {
    Map<Key, Setting> out = new LinkedHashMap<>();
    for (Key k : Key.values()) {
      Setting s = settings.get(k);
      if (s != null && k == Key.TLS_PASSWORD) {
        s = new Setting("(hidden)", s.source()); // a secret is never shown
      }
      out.put(k, s != null ? s : new Setting(defaultValue(k), "default"));
    }
    return out;
  }

  private static String defaultValue(Key k) {
    return switch (k) {
      case MAX_SIZE, MAX_AGE, DEFAULT_TTL -> "none";
      case KEEP_PER_GROUP -> "1";
      case GROUP_SEGMENTS -> "0";
      case GC_INTERVAL -> "1h";
      case DURABILITY -> "process-safe";
      case COMPRESSION -> "none";
      case BIND -> "127.0.0.1";
      case PORT -> "8080";
      case GRPC_PORT -> "off";
      case MAX_BLOB_SIZE -> "4G";
      case VERIFY_READS -> "when-changed";
      case READ_ONLY, READ_TABLE -> "false";
      case SCRUB_INTERVAL -> "24h";
      case AUTH_FILE, TLS_CERT, TLS_KEY, TLS_CLIENT_CA -> "none";
      case TLS_PASSWORD -> "none";
      case S3_BUCKET, S3_PREFIX, S3_ENDPOINT -> "none";
      case S3_REGION -> "us-east-1";
      case S3_PATH_STYLE -> "auto";
      case S3_WRITES -> "through";
      case S3_QUEUE_LIMIT -> "10000";
    };
  }

  /** Store options with this configuration applied to {@code base}. */
  public LarderOptions storeOptions(LarderOptions base) {
    return base.durability(durability).defaultTtl(defaultTtl).compression(compression).verifyEveryRead(verifyEveryRead)
        .readOnly(readOnly).readTable(readTable);
  }

  /** Collection options from this configuration. */
  public GcOptions gcOptions() {
    GcOptions o = GcOptions.defaults().keepPerGroup(keepPerGroup).groupSegments(groupSegments).maxAge(maxAge);
    return maxSize == null ? o : o.maxSize(maxSize);
  }

  /** larder serve: the address to listen on. */
  public String bind() {
    return bind;
  }

  /** larder serve: the port. */
  public int port() {
    return port;
  }

  /** The gRPC port of {@code larder serve}, or -1 for none. */
  public int grpcPort() {
    return grpcPort;
  }

  /** larder serve: the largest upload accepted. */
  public long maxBlobSize() {
    return maxBlobSize;
  }

  /** A setting's value as given (paths and secrets the server interprets), or {@code null} if unset. */
  public String value(Key k) {
    Setting s = get(k);
    return s == null || s.value().isBlank() ? null : s.value().strip();
  }

  /** How often a long-running process collects. */
  public Duration gcInterval() {
    return gcInterval;
  }

  // ---------------------------------------------------------------- parsing

  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgtp]?)(?:i?b)?");
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*([smhdw])");

  private long parseSize(Key k) {
    Setting s = get(k);
    Matcher m = SIZE.matcher(s.value().strip().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw invalid(k, s, null);
    }
    int power = m.group(2).isEmpty() ? 0 : "kmgtp".indexOf(m.group(2)) + 1;
    return (long) (Double.parseDouble(m.group(1)) * Math.pow(1024, power));
  }

  private Duration parseDuration(Key k) {
    Setting s = get(k);
    try {
      Duration d = duration(s.value());
      if (d.isNegative() || d.isZero()) {
        throw invalid(k, s, "it must be positive");
      }
      return d;
    } catch (IllegalArgumentException e) {
      throw invalid(k, s, null);
    }
  }

  /** Parses {@code 30s}, {@code 15m}, {@code 12h}, {@code 7d}, {@code 2w} or ISO-8601 ({@code PT1H}). */
  public static Duration duration(String text) {
    Matcher m = DURATION.matcher(text.strip().toLowerCase(Locale.ROOT));
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      try {
        return switch (m.group(2)) {
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          case "d" -> Duration.ofDays(n);
          default -> Duration.ofDays(Math.multiplyExact(7, n));
        };
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("too long a duration: " + text, e);
      }
    }
    try {
      return Duration.parse(text.strip().toUpperCase(Locale.ROOT));
    } catch (java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException("not a duration: " + text, e);
    }
  }

  private int parseCount(Key k) {
    Setting s = get(k);
    try {
      int n = Integer.parseInt(s.value().strip());
      if (n < 0) {
        throw invalid(k, s, null);
      }
      return n;
    } catch (NumberFormatException e) {
      throw invalid(k, s, null);
    }
  }

  private Durability parseDurability() {
    Setting s = get(Key.DURABILITY);
    if (s == null) {
      return Durability.PROCESS_SAFE;
    }
    return switch (s.value().strip().toLowerCase(Locale.ROOT)) {
      case "process-safe", "process_safe" -> Durability.PROCESS_SAFE;
      case "power-safe", "power_safe" -> Durability.POWER_SAFE;
      default -> throw invalid(Key.DURABILITY, s, null);
    };
  }

  private boolean parseBoolean(Key key) {
    Setting s = get(key);
    if (s == null) {
      return false;
    }
    return switch (s.value().strip().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on" -> true;
      case "false", "no", "off" -> false;
      default -> throw invalid(key, s, null);
    };
  }

  /** Whether the store is opened read-only (the read-only setting). */
  public boolean readOnly() {
    return readOnly;
  }

  private boolean parseVerifyReads() {
    Setting s = get(Key.VERIFY_READS);
    if (s == null) {
      return false;
    }
    return switch (s.value().strip().toLowerCase(Locale.ROOT)) {
      case "always" -> true;
      case "when-changed" -> false;
      default -> throw invalid(Key.VERIFY_READS, s, null);
    };
  }

  /** larder serve: how often every blob is re-verified, or {@code null} for never. */
  public Duration scrubInterval() {
    return scrubInterval;
  }

  private Compression parseCompression() {
    Setting s = get(Key.COMPRESSION);
    if (s == null) {
      return Compression.NONE;
    }
    try {
      return Compression.parse(s.value());
    } catch (LarderException e) {
      throw invalid(Key.COMPRESSION, s, null);
    }
  }

  private static LarderException invalid(Key k, Setting s, String why) {
    return new LarderException.InvalidInput(Kind.INVALID_ARGUMENT, "invalid " + k.configName() + " '" + s.value()
        + "' (from " + s.source() + "): " + (why != null ? why + "; " : "") + "expected " + k.form);
  }
}
