package io.larder.cli;

import io.larder.Larder;
import io.larder.config.LarderConfig;
import io.larder.server.LarderServer;
import io.larder.server.ServerOptions;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Serve the store over HTTP as a remote build cache: Bazel (/ac/, /cas/), Gradle and ccache",
        "(any other path), Turborepo (/v8/artifacts/), Larder's REST API (/v1/), /metrics, /healthz.",
        "Collects garbage every gc-interval. SIGTERM or Ctrl-C drains requests in flight, then exits."},
    footerHeading = "%nExamples:%n",
    footer = {"  larder serve", "  larder serve --port 9090 --max-size 50G",
        "  larder --cache /srv/cache serve --bind 0.0.0.0 --max-blob-size 8G"})
final class ServeCommand extends Base {
  @Option(names = "--bind", paramLabel = "ADDRESS", description = "Address to listen on (default 127.0.0.1).")
  String bind;

  @Option(names = "--port", paramLabel = "PORT", description = "Port (default 8080; 0: any free port).")
  String port;

  @Option(names = "--max-blob-size", paramLabel = "SIZE", description = "Refuse larger uploads with 413 (default 4G).")
  String maxBlobSize;

  @Option(names = "--max-size", paramLabel = "SIZE", description = "Keep at most this much content (collected every gc-interval).")
  String maxSize;

  @Option(names = "--no-access-log", description = "Do not log one line per request to stderr.")
  boolean noAccessLog;

  @Override
  Map<LarderConfig.Key, String> commandFlags() {
    Map<LarderConfig.Key, String> f = new EnumMap<>(LarderConfig.Key.class);
    if (bind != null) {
      f.put(LarderConfig.Key.BIND, bind);
    }
    if (port != null) {
      f.put(LarderConfig.Key.PORT, port);
    }
    if (maxBlobSize != null) {
      f.put(LarderConfig.Key.MAX_BLOB_SIZE, maxBlobSize);
    }
    if (maxSize != null) {
      f.put(LarderConfig.Key.MAX_SIZE, maxSize);
    }
    return f;
  }

  @Override
  int run() throws Exception {
    LarderConfig c = config();
    ServerOptions so = ServerOptions.defaults().bind(c.bind()).port(c.port()).maxBlobSize(c.maxBlobSize())
        .accessLog(noAccessLog || options.quiet ? null : System.err);
    CountDownLatch stopped = new CountDownLatch(1);
    try (Larder store = open()) {
      LarderServer server = LarderServer.start(store, so, c.gcOptions());
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
      Larder.Schedule gc = store.collectEvery(c.gcInterval(), c.gcOptions(),
          r -> { }, e -> System.err.println("larder: collection failed: " + e.getMessage()));
      try {
        String u = server.url();
        out.println(new Main.Version().getVersion()[0] + " serving " + store.root() + " at " + u);
        out.println("  Bazel:     --remote_cache=" + u);
        out.println("  Gradle:    buildCache { remote(HttpBuildCache) { url = uri(\"" + u + "/cache/\") } }");
        out.println("  ccache:    CCACHE_REMOTE_STORAGE=\"" + u + "/ccache|layout=subdirs\"");
        out.println("  Turborepo: TURBO_API=" + u + " TURBO_TOKEN=any TURBO_TEAM=team");
        out.println("  REST:      " + u + "/v1/entries   metrics: " + u + "/metrics");
        out.flush();
        server.awaitClose();
      } finally {
        gc.close();
      }
    } finally {
      stopped.countDown();
    }
    return Main.OK;
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
}
