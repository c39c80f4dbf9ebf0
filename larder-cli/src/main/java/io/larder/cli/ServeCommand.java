package io.larder.cli;

import io.larder.GcReport;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.VerifyReport;
import io.larder.config.LarderConfig;
import io.larder.server.Credentials;
import io.larder.server.LarderServer;
import io.larder.server.ServerOptions;
import io.larder.server.Tls;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Serve the store as a remote build cache over HTTP and gRPC.",
        "Bazel and other REAPI clients (/ac/, /cas/, gRPC), moon, Gradle (/gradle/), ccache (/ccache/), Maven"
            + " (/maven/), Rush (/rush/), Turborepo (/v8/artifacts/), Nx (/v1/cache/), sccache (WebDAV, /sccache/),"
            + " Larder's REST API (/v1/), the web page (/), /metrics, /healthz; any other path is a key-value entry.",
        "Collects garbage every gc-interval. SIGTERM or Ctrl-C drains requests in flight, then exits."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder serve", "  larder serve --port 9090 --max-size 50G",
        "  larder --cache /srv/cache serve --bind 0.0.0.0 --max-blob-size 8G"})
final class ServeCommand extends Base {
  @Option(names = "--bind", paramLabel = "ADDRESS", description = "Address to listen on (default 127.0.0.1).")
  String bind;

  @Option(names = "--port", paramLabel = "PORT", description = "Port (default 8080; 0: any free port).")
  String port;

  @Option(names = "--grpc-port", paramLabel = "PORT",
      description = "Also serve the gRPC remote cache (REAPI v2 + ByteStream: Bazel's grpc://, Buck2, Pants) on this port "
          + "(0: any free port; off: none, the default).")
  String grpcPort;

  @Option(names = "--no-completeness-check",
      description = "Serve action results even when blobs they name are missing (by default such a result is a miss).")
  boolean noCompletenessCheck;

  @Option(names = "--max-blob-size", paramLabel = "SIZE", description = "Refuse larger uploads with 413 (default 4G).")
  String maxBlobSize;

  @Option(names = "--max-size", paramLabel = "SIZE", description = "Keep the store at most this big on disk: least recently used entries are evicted as content arrives.")
  String maxSize;

  @Option(names = "--auth-file", paramLabel = "FILE",
      description = "Require credentials: lines 'token SECRET rw|ro', 'basic USER:PASSWORD rw|ro', 'anonymous ro'.")
  String authFile;

