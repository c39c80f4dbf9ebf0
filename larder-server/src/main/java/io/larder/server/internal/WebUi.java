package io.larder.server.internal;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The web page at {@code /}: three static files in the jar ({@code /} is index.html, {@code /ui/app.js},
 * {@code /ui/app.css}), held in memory, that draw everything from the server's JSON ({@code /status},
 * {@code /v1/history}, {@code /v1/entries}). Nothing from a CDN, no build step; behind the same credentials
 * as everything else (the browser asks for them once and sends them with every request of the page).
 */
final class WebUi implements Protocol.Handler {
  private record Asset(byte[] bytes, String type, String etag) {}

  private final Map<String, Asset> assets = Map.of(
      "", load("index.html", "text/html; charset=utf-8"),
      "app.js", load("app.js", "text/javascript; charset=utf-8"),
      "app.css", load("app.css", "text/css; charset=utf-8"));

  private static Asset load(String name, String type) {
    try (InputStream in = WebUi.class.getResourceAsStream("/io/larder/server/ui/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the web page's " + name + " is missing from the jar");
      }
      byte[] b = in.readAllBytes();
      return new Asset(b, type, "\"" + Integer.toHexString(java.util.Arrays.hashCode(b)) + "\"");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void handle(Exchange x, Route route) {
    Asset a = assets.get(route.rest());
    if (a == null) {
      x.text(HttpResponseStatus.NOT_FOUND, "no such file of the web page: " + route.path().path);
      return;
    }
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.ETAG, a.etag());
    h.set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    if (a.etag().equals(x.request.headers().get(HttpHeaderNames.IF_NONE_MATCH))) {
      x.send(HttpResponseStatus.NOT_MODIFIED, Unpooled.EMPTY_BUFFER, null, h);
      return;
    }
    x.send(HttpResponseStatus.OK, Unpooled.wrappedBuffer(a.bytes()), a.type(), h);
  }
}
