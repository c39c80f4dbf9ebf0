package io.larder.server.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Entry;
import io.larder.GcOptions;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.PutOptions;
import io.larder.config.JsonShapes;
import io.larder.server.Namespaces;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Larder's own REST API under {@code /v1/}: entries by key (with metadata, integrity and TTL headers),
 * listings by prefix with a cursor, content by digest, statistics and collection.
 */
final class RestApi implements Protocol.Handler {
  private static final String ENTRIES = "entries/";

  private final ServerContext context;
  private final Larder store;
  private final StoredReplies replies;

  RestApi(ServerContext context, StoredReplies replies) {
    this.context = context;
    this.store = context.store();
    this.replies = replies;
    this.jobs = new Jobs(context);
  }

  private final Jobs jobs;

  @Override
  public void handle(Exchange x, Route route) throws Exception {
    String path = route.rest();
    HttpMethod m = x.method();
    boolean read = m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD);
    if (path.equals("stats") && m.equals(HttpMethod.GET)) {
      x.json(HttpResponseStatus.OK, JsonShapes.stats(store.stats(), null), null);
    } else if (path.equals("gc") && m.equals(HttpMethod.POST)) {
      GcOptions o = context.gcOptions();
      if ("true".equals(route.path().param("dryRun"))) {
        o = o.dryRun(true);
      }
      GcReport r = store.gc(o);
      context.metrics().evicted(r.evicted() + r.expired());
      x.json(HttpResponseStatus.OK, JsonShapes.gcReport(r), null);
    } else if (path.equals("jobs") && read) {
      ObjectNode j = jobs.current();
      x.json(HttpResponseStatus.OK, j == null ? JsonShapes.MAPPER.createObjectNode().putNull("job")
          : JsonShapes.MAPPER.createObjectNode().set("job", j), null);
    } else if ((path.equals("jobs/gc") || path.equals("jobs/verify")) && m.equals(HttpMethod.POST)) {
      Optional<ObjectNode> started = jobs.start(path.substring("jobs/".length()));
      if (started.isPresent()) {
        x.json(HttpResponseStatus.ACCEPTED, JsonShapes.MAPPER.createObjectNode().set("job", started.get()), null);
      } else {
        x.json(HttpResponseStatus.CONFLICT, JsonShapes.MAPPER.createObjectNode().put("error",
            "a collection or verification is running: see GET /v1/jobs").set("job", jobs.current()), null);
      }
    } else if (path.equals("history") && m.equals(HttpMethod.GET)) {
      x.json(HttpResponseStatus.OK, context.history().json(), null);
    } else if (path.equals("verify") && m.equals(HttpMethod.POST)) {
      x.json(HttpResponseStatus.OK, JsonShapes.verifyReport(store.verify()), null);
    } else if (path.equals("entries")) {
      String prefix = Optional.ofNullable(route.path().param("prefix")).orElse("");
      if (m.equals(HttpMethod.GET)) {
        list(x, prefix, route.path());
      } else if (m.equals(HttpMethod.DELETE)) {
        if (prefix.isEmpty()) {
          x.text(HttpResponseStatus.BAD_REQUEST, "DELETE /v1/entries needs a non-empty ?prefix=");
          return;
        }
        long n = store.removePrefix(prefix);
        x.json(HttpResponseStatus.OK, JsonShapes.MAPPER.createObjectNode().put("removed", n), null);
      } else {
        x.notAllowed();
      }
    } else if (path.startsWith(ENTRIES) && path.length() > ENTRIES.length()) {
      String key = path.substring(ENTRIES.length());
      if (read) {
        replies.serveKey(x, key, true);
      } else if (m.equals(HttpMethod.DELETE)) {
        boolean removed = store.remove(key);
        x.hit = removed;
        x.empty(removed ? HttpResponseStatus.NO_CONTENT : HttpResponseStatus.NOT_FOUND, null);
      } else {
        x.notAllowed();
      }
    } else if (path.startsWith("blobs/") && read) {
      replies.serveDigest(x, Integrity.parse(path.substring("blobs/".length())));
    } else {
      x.text(HttpResponseStatus.NOT_FOUND, "no such REST resource: /v1/" + path
          + " (see /v1/entries, /v1/entries/KEY, /v1/blobs/DIGEST, /v1/stats, /v1/history, /v1/jobs, POST /v1/gc,"
          + " POST /v1/verify, POST /v1/jobs/gc, POST /v1/jobs/verify)");
    }
  }

  /** PUT /v1/entries/KEY, with X-Larder-Metadata, X-Larder-Integrity and X-Larder-TTL. */
  @Override
  public void upload(Exchange x, Route route, Upload body, long length) {
    String rest = route.rest();
    if (!rest.startsWith(ENTRIES) || rest.length() == ENTRIES.length()) {
      Uploads.drain(body);
      x.notAllowed();
      return;
    }
    String key = rest.substring(ENTRIES.length());
    Optional<String> owner = Namespaces.owner(key);
    if (owner.isPresent()) {
      Uploads.drain(body);
      x.text(HttpResponseStatus.FORBIDDEN, Namespaces.refusal(key, owner.get()));
      return;
    }
    PutOptions po = PutOptions.defaults().size(length);
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
    Uploads.put(x, key, po, length, body).ifPresent(e -> {
      HttpHeaders out = new DefaultHttpHeaders();
      out.set(HttpHeaderNames.ETAG, StoredReplies.etag(e.integrity()));
      x.json(HttpResponseStatus.CREATED, JsonShapes.entry(e), out);
    });
  }

  private static Duration parseTtl(String s) {
    try {
      return Duration.ofSeconds(Long.parseLong(s.strip()));
    } catch (NumberFormatException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "X-Larder-TTL is a number of seconds, not '" + s + "'");
    }
  }

  private void list(Exchange x, String prefix, RequestPath path) throws RequestPath.BadPath {
    int limit = 100;
    String l = path.param("limit");
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
    String cursor = path.param("cursor");
    String after = null;
    if (cursor != null && !cursor.isEmpty()) {
      try {
        after = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
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
      out.put("cursor", Base64.getUrlEncoder().withoutPadding().encodeToString(last.getBytes(StandardCharsets.UTF_8)));
    } else {
      out.putNull("cursor");
    }
    x.json(HttpResponseStatus.OK, out, null);
  }
}
