package io.larder.server.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Content;
import io.larder.Entry;
import io.larder.GcOptions;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.PutOptions;
import io.larder.config.JsonShapes;
import io.larder.server.Credentials;
import io.larder.server.ServerOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.stream.Stream;

/**
 * One connection's requests. Headers are parsed on the event loop; the store is used on a virtual thread
 * per request (it blocks: SQLite, files). Reading stops while a request is handled (no pipelined request
 * overtakes a response) except for the body of an upload, which flows to the put with back-pressure.
 */
public final class HttpHandler extends ChannelInboundHandlerAdapter {
  /** Content up to this size is read whole (verified) and sent in one response; larger content is streamed. */
  private static final int WHOLE = 1024 * 1024;
  private static final int CHUNK = 256 * 1024;
  /** Content up to this size is read and verified on the event loop (tens of microseconds at most). */
  private static final int SMALL_ON_LOOP = 64 * 1024;

  private final Larder store;
  private final ServerOptions options;
  private final Metrics metrics;
  private final ExecutorService workers;
  private final boolean tiered;
  private final GcOptions gcOptions;
  private final Runnable inFlightDone;
  private final Runnable inFlightStart;
  private final Readiness readiness;
  private Upload upload;
  private boolean discardingBody;
  /** Closes a connection whose next request's headers do not arrive in time (slow-header clients). */
  private io.netty.util.concurrent.ScheduledFuture<?> headerDeadline;

  public HttpHandler(Larder store, ServerOptions options, Metrics metrics, Readiness readiness, ExecutorService workers,
      GcOptions gcOptions, Runnable inFlightStart, Runnable inFlightDone) {
    this.readiness = readiness;
    this.store = store;
    this.options = options;
    this.metrics = metrics;
    this.workers = workers;
    this.tiered = store.remoteTier().isPresent();
    this.gcOptions = gcOptions;
    this.inFlightStart = inFlightStart;
    this.inFlightDone = inFlightDone;
  }

  /** What the access log and the metrics record of one request. */
  private final class Exchange {
    final long start = System.nanoTime();
    final HttpRequest request;
    final Channel channel;
    final boolean keepAlive;
    String protocol = "unknown";
    String subject = "-";
    Boolean hit;
    long bytes;
    /** Whether the connection closes after the response (a refused upload's body was never read). */
    boolean close;
    /** Whether the exchange is being handled on the event loop (only short work may happen there). */
    boolean onEventLoop;

    Exchange(Channel channel, HttpRequest request) {
      this.channel = channel;
      this.request = request;
      this.keepAlive = HttpUtil.isKeepAlive(request);
    }

    /**
     * Sends a complete response and finishes the exchange. {@code extra}, a fresh set of headers or null,
     * becomes the response's own (not copied).
     */
    void send(HttpResponseStatus status, ByteBuf body, String contentType, HttpHeaders extra) {
      FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body,
          extra != null ? extra : new io.netty.handler.codec.http.DefaultHttpHeaders(),
          io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
      if (contentType != null) {
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
      }
      if (close || !keepAlive) {
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      }
      boolean head = request.method().equals(HttpMethod.HEAD);
      if (!head || !r.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
        r.headers().set(HttpHeaderNames.CONTENT_LENGTH, head ? 0 : body.readableBytes());
      }
      if (!head) {
        bytes = body.readableBytes();
      }
      finish(r, status.code(), channel.writeAndFlush(r));
    }

    void text(HttpResponseStatus status, String message) {
      send(status, Unpooled.copiedBuffer(message + "\n", StandardCharsets.UTF_8), "text/plain; charset=utf-8", null);
    }

