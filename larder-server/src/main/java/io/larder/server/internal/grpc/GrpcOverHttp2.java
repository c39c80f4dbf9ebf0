package io.larder.server.internal.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One gRPC call that arrived on the HTTP port as an HTTP/2 stream (h2c: moon's {@code http://} remote cache,
 * Bazel pointed at the HTTP port), handed to the same services in process: the stream's length-prefixed
 * messages become the call's messages, and its replies, status and trailers go back as DATA and trailing
 * HEADERS. Credentials, limits, metrics and the access log are the services' own, as on the gRPC port.
 * Flow control holds both ways: the stream stops being read while the call cannot take more, and a reply
 * is asked for only when the previous one was written.
 */
public final class GrpcOverHttp2 extends ChannelInboundHandlerAdapter {
  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (java.io.IOException e) {
        throw Status.INTERNAL.withCause(e).asRuntimeException();
      }
    }
  };
  /** HTTP/2 and gRPC framing headers that are not the call's metadata. */
  private static final Set<String> NOT_METADATA = Set.of("content-type", "te", "user-agent", "content-length",
      "host", "grpc-encoding", "grpc-accept-encoding", "x-http2-stream-id", "x-http2-scheme", "x-http2-path");
  /** The largest message accepted from a client (the services' own limit is checked past this). */
  private static final int MAX_MESSAGE = 16 << 20;

  private final Channel services;
  private ClientCall<byte[], byte[]> call;
  private ChannelHandlerContext ctx;
  private ByteBuf pending = Unpooled.EMPTY_BUFFER;
  private boolean closed;

  /** @param services the in-process channel to the server's gRPC services */
  public GrpcOverHttp2(Channel services) {
    this.services = services;
  }

  /** Whether {@code request} is a gRPC call (its content type says so). */
  public static boolean isGrpc(HttpRequest request) {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    return type != null && type.toLowerCase(Locale.ROOT).startsWith("application/grpc");
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    this.ctx = ctx;
    try {
      if (msg instanceof HttpRequest req) {
        start(req);
      }
      if (msg instanceof HttpContent c && call != null && !closed) {
        pending = pending.isReadable() ? Unpooled.wrappedBuffer(pending, c.content().retain()) : c.content().retain();
        sendMessages();
        if (msg instanceof LastHttpContent && !closed) {
          if (pending.isReadable()) {
            call.cancel("the stream ended inside a message", null);
          } else {
            call.halfClose();
          }
        }
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void start(HttpRequest req) {
    String path = req.uri();
    String method = path.startsWith("/") ? path.substring(1) : path;
    Metadata md = new Metadata();
    for (Map.Entry<String, String> h : req.headers()) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      if (!NOT_METADATA.contains(name) && !name.startsWith(":") && !name.endsWith("-bin")) {
        md.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), h.getValue());
      }
    }
    String encoding = req.headers().get("grpc-encoding");
    if (encoding != null && !encoding.equals("identity")) {
      finish(Status.UNIMPLEMENTED.withDescription("this server takes uncompressed gRPC messages (grpc-encoding identity),"
          + " not " + encoding), new Metadata());
      return;
    }
    call = services.newCall(MethodDescriptor.newBuilder(BYTES, BYTES).setFullMethodName(method)
        .setType(MethodDescriptor.MethodType.UNKNOWN).build(), CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onHeaders(Metadata headers) {
        ctx.executor().execute(() -> sendHeaders());
      }

      @Override
      public void onMessage(byte[] message) {
        ctx.executor().execute(() -> {
          sendHeaders();
          ByteBuf frame = ctx.alloc().buffer(5 + message.length);
          frame.writeByte(0).writeInt(message.length).writeBytes(message);
          ctx.writeAndFlush(new DefaultHttpContent(frame)).addListener(f -> {
            if (f.isSuccess() && !closed) {
              call.request(1); // the next reply once this one is on its way
            }
          });
        });
      }

      @Override
      public void onReady() {
        ctx.executor().execute(() -> ctx.channel().config().setAutoRead(true));
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        ctx.executor().execute(() -> finish(status, trailers));
      }
    }, md);
    call.request(1);
  }

  private boolean headersSent;

  private void sendHeaders() {
    if (!headersSent && !closed) {
      headersSent = true;
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
      ctx.write(r);
    }
  }

  /** Sends every complete message received so far; stops reading the stream while the call is full. */
  private void sendMessages() {
    while (pending.readableBytes() >= 5) {
      int flag = pending.getUnsignedByte(pending.readerIndex());
      long len = pending.getUnsignedInt(pending.readerIndex() + 1);
      if (flag != 0) {
        call.cancel("compressed message", null);
        finish(Status.UNIMPLEMENTED.withDescription("this server takes uncompressed gRPC messages"), new Metadata());
        return;
      }
      if (len > MAX_MESSAGE) {
        call.cancel("message too large", null);
        finish(Status.RESOURCE_EXHAUSTED.withDescription("a message is at most " + MAX_MESSAGE + " bytes here ("
            + len + ")"), new Metadata());
        return;
      }
      if (pending.readableBytes() < 5 + len) {
        break;
      }
      pending.skipBytes(5);
      byte[] m = new byte[(int) len];
      pending.readBytes(m);
      call.sendMessage(m);
    }
    if (!pending.isReadable()) {
      pending.release();
      pending = Unpooled.EMPTY_BUFFER;
    }
    if (!call.isReady()) {
      ctx.channel().config().setAutoRead(false); // onReady turns reading back on
    }
  }

  private void finish(Status status, Metadata trailers) {
    if (closed) {
      return;
    }
    closed = true;
    if (!headersSent) {
      // trailers only: a HEADERS frame that ends the stream, with the status in it
      headersSent = true;
      HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
      ctx.write(r);
    }
    LastHttpContent last = new DefaultLastHttpContent();
    last.trailingHeaders().set("grpc-status", Integer.toString(status.getCode().value()));
    if (status.getDescription() != null) {
      last.trailingHeaders().set("grpc-message", URLEncoder.encode(status.getDescription(), StandardCharsets.UTF_8)
          .replace("+", "%20"));
    }
    for (String key : trailers.keys()) {
      if (!key.endsWith("-bin") && !key.startsWith("grpc-")) {
        String v = trailers.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
        if (v != null) {
          last.trailingHeaders().set(key, v);
        }
      }
    }
    // the stream ends here, whatever the client was still sending: closing it resets it (the client stops)
    ctx.writeAndFlush(last).addListener(f -> ctx.channel().close());
    pending.release();
    pending = Unpooled.EMPTY_BUFFER;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (call != null && !closed) {
      closed = true;
      call.cancel("the client reset the stream", null);
    }
    if (pending.refCnt() > 0 && pending != Unpooled.EMPTY_BUFFER) {
      pending.release();
    }
    super.channelInactive(ctx);
  }
}
