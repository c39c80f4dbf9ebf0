package io.larder.server.internal;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.PutOptions;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Set;

/**
 * The build caches' protocol: content under the key the path names, read with GET and HEAD, stored with PUT
 * (or POST), removed with DELETE. When the path names the content's digest (Bazel's CAS), an upload is
 * verified against it, and a read falls back to content stored under another key with that digest.
 */
final class KeyedContent implements Protocol.Handler {
  private final ServerContext context;
  private final StoredReplies replies;
  private final boolean digestInPath;
  /** Request headers kept with an upload and sent back with the content (Turborepo's x-artifact-tag). */
  private final Set<String> kept;

  KeyedContent(ServerContext context, StoredReplies replies, boolean digestInPath) {
    this(context, replies, digestInPath, Set.of());
  }

  KeyedContent(ServerContext context, StoredReplies replies, boolean digestInPath, Set<String> kept) {
    this.context = context;
    this.replies = replies;
    this.digestInPath = digestInPath;
    this.kept = kept;
  }

  /** The digest a CAS key names ({@code bazel:cas:<hex>}). */
  private static Integrity digest(Route r) {
    return Integrity.parse("sha256:" + r.key().substring(Protocols.CAS.length()));
  }

  /** Whether {@code i} includes the SHA-256 the CAS route names. */
  private static boolean names(Integrity i, Route r) {
    return i.hash(Algorithm.SHA256).map(h -> h.hex().equals(r.key().substring(Protocols.CAS.length()))).orElse(false);
  }

  @Override
  public void handle(Exchange x, Route r) throws Exception {
    HttpMethod m = x.method();
    if (m.equals(HttpMethod.DELETE)) {
      delete(x, r.key());
    } else if (digestInPath && !context.store().info(r.key()).map(e -> names(e.integrity(), r)).orElse(false)) {
      // content stored under another key (e.g. through the REST API) is served by its digest, and so is
      // a key whose entry is not of that digest: a CAS read is checked against the digest it names
      replies.serveDigest(x, digest(r));
    } else {
      replies.serveKey(x, r.key(), false, kept);
    }
  }

  private void delete(Exchange x, String key) {
    boolean removed = context.store().remove(key);
    x.hit = removed;
    x.empty(removed ? HttpResponseStatus.NO_CONTENT : HttpResponseStatus.NOT_FOUND, null);
  }

  @Override
  public void upload(Exchange x, Route r, Upload body, long length) {
    PutOptions po = PutOptions.defaults().size(length);
    if (digestInPath) {
      po = po.integrity(digest(r));
    }
    String headers = kept.isEmpty() ? null : StoredReplies.keptHeaders(x.request.headers(), kept);
    if (headers != null) {
      po = po.metadata(headers);
    }
    Uploads.put(x, r.key(), po, length, body).ifPresent(e -> {
      HttpHeaders h = new DefaultHttpHeaders();
      h.set(HttpHeaderNames.ETAG, StoredReplies.etag(e.integrity()));
      x.empty(HttpResponseStatus.OK, h);
    });
  }
}
