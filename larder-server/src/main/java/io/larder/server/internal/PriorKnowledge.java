package io.larder.server.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.util.List;
import java.util.function.Supplier;

/**
 * Tells a connection that opens with HTTP/2's preface (h2c with prior knowledge, as moon's HTTP cache client
 * speaks) from an HTTP/1.1 one by its first bytes. HTTP/1.1 goes on through the pipeline as it is; HTTP/2
 * gets a frame codec, and each stream a child channel in which the stream's frames become HTTP/1 messages
 * for a handler of its own — the same handler, protocol table and rules as HTTP/1.1.
 */
final class PriorKnowledge extends ByteToMessageDecoder {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  private final Supplier<ChannelHandler> streamHandler;
  private final io.grpc.Channel grpc;
  private final List<Class<? extends ChannelHandler>> http1;

  /**
   * @param streamHandler a new handler for one HTTP/2 stream
   * @param grpc where a stream that is a gRPC call goes (the services in process), or null
   * @param http1 the handlers after this one that serve HTTP/1.1 (removed for an HTTP/2 connection)
   */
  PriorKnowledge(Supplier<ChannelHandler> streamHandler, io.grpc.Channel grpc, List<Class<? extends ChannelHandler>> http1) {
    this.streamHandler = streamHandler;
    this.grpc = grpc;
    this.http1 = http1;
  }

  /** A stream's first handler: a gRPC call goes to the gRPC services, any other request to the protocol table. */
  private final class GrpcOrHttp extends io.netty.channel.ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ChannelHandler next = msg instanceof io.netty.handler.codec.http.HttpRequest r && grpc != null
          && io.larder.server.internal.grpc.GrpcOverHttp2.isGrpc(r)
          ? new io.larder.server.internal.grpc.GrpcOverHttp2(grpc) : streamHandler.get();
      ctx.pipeline().addAfter(ctx.name(), null, next);
      ctx.fireChannelRead(msg); // to the handler just added
      ctx.pipeline().remove(this);
    }
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
    if (!ByteBufUtil.equals(PREFACE, PREFACE.readerIndex(), in, in.readerIndex(), n)) {
      ctx.pipeline().remove(this); // HTTP/1.1: what was read goes on to the HTTP/1.1 codec
      return;
    }
    if (n < PREFACE.readableBytes()) {
      return; // the preface so far: wait for the rest
    }
    for (Class<? extends ChannelHandler> h : http1) {
      ctx.pipeline().remove(h);
    }
    ctx.pipeline().addAfter(ctx.name(), "h2-frames", Http2FrameCodecBuilder.forServer()
        .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(256).maxHeaderListSize(16 * 1024))
        .build());
    ctx.pipeline().addAfter("h2-frames", "h2-multiplex", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
      @Override
      protected void initChannel(Http2StreamChannel ch) {
        ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new GrpcOrHttp());
      }
    }));
    ctx.pipeline().remove(this); // the preface and what follows go to the frame codec
  }
}
