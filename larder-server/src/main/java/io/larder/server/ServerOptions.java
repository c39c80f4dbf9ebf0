package io.larder.server;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Objects;

/**
 * How {@code larder serve} listens and what it accepts.
 *
 * @param bind the address to listen on; default 127.0.0.1 (loopback only)
 * @param port the port; 0 picks a free one; default 8080
 * @param maxBlobSize uploads larger than this are refused with 413 before their body is read; default 4 GiB
 * @param idleTimeout a connection that sends and receives nothing for this long is closed; default 60 s
 * @param headerTimeout a connection that has not sent a request's complete headers this long after it opened
 *     (or after its last response) is closed, however slowly it trickles bytes; default 30 s
 * @param accessLog where one line per request goes ({@code null}: nowhere)
 * @param credentials who may read and write; default {@link Credentials#OPEN} (everyone)
 * @param tls the certificate to serve HTTPS with, or {@code null} (default) for plain HTTP
 * @param grpcPort the port of the gRPC remote cache (REAPI v2 and ByteStream, with TLS when {@code tls} is
 *     set); 0 picks a free one; -1 (default): no gRPC
 * @param checkActionResults whether an action result (gRPC, and HTTP {@code /ac/}) is served only when every
 *     blob it names is stored (a result that is not is a miss); default true
 * @param accessLogJson whether the access log is JSON lines (one object per request) instead of text
 */
public record ServerOptions(String bind, int port, long maxBlobSize, Duration idleTimeout, Duration headerTimeout,
    PrintStream accessLog,
    Credentials credentials, Tls tls, int grpcPort, boolean checkActionResults, boolean accessLogJson) {

  public ServerOptions {
    Objects.requireNonNull(bind, "bind");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(headerTimeout, "headerTimeout");
    Objects.requireNonNull(credentials, "credentials");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be between 0 and 65535, not " + port);
    }
    if (grpcPort < -1 || grpcPort > 65535) {
      throw new IllegalArgumentException("the gRPC port must be between 0 and 65535 (or -1 for none), not " + grpcPort);
    }
    if (maxBlobSize <= 0) {
      throw new IllegalArgumentException("maxBlobSize must be positive");
    }
  }

  public static ServerOptions defaults() {
    return new ServerOptions("127.0.0.1", 8080, 4L << 30, Duration.ofSeconds(60), Duration.ofSeconds(30), System.err,
        Credentials.OPEN, null, -1, true, false);
  }

  public ServerOptions bind(String address) {
    return new ServerOptions(address, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions port(int p) {
    return new ServerOptions(bind, p, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions maxBlobSize(long bytes) {
    return new ServerOptions(bind, port, bytes, idleTimeout, headerTimeout, accessLog, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions idleTimeout(Duration d) {
    return new ServerOptions(bind, port, maxBlobSize, d, headerTimeout, accessLog, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions accessLog(PrintStream log) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, log, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions credentials(Credentials c) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, c, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions tls(Tls t) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, t, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions headerTimeout(Duration d) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, d, accessLog, credentials, tls, grpcPort, checkActionResults, accessLogJson);
  }

  public ServerOptions grpcPort(int p) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, tls, p, checkActionResults, accessLogJson);
  }

  public ServerOptions checkActionResults(boolean check) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, tls, grpcPort, check, accessLogJson);
  }

  public ServerOptions accessLogJson(boolean json) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, headerTimeout, accessLog, credentials, tls, grpcPort,
        checkActionResults, json);
  }
}
