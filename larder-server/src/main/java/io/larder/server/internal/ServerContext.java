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
    ExecutorService workers, GcOptions gcOptions, boolean tiered) {

  public ServerContext(Larder store, ServerOptions options, Metrics metrics, Readiness readiness,
      ExecutorService workers, GcOptions gcOptions) {
    this(store, options, metrics, readiness, workers, gcOptions, store.remoteTier().isPresent());
  }

  /*
   * tiered: whether a local miss may ask a remote tier (then no lookup may run on an event loop: a slow S3
   * must not stall every connection of the loop). Read once: it does not change while the server runs.
   */

  /**
   * Records one finished request in the metrics and the access log: its protocol, method, what it named,
   * hit or miss ({@code null}: neither), status, bytes sent and duration.
   */
  public void record(String protocol, String method, String subject, Boolean hit, int status, long bytes, long nanos) {
    metrics.request(protocol, method, status, hit, nanos);
    if (options.accessLog() != null) {
      options.accessLog().printf("%s %s %s %s %s %d %d %.1fms%n", java.time.Instant.now(), logged(method),
          logged(protocol), logged(subject), hit == null ? "-" : hit ? "hit" : "miss", status, bytes, nanos / 1e6);
    }
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
