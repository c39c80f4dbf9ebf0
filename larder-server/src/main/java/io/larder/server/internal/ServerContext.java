package io.larder.server.internal;

import io.larder.GcOptions;
import io.larder.Larder;
import io.larder.server.ServerOptions;
import java.util.concurrent.ExecutorService;

/**
 * What every request of one server shares, whatever transport it came by: the store, the options (limits,
 * credentials), the metrics and the access log, readiness, the threads that run the store's blocking work,
 * and what collections started by a request collect.
 */
public record ServerContext(Larder store, ServerOptions options, Metrics metrics, Readiness readiness,
    ExecutorService workers, GcOptions gcOptions, SizeBound bound, History history, StoreCounts counts,
    boolean tiered) {

  public ServerContext(Larder store, ServerOptions options, Metrics metrics, Readiness readiness,
      ExecutorService workers, GcOptions gcOptions, SizeBound bound, History history, StoreCounts counts) {
    this(store, options, metrics, readiness, workers, gcOptions, bound, history, counts, store.remoteTier().isPresent());
  }


  /*
   * tiered: whether a local miss may ask a remote tier (then no lookup may run on an event loop: a slow S3
   * must not stall every connection of the loop). Read once: it does not change while the server runs.
   */

  /** Who made a request, for the access log: address, principal (never a secret), user agent; null fields: "-". */
  public record Client(String address, String principal, String userAgent) {
    public static final Client UNKNOWN = new Client(null, null, null);
  }

  /**
   * Records one finished request in the metrics and the access log: its protocol, method, what it named,
   * hit or miss ({@code null}: neither), status, bytes sent, duration, and who made it. A text line:
   * {@code time method protocol subject hit|miss|- status bytes duration address principal "user agent"};
   * or, with {@code accessLogJson}, one JSON object with the same fields.
   */
  public void record(String protocol, String method, String subject, Boolean hit, int status, long bytes, long nanos,
      Client who) {
    metrics.request(protocol, method, status, hit, nanos);
    if (options.accessLog() == null) {
      return;
    }
    String outcome = hit == null ? "-" : hit ? "hit" : "miss";
    String address = who.address() == null ? "-" : who.address();
    String principal = who.principal() == null ? "-" : who.principal();
    String agent = who.userAgent() == null ? "-" : who.userAgent();
    if (options.accessLogJson()) {
      com.fasterxml.jackson.databind.node.ObjectNode line = io.larder.config.JsonShapes.MAPPER.createObjectNode()
          .put("time", io.larder.config.JsonShapes.time(java.time.Instant.now())).put("method", method).put("protocol", protocol)
          .put("subject", subject).put("outcome", outcome).put("status", status).put("bytes", bytes)
          .put("ms", Math.round(nanos / 1e4) / 100.0).put("client", address).put("principal", principal)
          .put("userAgent", agent);
      options.accessLog().println(line.toString()); // JSON escapes every control character: one line each
      return;
    }
    options.accessLog().printf("%s %s %s %s %s %d %d %.1fms %s %s \"%s\"%n",
        io.larder.config.JsonShapes.time(java.time.Instant.now()), logged(method),
        logged(protocol), logged(subject), outcome, status, bytes, nanos / 1e6, logged(address), logged(principal),
        logged(agent).replace("\"", "\\x22"));
  }

  /**
   * What every transport does when the store fails a request, before it answers with its own status:
   * content that failed verification is counted, and a full disk makes the server not ready until a write
   * succeeds again.
   */
  public void failed(io.larder.LarderException e) {
    if (e.kind() == io.larder.LarderException.Kind.CORRUPT || e.kind() == io.larder.LarderException.Kind.DIGEST_MISMATCH) {
      metrics.integrityFailure();
    }
    if (e.kind() == io.larder.LarderException.Kind.INSUFFICIENT_STORAGE) {
      readiness.diskFull();
    }
  }

  /**
   * A field as the access log writes it: control characters (C0, DEL, C1) and backslashes escaped as
   * {@code \xHH}, so that no request can write a line break, or a forged line, into the log.
   */
  static String logged(String field) {
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\\') {
        StringBuilder b = new StringBuilder(field.length() + 8).append(field, 0, i);
        for (int j = i; j < field.length(); j++) {
          char d = field.charAt(j);
          if (d < 0x20 || d >= 0x7f && d <= 0x9f || d == '\\') {
            b.append(String.format("\\x%02x", (int) d));
          } else {
            b.append(d);
          }
        }
        return b.toString();
      }
    }
    return field;
  }
}
