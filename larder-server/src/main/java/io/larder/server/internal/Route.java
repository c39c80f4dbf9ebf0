package io.larder.server.internal;

/**
 * What a request names: its protocol (an entry of the protocol table) and the store key it maps to.
 *
 * @param protocol the protocol
 * @param key the store key for entries ({@code null} for routes without one)
 * @param rest what else the path says: for REST the path after {@code /v1/}, for Bazel the instance name, for
 *     health the probe
 * @param path the decoded request path and query
 */
record Route(Protocol protocol, String key, String rest, RequestPath path) {
  /** What the access log names: the key, or else the rest of the path. */
  String subject() {
    return key != null ? key : rest != null ? rest : "-";
  }
}
