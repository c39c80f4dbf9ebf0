package io.larder.server;

import io.larder.GcOptions;
import io.larder.GcReport;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.server.internal.HttpHandler;
import io.larder.server.internal.Metrics;
import io.larder.server.internal.Readiness;
import io.larder.server.internal.ServerContext;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code larder serve}: one HTTP port for Bazel, Gradle, ccache, Turborepo and Larder's REST API over a
 * store, with Prometheus metrics and health checks. Built on Netty (epoll where available), chosen by
 * measurement (BENCHMARKS.md, "Choosing the HTTP stack").
 *
 * <pre>{@code
 * try (Larder store = Larder.open(dir); LarderServer server = LarderServer.start(store, ServerOptions.defaults())) {
 *   System.out.println(server.url());
 *   server.awaitClose();
 * }
 * }</pre>
 */
public final class LarderServer implements AutoCloseable {
  private static final Duration DRAIN = Duration.ofSeconds(30);

  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final ExecutorService requests;
  private final Channel serverChannel;
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Metrics metrics;
  private final String url;
  private final io.larder.server.internal.grpc.GrpcServer grpc;
  private volatile boolean closed;

  @SuppressWarnings("deprecation") // RCVBUF_ALLOCATOR: deprecated in Netty 4.2 without a replacement for servers yet
  private LarderServer(Larder store, ServerOptions options, GcOptions gcOptions) throws InterruptedException {
    io.netty.handler.ssl.SslContext ssl = options.tls() == null ? null : options.tls().context(); // fails early
    boolean epoll = io.netty.channel.epoll.Epoll.isAvailable();
    IoHandlerFactory ioFactory = epoll ? io.netty.channel.epoll.EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    Class<? extends ServerChannel> channelType = epoll ? io.netty.channel.epoll.EpollServerSocketChannel.class
        : NioServerSocketChannel.class;
    boss = new MultiThreadIoEventLoopGroup(1, ioFactory);
    workers = new MultiThreadIoEventLoopGroup(0, ioFactory);
    requests = Executors.newVirtualThreadPerTaskExecutor();
    counts = new io.larder.server.internal.StoreCounts(store);
    metrics = new Metrics(store, counts);
    bound = new io.larder.server.internal.SizeBound(store, gcOptions, r -> {
      collected(r);
      Consumer<GcReport> log = collectionLog;
      if (log != null) {
        log.accept(r);
      }
    });
    history = new io.larder.server.internal.History(metrics, counts);
    ServerContext context = new ServerContext(store, options, metrics, new Readiness(store, counts), requests, gcOptions,
        bound, history, counts);
    // the gRPC services: in process for gRPC on the HTTP port (h2c), and on --grpc-port if given
    grpc = io.larder.server.internal.grpc.GrpcServer.start(context, options.grpcPort(), options.checkActionResults());
    io.grpc.Channel grpcBridge = grpc.bridge();
    long idle = options.idleTimeout().toMillis();
    ServerBootstrap bootstrap = new ServerBootstrap().group(boss, workers).channel(channelType)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .childOption(ChannelOption.TCP_NODELAY, true)
        // reads of up to 256 KiB: an upload arrives in fewer, larger chunks (fewer hand-offs to the put)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, new io.netty.channel.AdaptiveRecvByteBufAllocator(64, 16 * 1024, 256 * 1024))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            connections.add(ch);
            if (ssl != null) {
              ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
            }
            ch.pipeline().addLast(new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
            if (ssl == null) { // HTTP/2 with prior knowledge (h2c), told from HTTP/1.1 by the first bytes
              ch.pipeline().addLast(HttpHandler.priorKnowledge(context, inFlight::incrementAndGet, inFlight::decrementAndGet,
                  grpcBridge));
            }
            ch.pipeline().addLast(new HttpServerCodec(8192, 16 * 1024, 256 * 1024),
                new HttpHandler(context, inFlight::incrementAndGet, inFlight::decrementAndGet));
          }
        })
