package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.GcOptions;
import io.larder.Larder;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an attack on `larder serve` found (the hardening issue), each as the request that showed it. */
class HardeningTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;
  ByteArrayOutputStream log = new ByteArrayOutputStream();

  @BeforeEach
  void start() {
    store = Larder.open(dir.resolve("store"));
    server = LarderServer.start(store, ServerOptions.defaults().port(0)
        .accessLog(new PrintStream(log, true, StandardCharsets.UTF_8)), GcOptions.defaults());
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

  /** The access log once it holds {@code text}: a line is written right after its response, which may arrive first. */
  String logOnceItHas(String... texts) throws InterruptedException {
    for (int i = 0; i < 500; i++) {
      String l = log.toString(StandardCharsets.UTF_8);
      if (java.util.Arrays.stream(texts).allMatch(l::contains)) {
        break;
      }
      Thread.sleep(10);
    }
    return log.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aMalformedEscapeInATurborepoTeamIsA400BeforeAnythingElseAndTheRequestFinishes() throws Exception {
    assertThat(status(exchange("GET", "/v8/artifacts/h1?teamId=%zz", "", null))).isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(status(exchange("PUT", "/v8/artifacts/h1?slug=%e2%82", "", new byte[] {1})))
        .isEqualTo("HTTP/1.1 400 Bad Request");
    for (int i = 0; i < 500 && server.inFlight() > 0; i++) {
      Thread.sleep(10); // the count drops right after the response is written
    }
    assertThat(server.inFlight()).as("every request finished").isZero();
    assertThat(logOnceItHas("PUT invalid", "GET invalid")).contains("GET invalid").contains(" 400 ");
  }

  @Test
  void turborepoTeamsCannotReachIntoEachOtherAndEventsAreNotArtifacts() throws Exception {
    assertThat(status(exchange("PUT", "/v8/artifacts/h?teamId=teamA:x", "", new byte[] {1})))
        .isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(status(exchange("PUT", "/v8/artifacts/x:h?teamId=teamA", "", new byte[] {2})))
        .isEqualTo("HTTP/1.1 200 OK");
    assertThat(status(exchange("GET", "/v8/artifacts/h?teamId=teamA:x", "", null))).isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(status(exchange("POST", "/v8/artifacts/events", "Content-Type: application/json\r\n",
        "[{\"event\":\"HIT\"}]".getBytes()))).isEqualTo("HTTP/1.1 200 OK");
    assertThat(status(exchange("POST", "/v8/artifacts", "Content-Type: application/json\r\n",
        "{\"hashes\":[\"h\"]}".getBytes()))).isEqualTo("HTTP/1.1 404 Not Found");
    assertThat(store.list("").map(e -> e.key()).toList()).as("only the one artifact")
        .containsExactly("turbo:teamA:x:h");
  }

  @Test
  void malformedEscapesInRestQueryParametersAre400WithAMessage() throws Exception {
    for (String q : new String[] {"prefix=%zz", "cursor=%", "limit=%4", "prefix=%ff%fe"}) {
      String r = exchange("GET", "/v1/entries?" + q, "", null);
      assertThat(status(r)).as(q).isEqualTo("HTTP/1.1 400 Bad Request");
      assertThat(r).as(q).contains("query parameter").doesNotContain("Exception");
    }
    assertThat(status(exchange("POST", "/v1/gc?dryRun=%zz", "", null))).isEqualTo("HTTP/1.1 400 Bad Request");
  }

  @Test
  void anOutOfRangeTtlIsA400NamingIt() throws Exception {
    String r = exchange("PUT", "/v1/entries/k", "X-Larder-TTL: 9223372036854775807\r\n", new byte[] {1});
    assertThat(status(r)).isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(r).contains("ttl").contains("100 years");
    assertThat(store.contains("k")).isFalse();
  }

  @Test
  void theAccessLogCannotBeGivenForgedLines() throws Exception {
    exchange("GET", "/v8/artifacts/h?teamId=x%0aFORGED%20line", "", null);
    exchange("PUT", "/cache/a%c2%85b", "", new byte[] {1}); // NEL
    String l = logOnceItHas("PUT invalid", "FORGED");
    assertThat(l.lines()).noneMatch(line -> line.startsWith("FORGED")).allMatch(line -> line.matches("^\\d{4}-.*"));
    assertThat(l).contains("\\x0aFORGED");
  }

  @Test
  void anAbsoluteFormTargetIsAccepted() throws Exception {
    assertThat(status(exchange("GET", "http://127.0.0.1/healthz", "", null))).isEqualTo("HTTP/1.1 200 OK");
    exchange("PUT", "/cache/abs", "", new byte[] {7});
    String r = exchange("GET", "http://x:1/cache/abs?y=1", "", null);
    assertThat(status(r)).isEqualTo("HTTP/1.1 200 OK");
  }

  @Test
  void rawUtf8InAPathMeansWhatItSaysAndControlCharactersAreRefused() throws Exception {
    assertThat(status(exchange("PUT", "/cache/café", "", new byte[] {5}))).isEqualTo("HTTP/1.1 200 OK");
    assertThat(store.contains("http:/cache/café")).isTrue();
    assertThat(status(exchange("GET", "/cache/caf%C3%A9", "", null))).isEqualTo("HTTP/1.1 200 OK");
    assertThat(status(exchange("PUT", "/cache/a%c2%85b", "", new byte[] {1}))).isEqualTo("HTTP/1.1 400 Bad Request");
    assertThat(status(exchange("PUT", "/cache/bad%ff", "", new byte[] {1}))).isEqualTo("HTTP/1.1 400 Bad Request");
  }

  @Test
  void protocolNamespacesAreWrittenOnlyThroughTheirProtocolAndCasReadsAreCheckedAgainstTheirDigest() throws Exception {
    byte[] real = "real".getBytes();
    byte[] other = "other".getBytes();
    String h = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(real));
    String r = exchange("PUT", "/v1/entries/bazel:cas:" + h, "", other);
    assertThat(status(r)).isEqualTo("HTTP/1.1 403 Forbidden");
    assertThat(r).contains("namespace");
    for (String k : new String[] {"bazel:ac:x", "http:/x", "turbo::x"}) {
      assertThat(status(exchange("PUT", "/v1/entries/" + k, "", other))).as(k).isEqualTo("HTTP/1.1 403 Forbidden");
    }
    store.put("bazel:cas:" + h, other); // a library user (or an older version) wrote the wrong bytes there
    assertThat(status(exchange("GET", "/cas/" + h, "", null))).as("not served: they are not " + h)
        .isEqualTo("HTTP/1.1 404 Not Found");
    store.put("elsewhere", real);
    r = exchange("GET", "/cas/" + h, "", null);
    assertThat(status(r)).isEqualTo("HTTP/1.1 200 OK");
    assertThat(r).endsWith("real");
    assertThat(status(exchange("GET", "/v1/entries/bazel:cas:" + h, "", null))).as("the REST API still reads it")
        .isEqualTo("HTTP/1.1 200 OK");
  }

  @Test
  void healthAndMetricsAnswerReadsOnly() throws Exception {
    assertThat(status(exchange("DELETE", "/healthz", "", null))).isEqualTo("HTTP/1.1 405 Method Not Allowed");
    assertThat(status(exchange("PUT", "/metrics", "", new byte[] {1}))).isEqualTo("HTTP/1.1 405 Method Not Allowed");
    assertThat(store.list("").count()).isZero();
  }

  @Test
  void readinessFailsWhenTheStoreDirectoryIsGoneAndLivenessDoesNot() throws Exception {
    assertThat(status(exchange("GET", "/readyz", "", null))).isEqualTo("HTTP/1.1 200 OK");
    java.nio.file.Files.move(dir.resolve("store"), dir.resolve("elsewhere"));
    String r = exchange("GET", "/readyz", "", null);
    assertThat(status(r)).isEqualTo("HTTP/1.1 503 Service Unavailable");
    assertThat(r).contains("is gone");
    assertThat(status(exchange("GET", "/healthz", "", null))).isEqualTo("HTTP/1.1 200 OK");
    java.nio.file.Files.move(dir.resolve("elsewhere"), dir.resolve("store"));
    assertThat(status(exchange("GET", "/readyz", "", null))).isEqualTo("HTTP/1.1 200 OK");
  }
}