    void json(HttpResponseStatus status, Object node, HttpHeaders extra) {
      byte[] b;
      try {
        b = JsonShapes.MAPPER.writeValueAsBytes(node);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      send(status, Unpooled.wrappedBuffer(b), "application/json", extra);
    }

    void finish(HttpResponse r, int status, ChannelFuture last) {
      if (close || !keepAlive) {
        last.addListener(ChannelFutureListener.CLOSE);
      } else {
        last.addListener(f -> next(channel));
      }
      long nanos = System.nanoTime() - start;
      metrics.request(protocol, request.method().name(), status, hit, nanos);
      if (options.accessLog() != null) {
        options.accessLog().printf("%s %s %s %s %s %d %d %.1fms%n", java.time.Instant.now(), request.method(),
            protocol, subject, hit == null ? "-" : hit ? "hit" : "miss", status, bytes, nanos / 1e6);
      }
      inFlightDone.run();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    awaitHeaders(ctx.channel());
    super.channelActive(ctx);
  }

  /** Event loop: starts the clock for the next request's headers. */
  private void awaitHeaders(Channel ch) {
    long ms = options.headerTimeout().toMillis();
    headerDeadline = ch.eventLoop().schedule(() -> {
      if (ch.isActive()) {
        ch.close();
      }
    }, ms, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /*
   * One request at a time per connection, without stopping and restarting reads for each (that costs two
   * system calls per request): a request that arrives before the previous response is out (HTTP
   * pipelining, or simply a client quicker than our completion callback) waits in `pending` with whatever
   * follows it, and only then does the connection stop reading. Body parts always go straight to the
   * request they belong to.
   */
  private boolean busy; // from a request's headers until its response is written
  private final java.util.ArrayDeque<Object> pending = new java.util.ArrayDeque<>();
  private ChannelHandlerContext context;

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    context = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    pending.add(msg);
    drain(ctx.channel());
  }

  /** Event loop: the response is out; take the next waiting request, if any. */
  private void next(Channel ch) {
    busy = false;
    awaitHeaders(ch);
    drain(ch);
  }

  /** Event loop: hands on messages in order; a request waits while the previous one is answered. */
  private void drain(Channel ch) {
    while (!pending.isEmpty() && !(busy && pending.peek() instanceof HttpRequest)) {
      dispatch(context, pending.poll());
    }
    boolean uploadPaused = upload != null && upload.paused();
    if (!pending.isEmpty()) {
      ch.config().setAutoRead(false); // a pipelined request waits: read no further for now
    } else if (!uploadPaused && !ch.config().isAutoRead()) {
      ch.config().setAutoRead(true);
    }
  }

  private void dispatch(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest req) {
      if (headerDeadline != null) {
        headerDeadline.cancel(false);
        headerDeadline = null;
      }
      busy = true;
      onRequest(ctx, req);
    }
    if (msg instanceof HttpContent c) {
      try {
        if (upload != null) {
          upload.offer(c.content().retain());
          if (c instanceof LastHttpContent) {
            upload.end();
            upload = null;
          }
        } else if (discardingBody && c instanceof LastHttpContent) {
          discardingBody = false;
        }
      } finally {
        c.release();
      }
    }
  }

  private void onRequest(ChannelHandlerContext ctx, HttpRequest req) {
    Channel ch = ctx.channel();
    inFlightStart.run();
    Exchange x = new Exchange(ch, req);
    if (req.decoderResult().isFailure()) {
      x.protocol = "invalid";
      x.close = true;
      x.text(HttpResponseStatus.BAD_REQUEST, "malformed request: " + req.decoderResult().cause().getMessage());
      return;
    }
    Route route;
    try {
      route = Route.parse(req.uri());
    } catch (Route.BadPath e) {
      x.protocol = "invalid";
      refuseBody(x, req);
      x.text(HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    x.protocol = route.protocol().label();
    x.subject = route.key() != null ? route.key() : route.rest() != null ? route.rest() : "-";
    HttpMethod m = req.method();
    if (route.protocol() != Route.Protocol.HEALTH) {
      boolean writes = m.equals(HttpMethod.PUT) || m.equals(HttpMethod.POST) || m.equals(HttpMethod.DELETE);
      Credentials.Access a = options.credentials().check(req.headers().get(HttpHeaderNames.AUTHORIZATION));
      if (!a.allows(writes ? Credentials.Access.WRITE : Credentials.Access.READ)) {
        refuseBody(x, req);
        if (a == Credentials.Access.NONE) {
          HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
          h.set(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=\"larder\"");
          x.send(HttpResponseStatus.UNAUTHORIZED, Unpooled.copiedBuffer(
              "credentials required: Authorization: Bearer TOKEN or HTTP Basic\n", StandardCharsets.UTF_8), "text/plain", h);
        } else {
          x.text(HttpResponseStatus.FORBIDDEN, "these credentials may read, not write");
        }
        return;
      }
    }
    boolean hasBody = m.equals(HttpMethod.PUT) || m.equals(HttpMethod.POST) && route.protocol() != Route.Protocol.REST;
    boolean restPut = route.protocol() == Route.Protocol.REST && m.equals(HttpMethod.PUT);
    if (hasBody || restPut) {
      long length = HttpUtil.getContentLength(req, -1L);
      if (length < 0) {
        refuseBody(x, req);
        x.text(HttpResponseStatus.LENGTH_REQUIRED, "an upload needs a Content-Length");
        return;
      }
      if (length > options.maxBlobSize()) {
        refuseBody(x, req);
        x.text(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            "the upload of " + length + " bytes is over this server's limit of " + options.maxBlobSize() + " bytes");
        return;
      }
      Upload u = new Upload(ch);
      upload = u;
      if (HttpUtil.is100ContinueExpected(req)) {
        ch.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
      }
      workers.execute(() -> run(x, () -> put(x, route, length, u)));
      return;
    }
    if (HttpUtil.getContentLength(req, 0L) > 0 || HttpUtil.isTransferEncodingChunked(req)) {
      discardingBody = true; // a body we do not use (e.g. on a GET) is read and dropped
    }
    if (readsOnly(route, m) && (!tiered || route.protocol() == Route.Protocol.HEALTH)) {
      // Lookups are short (an index read; small content is hashed in microseconds): answered here, on the
      // event loop, saving two thread hand-offs per request. Content that needs long work (hashing a large
      // file, streaming to a slow client) moves to a virtual thread in serve(). Not with a remote tier: a
      // local miss asks it, and a slow or unreachable S3 must not stall every connection of the loop.
      x.onEventLoop = true;
      run(x, () -> handle(x, route));
      return;
    }
    workers.execute(() -> run(x, () -> handle(x, route)));
  }

  private static boolean readsOnly(Route route, HttpMethod m) {
    return (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD)) && switch (route.protocol()) {
      case HEALTH, TURBO_STATUS, KV, BAZEL_AC, BAZEL_CAS, TURBO -> true;
      default -> false; // metrics and REST listings can take longer
    };
  }

  /** A refused upload: its body is never read, so the connection cannot be reused. */
  private static void refuseBody(Exchange x, HttpRequest req) {
    if (HttpUtil.getContentLength(req, 0L) > 0 || HttpUtil.isTransferEncodingChunked(req)) {
      x.close = true;
    }
  }

  private void run(Exchange x, ThrowingRunnable work) {
    try {
      work.run();
    } catch (LarderException e) {
      error(x, e);
    } catch (Exception e) {
      x.text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
    }
  }

  @FunctionalInterface
  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  private void error(Exchange x, LarderException e) {
    HttpResponseStatus s = switch (e.kind()) {
      case NOT_FOUND -> HttpResponseStatus.NOT_FOUND;
      case DIGEST_MISMATCH, SIZE_MISMATCH, INVALID_KEY, INVALID_INTEGRITY, INVALID_ARGUMENT -> HttpResponseStatus.BAD_REQUEST;
      case INSUFFICIENT_STORAGE -> HttpResponseStatus.INSUFFICIENT_STORAGE;
      case BUSY, CLOSED -> HttpResponseStatus.SERVICE_UNAVAILABLE;
      case CORRUPT -> HttpResponseStatus.NOT_FOUND;
      case IO -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
    };
    if (e.kind() == LarderException.Kind.CORRUPT || e.kind() == LarderException.Kind.DIGEST_MISMATCH) {
      metrics.integrityFailure();
    }
    if (e.kind() == LarderException.Kind.CORRUPT) {
      x.hit = false;
    }
    if (e.kind() == LarderException.Kind.INSUFFICIENT_STORAGE) {
      readiness.diskFull();
    }
    x.text(s, e.getMessage());
  }

  private static HttpResponse response(HttpResponseStatus s) {
    return new DefaultHttpResponse(HttpVersion.HTTP_1_1, s);
  }

  // ------------------------------------------------------------------ routes

  private void handle(Exchange x, Route route) throws Exception {
    HttpMethod m = x.request.method();
    switch (route.protocol()) {
      case HEALTH -> {
        Optional<String> why = route.rest().equals("readyz") ? readiness.notReady() : Optional.empty();
        x.text(why.isPresent() ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK, why.orElse("ok"));
      }
      case METRICS -> x.send(HttpResponseStatus.OK, Unpooled.copiedBuffer(metrics.scrape(), StandardCharsets.UTF_8),
          "text/plain; version=0.0.4; charset=utf-8", null);
      case TURBO_STATUS -> {
        ObjectNode n = JsonShapes.MAPPER.createObjectNode().put("status", "enabled");
        x.json(HttpResponseStatus.OK, n, null);
      }
      case REST -> rest(x, route.rest(), m);
      case BAZEL_CAS -> {
        if (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD)) {
          Optional<Entry> e = store.info(route.key());
          if (e.isPresent()) {
            serveKey(x, route.key(), m.equals(HttpMethod.HEAD), false);
          } else {
            // content stored under another key (e.g. through the REST API) is served by its digest
            serveDigest(x, Integrity.parse("sha256:" + route.casHex()), m.equals(HttpMethod.HEAD));
          }
        } else if (m.equals(HttpMethod.DELETE)) {
          delete(x, route.key());
        } else {
          notAllowed(x);
        }
      }
      default -> {
        if (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD)) {
          serveKey(x, route.key(), m.equals(HttpMethod.HEAD), false);
        } else if (m.equals(HttpMethod.DELETE)) {
          delete(x, route.key());
        } else {
          notAllowed(x);
        }
      }
    }
  }

