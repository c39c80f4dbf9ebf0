package io.larder.server.internal.grpc;

import io.grpc.InsecureServerCredentials;
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
 * credentials, limits, metrics and access log as the HTTP port. On grpc-java's own (shaded) Netty.
 */
public final class GrpcServer implements AutoCloseable {
  private final Server server;
  private final HealthStatusManager health;

  private GrpcServer(Server server, HealthStatusManager health) {
    this.server = server;
    this.health = health;
  }

  /**
   * Listens on {@code port} (0: any free one) of the server's bind address.
   *
   * @param checkCompleteness whether an action result is served only when every blob it names is stored
   */
  public static GrpcServer start(ServerContext context, int port, boolean checkCompleteness) {
    Calls calls = new Calls(context);
    Cas cas = new Cas(context.store());
    long maxBlob = context.options().maxBlobSize();
    ActionResults results = new ActionResults(cas, checkCompleteness);
    Tls tls = context.options().tls();
    HealthStatusManager health = new HealthStatusManager();
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(context.options().bind(), port), credentials(tls))
        .executor(context.workers())
        // a batch of MAX_BATCH bytes of blobs, with room for its digests and framing
        .maxInboundMessageSize((int) CasService.MAX_BATCH + (1 << 20))
        // an upload is not held back by HTTP/2 flow control on a fast link (Netty's default window is 1 MiB)
        .flowControlWindow(8 << 20)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .addService(ServerInterceptors.intercept(new CapabilitiesService(maxBlob, calls), calls))
        .addService(ServerInterceptors.intercept(new ActionCacheService(context.store(), results, calls), calls))
        .addService(ServerInterceptors.intercept(new CasService(cas, calls), calls))
        .addService(ServerInterceptors.intercept(new ByteStreamService(cas, calls, context.workers(), maxBlob), calls))
        .addService(ServerInterceptors.intercept(health.getHealthService(), calls));
    try {
      Server server = b.build().start();
      health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
      return new GrpcServer(server, health);
    } catch (IOException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "cannot listen for gRPC on "
          + context.options().bind() + ":" + port + ": " + e.getMessage() + " (another server on that port? use --grpc-port)");
    }
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

  /** The port listened on. */
  public int port() {
    return server.getPort();
  }

  /** Stops taking calls, lets those in flight finish for up to {@code drain}, then cancels the rest. */
  public void close(Duration drain) {
    health.enterTerminalState();
    server.shutdown();
    try {
      if (!server.awaitTermination(drain.toMillis(), TimeUnit.MILLISECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }
}
