package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.larder.GcOptions;
import io.larder.Larder;
import io.larder.LarderException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Credentials (tokens, Basic; read-only and read-write) and HTTPS (PEM, PKCS#12, client certificates). */
class AuthTlsTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;

  @BeforeEach
  void open() {
    store = Larder.open(dir.resolve("store"));
  }

  @AfterEach
  void close() {
    if (server != null) {
      server.close();
    }
    store.close();
  }

  static int status(HttpClient http, String method, String url, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url))
        .method(method, method.equals("PUT") ? HttpRequest.BodyPublishers.ofString("x") : HttpRequest.BodyPublishers.noBody());
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static String basic(String userPass) {
    return "Basic " + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void tokensAndBasicCredentialsReadOnlyOrReadWrite() throws Exception {
    Path auth = dir.resolve("auth");
    Files.writeString(auth, """
        # who may do what
        token  ci-token-123        rw
        token  reader-token        ro
        basic  builder:horse:staple rw   # passwords may contain ':'
        basic  viewer:secret       ro
        """);
    ByteArrayLog log = new ByteArrayLog();
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(log.stream())
        .credentials(Credentials.load(auth)), GcOptions.defaults());
    HttpClient http = HttpClient.newHttpClient();
    String u = server.url() + "/cache/k";
    assertThat(status(http, "PUT", u, null)).as("no credentials").isEqualTo(401);
    assertThat(status(http, "GET", u, null)).isEqualTo(401);
    assertThat(status(http, "PUT", u, "Bearer wrong")).isEqualTo(401);
    assertThat(status(http, "PUT", u, basic("builder:wrong"))).isEqualTo(401);
    assertThat(status(http, "PUT", u, "Bearer reader-token")).as("read-only writing").isEqualTo(403);
    assertThat(status(http, "PUT", u, basic("viewer:secret"))).isEqualTo(403);
    assertThat(status(http, "PUT", u, "Bearer ci-token-123")).isEqualTo(200);
    assertThat(status(http, "PUT", u, basic("builder:horse:staple"))).isEqualTo(200);
    assertThat(status(http, "GET", u, "Bearer reader-token")).isEqualTo(200);
    assertThat(status(http, "GET", u, basic("viewer:secret"))).isEqualTo(200);
    assertThat(status(http, "DELETE", u, basic("viewer:secret"))).isEqualTo(403);
    assertThat(status(http, "GET", server.url() + "/healthz", null)).as("health needs no credentials").isEqualTo(200);
    assertThat(log.text()).as("secrets never reach the log").doesNotContain("ci-token-123", "horse", "secret");
    assertThat(log.text()).as("who: address, principal (the n-th token, or the Basic user), user agent")
        .containsPattern("PUT kv http:/cache/k - 200 0 [0-9.]+ms 127\\.0\\.0\\.1 token#1 \"Java-http-client/[^\"]*\"\n")
        .containsPattern("PUT kv http:/cache/k - 200 0 [0-9.]+ms 127\\.0\\.0\\.1 basic:builder \"")
        .containsPattern("GET kv http:/cache/k hit 200 \\d+ [0-9.]+ms 127\\.0\\.0\\.1 token#2 \"")
        .containsPattern("PUT kv http:/cache/k - 401 \\d+ [0-9.]+ms 127\\.0\\.0\\.1 - \"");
    // a 401 tells the client how to authenticate
    HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(u)).build(), HttpResponse.BodyHandlers.discarding());
    assertThat(r.headers().firstValue("www-authenticate")).hasValue("Basic realm=\"larder\"");
  }

  @Test
  void theAccessLogCanBeJsonLines() throws Exception {
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "basic ann:pw rw\n");
    ByteArrayLog log = new ByteArrayLog();
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(log.stream()).accessLogJson(true)
        .credentials(Credentials.load(auth)), GcOptions.defaults());
    HttpClient http = HttpClient.newHttpClient();
    assertThat(status(http, "PUT", server.url() + "/cache/j%22quoted", basic("ann:pw"))).isEqualTo(200);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!log.text().endsWith("\n")) { // recorded once the response is out, which the client may see first
      assertThat(System.nanoTime()).as("the request is logged").isLessThan(deadline);
      Thread.sleep(5);
    }
    String[] lines = log.text().split("\n");
    assertThat(lines).hasSize(1);
    var json = io.larder.config.JsonShapes.MAPPER.readTree(lines[0]);
    assertThat(json.path("method").asText()).isEqualTo("PUT");
    assertThat(json.path("protocol").asText()).isEqualTo("kv");
    assertThat(json.path("subject").asText()).isEqualTo("http:/cache/j\"quoted");
    assertThat(json.path("status").asInt()).isEqualTo(200);
    assertThat(json.path("client").asText()).isEqualTo("127.0.0.1");
    assertThat(json.path("principal").asText()).isEqualTo("basic:ann");
    assertThat(json.path("userAgent").asText()).startsWith("Java-http-client/");
    assertThat(json.path("ms").isNumber()).isTrue();
    assertThat(log.text()).doesNotContain("pw");
  }

  @Test
  void anonymousReadAndAuthFileErrors() throws Exception {
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "token t rw\nanonymous ro\n");
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null)
        .credentials(Credentials.load(auth)), GcOptions.defaults());
    HttpClient http = HttpClient.newHttpClient();
    String u = server.url() + "/cache/k";
    assertThat(status(http, "PUT", u, null)).isEqualTo(403);
    assertThat(status(http, "PUT", u, "Bearer t")).isEqualTo(200);
    assertThat(status(http, "GET", u, null)).isEqualTo(200);
    assertThat(status(http, "GET", u, "Bearer nope")).as("wrong credentials are not anonymous").isEqualTo(401);

    Files.writeString(auth, "token t admin\n");
    assertThatThrownBy(() -> Credentials.load(auth)).isInstanceOf(LarderException.InvalidInput.class)
        .hasMessageContaining("line 1").hasMessageContaining("ro or rw");
    Files.writeString(auth, "basic nocolon rw\n");
    assertThatThrownBy(() -> Credentials.load(auth)).hasMessageContaining("user:password");
  }

  // ------------------------------------------------------------------ TLS

  static void run(Path cwd, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", cmd) + "\n" + out).isZero();
  }

  /** A self-signed certificate for 127.0.0.1 (PEM, PKCS#8 key) made with openssl. */
  static void pemCertificate(Path d, String name) throws Exception {
    run(d, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + name,
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", name + ".key", "-out", name + ".pem");
  }

  static SSLContext trusting(Path pem, KeyManagerFactory clientKeys) throws Exception {
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    try (InputStream in = Files.newInputStream(pem)) {
      ts.setCertificateEntry("server", (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(clientKeys == null ? null : clientKeys.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  @Test
  void httpsFromPemFiles() throws Exception {
    pemCertificate(dir, "server");
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null)
        .tls(Tls.pem(dir.resolve("server.pem"), dir.resolve("server.key"))), GcOptions.defaults());
    assertThat(server.url()).startsWith("https://127.0.0.1:");
    HttpClient http = HttpClient.newBuilder().sslContext(trusting(dir.resolve("server.pem"), null)).build();
    assertThat(status(http, "PUT", server.url() + "/cache/k", null)).isEqualTo(200);
    assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/cache/k")).build(),
        HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("x");
    // and with curl, as users check it
    run(dir, "curl", "-sSf", "--cacert", "server.pem", "-o", "got", server.url() + "/cache/k");
    assertThat(Files.readString(dir.resolve("got"))).isEqualTo("x");
  }

  @Test
  void httpsFromPkcs12WithRequiredClientCertificates() throws Exception {
    String jdkBin = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    run(dir, jdkBin, "-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=server",
        "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", "server.p12",
        "-storepass", "changeit");
    run(dir, jdkBin, "-exportcert", "-rfc", "-alias", "server", "-keystore", "server.p12", "-storepass", "changeit",
        "-file", "server.pem");
    pemCertificate(dir, "client"); // the client's own self-signed certificate is its CA here
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null)
        .tls(Tls.pkcs12(dir.resolve("server.p12"), "changeit").requireClientCertificates(dir.resolve("client.pem"))),
        GcOptions.defaults());
    HttpClient anonymous = HttpClient.newBuilder().sslContext(trusting(dir.resolve("server.pem"), null)).build();
    assertThatThrownBy(() -> status(anonymous, "GET", server.url() + "/healthz", null))
        .as("no client certificate, no connection").isInstanceOf(java.io.IOException.class);
    run(dir, "curl", "-sSf", "--cacert", "server.pem", "--cert", "client.pem", "--key", "client.key",
        "-o", "/dev/null", server.url() + "/healthz");
  }

  @Test
  void unusableTlsFilesAreAClearErrorAtStart() throws Exception {
    Files.writeString(dir.resolve("bad.pem"), "not a certificate");
    assertThatThrownBy(() -> LarderServer.start(store, ServerOptions.defaults().port(0)
        .tls(Tls.pem(dir.resolve("bad.pem"), dir.resolve("bad.pem"))), GcOptions.defaults()))
        .isInstanceOf(LarderException.InvalidInput.class).hasMessageContaining("bad.pem");
  }

  /** An access log kept in memory. */
  static final class ByteArrayLog {
    final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

    java.io.PrintStream stream() {
      return new java.io.PrintStream(bytes, true, StandardCharsets.UTF_8);
    }

    String text() {
      return bytes.toString(StandardCharsets.UTF_8);
    }
  }

}