  private void notAllowed(Exchange x) {
    x.text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method " + x.request.method() + " is not allowed here");
  }

  private void delete(Exchange x, String key) {
    boolean removed = store.remove(key);
    x.hit = removed;
    x.send(removed ? HttpResponseStatus.NO_CONTENT : HttpResponseStatus.NOT_FOUND, Unpooled.EMPTY_BUFFER, null, null);
  }

  private void put(Exchange x, Route route, long length, Upload body) throws Exception {
    try (body) {
      HttpMethod m = x.request.method();
      String key;
      PutOptions po = PutOptions.defaults().size(length);
      switch (route.protocol()) {
        case BAZEL_CAS -> {
          key = route.key();
          po = po.integrity(Integrity.parse("sha256:" + route.casHex()));
        }
        case BAZEL_AC, KV, TURBO -> key = route.key();
        case REST -> {
          String rest = route.rest();
          if (!rest.startsWith("entries/") || rest.length() == "entries/".length() || !m.equals(HttpMethod.PUT)) {
            drain(body);
            notAllowed(x);
            return;
          }
          key = rest.substring("entries/".length());
          HttpHeaders h = x.request.headers();
          if (h.contains("X-Larder-Metadata")) {
            po = po.metadata(h.get("X-Larder-Metadata"));
          }
          if (h.contains("X-Larder-Integrity")) {
            po = po.integrity(Integrity.parse(h.get("X-Larder-Integrity")));
          }
          if (h.contains("X-Larder-TTL")) {
            po = po.ttl(parseTtl(h.get("X-Larder-TTL")));
          }
        }
        default -> {
          drain(body);
          notAllowed(x);
          return;
        }
      }
      Entry e;
      try {
        e = store.put(key, body, po);
      } catch (LarderException ex) {
        if (ex.kind() == LarderException.Kind.IO && body.received() < length && !x.channel.isActive()) {
          // the client went away mid-body: nothing was stored, and there is no one to answer
          x.protocol = x.protocol + "(aborted)";
          x.finish(response(HttpResponseStatus.BAD_REQUEST), 499, x.channel.newSucceededFuture());
          return;
        }
        drain(body);
        throw ex;
      }
      metrics.received(e.size());
      readiness.wrote();
      HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
      h.set(HttpHeaderNames.ETAG, etag(e.integrity()));
      if (route.protocol() == Route.Protocol.REST) {
        x.json(HttpResponseStatus.CREATED, JsonShapes.entry(e), h);
      } else {
        x.send(HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER, null, h);
      }
    }
  }