;
    try {
      serverChannel = bootstrap.bind(options.bind(), options.port()).sync().channel();
    } catch (RuntimeException | InterruptedException e) {
      grpc.close(Duration.ZERO);
      requests.shutdown();
      boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
    InetSocketAddress a = (InetSocketAddress) serverChannel.localAddress();
    String host = a.getAddress().isAnyLocalAddress() ? "127.0.0.1" : a.getAddress().getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    url = (ssl != null ? "https://" : "http://") + host + ":" + a.getPort();
  }

  /**
   * Starts serving {@code store}. The store stays the caller's: closing the server does not close it.
   *
   * @param gcOptions what {@code POST /v1/gc} collects with
   * @throws io.larder.LarderException.InvalidInput if the address cannot be bound (in use, not local)
   */
  public static LarderServer start(Larder store, ServerOptions options, GcOptions gcOptions) {
    try {
      return new LarderServer(store, options, gcOptions);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting", e);
    } catch (LarderException e) {
      throw e;
    } catch (Exception e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "cannot listen on " + options.bind() + ":" + options.port() + ": " + e.getMessage()
              + " (another server on that port? use --port)");
    }
  }

  /**
   * A collection this server's process ran (on its schedule): counted in {@code larder_evictions_total}, as
   * one started by {@code POST /v1/gc} is.
   */
  public void collected(GcReport report) {
    metrics.evicted(report.evicted() + report.expired());
  }

  /**
   * Where the collections this server starts itself (to keep max-size as content arrives) report, besides
   * {@code larder_evictions_total}: e.g. a log line.
   */
  public void collectionLog(Consumer<GcReport> log) {
    collectionLog = log;
  }

  private volatile Consumer<GcReport> collectionLog;
  private final io.larder.server.internal.SizeBound bound;
  private final io.larder.server.internal.History history;
  private final io.larder.server.internal.StoreCounts counts;

  /** Names this server's build in {@code larder_build_info} and {@code /status} (once). */
  public void buildInfo(String version, String commit) {
    metrics.buildInfo(version, commit);
  }

  /** The base URL, e.g. {@code http://127.0.0.1:8080}. */
  public String url() {
    return url;
  }

  /**
   * The gRPC remote cache's address for clients: the gRPC port's ({@code grpc://127.0.0.1:9092}, or
   * {@code grpcs://} with TLS) if there is one, else the HTTP port's ({@code grpc://127.0.0.1:8080}: h2c,
   * without TLS only); empty with TLS and no gRPC port.
   */
  public java.util.Optional<String> grpcUrl() {
    if (grpc.port() >= 0) {
      return java.util.Optional.of(url.replaceFirst("^http(s?)://", "grpc$1://").replaceFirst(":\\d+$", ":" + grpc.port()));
    }
    return url.startsWith("https:") ? java.util.Optional.empty() : java.util.Optional.of(url.replaceFirst("^http://", "grpc://"));
  }

  /** The port listened on (useful with port 0). */
  public int port() {
    return ((InetSocketAddress) serverChannel.localAddress()).getPort();
  }

  /** Requests being handled now. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Blocks until {@link #close()} has finished (from another thread or a shutdown hook). */
  public void awaitClose() throws InterruptedException {
    serverChannel.closeFuture().sync();
    workers.terminationFuture().sync();
  }

  /**
   * Stops accepting connections, lets requests in flight finish (up to 30 s), then closes every
   * connection. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    bound.close();
    history.close();
    counts.close();
    Thread grpcDrain = Thread.ofPlatform().start(() -> grpc.close(DRAIN)); // drained alongside the HTTP port
    serverChannel.close().syncUninterruptibly();
    long deadline = System.nanoTime() + DRAIN.toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    connections.close().awaitUninterruptibly();
    try {
      grpcDrain.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    requests.shutdown();
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
