package io.larder.server.internal;

import io.netty.handler.codec.http.HttpMethod;
import java.util.Set;

/**
 * One protocol of the server, as the protocol table ({@link Protocols}) lists it: everything that differs
 * from one protocol to another, in one place.
 *
 * @param label its name in the metrics and the access log
 * @param paths which request paths are its own, and the store key each one names
 * @param methods the methods it answers without an upload (others get 405), or {@code null} if its handler
 *     decides
 * @param uploads the methods whose request body is content to store: such a request needs a Content-Length
 *     within {@code max-blob-size} and its body is streamed to the store; any other body is read and dropped
 * @param open whether it answers without credentials (health probes); otherwise reads need read access and
 *     PUT, POST and DELETE need write access
 * @param reads where its GET and HEAD requests run
 * @param handler what it does with a request
 */
record Protocol(String label, Paths paths, Set<HttpMethod> methods, Set<HttpMethod> uploads, boolean open, Reads reads,
    Handler handler) {

  /** Where GET and HEAD requests run. */
  enum Reads {
    /** On the event loop: they never wait (nothing of the store, or only the local index). */
    EVENT_LOOP,
    /** On the event loop unless the store has a remote tier (a slow S3 must not stall every connection). */
    EVENT_LOOP_UNLESS_TIERED,
    /** On a virtual thread: they may take long (listings, metrics). */
    WORKER
  }

  /** Which request paths are a protocol's own. */
  @FunctionalInterface
  interface Paths {
    /** The route {@code path} names in this protocol, or {@code null} if it is not this protocol's. */
    Route match(Protocol self, RequestPath path) throws RequestPath.BadPath;
  }

  /** What a protocol does with its requests. */
  interface Handler {
    /** A request without content to store (any method not in {@link Protocol#uploads()}). */
    void handle(Exchange x, Route route) throws Exception;

    /** A request whose body is content to store (a method in {@link Protocol#uploads()}). */
    default void upload(Exchange x, Route route, Upload body, long length) throws Exception {
      Uploads.drain(body);
      x.notAllowed();
    }
  }

  /** The methods it answers, for an {@code Allow} header; {@code null} when its handler decides. */
  String allowed() {
    if (methods == null) {
      return null;
    }
    java.util.TreeSet<String> all = new java.util.TreeSet<>();
    methods.forEach(m -> all.add(m.name()));
    uploads.forEach(m -> all.add(m.name()));
    return String.join(", ", all);
  }

  /** Whether it answers {@code m} (without an upload). */
  boolean answers(HttpMethod m) {
    return methods == null || methods.contains(m);
  }

  /** Where a GET or HEAD of this protocol runs, given whether the store has a remote tier. */
  boolean readsOnEventLoop(boolean tiered) {
    return reads == Reads.EVENT_LOOP || reads == Reads.EVENT_LOOP_UNLESS_TIERED && !tiered;
  }
}
