package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.s3.S3Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two `larder serve` nodes over one bucket of a real S3 server (s3proxy), and S3 going away and coming back. */
@Tag("slow")
class MultiNodeTest {
  @TempDir Path dir;
  final List<ServeProcess> nodes = new ArrayList<>();
  S3Proxy proxy;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @AfterEach
  void stop() {
    for (ServeProcess n : nodes) {
      n.close();
    }
    if (proxy != null) {
      proxy.close();
    }
  }

  String node(String name, String... extra) throws Exception {
    return start(name, extra).url;
  }

  ServeProcess start(String name, String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of("--no-access-log", "--s3-bucket", "larder", "--s3-endpoint",
        proxy.endpoint.toString()));
    args.addAll(List.of(extra));
    ServeProcess node = ServeProcess.start(dir.resolve(name), Map.of("AWS_ACCESS_KEY_ID", S3Proxy.IDENTITY,
        "AWS_SECRET_ACCESS_KEY", S3Proxy.CREDENTIAL, "AWS_REGION", "us-east-1"), args.toArray(String[]::new));
    nodes.add(node);
    assertThat(node.banner).contains("(shared tier s3://larder/)");
    return node;
  }

  @Test
  void writeBehindPutsAcknowledgedDuringAnOutageReachTheBucketAfterTheNodeIsKilledAndRestarted() throws Exception {
    proxy = S3Proxy.start(dir);
    proxy.createBucket("larder");
    ServeProcess a = start("a", "--s3-writes", "behind");
    proxy.close(); // S3 down
    assertThat(send("PUT", a.url + "/v1/entries/wb/one", "queued".getBytes()).statusCode())
        .as("acknowledged once stored locally and queued").isEqualTo(201);
    assertThat(metric(a.url, "larder_tier_pending_writes")).isEqualTo(1);
    a.process.destroyForcibly().waitFor(); // kill -9: the queue is on disk
    proxy = S3Proxy.restart(proxy, dir);
    String b = node("b");
    assertThat(send("GET", b + "/v1/entries/wb/one", null).statusCode()).as("not uploaded yet").isEqualTo(404);
    String a2 = node("a", "--s3-writes", "behind"); // the same store: it uploads what the killed process queued
    long deadline = System.nanoTime() + 30_000_000_000L;
    int status = 0;
    while (System.nanoTime() < deadline && (status = send("GET", b + "/v1/entries/wb/one", null).statusCode()) != 200) {
      Thread.sleep(200);
    }
    assertThat(status).as("node B reads what node A acknowledged before it was killed").isEqualTo(200);
    assertThat(metric(a2, "larder_tier_pending_writes")).isZero();
  }

  HttpResponse<byte[]> send(String method, String url, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).method(method,
        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  double metric(String url, String name) throws Exception {
    String text = new String(send("GET", url + "/metrics", null).body(), StandardCharsets.UTF_8);
    return text.lines().filter(l -> l.startsWith(name + " ")).mapToDouble(l -> Double.parseDouble(l.substring(name.length() + 1)))
        .findFirst().orElse(-1);
  }

  @Test
  void aBlobPutThroughNodeAIsServedByNodeBThenFromItsOwnTier() throws Exception {
    proxy = S3Proxy.start(dir);
    proxy.createBucket("larder");
    String a = node("a");
    String b = node("b");
    byte[] blob = new byte[2_000_000];
    new Random(1).nextBytes(blob);
    String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(blob));
    assertThat(send("PUT", a + "/cas/" + hex, blob).statusCode()).isEqualTo(200);
    assertThat(send("GET", b + "/cas/" + hex, null).body()).as("node B answers from S3").isEqualTo(blob);
    assertThat(metric(b, "larder_tier_remote_hits_total")).isEqualTo(1);
    assertThat(send("GET", b + "/cas/" + hex, null).body()).isEqualTo(blob);
    assertThat(metric(b, "larder_tier_remote_hits_total")).as("the second read is local").isEqualTo(1);
    assertThat(metric(b, "larder_tier_local_hits_total")).isGreaterThanOrEqualTo(1);

    // a range of content B does not have: ranged GETs to S3, verified chunk by chunk, 206
    assertThat(send("PUT", a + "/v1/entries/big", blob).statusCode()).isEqualTo(201);
    HttpResponse<byte[]> part = http.send(HttpRequest.newBuilder(URI.create(b + "/v1/entries/big"))
        .header("Range", "bytes=1500000-1600000").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.body()).isEqualTo(java.util.Arrays.copyOfRange(blob, 1_500_000, 1_600_001));
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 1500000-1600000/2000000");

    // S3 goes away: cached content is still served, misses are misses, writes that need S3 fail
    proxy.close();
    assertThat(send("GET", b + "/cas/" + hex, null).body()).isEqualTo(blob);
    assertThat(send("GET", b + "/cache/never-stored", null).statusCode()).isEqualTo(404);
    int failed = send("PUT", a + "/cache/during-outage", "x".getBytes()).statusCode();
    assertThat(failed).as("write-through refused while S3 is down").isGreaterThanOrEqualTo(500);
    assertThat(metric(a, "larder_tier_remote_errors_total")).isPositive();

    // S3 comes back: service resumes without restarting the nodes
    proxy = S3Proxy.restart(proxy, dir);
    assertThat(send("PUT", a + "/cache/after", "back".getBytes()).statusCode()).isEqualTo(200);
    assertThat(new String(send("GET", b + "/cache/after", null).body(), StandardCharsets.UTF_8)).isEqualTo("back");
    for (ServeProcess n : nodes) {
      n.terminate();
    }
  }

  @Test
  void theCliOpensTheSharedTierWithStoreS3Url() throws Exception {
    proxy = S3Proxy.start(dir);
    proxy.createBucket("larder");
    ServeProcess node = ServeProcess.start(dir.resolve("a"), Map.of("AWS_ACCESS_KEY_ID", S3Proxy.IDENTITY,
        "AWS_SECRET_ACCESS_KEY", S3Proxy.CREDENTIAL, "AWS_REGION", "us-east-1"), "--no-access-log",
        "--s3-bucket", "larder", "--s3-prefix", "team-a", "--s3-endpoint", proxy.endpoint.toString());
    nodes.add(node);
    for (String k : List.of("one", "two", "three")) {
      assertThat(send("PUT", node.url + "/v1/entries/ci/" + k, ("content of " + k).getBytes()).statusCode())
          .isEqualTo(201);
    }
    Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", S3Proxy.IDENTITY, "AWS_SECRET_ACCESS_KEY",
        S3Proxy.CREDENTIAL, "AWS_REGION", "us-east-1", "LARDER_S3_ENDPOINT", proxy.endpoint.toString());
    Path fresh = dir.resolve("laptop"); // a machine that never saw these entries
    String larder = System.getProperty("larder.launcher");
    BuildToolsTest.Run ls = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "ls", "ci/"));
    assertThat(ls.code()).as(ls.output()).isZero();
    assertThat(ls.output().lines().toList()).containsExactly("ci/one", "ci/three", "ci/two");
    BuildToolsTest.Run stats = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "stats"));
    assertThat(stats.output()).contains("tier       s3://larder/team-a/ (0 puts waiting to be uploaded)");
    BuildToolsTest.Run get = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "get", "ci/two"));
    assertThat(get.output()).isEqualTo("content of two");
    BuildToolsTest.Run rm = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "rm", "--prefix", "ci/", "--yes"));
    assertThat(rm.code()).as(rm.output()).isZero();
    assertThat(send("GET", node.url + "/v1/entries?prefix=ci/", null).body()).asString()
        .doesNotContain("ci/one");
    // collection of the bucket: content no entry references any more goes (after the grace)
    byte[] big = new byte[1_500_000]; // a blob in the bucket: content up to 1 MiB lives in its entry
    new Random(5).nextBytes(big);
    assertThat(send("PUT", node.url + "/v1/entries/big", big).statusCode()).isEqualTo(201);
    assertThat(send("DELETE", node.url + "/v1/entries/big", null).statusCode()).isEqualTo(204);
    Thread.sleep(1_500); // object times have one-second resolution
    BuildToolsTest.Run dry = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "gc", "--bucket", "--grace", "1s", "--dry-run"));
    assertThat(dry.output()).as(dry.output()).contains("would remove 1 blobs, 1.4 MiB");
    BuildToolsTest.Run gc = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "gc", "--bucket", "--grace", "1s"));
    assertThat(gc.output()).as(gc.output()).contains("removed 1 blobs").contains("s3://larder/team-a/");
    BuildToolsTest.Run again = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-a",
        "--cache", fresh.toString(), "gc", "--bucket", "--grace", "1s"));
    assertThat(again.output()).contains("removed 0 blobs");
    BuildToolsTest.Run noTier = BuildToolsTest.run(dir, env, List.of(larder, "--cache", fresh.toString(), "gc",
        "--bucket"));
    assertThat(noTier.code()).isEqualTo(2);

    BuildToolsTest.Run other = BuildToolsTest.run(dir, env, List.of(larder, "--store", "s3://larder/team-b",
        "--cache", dir.resolve("b").toString(), "ls"));
    assertThat(other.output()).as("another prefix is another store").isEmpty();
    BuildToolsTest.Run bad = BuildToolsTest.run(dir, env, List.of(larder, "--store", "/tmp/x", "ls"));
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.output()).contains("--store takes s3://BUCKET");
  }

  @Test
  void localHitsAreServedWhileMissesWaitOnAnS3ThatHangs() throws Exception {
    // a "server" that accepts connections (the kernel does, into the backlog) and never answers
    try (java.net.ServerSocket hole = new java.net.ServerSocket(0, 100, java.net.InetAddress.getLoopbackAddress())) {
      ServeProcess node = ServeProcess.start(dir.resolve("h"), Map.of("AWS_ACCESS_KEY_ID", "x",
          "AWS_SECRET_ACCESS_KEY", "y", "AWS_REGION", "us-east-1"), "--no-access-log", "--s3-bucket", "larder",
          "--s3-endpoint", "http://127.0.0.1:" + hole.getLocalPort(), "--s3-writes", "behind");
      nodes.add(node);
      assertThat(send("PUT", node.url + "/cache/local", "here".getBytes()).statusCode())
          .as("write-behind: stored here, queued for S3").isEqualTo(200);
      List<java.util.concurrent.CompletableFuture<HttpResponse<byte[]>>> misses = new ArrayList<>();
      for (int i = 0; i < 8; i++) { // more than the server has event loops
        misses.add(http.sendAsync(HttpRequest.newBuilder(URI.create(node.url + "/cache/absent-" + i)).build(),
            HttpResponse.BodyHandlers.ofByteArray()));
      }
      Thread.sleep(1_000);
      HttpResponse<byte[]> hit = http.send(HttpRequest.newBuilder(URI.create(node.url + "/cache/local"))
          .timeout(java.time.Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(hit.statusCode()).isEqualTo(200);
      assertThat(new String(hit.body(), StandardCharsets.UTF_8)).isEqualTo("here");
      assertThat(misses).as("the misses were still waiting on S3").noneMatch(java.util.concurrent.Future::isDone);
      for (var m : misses) {
        assertThat(m.get(60, java.util.concurrent.TimeUnit.SECONDS).statusCode())
            .as("a miss once the entry lookup times out, not an error").isEqualTo(404);
      }
    }
  }
}
