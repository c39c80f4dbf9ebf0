package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.GcOptions;
import io.larder.Larder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nx's and sccache's request sequences, as their clients send them (Nx: its self-hosted cache client;
 * sccache: OpenDAL's WebDAV backend, which walks PROPFIND up the key's path and MKCOLs what is missing
 * before its PUT), with credentials as each sends them.
 */
class ClientProtocolsTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;

  @BeforeEach
  void start() throws Exception {
    store = Larder.open(dir.resolve("store"));
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "token nx-rw rw\ntoken nx-ro ro\nbasic builder:s3cret rw\n");
    server = LarderServer.start(store, ServerOptions.defaults().port(0)
        .credentials(Credentials.load(auth)), GcOptions.defaults());
  }

  @AfterEach
  void stop() {
    server.close();
    store.close();
  }

  String exchange(String method, String target, String headers, byte[] body) throws Exception {
    return RawHttp.exchange(server.port(), method, target, headers, body, body == null ? -1 : body.length);
  }

  static String status(String response) {
    return RawHttp.status(response);
  }

  @Test
  void turborepoGetsItsArtifactTagBackAndTeamsAreSeparate() throws Exception {
    String rw = "Authorization: Bearer nx-rw\r\n";
    String tag = "x-artifact-tag: c2lnbmF0dXJlIG9mIHRoZSBhcnRpZmFjdA==\r\n";
    assertThat(status(exchange("PUT", "/v8/artifacts/5eed?teamId=team_a", rw + tag, "signed".getBytes())))
        .isEqualTo("HTTP/1.1 200 OK");
    String get = exchange("GET", "/v8/artifacts/5eed?teamId=team_a", rw, null);
    assertThat(get).startsWith("HTTP/1.1 200 OK").containsIgnoringCase(tag.strip()).endsWith("signed");
    String head = exchange("HEAD", "/v8/artifacts/5eed?teamId=team_a", rw, null);
    assertThat(head).startsWith("HTTP/1.1 200 OK").containsIgnoringCase(tag.strip());
    assertThat(status(exchange("GET", "/v8/artifacts/5eed?teamId=team_b", rw, null)))
        .as("another team's artifact is a miss").isEqualTo("HTTP/1.1 404 Not Found");
    assertThat(status(exchange("PUT", "/v8/artifacts/u1?teamId=team_a", rw, "unsigned".getBytes()))).isEqualTo("HTTP/1.1 200 OK");
    assertThat(exchange("GET", "/v8/artifacts/u1?teamId=team_a", rw, null)).doesNotContainIgnoringCase("x-artifact-tag");
  }

  @Test
  void nxStoresAndRestoresByItsDecimalHashWithItsBearerToken() throws Exception {
    String rw = "Authorization: Bearer nx-rw\r\n";
    byte[] artifact = "a tar.gz of outputs".getBytes();
    assertThat(status(exchange("GET", "/v1/cache/8412347862361", rw, null))).isEqualTo("HTTP/1.1 404 Not Found");
    assertThat(status(exchange("PUT", "/v1/cache/8412347862361", rw, artifact))).as("Nx counts only 200 as stored")
        .isEqualTo("HTTP/1.1 200 OK");
    String hit = exchange("GET", "/v1/cache/8412347862361", rw, null);
    assertThat(status(hit)).isEqualTo("HTTP/1.1 200 OK");
    assertThat(hit).endsWith("a tar.gz of outputs");
    assertThat(store.contains("nx:8412347862361")).isTrue();

    String ro = "Authorization: Bearer nx-ro\r\n";
    String refused = exchange("PUT", "/v1/cache/999", ro, artifact);
    assertThat(status(refused)).as("read-only: not stored, quietly for Nx").isEqualTo("HTTP/1.1 403 Forbidden");
    assertThat(refused).containsIgnoringCase("content-type: text/plain");
    assertThat(status(exchange("GET", "/v1/cache/8412347862361", ro, null))).isEqualTo("HTTP/1.1 200 OK");
    String none = exchange("GET", "/v1/cache/8412347862361", "", null);
    assertThat(status(none)).isEqualTo("HTTP/1.1 401 Unauthorized");
    assertThat(none).as("Nx needs a text/plain 401").containsIgnoringCase("content-type: text/plain");

    String shortBody = RawHttp.exchange(server.port(), "PUT", "/v1/cache/777", rw, "short".getBytes(), 100);
    assertThat(status(shortBody)).isNotEqualTo("HTTP/1.1 200 OK");
    assertThat(store.contains("nx:777")).as("a body shorter than its Content-Length stores nothing").isFalse();
    assertThat(status(exchange("GET", "/v1/cache/../x", rw, null))).isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(status(exchange("GET", "/v1/stats", rw, null))).as("the REST API is still there")
        .isEqualTo("HTTP/1.1 200 OK");
  }

  @Test
  void sccacheWalksPropfindAndMkcolThenPutsAndGets() throws Exception {
    String auth = "Authorization: Basic " + Base64.getEncoder().encodeToString("builder:s3cret".getBytes()) + "\r\n";
    byte[] propfind = "<?xml version=\"1.0\" encoding=\"utf-8\" ?><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>"
        .getBytes();
    String depth0 = auth + "Depth: 0\r\nContent-Type: application/xml\r\n";
    // what OpenDAL does before writing sccache/a/b/c/<hash>: PROPFIND each level up while 404, then MKCOL down
    for (String level : new String[] {"/sccache/a/b/c/", "/sccache/a/b/", "/sccache/a/", "/sccache/"}) {
      assertThat(status(exchange("PROPFIND", level, depth0, propfind))).as(level).isEqualTo("HTTP/1.1 404 Not Found");
    }
    for (String level : new String[] {"/sccache/", "/sccache/a/", "/sccache/a/b/", "/sccache/a/b/c/"}) {
      assertThat(status(exchange("MKCOL", level, auth, null))).as(level).isEqualTo("HTTP/1.1 201 Created");
    }
    byte[] object = "compiled object".getBytes();
    assertThat(status(exchange("PUT", "/sccache/a/b/c/abc123def", auth, object))).startsWith("HTTP/1.1 20");
    String got = exchange("GET", "/sccache/a/b/c/abc123def", auth, null);
    assertThat(status(got)).isEqualTo("HTTP/1.1 200 OK");
    assertThat(got).endsWith("compiled object");
    assertThat(status(exchange("PUT", "/sccache/.sccache_check", auth, "Hello, World!".getBytes())))
        .startsWith("HTTP/1.1 20");
    assertThat(exchange("GET", "/sccache/.sccache_check", auth, null)).endsWith("Hello, World!");
    assertThat(status(exchange("GET", "/sccache/a/b/c/missing", auth, null))).isEqualTo("HTTP/1.1 404 Not Found");
    assertThat(store.contains("sccache:/a/b/c/abc123def")).isTrue();

    String lock = exchange("LOCK", "/sccache/a/b/c/abc123def", auth, null);
    assertThat(status(lock)).isEqualTo("HTTP/1.1 405 Method Not Allowed");
    assertThat(lock).containsIgnoringCase("allow: ").contains("PROPFIND").contains("MKCOL").contains("PUT");
    assertThat(status(exchange("PUT", "/sccache/a/", auth, object))).as("a collection holds no content")
        .isEqualTo("HTTP/1.1 405 Method Not Allowed");
    assertThat(status(exchange("MKCOL", "/sccache/a/", "", null))).isEqualTo("HTTP/1.1 401 Unauthorized");
  }
}
