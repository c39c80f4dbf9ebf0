package io.larder.server.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.LarderException;
import io.larder.config.JsonShapes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * One HTTP request and its response: how a reply is sent, and what the metrics and the access log record of
 * it once it is finished (then the connection takes its next request, or closes).
 */
final class Exchange {
  final long start = System.nanoTime();
  final HttpRequest request;
  final Channel channel;
  final boolean keepAlive;
  private final ServerContext context;
  private final Runnable next;
  private final Runnable finished;
  String protocol = "unknown";
  /** Who the credentials say the client is ("-": anonymous, or authentication off). */
  String principal = "-";
  String subject = "-";
  Boolean hit;
  long bytes;
  /** Whether the connection closes after the response (a refused upload's body was never read). */
  boolean close;
  /** How long a connection whose request body was refused is read (and dropped) after the response. */
  static final long LINGER_MILLIS = 2_000;
  /** Whether the exchange is being handled on the event loop (only short work may happen there). */
  boolean onEventLoop;
  /** Its protocol, once known (for a 405's {@code Allow} header). */
  Protocol entry;

  /**
   * {@code next} runs on the event loop once the response is out and the connection may take its next
   * request; {@code finished} as soon as the response is complete (the request no longer counts as in flight).
   */
  Exchange(ServerContext context, Channel channel, HttpRequest request, Runnable next, Runnable finished) {
    this.context = context;
    this.channel = channel;
    this.request = request;
    this.keepAlive = HttpUtil.isKeepAlive(request);
    this.next = next;
    this.finished = finished;
  }

  ServerContext context() {
    return context;
  }

  HttpMethod method() {
    return request.method();
  }

  boolean isHead() {
    return request.method().equals(HttpMethod.HEAD);
  }

  /**
   * Sends a complete response and finishes the exchange. {@code extra}, a fresh set of headers or null,
   * becomes the response's own (not copied).
   */
  void send(HttpResponseStatus status, ByteBuf body, String contentType, HttpHeaders extra) {
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body,
        extra != null ? extra : new DefaultHttpHeaders(), EmptyHttpHeaders.INSTANCE);
    if (contentType != null) {
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    }
    if (close || !keepAlive) {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    boolean head = isHead();
    if (!head || !r.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, head ? 0 : body.readableBytes());
    }
    if (!head) {
      bytes = body.readableBytes();
    }
    finish(r, status.code(), channel.writeAndFlush(r));
  }

  /** An empty response with {@code headers} (or none). */
  void empty(HttpResponseStatus status, HttpHeaders headers) {
    send(status, Unpooled.EMPTY_BUFFER, null, headers);
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

  void json(HttpResponseStatus status, ObjectNode node) {
    json(status, node, null);
  }

  /** 405, with the methods the protocol answers in {@code Allow} when it says. */
  void notAllowed() {
    String allow = entry == null ? null : entry.allowed();
    HttpHeaders h = null;
    if (allow != null) {
      h = new DefaultHttpHeaders();
      h.set(HttpHeaderNames.ALLOW, allow);
    }
    send(HttpResponseStatus.METHOD_NOT_ALLOWED, Unpooled.copiedBuffer("method " + request.method()
        + " is not allowed here" + (allow == null ? "" : " (allowed: " + allow + ")") + "\n", StandardCharsets.UTF_8),
        "text/plain; charset=utf-8", h);
  }

  /** The reply to a store error: one status per kind of error, and the error's message. */
  void fail(LarderException e) {
    HttpResponseStatus s = switch (e.kind()) {
      case NOT_FOUND, CORRUPT -> HttpResponseStatus.NOT_FOUND;
      case DIGEST_MISMATCH, SIZE_MISMATCH, INVALID_KEY, INVALID_INTEGRITY, INVALID_ARGUMENT -> HttpResponseStatus.BAD_REQUEST;
      case INSUFFICIENT_STORAGE -> HttpResponseStatus.INSUFFICIENT_STORAGE;
      case BUSY, CLOSED -> HttpResponseStatus.SERVICE_UNAVAILABLE;
      case READ_ONLY -> HttpResponseStatus.FORBIDDEN;
      case IO -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
    };
    context.failed(e);
    if (e.kind() == LarderException.Kind.CORRUPT) {
      hit = false;
    }
    text(s, e.getMessage());
  }

  private String address() {
    return channel.remoteAddress() instanceof java.net.InetSocketAddress a ? a.getAddress().getHostAddress() : null;
  }

  /** Work that answers the exchange. */
  @FunctionalInterface
  interface Work {
    void run() throws Exception;
  }

  /**
   * Runs {@code work}; a store error is answered as {@link #fail}, a malformed part of the request as 400,
   * anything else as 500 (a bug of ours).
   */
  void run(Work work) {
    try {
      work.run();
    } catch (LarderException e) {
      fail(e);
    } catch (RequestPath.BadPath e) {
      text(HttpResponseStatus.BAD_REQUEST, e.getMessage());
    } catch (Exception e) {
      text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
    }
  }

  /**
   * Finishes the exchange once {@code last} (its response's last write) is done: recorded then — its
   * duration runs until the last byte was handed to the kernel, not until the response was queued — and the
   * connection moves on.
   */
  void finish(HttpResponse r, int status, ChannelFuture last) {
    last.addListener(f -> {
      context.record(protocol, request.method().name(), subject, hit, status, bytes, System.nanoTime() - start,
          new ServerContext.Client(address(), principal, request.headers().get(HttpHeaderNames.USER_AGENT)));
      finished.run();
    });
    if (close && channel instanceof io.netty.channel.socket.DuplexChannel socket) {
      // A refused body may still be arriving: closing now, with it unread, makes the kernel answer it with a
      // reset, which can reach the client before it has read this response. So only our side is shut (the
      // client reads the response to its end), what still comes is read and dropped, and the connection is
      // closed when the client closes it or after LINGER_MILLIS.
      last.addListener(f -> {
        socket.shutdownOutput();
        channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
      });
    } else if (close || !keepAlive) {
      last.addListener(ChannelFutureListener.CLOSE);
    } else {
      last.addListener(f -> next.run());
    }
  }
}