  /** After a refused upload whose body is still arriving: take the rest so that the connection stays usable. */
  private static void drain(Upload body) {
    try {
      body.transferTo(java.io.OutputStream.nullOutputStream());
    } catch (IOException ignored) {
      // the client went away: nothing to keep
    }
  }

  private static Duration parseTtl(String s) {
    try {
      return Duration.ofSeconds(Long.parseLong(s.strip()));
    } catch (NumberFormatException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "X-Larder-TTL is a number of seconds, not '" + s + "'");
    }
  }

  private static String etag(Integrity i) {
    return "\"" + i.strongest().sri() + "\"";
  }

  // ------------------------------------------------------------------ reads

  private void serveKey(Exchange x, String key, boolean head, boolean rest) throws Exception {
    if (!head && !x.request.headers().contains(HttpHeaderNames.RANGE)) {
      // the common case, a whole GET: one index lookup
      Optional<Content> c = store.get(key);
      if (c.isEmpty()) {
        x.hit = false;
        x.text(HttpResponseStatus.NOT_FOUND, "no entry");
        return;
      }
      HttpHeaders h = entryHeaders(c.get().entry().orElseThrow(), rest);
      if (notModified(x, c.get().integrity(), h)) {
        c.get().close();
        return;
      }
      serve(x, c, h, null);
      return;
    }
    Optional<Entry> info = store.info(key);
    if (info.isEmpty()) {
      x.hit = false;
      x.text(HttpResponseStatus.NOT_FOUND, "no entry");
      return;
    }
    Entry e = info.get();
    HttpHeaders h = entryHeaders(e, rest);
    if (notModified(x, e.integrity(), h)) {
      return;
    }
    if (head) {
      x.hit = true;
      h.set(HttpHeaderNames.CONTENT_LENGTH, e.size());
      x.send(HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER, null, h);
      return;
    }
    long[] range = range(x, e.size());
    if (range == null && x.request.headers().contains(HttpHeaderNames.RANGE)) {
      return; // 416 sent
    }
    Optional<Content> c = range != null ? store.getRange(key, range[0], range[1]) : store.get(key);
    serve(x, c, h, range);
  }

