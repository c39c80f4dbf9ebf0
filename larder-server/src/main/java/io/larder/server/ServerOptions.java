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
 * @param idleTimeout a connection that sends nothing (no headers, no body bytes) for this long is closed;
 *     default 60 s
 * @param accessLog where one line per request goes ({@code null}: nowhere)
 */
public record ServerOptions(String bind, int port, long maxBlobSize, Duration idleTimeout, PrintStream accessLog) {

  public ServerOptions {
    Objects.requireNonNull(bind, "bind");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be between 0 and 65535, not " + port);
    }
    if (maxBlobSize <= 0) {
      throw new IllegalArgumentException("maxBlobSize must be positive");
    }
  }

  public static ServerOptions defaults() {
    return new ServerOptions("127.0.0.1", 8080, 4L << 30, Duration.ofSeconds(60), System.err);
  }

  public ServerOptions bind(String address) {
    return new ServerOptions(address, port, maxBlobSize, idleTimeout, accessLog);
  }

  public ServerOptions port(int p) {
    return new ServerOptions(bind, p, maxBlobSize, idleTimeout, accessLog);
  }

  public ServerOptions maxBlobSize(long bytes) {
    return new ServerOptions(bind, port, bytes, idleTimeout, accessLog);
  }

  public ServerOptions idleTimeout(Duration d) {
    return new ServerOptions(bind, port, maxBlobSize, d, accessLog);
  }

  public ServerOptions accessLog(PrintStream log) {
    return new ServerOptions(bind, port, maxBlobSize, idleTimeout, log);
  }
}
