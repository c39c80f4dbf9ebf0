package io.larder.server.internal;

import io.larder.server.Credentials;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP connection: its requests in order, and their admission (a parseable request, credentials, the
 * upload rules); what a request does is its protocol's (see {@link Protocols}). Headers are parsed on the
 * event loop; the store is used on a virtual thread per request (it blocks: SQLite, files), except short
 * lookups that a protocol lets run on the event loop. Reading stops while a request is handled (no pipelined
 * request overtakes a response) except for the body of an upload, which flows to the put with back-pressure.
 */
public final class HttpHandler extends ChannelInboundHandlerAdapter {
  private final ServerContext context;
  private final Protocols protocols;
  private final Runnable inFlightStart;
  private final Runnable inFlightDone;
  private Upload upload;
  private boolean discardingBody;
  /** Closes a connection whose next request's headers do not arrive in time (slow-header clients). */
  private ScheduledFuture<?> headerDeadline;

  /*
   * One request at a time per connection, without stopping and restarting reads for each (that costs two
   * system calls per request): a request that arrives before the previous response is out (HTTP
   * pipelining, or simply a client quicker than our completion callback) waits in `pending` with whatever
   * follows it, and only then does the connection stop reading. Body parts always go straight to the
   * request they belong to.
   */
  private boolean busy; // from a request's headers until its response is written
  private final ArrayDeque<Object> pending = new ArrayDeque<>();
  private ChannelHandlerContext channelContext;

  public HttpHandler(ServerContext context, Runnable inFlightStart, Runnable inFlightDone) {
    this.context = context;
    this.protocols = new Protocols(context);
    this.inFlightStart = inFlightStart;
    this.inFlightDone = inFlightDone;
  }

  /**
   * The handler that tells an HTTP/2 connection (prior knowledge) from an HTTP/1.1 one, to go before the
   * HTTP/1.1 codec and handler: an HTTP/2 connection's streams each get a handler like this one, or, for a
   * gRPC call, go to {@code grpc} (the gRPC services in process; null: none).
   */
  public static io.netty.channel.ChannelHandler priorKnowledge(ServerContext context, Runnable inFlightStart,
      Runnable inFlightDone, io.grpc.Channel grpc) {
    return new PriorKnowledge(() -> new HttpHandler(context, inFlightStart, inFlightDone), grpc,
        java.util.List.of(io.netty.handler.codec.http.HttpServerCodec.class, HttpHandler.class));
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    channelContext = ctx;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    awaitHeaders(ctx.channel());
    super.channelActive(ctx);
  }