  private void serveDigest(Exchange x, Integrity d, boolean head) throws Exception {
    Optional<Content> c = store.getByDigest(d);
    if (c.isEmpty()) {
      x.hit = false;
      x.text(HttpResponseStatus.NOT_FOUND, "no content " + d);
      return;
    }
    HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
    h.set(HttpHeaderNames.ETAG, etag(c.get().integrity()));
    h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
    if (notModified(x, c.get().integrity(), h)) {
      c.get().close();
      return;
    }
    if (head) {
      x.hit = true;
      h.set(HttpHeaderNames.CONTENT_LENGTH, c.get().size());
      c.get().close();
      x.send(HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER, null, h);
      return;
    }
    long size = c.get().size();
    long[] range = range(x, size);
    if (range == null && x.request.headers().contains(HttpHeaderNames.RANGE)) {
      c.get().close();
      return;
    }
    if (range != null) {
      c.get().close();
      serve(x, store.getRangeByDigest(d, range[0], range[1]), h, range);
    } else {
      serve(x, c, h, null);
    }
  }

  private HttpHeaders entryHeaders(Entry e, boolean rest) {
    HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
    h.set(HttpHeaderNames.ETAG, etag(e.integrity()));
    h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
    if (rest) {
      h.set("X-Larder-Integrity", e.integrity().toString());
      if (e.metadata() != null) {
        h.set("X-Larder-Metadata", e.metadata());
      }
    }
    return h;
  }

