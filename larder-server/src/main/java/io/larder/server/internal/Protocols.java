package io.larder.server.internal;

import io.larder.config.JsonShapes;
import io.larder.server.Namespaces;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The protocol table: every protocol the server speaks, in the order their paths are matched. All share one
 * port; the path decides. Adding a protocol is adding an entry here (and its tests).
 *
 * <ul>
 *   <li>{@code /healthz}, {@code /readyz}, {@code /metrics};
 *   <li>{@code /v1/…}: Larder's REST API;
 *   <li>{@code /v8/artifacts/status} and {@code /v8/artifacts/<hash>}: Turborepo;
 *   <li>{@code [/<instance>]/cas/<64 hex>} and {@code [/<instance>]/ac/<64 hex>}: Bazel's HTTP cache (also
 *       ccache's {@code bazel} layout, which uses {@code ac/});
 *   <li>any other path: a key–value entry named by the path (Gradle's {@code <base>/<key>}, ccache's
 *       {@code subdirs} and {@code flat} layouts, plain {@code curl}).
 * </ul>
 */
final class Protocols {
  /** Key prefixes in the store, so that each protocol has its own namespace (see {@link Namespaces}). */
  static final String AC = Namespaces.BAZEL_AC;
  static final String CAS = Namespaces.BAZEL_CAS;
  static final String KV_PREFIX = Namespaces.PATHS;
  static final String TURBO_PREFIX = Namespaces.TURBO;

