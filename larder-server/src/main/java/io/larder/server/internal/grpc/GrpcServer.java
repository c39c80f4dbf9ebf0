package io.larder.server.internal.grpc;

import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.util.List;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.larder.LarderException;
import io.larder.server.Tls;
import io.larder.server.internal.ServerContext;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;

/**
 * The gRPC transport of {@code larder serve}: the Remote Execution API's cache services (Capabilities,
 * ActionCache, ContentAddressableStorage), ByteStream and the gRPC health service, over the same store,
 * credentials, limits, metrics and access log as the HTTP port. On a port of their own (grpc-java on its own
 * shaded Netty), and in process for the gRPC calls that arrive on the HTTP port as h2c streams.
 */
public final class GrpcServer implements AutoCloseable {
  /** The gRPC port's server, or null without one. */
  private final Server server;
  /** The same services in process: where gRPC calls on the HTTP port (h2c) go. */
  private final Server inProcess;
  private final ManagedChannel bridge;
  private final HealthStatusManager health;

  private GrpcServer(Server server, Server inProcess, ManagedChannel bridge, HealthStatusManager health) {
    this.server = server;
    this.inProcess = inProcess;
    this.bridge = bridge;
    this.health = health;
  }

  /**
   * Starts the services: in process (for gRPC on the HTTP port) and, unless {@code port} is -1, on a port of
   * their own (0: any free one) of the server's bind address.
   *
   * @param checkCompleteness whether an action result is served only when every blob it names is stored
   */
  public static GrpcServer start(ServerContext context, int port, boolean checkCompleteness) {
    Calls calls = new Calls(context);
    Cas cas = new Cas(context.store(), context.bound());
    long maxBlob = context.bound().uploadLimit(context.options().maxBlobSize());
    ActionResults results = new ActionResults(cas, checkCompleteness);
    HealthStatusManager health = new HealthStatusManager();
    List<ServerServiceDefinition> services = List.of(
        ServerInterceptors.intercept(new CapabilitiesService(maxBlob, calls), calls),
        ServerInterceptors.intercept(new ActionCacheService(context, results, calls), calls),
        ServerInterceptors.intercept(new CasService(cas, calls), calls),
        ServerInterceptors.intercept(new ByteStreamService(cas, calls, context.workers(), maxBlob), calls),
        ServerInterceptors.intercept(health.getHealthService(), calls));
    String name = "larder-" + java.util.UUID.randomUUID();
    InProcessServerBuilder local = InProcessServerBuilder.forName(name).executor(context.workers())
        .maxInboundMessageSize((int) CasService.MAX_BATCH + (1 << 20));
    services.forEach(local::addService);
    Server inProcess;
    Server server = null;
    try {
      inProcess = local.build().start();
      if (port >= 0) {
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(context.options().bind(), port),
                credentials(context.options().tls()))
            .executor(context.workers())
            // a batch of MAX_BATCH bytes of blobs, with room for its digests and framing
            .maxInboundMessageSize((int) CasService.MAX_BATCH + (1 << 20))
            // an upload is not held back by HTTP/2 flow control on a fast link (Netty's default window is 1 MiB)
            .flowControlWindow(8 << 20)
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true);
        services.forEach(b::addService);
        server = b.build().start();
      }
    } catch (IOException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "cannot listen for gRPC on "
          + context.options().bind() + ":" + port + ": " + e.getMessage() + " (another server on that port? use --grpc-port)");
    }
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    ManagedChannel bridge = InProcessChannelBuilder.forName(name).executor(context.workers())
        .maxInboundMessageSize(64 << 20).build();
    return new GrpcServer(server, inProcess, bridge, health);
  }

  /** The services in process, for gRPC calls that arrive on the HTTP port. */
  public io.grpc.Channel bridge() {
    return bridge;
  }

  private static ServerCredentials credentials(Tls tls) {
    if (tls == null) {
      return InsecureServerCredentials.create();
    }
    try {
      TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder();
      if (tls.pkcs12() != null) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(tls.pkcs12())) {
          ks.load(in, tls.password().toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, tls.password().toCharArray());
        b.keyManager(kmf.getKeyManagers());
      } else {
        b.keyManager(tls.certificate().toFile(), tls.privateKey().toFile());
      }
      if (tls.clientCa() != null) {
        b.trustManager(tls.clientCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (Exception e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "cannot use the TLS files for gRPC: "
          + e.getMessage());
    }
  }

  /** The gRPC port, or -1 without one. */
  public int port() {
    return server == null ? -1 : server.getPort();
  }

  /** Stops taking calls, lets those in flight finish for up to {@code drain}, then cancels the rest. */
  public void close(Duration drain) {
    health.enterTerminalState();
    for (Server s : server == null ? List.of(inProcess) : List.of(server, inProcess)) {
      s.shutdown();
    }
    try {
      for (Server s : server == null ? List.of(inProcess) : List.of(server, inProcess)) {
        if (!s.awaitTermination(drain.toMillis(), TimeUnit.MILLISECONDS)) {
          s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      inProcess.shutdownNow();
    }
    bridge.shutdownNow();
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }
}
