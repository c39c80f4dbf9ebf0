package io.larder.server.internal;

import build.bazel.remote.execution.v2.ActionResult;
import io.grpc.StatusRuntimeException;
import io.larder.server.internal.grpc.ActionResults;
import io.larder.server.internal.grpc.Cas;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Bazel's HTTP action cache ({@code /ac/}), over the same entries as the gRPC ActionCache: an action result
 * is served only if every blob it names is stored, as protobuf or, when the client accepts
 * {@code application/json} (moon), as JSON; one uploaded as JSON is checked and stored as protobuf. Content
 * that is not an action result (ccache keeps its own entries under {@code /ac/}) is stored and served as is.
 */
final class ActionCacheHttp implements Protocol.Handler {
  /** The largest action result accepted as JSON (read whole to be parsed). */
  private static final int MAX_JSON = 16 << 20;
  private static final String JSON = "application/json";

  private final ServerContext context;
  private final KeyedContent asStored;
  private final ActionResults results;

  ActionCacheHttp(ServerContext context, KeyedContent asStored) {
    this.context = context;
    this.asStored = asStored;
    this.results = new ActionResults(new Cas(context.store(), context.bound()), context.options().checkActionResults());
  }

  @Override
  public void handle(Exchange x, Route r) throws Exception {
    HttpMethod m = x.method();
    if (!m.equals(HttpMethod.GET) && !m.equals(HttpMethod.HEAD)) {
      asStored.handle(x, r);
      return;
    }
    Optional<ActionResults.Stored> stored = ActionResults.load(context.store(), r.key());
    if (stored.isEmpty()) {
      asStored.handle(x, r); // a miss, or not an action result: answered as any stored content
      return;
    }
    ActionResult result = stored.get().result();
    if (!results.complete(result)) {
      x.hit = false;
      x.text(HttpResponseStatus.NOT_FOUND, "the action result names blobs that are no longer stored: a miss");
      return;
    }
    x.hit = true;
    boolean json = accepts(x.request.headers().get(HttpHeaderNames.ACCEPT));
    byte[] body = json ? ActionResults.toJson(result).getBytes(StandardCharsets.UTF_8)
        : stored.get().json() ? result.toByteArray() : stored.get().bytes();
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.CONTENT_LENGTH, body.length);
    x.send(HttpResponseStatus.OK, Unpooled.wrappedBuffer(body), json ? JSON : "application/octet-stream", h);
  }

  private static boolean accepts(String accept) {
    return accept != null && accept.toLowerCase(java.util.Locale.ROOT).contains(JSON);
  }

  @Override
  public void upload(Exchange x, Route r, Upload body, long length) throws Exception {
    String type = x.request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith(JSON)) {
      asStored.upload(x, r, body, length);
      return;
    }
    if (length > MAX_JSON) {
      Uploads.drain(body);
      x.text(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "an action result in JSON is at most " + MAX_JSON + " bytes");
      return;
    }
    byte[] json = body.readAllBytes();
    Optional<ActionResult> result = ActionResults.fromJson(new String(json, StandardCharsets.UTF_8));
    if (result.isEmpty()) {
      x.text(HttpResponseStatus.BAD_REQUEST, "the body is not an ActionResult in JSON (protobuf's JSON mapping)");
      return;
    }
    try {
      ActionResults.validate(result.get());
    } catch (StatusRuntimeException e) {
      x.text(HttpResponseStatus.BAD_REQUEST, e.getStatus().getDescription());
      return;
    }
    byte[] stored = result.get().toByteArray();
    context.bound().putWithin(stored.length, () -> context.store().put(r.key(), stored));
    context.metrics().received(json.length);
    context.readiness().wrote();
    x.empty(HttpResponseStatus.OK, null);
  }
}
