package io.larder.server.internal;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * sccache's WebDAV storage under a base path ({@code /sccache/}): content under the key the path names
 * (GET, HEAD, PUT, DELETE, as {@link KeyedContent}), and the two WebDAV methods sccache sends before it
 * writes — {@code PROPFIND} of each level of the key's path (answered 404: collections are implicit here, so
 * the client goes on to create them) and {@code MKCOL} (201: nothing to create). Other WebDAV methods get
 * 405 with an {@code Allow} header.
 */
final class WebDav implements Protocol.Handler {
  static final HttpMethod PROPFIND = HttpMethod.valueOf("PROPFIND");
  static final HttpMethod MKCOL = HttpMethod.valueOf("MKCOL");

  private final KeyedContent content;

  WebDav(KeyedContent content) {
    this.content = content;
  }

  @Override
  public void handle(Exchange x, Route r) throws Exception {
    HttpMethod m = x.method();
    if (m.equals(PROPFIND)) {
      x.hit = false;
      x.text(HttpResponseStatus.NOT_FOUND, "no properties here: collections are implicit; PUT creates what it needs");
    } else if (m.equals(MKCOL)) {
      x.empty(HttpResponseStatus.CREATED, null);
    } else if (m.equals(HttpMethod.OPTIONS)) {
      HttpHeaders h = new DefaultHttpHeaders();
      h.set("DAV", "1");
      x.empty(HttpResponseStatus.OK, h);
    } else if (r.key() == null) {
      x.notAllowed(); // a collection's path: it holds no content
    } else {
      content.handle(x, r);
    }
  }

  @Override
  public void upload(Exchange x, Route r, Upload body, long length) {
    if (r.key() == null) {
      Uploads.drain(body);
      x.notAllowed();
      return;
    }
    content.upload(x, r, body, length);
  }
}
