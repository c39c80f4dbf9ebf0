package io.larder.server.internal;

import io.larder.config.JsonShapes;
import io.larder.Content;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderException;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.Set;

/**
 * Replies with stored content, by key or by digest: HEAD, conditional requests ({@code If-None-Match}),
 * ranges, and the transmission itself — trusted files by the kernel (sendfile), small content whole once
 * verified, large content streamed one chunk behind its verification.
 */
final class StoredReplies {
  /** Content up to this size is read whole (verified) and sent in one response; larger content is streamed. */
  private static final int WHOLE = 1024 * 1024;
  private static final int CHUNK = 256 * 1024;
  /** Content up to this size is read and verified on the event loop (tens of microseconds at most). */
  private static final int SMALL_ON_LOOP = 64 * 1024;

  private final ServerContext context;
  private final Larder store;

  StoredReplies(ServerContext context) {
    this.context = context;
    this.store = context.store();
  }

  static String etag(Integrity i) {
    return "\"" + i.strongest().sri() + "\"";
  }

  /** GET or HEAD of the entry under {@code key}; {@code rest}: with Larder's own headers (integrity, metadata). */
  void serveKey(Exchange x, String key, boolean rest) throws Exception {
    serveKey(x, key, rest, Set.of());
  }

  /**
   * {@link #serveKey(Exchange, String, boolean)}, also sending back the headers named in {@code kept} that
   * were stored with the entry's upload (see {@link #keptHeaders}).
   */
  void serveKey(Exchange x, String key, boolean rest, Set<String> kept) throws Exception {
    String rangeHeader = x.request.headers().get(HttpHeaderNames.RANGE);
    if (!x.isHead() && rangeHeader == null) {
      // the common case, a whole GET: one index lookup
      Optional<Content> c = store.get(key);
      if (c.isEmpty()) {
        miss(x, "no entry");
        return;
      }
      HttpHeaders h = entryHeaders(c.get().entry().orElseThrow(), rest, kept);
      if (notModified(x, c.get().integrity(), h)) {
        c.get().close();
        return;
      }
      send(x, c, h, ByteRange.WHOLE);
      return;
    }
    Optional<Entry> info = store.info(key);
    if (info.isEmpty()) {
      miss(x, "no entry");
      return;
    }
    Entry e = info.get();
    HttpHeaders h = entryHeaders(e, rest, kept);
    if (notModified(x, e.integrity(), h)) {
      return;
    }
    if (x.isHead()) {
      head(x, h, e.size());
      return;
    }
    ByteRange range = ByteRange.of(rangeHeader, e.size());
    switch (range) {
      case ByteRange.Unsatisfiable u -> unsatisfiable(x, u);
      case ByteRange.Part p -> send(x, store.getRange(key, p.offset(), p.length()), h, p);
      case ByteRange.Whole w -> send(x, store.get(key), h, w);
    }
  }

