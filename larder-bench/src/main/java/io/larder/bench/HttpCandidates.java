package io.larder.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The HTTP stacks considered for {@code larder serve}, each serving the files of a directory the way the
 * server would serve blobs: small files read into memory, large ones without copying through the heap
 * (Netty: a file region, i.e. sendfile; Jetty: a memory-mapped buffer). Run by {@code larder-bench/http-stacks}
 * against nginx serving the same files, with wrk. Usage: {@code HttpCandidates jetty|netty PORT DIR}.
 */
public final class HttpCandidates {
  private static final int SMALL = 64 * 1024;

  private HttpCandidates() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[1]);
    Path dir = Path.of(args[2]);
    switch (args[0]) {
      case "jetty" -> jetty(port, dir);
      case "netty" -> netty(port, dir);
      default -> throw new IllegalArgumentException("jetty or netty");
    }
  }

  private static void jetty(int port, Path dir) throws Exception {
    QueuedThreadPool pool = new QueuedThreadPool(64, 8);
    Server server = new Server(pool);
    ServerConnector c = new ServerConnector(server, 1, 2);
    c.setHost("127.0.0.1");
    c.setPort(port);
    server.addConnector(c);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Path f = dir.resolve(request.getHttpURI().getPath().substring(1));
        ByteBuffer body;
        try (FileChannel ch = FileChannel.open(f)) {
          long size = ch.size();
          body = size <= SMALL ? ByteBuffer.wrap(Files.readAllBytes(f))
              : ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        } catch (NoSuchFileException e) {
          Response.writeError(request, response, callback, 404);
          return true;
        }
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.remaining());
        response.write(true, body, callback);
        return true;
      }
    });
    server.start();
    server.join();
  }

  private static void netty(int port, Path dir) throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new SimpleChannelInboundHandler<HttpObject>() {
              @Override
              protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) throws Exception {
                if (!(msg instanceof HttpRequest req)) {
                  return;
                }
                Path f = dir.resolve(req.uri().substring(1));
                FileChannel fc;
                try {
                  fc = FileChannel.open(f);
                } catch (NoSuchFileException e) {
                  var r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND);
                  r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
                  ctx.write(r);
                  return;
                }
                long size = fc.size();
                if (size <= SMALL) {
                  byte[] b = new byte[(int) size];
                  fc.read(ByteBuffer.wrap(b), 0);
                  fc.close();
                  var r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(b));
                  r.headers().set(HttpHeaderNames.CONTENT_LENGTH, size);
                  ctx.write(r);
                } else {
                  var r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                  r.headers().set(HttpHeaderNames.CONTENT_LENGTH, size);
                  ctx.write(r);
                  ctx.write(new DefaultFileRegion(fc, 0, size));
                  ctx.write(LastHttpContent.EMPTY_LAST_CONTENT);
                }
              }

              @Override
              public void channelReadComplete(ChannelHandlerContext ctx) {
                ctx.flush();
              }
            });
          }
        }).bind("127.0.0.1", port).sync().channel().closeFuture().sync();
  }
}