  private boolean notModified(Exchange x, Integrity i, HttpHeaders h) {
    String inm = x.request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
    if (inm == null) {
      return false;
    }
    String tag = etag(i);
    for (String t : inm.split(",")) {
      String s = t.strip();
      if (s.equals("*") || s.equals(tag) || s.equals("W/" + tag)) {
        x.hit = true;
        x.send(HttpResponseStatus.NOT_MODIFIED, Unpooled.EMPTY_BUFFER, null, h);
        return true;
      }
    }
    return false;
  }

  /**
   * The single byte range asked for, as {offset, length}; {@code null} without a Range header, or after
   * answering 416 for one that cannot be satisfied. Several ranges are not supported: the whole content is
   * sent (as RFC 9110 allows).
   */
  private long[] range(Exchange x, long size) {
    String r = x.request.headers().get(HttpHeaderNames.RANGE);
    if (r == null || !r.startsWith("bytes=") || r.contains(",")) {
      if (r != null && !r.startsWith("bytes=")) {
        x.request.headers().remove(HttpHeaderNames.RANGE);
      }
      if (r != null && r.contains(",")) {
        x.request.headers().remove(HttpHeaderNames.RANGE);
      }
      return null;
    }
    String spec = r.substring(6).strip();
    int dash = spec.indexOf('-');
    try {
      long first;
      long last;
      if (dash < 0) {
        throw new NumberFormatException();
      } else if (dash == 0) {
        long suffix = Long.parseLong(spec.substring(1));
        first = Math.max(0, size - suffix);
        last = size - 1;
      } else {
        first = Long.parseLong(spec.substring(0, dash));
        last = dash == spec.length() - 1 ? size - 1 : Math.min(size - 1, Long.parseLong(spec.substring(dash + 1)));
      }
      if (first >= size || last < first) {
        HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
        h.set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size);
        x.send(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, Unpooled.EMPTY_BUFFER, null, h);
        return null;
      }
      return new long[] {first, last - first + 1};
    } catch (NumberFormatException e) {
      x.request.headers().remove(HttpHeaderNames.RANGE); // an unparsable Range is ignored (RFC 9110)
      return null;
    }
  }

  /**
   * Sends content. Up to {@link #WHOLE} bytes it is read (and verified) before the response starts; larger
   * content is streamed, always one chunk behind the reader, so that the last bytes go out only after the
   * stream verified the whole: a mismatch closes the connection before the response is complete, and the
   * client sees a failed transfer, never a wrong blob.
   */
  private void serve(Exchange x, Optional<Content> found, HttpHeaders h, long[] range) throws Exception {
    if (found.isEmpty()) {
      x.hit = false;
      x.text(HttpResponseStatus.NOT_FOUND, "no entry");
      return;
    }
    x.hit = true;
    HttpResponseStatus status = HttpResponseStatus.OK;
    Content trusted = found.get();
    if (range == null && trusted.channel().isPresent() && options.tls() == null) {
      // verified since its file last changed (verify-reads = when-changed): sent by the kernel (sendfile)
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
      r.headers().add(h);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, trusted.length());
      if (!x.keepAlive) {
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      }
      // Corked while the header and the file are handed to the kernel, uncorked at once after: the header
      // travels in the file's first segment, and every segment is full (nginx's tcp_nopush with sendfile).
      // 1 MiB GETs at 64 connections: +36 % (median of 13 A/B pairs); at 2 connections -17 % (a tiny
      // first packet lets the client start early), still about nginx's rate there. BENCHMARKS.md,
      // "Sendfile, corked".
      boolean cork = x.channel instanceof io.netty.channel.epoll.EpollSocketChannel;
      ChannelPromise last = x.channel.newPromise();
      last.addListener(f -> trusted.close());
      Runnable send = () -> {
        if (cork) {
          x.channel.config().setOption(io.netty.channel.epoll.EpollChannelOption.TCP_CORK, true);
        }
        x.channel.write(r);
        x.channel.write(new io.netty.channel.DefaultFileRegion(trusted.channel().get(), 0, trusted.length()));
        x.channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, last);
        if (cork && x.channel.isActive()) {
          x.channel.config().setOption(io.netty.channel.epoll.EpollChannelOption.TCP_CORK, false);
        }
      };
      if (x.channel.eventLoop().inEventLoop()) {
        send.run();
      } else {
        x.channel.eventLoop().execute(send);
      }
      metrics.sent(trusted.length());
      x.bytes = trusted.length();
      x.finish(r, status.code(), last);
      return;
    }
    if (x.onEventLoop && trusted.length() > SMALL_ON_LOOP) {
      x.onEventLoop = false;
      workers.execute(() -> run(x, () -> serve(x, found, h, range)));
      return;
    }
    try (Content c = found.get()) {
      if (range != null) {
        status = HttpResponseStatus.PARTIAL_CONTENT;
        h.set(HttpHeaderNames.CONTENT_RANGE, "bytes " + range[0] + "-" + (range[0] + c.length() - 1) + "/" + c.size());
      }
      if (c.length() <= WHOLE) {
        byte[] b = c.readAllBytes();
        metrics.sent(b.length);
        x.send(status, Unpooled.wrappedBuffer(b), "application/octet-stream", h);
        return;
      }
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
      r.headers().add(h);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, c.length());
      Channel ch = x.channel;
      ch.write(r);
      InputStream in = c.stream();
      byte[] held = null;
      int heldLen = 0;
      long sent = 0;
      try {
        while (true) {
          byte[] buf = new byte[CHUNK];
          int n = in.readNBytes(buf, 0, buf.length);
          if (held != null) {
            ChannelFuture f = ch.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(held, 0, heldLen)));
            sent += heldLen;
            if (!ch.isWritable()) {
              f.await();
            }
            if (!ch.isActive()) {
              throw new IOException("the client went away");
            }
          }
          if (n == 0) {
            break; // the stream verified the content on reaching its end
          }
          held = buf;
          heldLen = n;
        }
      } catch (LarderException | IOException e) {
        if (e instanceof LarderException le && le.kind() == LarderException.Kind.CORRUPT) {
          metrics.integrityFailure();
        }
        x.bytes = sent;
        x.finish(r, 500, ch.close());
        return;
      }
      metrics.sent(sent);
      x.bytes = sent;
      x.finish(r, status.code(), ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }
  }

  // ------------------------------------------------------------------ REST

  private void rest(Exchange x, String rest, HttpMethod m) throws Exception {
    String path = rest;
    String query = "";
    int q = x.request.uri().indexOf('?');
    if (q >= 0) {
      query = x.request.uri().substring(q + 1);
    }
    if (path.equals("stats") && m.equals(HttpMethod.GET)) {
      x.json(HttpResponseStatus.OK, JsonShapes.stats(store.stats(), null), null);
    } else if (path.equals("gc") && m.equals(HttpMethod.POST)) {
      GcOptions o = gcOptions;
      if ("true".equals(Route.queryParam(query, "dryRun"))) {
        o = o.dryRun(true);
      }
      GcReport r = store.gc(o);
      metrics.evicted(r.evicted() + r.expired());
      x.json(HttpResponseStatus.OK, JsonShapes.gcReport(r), null);
    } else if (path.equals("entries")) {
      String prefix = Optional.ofNullable(Route.queryParam(query, "prefix")).orElse("");
      if (m.equals(HttpMethod.GET)) {
        list(x, prefix, query);
      } else if (m.equals(HttpMethod.DELETE)) {
        if (prefix.isEmpty()) {
          x.text(HttpResponseStatus.BAD_REQUEST, "DELETE /v1/entries needs a non-empty ?prefix=");
          return;
        }
        long n = store.removePrefix(prefix);
        x.json(HttpResponseStatus.OK, JsonShapes.MAPPER.createObjectNode().put("removed", n), null);
      } else {
        notAllowed(x);
      }
    } else if (path.startsWith("entries/") && path.length() > "entries/".length()) {
      String key = path.substring("entries/".length());
      if (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD)) {
        serveKey(x, key, m.equals(HttpMethod.HEAD), true);
      } else if (m.equals(HttpMethod.DELETE)) {
        delete(x, key);
      } else {
        notAllowed(x);
      }
    } else if (path.startsWith("blobs/") && (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD))) {
      serveDigest(x, Integrity.parse(path.substring("blobs/".length())), m.equals(HttpMethod.HEAD));
    } else {
      x.text(HttpResponseStatus.NOT_FOUND, "no such REST resource: /v1/" + path
          + " (see /v1/entries, /v1/entries/KEY, /v1/blobs/DIGEST, /v1/stats, POST /v1/gc)");
    }
  }

  private void list(Exchange x, String prefix, String query) {
    int limit = 100;
    String l = Route.queryParam(query, "limit");
    if (l != null) {
      try {
        limit = Integer.parseInt(l);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > 10_000) {
        x.text(HttpResponseStatus.BAD_REQUEST, "limit is a number from 1 to 10000, not '" + l + "'");
        return;
      }
    }
    String cursor = Route.queryParam(query, "cursor");
    String after = null;
    if (cursor != null && !cursor.isEmpty()) {
      try {
        after = new String(java.util.Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        x.text(HttpResponseStatus.BAD_REQUEST, "cursor is not one this server gave");
        return;
      }
    }
    ObjectNode out = JsonShapes.MAPPER.createObjectNode();
    ArrayNode arr = out.putArray("entries");
    String last = null;
    boolean more = false;
    try (Stream<Entry> s = store.list(prefix, after)) {
      Iterator<Entry> it = s.iterator();
      while (it.hasNext()) {
        Entry e = it.next();
        if (arr.size() == limit) {
          more = true;
          break;
        }
        arr.add(JsonShapes.entry(e));
        last = e.key();
      }
    }
    if (more) {
      out.put("cursor", java.util.Base64.getUrlEncoder().withoutPadding()
          .encodeToString(last.getBytes(StandardCharsets.UTF_8)));
    } else {
      out.putNull("cursor");
    }
    x.json(HttpResponseStatus.OK, out, null);
  }

  // ------------------------------------------------------------------ connection events

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    for (Object o; (o = pending.poll()) != null; ) {
      io.netty.util.ReferenceCountUtil.release(o);
    }
    if (upload != null) {
      upload.fail("the client disconnected before sending the whole body");
      upload = null;
    }
    super.channelInactive(ctx);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof IdleStateEvent) {
      ctx.close(); // a client that sends nothing for the idle timeout (also mid-headers or mid-body)
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