  @Option(names = "--anonymous", description = "Allow serving beyond loopback without an auth file (anyone may read and write).")
  boolean anonymous;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "Serve HTTPS: PEM certificate chain (with --tls-key) or a PKCS#12 file.")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The PEM private key (PKCS#8) for --tls-cert.")
  String tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE", description = "Require client certificates signed by these PEM CAs.")
  String tlsClientCa;

  @Option(names = "--s3-bucket", paramLabel = "BUCKET", description = "A shared S3 tier behind the local store (credentials: the AWS SDK's standard chain).")
  String s3Bucket;

  @Option(names = "--s3-endpoint", paramLabel = "URL", description = "An S3-compatible server (MinIO, Ceph, R2…); path-style addressing then.")
  String s3Endpoint;

  @Option(names = "--s3-prefix", paramLabel = "PREFIX", description = "A key prefix inside the bucket.")
  String s3Prefix;

  @Option(names = "--s3-writes", paramLabel = "through|behind",
      description = "through (default): a PUT is answered once it is in S3; behind: once it is stored here and queued "
          + "on disk for S3 (see docs/s3.md for what that risks).")
  String s3Writes;

  @Option(names = "--no-access-log", description = "Do not log one line per request to stderr.")
  boolean noAccessLog;

  @Option(names = "--access-log-format", paramLabel = "text|json",
      description = "text (default): one line per request; json: one JSON object per line.")
  String accessLogFormat = "text";

  /**
   * What to give each client, one line each; with credentials required, with placeholders where the
   * credentials go ({@code <token>}, {@code <user>:<password>}: never a secret from the auth file).
   */
  static List<String> clientLines(String u, String grpc, boolean auth) {
    String bearer = auth ? " --remote_header=authorization=\"Bearer <token>\"" : "";
    String userInfo = auth ? u.replaceFirst("^(https?://)", "$1<user>:<password>@") : u;
    List<String> lines = new java.util.ArrayList<>();
    lines.add("  Bazel:     --remote_cache=" + u + bearer);
    if (grpc != null) {
      lines.add("  REAPI:     --remote_cache=" + grpc + bearer + "   (Bazel, Buck2, Pants: gRPC)");
    }
    lines.add("  moon:      .moon/workspace.yml  remote: { host: '" + u + "'"
        + (auth ? ", auth: { token: 'LARDER_TOKEN' } }   (LARDER_TOKEN=<token>)" : " }"));
    // Kotlin DSL (settings.gradle.kts) of current Gradle: http:// needs isAllowInsecureProtocol (6.0+)
    lines.add("  Gradle:    settings.gradle.kts  buildCache { remote<HttpBuildCache> { url = uri(\"" + u + "/gradle/\")"
        + (u.startsWith("http:") ? "; isAllowInsecureProtocol = true" : "") + "; isPush = true"
        + (auth ? "; credentials { username = \"<user>\"; password = \"<password>\" }" : "") + " } }");
    lines.add("  ccache:    CCACHE_REMOTE_STORAGE=\"" + userInfo + "/ccache|layout=subdirs\"");
    lines.add("  Maven:     maven-build-cache-config.xml <remote enabled=\"true\" saveToRemote=\"true\"><url>" + u
        + "/maven</url></remote>" + (auth ? "   (credentials: a <server> with the remote's id in settings.xml)" : ""));
    lines.add("  Turborepo: TURBO_API=" + u + " TURBO_TOKEN=" + (auth ? "<token>" : "any") + " TURBO_TEAM=team");
    lines.add("  Nx:        NX_SELF_HOSTED_REMOTE_CACHE_SERVER=" + u
        + (auth ? " NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=<token>" : ""));
    lines.add("  sccache:   SCCACHE_WEBDAV_ENDPOINT=" + u + "/sccache" + (auth ? " SCCACHE_WEBDAV_TOKEN=<token>" : ""));
    lines.add("  Rush:      common/config/rush/build-cache.json  \"cacheProvider\": \"http\", \"httpConfiguration\": { \"url\": \""
        + u + "/rush/\", \"isCacheWriteAllowed\": true" + (auth ? ", \"tokenHandler\": <a script printing Bearer <token>>" : "")
        + " }");
    return lines;
  }

  @Override
  Map<LarderConfig.Key, String> commandFlags() {
    Map<LarderConfig.Key, String> f = new EnumMap<>(LarderConfig.Key.class);
    flag(f, LarderConfig.Key.BIND, bind);
    flag(f, LarderConfig.Key.PORT, port);
    flag(f, LarderConfig.Key.GRPC_PORT, grpcPort);
    flag(f, LarderConfig.Key.MAX_BLOB_SIZE, maxBlobSize);
    flag(f, LarderConfig.Key.MAX_SIZE, maxSize);
    flag(f, LarderConfig.Key.AUTH_FILE, authFile);
    flag(f, LarderConfig.Key.TLS_CERT, tlsCert);
    flag(f, LarderConfig.Key.TLS_KEY, tlsKey);
    flag(f, LarderConfig.Key.TLS_CLIENT_CA, tlsClientCa);
    flag(f, LarderConfig.Key.S3_BUCKET, s3Bucket);
    flag(f, LarderConfig.Key.S3_ENDPOINT, s3Endpoint);
    flag(f, LarderConfig.Key.S3_PREFIX, s3Prefix);
    flag(f, LarderConfig.Key.S3_WRITES, s3Writes);
    return f;
  }

  @Override
  int run() throws Exception {
    LarderConfig c = config();
    ServerOptions so = ServerOptions.defaults().bind(c.bind()).port(c.port()).maxBlobSize(c.maxBlobSize())
        .accessLog(noAccessLog || options.quiet ? null : System.err).grpcPort(c.grpcPort())
        .checkActionResults(!noCompletenessCheck);
    if (!accessLogFormat.equals("text") && !accessLogFormat.equals("json")) {
      throw new Main.UsageException("--access-log-format is text or json, not '" + accessLogFormat + "'");
    }
    so = so.accessLogJson(accessLogFormat.equals("json"));
    String auth = c.value(LarderConfig.Key.AUTH_FILE);
    if (auth != null) {
      so = so.credentials(Credentials.load(java.nio.file.Path.of(auth)));
    } else if (!anonymous && !isLoopback(c.bind())) {
      throw new Main.UsageException("refusing to serve " + c.bind() + " without credentials: give --auth-file FILE"
          + " (or --anonymous to let anyone who can reach it read and write)");
    }
    so = so.tls(tls(c));
    CountDownLatch stopped = new CountDownLatch(1);
    try (Larder store = open()) {
      LarderServer server = LarderServer.start(store, so, c.gcOptions());
      String[] version = new Main.Version().getVersion();
      server.buildInfo(version[0].replaceFirst("^larder ", ""), version[1].replaceFirst("^commit ", ""));
      server.collectionLog(r -> System.err.println(collectedLine(r).replace("larder: collection:", "larder: collection (max-size):")));
      // SIGTERM and Ctrl-C: drain requests in flight, close the store, exit 0. The JDK's signal API is
      // jdk.unsupported (reached by reflection so that the build needs no internal API); without it a
      // shutdown hook still drains, and the JVM exits with 143.
      boolean handled = onSignals(List.of("TERM", "INT"), () -> Thread.ofPlatform().start(server::close));
      if (!handled) {
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
          server.close();
          try {
            stopped.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }));
      }
      boolean readOnly = store.options().readOnly(); // nothing is collected or scrubbed away then
      Larder.Schedule gc = readOnly ? () -> { } : store.collectEvery(c.gcInterval(), c.gcOptions(), r -> {
        server.collected(r);
        System.err.println(collectedLine(r));
      }, e -> System.err.println("larder: collection failed: " + e.getMessage()));
      Larder.Schedule scrub = readOnly ? () -> { } : scrub(store, c.scrubInterval());
      try {
        String u = server.url();
        out.println(new Main.Version().getVersion()[0] + " serving " + store.root()
            + store.remoteTier().map(t -> " (shared tier " + t + ")").orElse("") + " at " + u
            + server.grpcUrl().map(g -> " and " + g).orElse(""));
        if (store.remoteTier().isPresent()) {
          out.println("  S3 tier:   puts written " + (c.tierOptions().writeBehind()
              ? "behind (acknowledged when stored here, queued in " + store.root().resolve("tier-queue") + ")"
              : "through (acknowledged once in S3)"));
        }
        long max = c.gcOptions().maxSize();
        out.println("  Store:     " + (readOnly ? "read-only (every write refused with 403)"
            : max > 0 ? "max-size " + humanSize(max) + " on disk (evicting as content arrives), collected every " + c.gcInterval().toString().substring(2).toLowerCase(java.util.Locale.ROOT)
            : "no max-size (set one: --max-size 50G)") + "; uploads up to " + humanSize(c.maxBlobSize())
            + "; credentials: " + (auth != null ? "required (" + auth + ")" : "none (anyone who can reach " + c.bind()
            + " may read and write)"));
        clientLines(u, server.grpcUrl().orElse(null), auth != null).forEach(out::println);
        out.println("  REST:      " + u + "/v1/entries   status: " + u + "/status   metrics: " + u + "/metrics");
        out.flush();
        server.awaitClose();
      } finally {
        gc.close();
        scrub.close();
      }
    } finally {
      stopped.countDown();
    }
    return Main.OK;
  }

  /**
   * Re-verifies every blob continuously, one paced pass per {@code interval} (null: never): with verify-reads
   * = when-changed, reads trust files that have not changed, and this is what catches damage that changes no
   * file attribute, without a daily burst of reads.
   */
  private static Larder.Schedule scrub(Larder store, java.time.Duration interval) {
    if (interval == null) {
      return () -> { };
    }
    return store.scrubEvery(interval, r -> {
      if (!r.clean()) {
        System.err.println("larder: scrub removed " + r.corruptRemoved() + " corrupt and " + r.missingRemoved()
            + " missing blobs (" + r.entriesRemoved() + " entries)");
      }
    }, e -> System.err.println("larder: scrub failed: " + e.getMessage()));
  }

  private static boolean isLoopback(String bind) {
    try {
      return java.net.InetAddress.getByName(bind).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false; // the server reports the bad address
    }
  }

  private static Tls tls(LarderConfig c) {
    String cert = c.value(LarderConfig.Key.TLS_CERT);
    String key = c.value(LarderConfig.Key.TLS_KEY);
    String ca = c.value(LarderConfig.Key.TLS_CLIENT_CA);
    if (cert == null) {
      if (key != null || ca != null) {
        throw new Main.UsageException("tls-key and tls-client-ca need tls-cert");
      }
      return null;
    }
    String lower = cert.toLowerCase(java.util.Locale.ROOT);
    Tls t;
    if (lower.endsWith(".p12") || lower.endsWith(".pfx")) {
      t = Tls.pkcs12(java.nio.file.Path.of(cert), c.value(LarderConfig.Key.TLS_PASSWORD));
    } else {
      if (key == null) {
        throw new Main.UsageException("a PEM tls-cert needs tls-key (the private key); a .p12/.pfx file needs none");
      }
      t = Tls.pem(java.nio.file.Path.of(cert), java.nio.file.Path.of(key));
    }
    return ca == null ? t : t.requireClientCertificates(java.nio.file.Path.of(ca));
  }

  /** Runs {@code action} on each of the named signals instead of the JVM's default; false if not possible here. */
  private static boolean onSignals(List<String> names, Runnable action) {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Object h = java.lang.reflect.Proxy.newProxyInstance(handler.getClassLoader(), new Class<?>[] {handler},
          (proxy, method, args) -> {
            return switch (method.getName()) {
              case "handle" -> {
                action.run();
                yield null;
              }
              case "hashCode" -> System.identityHashCode(proxy);
              case "equals" -> proxy == args[0];
              default -> "larder-signal-handler";
            };
          });
      for (String n : names) {
        signal.getMethod("handle", signal, handler).invoke(null, signal.getConstructor(String.class).newInstance(n), h);
      }
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return false;
    }
  }

  /** One line per scheduled collection: what it expired, evicted and freed. */
  static String collectedLine(GcReport r) {
    return String.format("larder: collection: %d expired, %d evicted, %d blobs removed (%s freed), %d temporary files"
        + " removed; %s of content before", r.expired(), r.evicted(), r.blobsRemoved(), Base.humanSize(r.bytesFreed()),
        r.tmpRemoved(), Base.humanSize(r.bytesBefore()));
  }
}