  private static final Set<HttpMethod> NO_UPLOADS = Set.of();
  private static final Set<HttpMethod> READS = Set.of(HttpMethod.GET, HttpMethod.HEAD);
  private static final Set<HttpMethod> READS_AND_DELETE = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.DELETE);
  private static final Set<HttpMethod> ANY = null; // the protocol answers every method itself
  private static final Set<HttpMethod> PUT_OR_POST = Set.of(HttpMethod.PUT, HttpMethod.POST);
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  private final List<Protocol> table;

  Protocols(ServerContext context) {
    StoredReplies replies = new StoredReplies(context);
    KeyedContent byKey = new KeyedContent(context, replies, false);
    table = List.of(
        new Protocol("health", Protocols::health, READS, NO_UPLOADS, true, Protocol.Reads.EVENT_LOOP, (x, r) -> {
          Optional<String> why = r.rest().equals("readyz") ? context.readiness().notReady() : Optional.empty();
          x.text(why.isPresent() ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK, why.orElse("ok"));
        }),
        // what scripts (and bazel-remote users) ask a cache server: version, uptime, size and bound, hit rates
        new Protocol("status", exactly("/status"), READS, NO_UPLOADS, false, Protocol.Reads.WORKER,
            (x, r) -> x.json(HttpResponseStatus.OK, status(context))),
        new Protocol("metrics", exactly("/metrics"), READS, NO_UPLOADS, false, Protocol.Reads.WORKER,
            (x, r) -> x.send(HttpResponseStatus.OK, Unpooled.copiedBuffer(context.metrics().scrape(), StandardCharsets.UTF_8),
                "text/plain; version=0.0.4; charset=utf-8", null)),
        // the web page: / and its two files under /ui/, behind the same credentials as the rest
        new Protocol("ui", Protocols::ui, READS, NO_UPLOADS, false, Protocol.Reads.EVENT_LOOP, new WebUi()),
        // Nx's self-hosted cache (NX_SELF_HOSTED_REMOTE_CACHE_SERVER): before the REST API, which owns /v1/
        new Protocol("nx", Protocols::nx, READS_AND_DELETE, Set.of(HttpMethod.PUT), false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey),
        new Protocol("rest", Protocols::rest, ANY, Set.of(HttpMethod.PUT), false, Protocol.Reads.WORKER,
            new RestApi(context, replies)),
        new Protocol("turborepo", exactly("/v8/artifacts/status"), READS, NO_UPLOADS, false, Protocol.Reads.EVENT_LOOP,
            (x, r) -> x.json(HttpResponseStatus.OK, JsonShapes.MAPPER.createObjectNode().put("status", "enabled"))),
        // usage events: accepted and dropped (never stored as an artifact)
        new Protocol("turborepo", exactly("/v8/artifacts/events"), Set.of(HttpMethod.POST), NO_UPLOADS, false,
            Protocol.Reads.EVENT_LOOP, (x, r) -> x.json(HttpResponseStatus.OK, JsonShapes.MAPPER.createObjectNode())),
        // the query of several artifacts' details: not supported (Turborepo does without it)
        new Protocol("turborepo", exactly("/v8/artifacts"), ANY, NO_UPLOADS, false, Protocol.Reads.EVENT_LOOP,
            (x, r) -> x.text(HttpResponseStatus.NOT_FOUND, "querying artifacts is not supported; GET or HEAD each one")),
        // artifacts signed by the client (remoteCache.signature): their x-artifact-tag comes back with them
        new Protocol("turborepo", Protocols::turbo, READS_AND_DELETE, PUT_OR_POST, false, Protocol.Reads.EVENT_LOOP_UNLESS_TIERED,
            new KeyedContent(context, replies, false, Set.of("x-artifact-tag"))),
        // sccache's WebDAV storage (SCCACHE_WEBDAV_ENDPOINT=http://HOST:PORT/sccache)
        new Protocol("sccache", Protocols::sccache, Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.DELETE,
            WebDav.PROPFIND, WebDav.MKCOL, HttpMethod.OPTIONS), Set.of(HttpMethod.PUT), false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, new WebDav(byKey)),
        new Protocol("bazel-cas", Protocols::bazelCas, READS_AND_DELETE, PUT_OR_POST, false, Protocol.Reads.EVENT_LOOP_UNLESS_TIERED,
            new KeyedContent(context, replies, true)),
        // a read checks that the blobs the result names are stored: index lookups, so on a worker
        new Protocol("bazel-ac", Protocols::bazelAc, READS_AND_DELETE, PUT_OR_POST, false, Protocol.Reads.WORKER,
            new ActionCacheHttp(context, byKey)),
        // tools whose paths cannot tell them apart, under documented base paths (same key space as kv:
        // moving a tool to its base path, or back, keeps its entries)
        new Protocol("gradle", under("/gradle/"), READS_AND_DELETE, PUT_OR_POST, false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey),
        new Protocol("ccache", under("/ccache/"), READS_AND_DELETE, PUT_OR_POST, false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey),
        new Protocol("maven", under("/maven/"), READS_AND_DELETE, PUT_OR_POST, false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey),
        new Protocol("rush", under("/rush/"), READS_AND_DELETE, PUT_OR_POST, false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey),
        new Protocol("kv", Protocols::kv, READS_AND_DELETE, PUT_OR_POST, false,
            Protocol.Reads.EVENT_LOOP_UNLESS_TIERED, byKey));
  }

  /** The route of a raw request target: the first protocol whose paths it is. */
  Route route(String target) throws RequestPath.BadPath {
    RequestPath p = RequestPath.parse(target);
    for (Protocol protocol : table) {
      Route r = protocol.paths().match(protocol, p);
      if (r != null) {
        return r;
      }
    }
    throw new IllegalStateException("the key-value protocol takes every path"); // the table's last entry
  }

  private static com.fasterxml.jackson.databind.node.ObjectNode status(ServerContext context) {
    com.fasterxml.jackson.databind.node.ObjectNode s = JsonShapes.MAPPER.createObjectNode();
    Metrics m = context.metrics();
    s.put("version", m.version()).put("commit", m.commit()).put("uptimeSeconds", m.uptimeSeconds());
    io.larder.Stats st = context.counts().get(); // counted in the background, at most 5 s ago
    com.fasterxml.jackson.databind.node.ObjectNode store = s.putObject("store");
    store.put("root", st.root().toString()).put("entries", st.entries()).put("bytes", st.bytes())
        .put("indexBytes", st.indexBytes());
    if (context.gcOptions().maxSize() > 0 && context.gcOptions().maxSize() < Long.MAX_VALUE) {
      store.put("maxSize", context.gcOptions().maxSize());
    } else {
      store.putNull("maxSize");
    }
    context.store().remoteTier().ifPresent(t -> s.put("remoteTier", t));
    com.fasterxml.jackson.databind.node.ObjectNode hits = s.putObject("hitRates");
    m.hitsAndMisses().forEach((protocol, hm) -> hits.putObject(protocol).put("hits", hm[0]).put("misses", hm[1])
        .put("rate", (double) hm[0] / (hm[0] + hm[1])));
    return s;
  }

  // ------------------------------------------------------------------ which paths are whose

  private static Protocol.Paths exactly(String path) {
    return (self, p) -> p.path.equals(path) ? new Route(self, null, null, p) : null;
  }

  private static Route health(Protocol self, RequestPath p) {
    return p.path.equals("/healthz") || p.path.equals("/readyz") ? new Route(self, null, p.path.substring(1), p) : null;
  }

  private static Route ui(Protocol self, RequestPath p) {
    if (p.path.equals("/")) {
      return new Route(self, null, "", p);
    }
    return p.path.startsWith("/ui/") ? new Route(self, null, p.path.substring("/ui/".length()), p) : null;
  }

  private static Route rest(Protocol self, RequestPath p) {
    return p.path.startsWith("/v1/") || p.path.equals("/v1")
        ? new Route(self, null, p.path.length() <= 4 ? "" : p.path.substring(4), p) : null;
  }

  private static final Pattern NX_HASH = Pattern.compile("[A-Za-z0-9_-]{1,256}");

  private static Route nx(Protocol self, RequestPath p) throws RequestPath.BadPath {
    if (!p.path.startsWith("/v1/cache/")) {
      return null;
    }
    String hash = p.path.substring("/v1/cache/".length());
    if (!NX_HASH.matcher(hash).matches()) {
      throw new RequestPath.BadPath("an Nx cache path is /v1/cache/<hash> (letters, digits, '-' and '_'), not '"
          + p.path + "'");
    }
    return new Route(self, Namespaces.NX + hash, null, p);
  }

  /** {@code /sccache/<path>}: a key, or a collection (the base, or a path ending with '/') that holds none. */
  private static Route sccache(Protocol self, RequestPath p) throws RequestPath.BadPath {
    if (!p.path.equals("/sccache") && !p.path.startsWith("/sccache/")) {
      return null;
    }
    String rest = p.path.substring("/sccache".length());
    boolean collection = rest.isEmpty() || rest.endsWith("/");
    RequestPath.checkSegments(collection ? rest.replaceAll("/+$", "") : rest);
    return new Route(self, collection ? null : Namespaces.SCCACHE + rest, rest, p);
  }

  /** Key-value paths under {@code base}: keys as the kv protocol names them, a label of their own. */
  private static Protocol.Paths under(String base) {
    return (self, p) -> p.path.startsWith(base) ? kv(self, p) : null;
  }

  private static Route kv(Protocol self, RequestPath p) throws RequestPath.BadPath {
    p.segments(); // checked: none empty, '.' or '..'
    return new Route(self, KV_PREFIX + p.path, null, p);
  }

  private static Route turbo(Protocol self, RequestPath p) throws RequestPath.BadPath {
    if (!p.path.startsWith("/v8/artifacts/")) {
      return null;
    }
    String[] s = p.segments();
    if (s.length != 3) {
      return null;
    }
    String team = p.param("teamId");
    if (team == null) {
      team = p.param("slug");
    }
    if (team != null && team.indexOf(':') >= 0) { // teamA:x storing h must not be teamA's x:h
      throw new RequestPath.BadPath("a Turborepo team (teamId or slug) may not contain ':'");
    }
    return new Route(self, TURBO_PREFIX + (team == null ? "" : team) + ":" + s[2], null, p);
  }

  private static Route bazelCas(Protocol self, RequestPath p) throws RequestPath.BadPath {
    String hex = bazelHex(p, "cas");
    return hex == null ? null : new Route(self, Namespaces.casKey(hex), instance(p), p);
  }

  private static Route bazelAc(Protocol self, RequestPath p) throws RequestPath.BadPath {
    String hex = bazelHex(p, "ac");
    if (hex == null) {
      return null;
    }
    String instance = instance(p);
    return new Route(self, Namespaces.actionKey(instance, hex), instance, p);
  }

  /** The digest of a Bazel cache path {@code [/<instance>]/<kind>/<64 hex>}, or null for another path. */
  private static String bazelHex(RequestPath p, String kind) throws RequestPath.BadPath {
    String[] s = p.segments();
    int n = s.length;
    if (n < 2 || !s[n - 2].equals(kind)) {
      return null;
    }
    if (!HEX64.matcher(s[n - 1]).matches()) {
      throw new RequestPath.BadPath(
          "a Bazel cache path ends with 64 lowercase hex digits (a SHA-256), not '" + s[n - 1] + "'");
    }
    return s[n - 1];
  }

  private static String instance(RequestPath p) throws RequestPath.BadPath {
    String[] s = p.segments();
    return String.join("/", Arrays.copyOf(s, s.length - 2));
  }
}