  /** GET or HEAD of content by its digest, whichever keys point at it. */
  void serveDigest(Exchange x, Integrity d) throws Exception {
    Optional<Content> c = store.getByDigest(d);
    if (c.isEmpty()) {
      miss(x, "no content " + d);
      return;
    }
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.ETAG, etag(c.get().integrity()));
    h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
    if (notModified(x, c.get().integrity(), h)) {
      c.get().close();
      return;
    }
    if (x.isHead()) {
      c.get().close();
      head(x, h, c.get().size());
      return;
    }
    ByteRange range = ByteRange.of(x.request.headers().get(HttpHeaderNames.RANGE), c.get().size());
    switch (range) {
      case ByteRange.Whole w -> send(x, c, h, w);
      case ByteRange.Unsatisfiable u -> {
        c.get().close();
        unsatisfiable(x, u);
      }
      case ByteRange.Part p -> {
        c.get().close();
        send(x, store.getRangeByDigest(d, p.offset(), p.length()), h, p);
      }
    }
  }

  private static void miss(Exchange x, String message) {
    x.hit = false;
    x.text(HttpResponseStatus.NOT_FOUND, message);
  }

  private static void head(Exchange x, HttpHeaders h, long size) {
    x.hit = true;
    h.set(HttpHeaderNames.CONTENT_LENGTH, size);
    x.empty(HttpResponseStatus.OK, h);
  }

  private static void unsatisfiable(Exchange x, ByteRange.Unsatisfiable u) {
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + u.size());
    x.empty(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, h);
  }

  /**
   * The entry metadata that keeps an upload's {@code names} headers (those it has), or null if it has none:
   * {@code {"headers": {"x-artifact-tag": "…"}}}. Values are kept as sent (Netty has checked them).
   */
  static String keptHeaders(HttpHeaders request, Set<String> names) {
    com.fasterxml.jackson.databind.node.ObjectNode kept = JsonShapes.MAPPER.createObjectNode();
    for (String n : names) {
      String v = request.get(n);
      if (v != null) {
        kept.put(n, v);
      }
    }
    return kept.isEmpty() ? null : JsonShapes.MAPPER.createObjectNode().set("headers", kept).toString();
  }

  private static HttpHeaders entryHeaders(Entry e, boolean rest, Set<String> kept) {
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.ETAG, etag(e.integrity()));
    h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
    if (!kept.isEmpty() && e.metadata() != null) {
      try {
        com.fasterxml.jackson.databind.JsonNode stored = JsonShapes.MAPPER.readTree(e.metadata()).path("headers");
        for (String n : kept) {
          if (stored.path(n).isTextual()) {
            h.set(n, stored.path(n).asText());
          }
        }
      } catch (java.io.IOException ignored) {
        // metadata that is not ours to read: no headers from it
      }
    }
    if (rest) {
      h.set("X-Larder-Integrity", e.integrity().toString());
      if (e.metadata() != null) {
        h.set("X-Larder-Metadata", e.metadata());
      }
    }
    return h;
  }

  private static boolean notModified(Exchange x, Integrity i, HttpHeaders h) {
    String inm = x.request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
    if (inm == null) {
      return false;
    }
    String tag = etag(i);
    for (String t : inm.split(",")) {
      String s = t.strip();
      if (s.equals("*") || s.equals(tag) || s.equals("W/" + tag)) {
        x.hit = true;
        x.empty(HttpResponseStatus.NOT_MODIFIED, h);
        return true;
      }
    }
    return false;
  }

  /**
   * Sends content. A trusted file (verified since it last changed) goes out by sendfile; up to {@link #WHOLE}
   * bytes are read (and verified) before the response starts; larger content is streamed, always one chunk
   * behind the reader, so that the last bytes go out only after the stream verified the whole: a mismatch
   * closes the connection before the response is complete, and the client sees a failed transfer, never a
   * wrong blob.
   */
  private void send(Exchange x, Optional<Content> found, HttpHeaders h, ByteRange range) throws Exception {
    if (found.isEmpty()) {
      miss(x, "no entry");
      return;
    }
    x.hit = true;
    Content content = found.get();
    if (range instanceof ByteRange.Whole && content.channel().isPresent() && context.options().tls() == null
        && !(x.channel instanceof io.netty.handler.codec.http2.Http2StreamChannel)) { // a file region is not a frame
      sendFile(x, content, h);
      return;
    }
    if (x.onEventLoop && content.length() > SMALL_ON_LOOP) {
      x.onEventLoop = false;
      context.workers().execute(() -> x.run(() -> send(x, found, h, range)));
      return;
    }
    try (Content c = content) {
      HttpResponseStatus status = HttpResponseStatus.OK;
      if (range instanceof ByteRange.Part p) {
        status = HttpResponseStatus.PARTIAL_CONTENT;
        h.set(HttpHeaderNames.CONTENT_RANGE, "bytes " + p.offset() + "-" + (p.offset() + c.length() - 1) + "/" + c.size());
      }
      if (c.length() <= WHOLE) {
        byte[] b = c.readAllBytes();
        context.metrics().sent(b.length);
        x.send(status, Unpooled.wrappedBuffer(b), "application/octet-stream", h);
        return;
      }
      stream(x, c, status, h);
    }
  }

  /** A trusted file, sent by the kernel (sendfile), corked around the header and the file. */
  private void sendFile(Exchange x, Content trusted, HttpHeaders h) {
    HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
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
    Channel ch = x.channel;
    boolean cork = ch instanceof EpollSocketChannel;
    ChannelPromise last = ch.newPromise();
    last.addListener(f -> trusted.close());
    Runnable send = () -> {
      if (cork) {
        ch.config().setOption(EpollChannelOption.TCP_CORK, true);
      }
      ch.write(r);
      ch.write(new DefaultFileRegion(trusted.channel().orElseThrow(), 0, trusted.length()));
      ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, last);
      if (cork && ch.isActive()) {
        ch.config().setOption(EpollChannelOption.TCP_CORK, false);
      }
    };
    if (ch.eventLoop().inEventLoop()) {
      send.run();
    } else {
      ch.eventLoop().execute(send);
    }
    context.metrics().sent(trusted.length());
    x.bytes = trusted.length();
    x.finish(r, HttpResponseStatus.OK.code(), last);
  }

  /** Large content, streamed one chunk behind its verification. */
  private void stream(Exchange x, Content c, HttpResponseStatus status, HttpHeaders h) throws IOException {
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
          if (n == 0) {
            break; // the last bytes are out, and the stream verified the content on reaching its end
          }
          if (!ch.isWritable()) {
            f.await();
          }
          if (!ch.isActive()) {
            throw new IOException("the client went away");
          }
        }
        if (n == 0) {
          break; // empty content
        }
        held = buf;
        heldLen = n;
      }
    } catch (LarderException | IOException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      if (e instanceof LarderException le && le.kind() == LarderException.Kind.CORRUPT) {
        context.metrics().integrityFailure();
      }
      x.bytes = sent;
      x.finish(r, 500, ch.close());
      return;
    }
    context.metrics().sent(sent);
    x.bytes = sent;
    x.finish(r, status.code(), ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
  }
}