  /** Event loop: starts the clock for the next request's headers. */
  private void awaitHeaders(Channel ch) {
    long ms = context.options().headerTimeout().toMillis();
    headerDeadline = ch.eventLoop().schedule(() -> {
      if (ch.isActive()) {
        ch.close();
      }
    }, ms, TimeUnit.MILLISECONDS);
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
      dispatch(pending.poll());
    }
    boolean uploadPaused = upload != null && upload.paused();
    if (!pending.isEmpty()) {
      ch.config().setAutoRead(false); // a pipelined request waits: read no further for now
    } else if (!uploadPaused && !ch.config().isAutoRead()) {
      ch.config().setAutoRead(true);
    }
  }

  private void dispatch(Object msg) {
    if (msg instanceof HttpRequest req) {
      if (headerDeadline != null) {
        headerDeadline.cancel(false);
        headerDeadline = null;
      }
      busy = true;
      onRequest(channelContext.channel(), req);
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

  /** Event loop: admits a request (or refuses it), then hands it to its protocol where it may run. */
  private void onRequest(Channel ch, HttpRequest req) {
    inFlightStart.run();
    Exchange x = new Exchange(context, ch, req, () -> next(ch), inFlightDone);
    if (req.decoderResult().isFailure()) {
      x.protocol = "invalid";
      x.close = true;
      x.text(HttpResponseStatus.BAD_REQUEST, "malformed request: " + req.decoderResult().cause().getMessage());
      return;
    }
    Route route;
    try {
      route = protocols.route(req.uri());
    } catch (RequestPath.BadPath e) { // before anything else, credentials included
      x.protocol = "invalid";
      refuseBody(x, req);
      x.text(HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    Protocol protocol = route.protocol();
    x.protocol = protocol.label();
    x.subject = route.subject();
    x.entry = protocol;
    HttpMethod m = req.method();
    if (!protocol.open() && !authorized(x, req, m)) {
      return;
    }
    if (protocol.uploads().contains(m)) {
      admitUpload(x, req, route);
      return;
    }
    if (HttpUtil.getContentLength(req, 0L) > 0 || HttpUtil.isTransferEncodingChunked(req)) {
      discardingBody = true; // a body we do not use (e.g. on a GET) is read and dropped
    }
    if (!protocol.answers(m)) {
      x.notAllowed();
      return;
    }
    boolean reads = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
    if (reads && protocol.readsOnEventLoop(context.tiered())) {
      // Lookups are short (an index read; small content is hashed in microseconds): answered here, on the
      // event loop, saving two thread hand-offs per request. Content that needs long work (hashing a large
      // file, streaming to a slow client) moves to a virtual thread when it is sent.
      x.onEventLoop = true;
      x.run(() -> protocol.handler().handle(x, route));
      return;
    }
    context.workers().execute(() -> x.run(() -> protocol.handler().handle(x, route)));
  }

  /** Whether the request's credentials allow its method; if not, it is answered (401 or 403). */
  private boolean authorized(Exchange x, HttpRequest req, HttpMethod m) {
    boolean writes = m.equals(HttpMethod.PUT) || m.equals(HttpMethod.POST) || m.equals(HttpMethod.DELETE)
        || m.equals(WebDav.MKCOL);
    Credentials.Principal who = context.options().credentials().identify(req.headers().get(HttpHeaderNames.AUTHORIZATION));
    x.principal = who.name();
    Credentials.Access a = who.access();
    if (a.allows(writes ? Credentials.Access.WRITE : Credentials.Access.READ)) {
      return true;
    }
    refuseBody(x, req);
    if (a == Credentials.Access.NONE) {
      HttpHeaders h = new DefaultHttpHeaders();
      h.set(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=\"larder\"");
      x.send(HttpResponseStatus.UNAUTHORIZED, Unpooled.copiedBuffer(
          "credentials required: Authorization: Bearer TOKEN or HTTP Basic\n", StandardCharsets.UTF_8), "text/plain", h);
    } else {
      x.text(HttpResponseStatus.FORBIDDEN, "these credentials may read, not write");
    }
    return false;
  }

  /** An upload: it needs a length within the limit; its body then streams to the protocol's put on a worker. */
  private void admitUpload(Exchange x, HttpRequest req, Route route) {
    long length = HttpUtil.getContentLength(req, -1L);
    long limit = context.bound().uploadLimit(context.options().maxBlobSize());
    if (length < 0) {
      refuseBody(x, req);
      x.text(HttpResponseStatus.LENGTH_REQUIRED, "an upload needs a Content-Length");
      return;
    }
    if (length > limit) {
      refuseBody(x, req);
      x.text(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
          "the upload of " + length + " bytes is over this server's limit of " + limit + " bytes"
              + (limit < context.options().maxBlobSize() ? " (its max-size)" : " (max-blob-size)"));
      return;
    }
    Upload u = new Upload(x.channel);
    upload = u;
    if (HttpUtil.is100ContinueExpected(req)) {
      x.channel.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
    }
    context.workers().execute(() -> x.run(() -> {
      try (u) {
        route.protocol().handler().upload(x, route, u, length);
      }
    }));
  }

  /** A refused upload: its body is never read, so the connection cannot be reused. */
  private static void refuseBody(Exchange x, HttpRequest req) {
    if (HttpUtil.getContentLength(req, 0L) > 0 || HttpUtil.isTransferEncodingChunked(req)) {
      x.close = true;
    }
  }

  // ------------------------------------------------------------------ connection events

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (headerDeadline != null) { // the connection turned out to be HTTP/2: its streams have handlers of their own
      headerDeadline.cancel(false);
      headerDeadline = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    for (Object o; (o = pending.poll()) != null; ) {
      ReferenceCountUtil.release(o);
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
