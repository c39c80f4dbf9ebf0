package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.larder.GcOptions;
import io.larder.Larder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's protocols and its answers to bad input, over real HTTP on loopback. */
class ServerTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;
  HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  ByteArrayOutputStream log = new ByteArrayOutputStream();

  @BeforeEach
  void start() {
    store = Larder.open(dir.resolve("store"));
    server = LarderServer.start(store, ServerOptions.defaults().port(0).maxBlobSize(8 << 20)
        .accessLog(new java.io.PrintStream(log, true, StandardCharsets.UTF_8)), GcOptions.defaults());
  }

  @AfterEach
  void stop() {
    server.close();
    store.close();
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  HttpResponse<byte[]> send(String method, String path, byte[] body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** A raw HTTP/1.1 exchange, for what HttpClient will not send (bad paths, lying lengths, 100-continue). */
  String raw(String request, byte[] body, boolean halfClose) throws IOException {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      if (body != null) {
        out.write(body);
      }
      out.flush();
      if (halfClose) {
        s.shutdownOutput();
      }
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          got.write(buf, 0, n);
          if (got.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n") && !halfClose) {
            break; // the status line and headers are enough
          }
        }
      } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
        // the server closed or stayed silent: return what came
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  List<Path> tmpFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir.resolve("store").resolve("tmp"))) {
      return s.toList();
    }
  }

  @Test
  void bazelActionCacheAndVerifiedCas() throws Exception {
    byte[] blob = random(50_000, 1);
    String h = sha256(blob);
    assertThat(send("GET", "/cas/" + h, null).statusCode()).isEqualTo(404);
    assertThat(send("PUT", "/cas/" + h, blob).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/cas/" + h, null).body()).isEqualTo(blob);
    HttpResponse<byte[]> head = send("HEAD", "/cas/" + h, null);
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.headers().firstValueAsLong("content-length")).hasValue(50_000);

    byte[] other = random(1000, 2);
    HttpResponse<byte[]> bad = send("PUT", "/cas/" + sha256(random(1000, 3)), other);
    assertThat(bad.statusCode()).as("a CAS upload whose SHA-256 is not its path's").isEqualTo(400);
    assertThat(store.list("bazel:cas:").count()).as("nothing stored").isEqualTo(1);
    assertThat(tmpFiles()).isEmpty();

    byte[] ac = "action result".getBytes(StandardCharsets.UTF_8);
    String acKey = sha256("some action".getBytes(StandardCharsets.UTF_8));
    assertThat(send("PUT", "/ac/" + acKey, ac).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/ac/" + acKey, null).body()).isEqualTo(ac);
    // an instance name keeps its own action cache; the CAS is shared
    assertThat(send("GET", "/my/instance/ac/" + acKey, null).statusCode()).isEqualTo(404);
    assertThat(send("PUT", "/my/instance/ac/" + acKey, "other".getBytes()).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/my/instance/cas/" + h, null).body()).isEqualTo(blob);
    assertThat(new String(send("GET", "/ac/" + acKey, null).body(), StandardCharsets.UTF_8)).isEqualTo("action result");

    assertThat(send("GET", "/cas/ABC", null).statusCode()).as("not 64 lowercase hex").isEqualTo(400);
    assertThat(send("GET", "/ac/" + h.substring(1), null).statusCode()).isEqualTo(400);
  }

  @Test
  void gradleAndCcachePathsAreKeyValueEntries() throws Exception {
    byte[] entry = random(3000, 4);
    assertThat(send("GET", "/cache/0123abcd", null).statusCode()).isEqualTo(404);
    assertThat(send("PUT", "/cache/0123abcd", entry).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/cache/0123abcd", null).body()).isEqualTo(entry);
    // ccache subdirs (k[0:2]/k[2:]) and flat layouts, with DELETE
    assertThat(send("PUT", "/ccache/ab/cdef0123", entry).statusCode()).isEqualTo(200);
    assertThat(send("HEAD", "/ccache/ab/cdef0123", null).statusCode()).isEqualTo(200);
    assertThat(send("DELETE", "/ccache/ab/cdef0123", null).statusCode()).isEqualTo(204);
    assertThat(send("GET", "/ccache/ab/cdef0123", null).statusCode()).isEqualTo(404);
    assertThat(send("DELETE", "/ccache/ab/cdef0123", null).statusCode()).isEqualTo(404);
    assertThat(store.info("http:/cache/0123abcd")).isPresent();
  }

  @Test
  void gradleExpectContinueGets413BeforeTheBodyAndSmallUploadsGo100Continue() throws Exception {
    String tooBig = raw("PUT /cache/big HTTP/1.1\r\nHost: x\r\nContent-Length: " + (9 << 20)
        + "\r\nExpect: 100-continue\r\n\r\n", null, false);
    assertThat(tooBig).startsWith("HTTP/1.1 413");
    assertThat(tooBig).doesNotContain("100 Continue");
    String ok = raw("PUT /cache/small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        null, false);
    assertThat(ok).startsWith("HTTP/1.1 100 Continue");
    // the same limit without Expect: refused before the body is read, and the connection is closed
    String plain = raw("PUT /cache/big HTTP/1.1\r\nHost: x\r\nContent-Length: " + (9 << 20) + "\r\n\r\n", null, false);
    assertThat(plain).startsWith("HTTP/1.1 413").containsIgnoringCase("connection: close");
    assertThat(store.info("http:/cache/big")).isEmpty();
  }

  @Test
  void aVerificationStartedAsAJobReportsItsProgressAndItsReport() throws Exception {
    byte[] big = new byte[3_000_000];
    new java.util.Random(5).nextBytes(big);
    assertThat(send("PUT", "/cache/big", big).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/v1/jobs", null).statusCode()).isEqualTo(200);
    // the store's counts (the job's total) are taken in the background: wait until they include the upload
    for (int i = 0; i < 100 && io.larder.config.JsonShapes.MAPPER.readTree(send("GET", "/status", null).body())
        .path("store").path("bytes").asLong() < big.length; i++) {
      Thread.sleep(100);
    }
    HttpResponse<byte[]> started = send("POST", "/v1/jobs/verify", new byte[0]);
    assertThat(started.statusCode()).isEqualTo(202);
    var job = io.larder.config.JsonShapes.MAPPER.readTree(started.body()).path("job");
    assertThat(job.path("kind").asText()).isEqualTo("verify");
    assertThat(job.path("bytesTotal").asLong()).isEqualTo(big.length);
    for (int i = 0; i < 300 && !job.path("done").asBoolean(); i++) {
      Thread.sleep(50);
      job = io.larder.config.JsonShapes.MAPPER.readTree(send("GET", "/v1/jobs", null).body()).path("job");
    }
    assertThat(job.path("done").asBoolean()).isTrue();
    assertThat(job.path("bytesDone").asLong()).isEqualTo(big.length);
    assertThat(job.path("report").path("clean").asBoolean()).isTrue();
    assertThat(job.path("report").path("blobsChecked").asLong()).isEqualTo(1);
    assertThat(send("POST", "/v1/jobs/gc", new byte[0]).statusCode()).isEqualTo(202);
    assertThat(send("POST", "/v1/jobs/nothing", new byte[0]).statusCode()).isEqualTo(404);
  }

  @Test
  void statusAndBuildInfoSayWhatTheServerIsAndHowItDoes() throws Exception {
    server.buildInfo("9.9.9", "abc1234");
    server.buildInfo("0.0.0", "other"); // once
    send("PUT", "/cache/s", "x".getBytes(StandardCharsets.UTF_8));
    send("GET", "/cache/s", null);
    send("GET", "/cache/missing", null);
    send("GET", "/cache/missing-too", null);
    HttpResponse<byte[]> r = send("GET", "/status", null);
    assertThat(r.statusCode()).isEqualTo(200);
    var json = io.larder.config.JsonShapes.MAPPER.readTree(r.body());
    // the store's counts are at most 5 s old (counted in the background, not per request)
    for (int i = 0; i < 100 && json.path("store").path("entries").asLong() != 1; i++) {
      Thread.sleep(100);
      json = io.larder.config.JsonShapes.MAPPER.readTree(send("GET", "/status", null).body());
    }
    assertThat(json.path("version").asText()).isEqualTo("9.9.9");
    assertThat(json.path("commit").asText()).isEqualTo("abc1234");
    assertThat(json.path("uptimeSeconds").isIntegralNumber()).isTrue();
    assertThat(json.path("store").path("entries").asLong()).isEqualTo(1);
    assertThat(json.path("store").path("maxSize").isNull()).isTrue();
    assertThat(json.path("hitRates").path("kv").path("hits").asLong()).isEqualTo(1);
    assertThat(json.path("hitRates").path("kv").path("misses").asLong()).isEqualTo(2);
    assertThat(json.path("hitRates").path("kv").path("rate").asDouble()).isEqualTo(1.0 / 3);
    assertThat(new String(send("GET", "/metrics", null).body(), StandardCharsets.UTF_8))
        .contains("larder_build_info{commit=\"abc1234\",version=\"9.9.9\"} 1\n");
    assertThat(send("DELETE", "/status", null).statusCode()).isEqualTo(405);
  }

  /** A read-only store (larder serve --read-only): reads hit, every write is 403 on HTTP and nothing changes. */
  @Test
  void aReadOnlyStoreServesReadsAndRefusesWritesWith403() throws Exception {
    byte[] blob = random(1000, 5);
    store.put("http:/ro/k", blob);
    store.put("bazel:cas:" + sha256(blob), blob);
    server.close();
    store.close();
    store = Larder.open(dir.resolve("store"), io.larder.LarderOptions.defaults().readOnly(true));
    server = LarderServer.start(store, ServerOptions.defaults().port(0)
        .accessLog(new java.io.PrintStream(log, true, StandardCharsets.UTF_8)), GcOptions.defaults().maxSize(1 << 20));
    assertThat(send("GET", "/ro/k", null).body()).isEqualTo(blob);
    assertThat(send("GET", "/cas/" + sha256(blob), null).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> put = send("PUT", "/ro/new", blob);
    assertThat(put.statusCode()).isEqualTo(403);
    assertThat(new String(put.body(), StandardCharsets.UTF_8)).contains("read-only");
    assertThat(send("PUT", "/cas/" + sha256(random(10, 6)), random(10, 6)).statusCode()).isEqualTo(403);
    assertThat(send("DELETE", "/ro/k", null).statusCode()).isEqualTo(403);
    assertThat(send("PUT", "/v1/cache/123", blob).statusCode()).isEqualTo(403);
    assertThat(send("GET", "/ro/k", null).body()).isEqualTo(blob);
    assertThat(store.list("").count()).isEqualTo(2);
  }

  /** A request is recorded once its response is out: a large GET that the client has not read yet is not. */
  @Test
  void aResponseIsRecordedWhenItsLastByteIsSent() throws Exception {
    server.close();
    store.close();
    // verify-reads = when-changed (the CLI's default): a trusted file goes out by sendfile, the path that
    // recorded a response as soon as it was queued
    store = Larder.open(dir.resolve("store"), io.larder.LarderOptions.defaults().verifyEveryRead(false));
    server = LarderServer.start(store, ServerOptions.defaults().port(0)
        .accessLog(new java.io.PrintStream(log, true, StandardCharsets.UTF_8)), GcOptions.defaults());
    byte[] big = random(48 << 20, 12);
    store.put("http:/slow/big", big);
    // read once, whole: verified, the file is trusted and later GETs of it are sent by the kernel (sendfile)
    assertThat(send("GET", "/slow/big", null).body()).isEqualTo(big);
    log.reset();
    try (java.net.Socket s = new java.net.Socket()) {
      s.setReceiveBufferSize(16 * 1024); // before connecting: the window the client offers stays small
      s.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
      s.getOutputStream().write("GET /slow/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      java.io.InputStream in = s.getInputStream();
      in.readNBytes(1024); // the response has started
      Thread.sleep(500); // the server blocks on the client's window: 48 MiB do not fit the socket buffers
      assertThat(log.toString(StandardCharsets.UTF_8)).as("not recorded while the body is still being sent")
          .doesNotContain("GET kv http:/slow/big");
      long n = 1024 + in.readNBytes(big.length + 200).length;
      assertThat(n).isGreaterThan(big.length);
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!log.toString(StandardCharsets.UTF_8).contains("GET kv http:/slow/big hit 200 ")) {
      assertThat(System.nanoTime()).as("recorded once sent").isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  @Test
  void turborepo() throws Exception {
    assertThat(new String(send("GET", "/v8/artifacts/status", null).body(), StandardCharsets.UTF_8))
        .contains("\"enabled\"");
    byte[] a = random(2000, 5);
    assertThat(send("PUT", "/v8/artifacts/abc123?teamId=team1", a, "Authorization", "Bearer t").statusCode()).isEqualTo(200);
    assertThat(send("GET", "/v8/artifacts/abc123?teamId=team1", null).body()).isEqualTo(a);
    assertThat(send("HEAD", "/v8/artifacts/abc123?teamId=team1", null).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/v8/artifacts/abc123?teamId=team2", null).statusCode()).as("teams are apart").isEqualTo(404);
  }

  @Test
  void restEntriesWithMetadataRangesEtagsListingAndRemoval() throws Exception {
    byte[] data = random(3_000_000, 6); // over the 1 MiB streaming threshold
    HttpResponse<byte[]> put = send("PUT", "/v1/entries/pkg:a:1", data,
        "X-Larder-Metadata", "{\"tool\":\"test\"}", "X-Larder-TTL", "3600");
    assertThat(put.statusCode()).isEqualTo(201);
    JsonNode created = new ObjectMapper().readTree(put.body());
    assertThat(created.get("metadata").get("tool").asText()).isEqualTo("test");
    assertThat(created.get("expires").isTextual()).isTrue();

    HttpResponse<byte[]> get = send("GET", "/v1/entries/pkg:a:1", null);
    assertThat(get.body()).isEqualTo(data);
    String etag = get.headers().firstValue("etag").orElseThrow();
    assertThat(get.headers().firstValue("x-larder-metadata")).hasValue("{\"tool\":\"test\"}");
    assertThat(send("GET", "/v1/entries/pkg:a:1", null, "If-None-Match", etag).statusCode()).isEqualTo(304);

    HttpResponse<byte[]> range = send("GET", "/v1/entries/pkg:a:1", null, "Range", "bytes=1000-1999");
    assertThat(range.statusCode()).isEqualTo(206);
    assertThat(range.headers().firstValue("content-range")).hasValue("bytes 1000-1999/3000000");
    assertThat(range.body()).isEqualTo(java.util.Arrays.copyOfRange(data, 1000, 2000));
    HttpResponse<byte[]> suffix = send("GET", "/v1/entries/pkg:a:1", null, "Range", "bytes=-10");
    assertThat(suffix.body()).isEqualTo(java.util.Arrays.copyOfRange(data, data.length - 10, data.length));
    assertThat(send("GET", "/v1/entries/pkg:a:1", null, "Range", "bytes=5000000-").statusCode()).isEqualTo(416);

    String sri = created.get("integrity").asText();
    assertThat(send("GET", "/v1/blobs/" + sri, null).body()).isEqualTo(data);
    assertThat(send("GET", "/v1/blobs/sha256:" + sha256(data), null, "Range", "bytes=0-9").body())
        .isEqualTo(java.util.Arrays.copyOf(data, 10));

    for (int i = 0; i < 5; i++) {
      send("PUT", "/v1/entries/pkg:b:" + i, ("v" + i).getBytes());
    }
    List<String> keys = new ArrayList<>();
    String cursor = "";
    int pages = 0;
    do {
      JsonNode page = new ObjectMapper().readTree(send("GET", "/v1/entries?prefix=pkg:b:&limit=2&cursor=" + cursor, null).body());
      page.get("entries").forEach(e -> keys.add(e.get("key").asText()));
      cursor = page.get("cursor").isNull() ? null : page.get("cursor").asText();
      pages++;
    } while (cursor != null);
    assertThat(keys).containsExactly("pkg:b:0", "pkg:b:1", "pkg:b:2", "pkg:b:3", "pkg:b:4");
    assertThat(pages).isEqualTo(3);

    assertThat(new ObjectMapper().readTree(send("DELETE", "/v1/entries?prefix=pkg:b:", null).body()).get("removed").asInt())
        .isEqualTo(5);
    assertThat(send("DELETE", "/v1/entries/pkg:a:1", null).statusCode()).isEqualTo(204);
    JsonNode gc = new ObjectMapper().readTree(send("POST", "/v1/gc", null).body());
    assertThat(gc.has("blobsRemoved")).isTrue();
    JsonNode stats = new ObjectMapper().readTree(send("GET", "/v1/stats", null).body());
    assertThat(stats.get("entries").asInt()).isZero();
  }

  @Test
  void pathsThatLeaveTheirNamespaceAreRefused() throws Exception {
    for (String path : List.of("/cache/../index.db", "/cache/a%2Fb", "/cache/a%00b", "/cache//x", "/cache/./x",
        "/cache/%2e%2e/x", "/cache/a%5Cb", "/cache/a%zz")) {
      String r = raw("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", null, false);
      assertThat(r).as(path).startsWith("HTTP/1.1 400");
    }
  }

  /** Every tool's upload path: a body shorter than its Content-Length stores nothing and is never a 5xx. */
  @Test
  void aShortBodyStoresNothingOnEveryToolsUploadPath() throws Exception {
    byte[] part = random(10_000, 8);
    String cas = sha256(random(100_000, 9));
    java.util.Map<String, String> keyOfPath = new java.util.LinkedHashMap<>();
    keyOfPath.put("/cache/short", "http:/cache/short");
    keyOfPath.put("/gradle/short", "http:/gradle/short");
    keyOfPath.put("/ccache/short", "http:/ccache/short");
    keyOfPath.put("/maven/short", "http:/maven/short");
    keyOfPath.put("/rush/short", "http:/rush/short");
    keyOfPath.put("/v1/cache/4242", "nx:4242");
    keyOfPath.put("/sccache/a/b/c/short", "sccache:/a/b/c/short");
    keyOfPath.put("/v8/artifacts/short?teamId=t", "turbo:t:short");
    keyOfPath.put("/cas/" + cas, "bazel:cas:" + cas);
    keyOfPath.put("/ac/" + cas, "bazel:ac:" + cas);
    for (var e : keyOfPath.entrySet()) {
      String reply = raw("PUT " + e.getKey() + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", part, true);
      assertThat(reply).as(e.getKey()).doesNotStartWith("HTTP/1.1 5").doesNotStartWith("HTTP/1.1 2");
    }
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (log.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains(" PUT ")).count() < keyOfPath.size()
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    for (var e : keyOfPath.entrySet()) {
      assertThat(store.contains(e.getValue())).as(e.getKey()).isFalse();
    }
    assertThat(store.list("").count()).isZero();
    assertThat(log.toString(StandardCharsets.UTF_8)).doesNotContain(" 500 ");
    assertThat(tmpFiles()).as("no tmp file remains").isEmpty();
    assertThat(send("GET", "/healthz", null).statusCode()).isEqualTo(200);
  }

  @Test
  void uploadsNeedALengthAndAShortBodyStoresNothing() throws Exception {
    String chunked = raw("PUT /cache/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        null, false);
    assertThat(chunked).startsWith("HTTP/1.1 411");
    // the client promises 100,000 bytes, sends 10,000 and goes away
    raw("PUT /cache/short HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", random(10_000, 7), true);
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (!log.toString(StandardCharsets.UTF_8).contains("http:/cache/short") && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(log.toString(StandardCharsets.UTF_8)).contains("http:/cache/short");
    assertThat(store.info("http:/cache/short")).isEmpty();
    assertThat(tmpFiles()).as("no tmp file remains").isEmpty();
    assertThat(send("GET", "/healthz", null).statusCode()).as("the server is fine").isEqualTo(200);
  }

  @Test
  void aBlobDamagedOnDiskIsNeverServedWholeAndIsRemoved() throws Exception {
    byte[] data = random(3_000_000, 8);
    send("PUT", "/cache/big", data);
    Path file;
    try (Stream<Path> s = Files.walk(dir.resolve("store").resolve("content-v2"))) {
      file = s.filter(Files::isRegularFile).findFirst().orElseThrow();
    }
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {42}), 2_999_000); // near the end: most bytes go out first
    }
    try {
      HttpResponse<byte[]> r = send("GET", "/cache/big", null);
      assertThat(r.body()).as("a response that completes never holds the damaged content").isNotEqualTo(data);
      assertThat(r.body().length).isLessThan(data.length);
    } catch (IOException expected) {
      // the connection was closed before the response completed: the client sees a failed transfer
    }
    assertThat(store.info("http:/cache/big")).as("the damaged entry is removed").isEmpty();
    assertThat(send("GET", "/cache/big", null).statusCode()).isEqualTo(404);
    assertThat(new String(send("GET", "/metrics", null).body(), StandardCharsets.UTF_8))
        .containsPattern("larder_integrity_failures_total 1\\.0");
  }

  @Test
  void trustedFilesAreSentWholeAndAFileChangedOnDiskIsCaught() throws Exception {
    server.close();
    store.close();
    store = Larder.open(dir.resolve("store"), io.larder.LarderOptions.defaults().verifyEveryRead(false));
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null), GcOptions.defaults());
    byte[] small = random(5_000, 10);
    byte[] big = random(3_000_000, 11);
    send("PUT", "/cache/small-file", random(20_000, 12));
    send("PUT", "/cache/big", big);
    send("PUT", "/cache/small", small);
    for (int i = 0; i < 3; i++) { // sent from the file (sendfile) while trusted
      assertThat(send("GET", "/cache/big", null).body()).isEqualTo(big);
      assertThat(send("GET", "/cache/small", null).body()).isEqualTo(small);
    }
    Path file;
    try (Stream<Path> s = Files.walk(dir.resolve("store").resolve("content-v2"))) {
      file = s.filter(Files::isRegularFile).filter(f -> f.toFile().length() == big.length).findFirst().orElseThrow();
    }
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {7}), 2_999_999); // the last byte
    }
    try {
      HttpResponse<byte[]> r = send("GET", "/cache/big", null);
      assertThat(r.body()).as("a changed file is verified again, never served").isNotEqualTo(big);
      assertThat(r.body().length).isLessThan(big.length);
    } catch (IOException expected) {
      // the transfer failed: the client never takes the damaged content for whole
    }
    assertThat(store.info("http:/cache/big")).isEmpty();
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    String three = "PUT /cache/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        + "GET /cache/p HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /cache/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    String all;
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(three.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      all = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1); // until the close
    }
    List<String> statuses = java.util.regex.Pattern.compile("HTTP/1\\.1 \\d{3} [A-Za-z ]+?(?=\r\n)").matcher(all)
        .results().map(java.util.regex.MatchResult::group).toList(); // a body may run into the next status line
    assertThat(statuses).containsExactly("HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found");
    assertThat(all).contains("\r\n\r\nhello");
  }

  @Test
  void toolsUnderTheirBasePathsHaveTheirOwnLabelsAndTheSameKeys() throws Exception {
    for (String tool : new String[] {"gradle", "ccache", "maven"}) {
      assertThat(send("PUT", "/" + tool + "/x", tool.getBytes()).statusCode()).isEqualTo(200);
      assertThat(send("GET", "/" + tool + "/x", null).body()).isEqualTo(tool.getBytes());
      assertThat(store.contains("http:/" + tool + "/x")).as("the key-value key space").isTrue();
    }
    send("GET", "/other/x", null);
    String m = new String(send("GET", "/metrics", null).body(), StandardCharsets.UTF_8);
    assertThat(m).contains("larder_hits_total{protocol=\"gradle\"} 1.0", "larder_hits_total{protocol=\"ccache\"} 1.0",
        "larder_hits_total{protocol=\"maven\"} 1.0", "larder_misses_total{protocol=\"kv\"} 1.0");
  }

  @Test
  void metricsHealthAndAccessLog() throws Exception {
    send("GET", "/cache/nothing", null);
    send("PUT", "/cache/x", "x".getBytes());
    send("GET", "/cache/x", null);
    assertThat(send("GET", "/readyz", null).statusCode()).isEqualTo(200);
    String m = new String(send("GET", "/metrics", null).body(), StandardCharsets.UTF_8);
    assertThat(m).contains("larder_hits_total{protocol=\"kv\"} 1.0", "larder_misses_total{protocol=\"kv\"} 1.0",
        "larder_request_duration_seconds_bucket", "larder_store_entries", "larder_received_bytes");
    String l = log.toString(StandardCharsets.UTF_8);
    assertThat(l).contains("GET kv http:/cache/nothing miss 404", "GET kv http:/cache/x hit 200 1");
  }

  @Test
  void closeDrainsARequestInFlight() throws Exception {
    byte[] data = random(200_000, 9);
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      OutputStream out = s.getOutputStream();
      out.write(("PUT /cache/slow HTTP/1.1\r\nHost: x\r\nContent-Length: " + data.length + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.write(data, 0, 1000);
      out.flush();
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (server.inFlight() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      Thread closer = Thread.ofPlatform().start(server::close);
      Thread.sleep(300);
      assertThat(closer.isAlive()).as("close waits for the request in flight").isTrue();
      out.write(data, 1000, data.length - 1000);
      out.flush();
      String response = new String(s.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1);
      assertThat(response).isEqualTo("HTTP/1.1 200");
      closer.join(10_000);
      assertThat(closer.isAlive()).isFalse();
    }
    assertThat(store.getBytes("http:/cache/slow")).hasValue(data);
  }

  @Test
  @org.junit.jupiter.api.Tag("slow")
  void fiveHundredSlowHeaderClientsDoNotStopOthersAndAreTimedOut() throws Exception {
    server.close();
    server = LarderServer.start(store, ServerOptions.defaults().port(0).headerTimeout(Duration.ofSeconds(2))
        .accessLog(null), GcOptions.defaults());
    List<Socket> slow = new ArrayList<>();
    try {
      for (int i = 0; i < 500; i++) {
        Socket s = new Socket("127.0.0.1", server.port());
        s.getOutputStream().write("GET /cache/slow HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1));
        slow.add(s);
      }
      // they trickle a header byte now and then, never finishing (slowloris)
      Thread trickler = Thread.ofPlatform().daemon().start(() -> {
        try {
          while (!Thread.currentThread().isInterrupted()) {
            for (Socket s : slow) {
              try {
                s.getOutputStream().write('X');
              } catch (IOException closed) {
                // the server closed it
              }
            }
            Thread.sleep(100);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      HttpClient quick = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
      for (int i = 0; i < 50; i++) {
        byte[] body = random(5000, i);
        HttpRequest put = HttpRequest.newBuilder(URI.create(server.url() + "/cache/k" + i)).timeout(Duration.ofSeconds(10))
            .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        assertThat(quick.send(put, HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
        HttpRequest get = HttpRequest.newBuilder(URI.create(server.url() + "/cache/k" + i)).timeout(Duration.ofSeconds(10)).build();
        assertThat(quick.send(get, HttpResponse.BodyHandlers.ofByteArray()).body()).isEqualTo(body);
      }
      // past the header timeout every slow connection has been closed by the server
      for (Socket s : slow) {
        s.setSoTimeout(15_000);
        int r;
        try {
          r = s.getInputStream().read();
        } catch (java.net.SocketException reset) {
          r = -1; // closed while the client was still writing: the peer sees a reset instead of an end
        }
        assertThat(r).as("closed by the server").isEqualTo(-1);
      }
      trickler.interrupt();
    } finally {
      for (Socket s : slow) {
        s.close();
      }
    }
  }

  @Test
  void closeIsQuickWhenIdleAndTheConnectionTimesOutWhenSilent() throws Exception {
    server.close();
    server = LarderServer.start(store, ServerOptions.defaults().port(0).idleTimeout(Duration.ofMillis(300)).accessLog(null),
        GcOptions.defaults());
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.getOutputStream().write("GET /cache/x HTTP/1.1\r\nHo".getBytes(StandardCharsets.ISO_8859_1));
      s.setSoTimeout(5_000);
      assertThat(s.getInputStream().read()).as("closed by the server").isEqualTo(-1);
    }
  }
}
