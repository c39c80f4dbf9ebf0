package io.larder.s3;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** A real S3 server for tests: s3proxy (from Maven Central) in a child JVM on loopback, filesystem backend. */
public final class S3Proxy implements AutoCloseable {
  public static final String IDENTITY = "larder-test";
  public static final String CREDENTIAL = "larder-test-secret";

  private final Process process;
  public final URI endpoint;
  final Path data;
  final int port;

  private S3Proxy(Process process, URI endpoint, Path data, int port) {
    this.process = process;
    this.endpoint = endpoint;
    this.data = data;
    this.port = port;
  }

  public static S3Proxy start(Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    return start(dir, port);
  }

  /** Starts s3proxy again on the same port and data (after close: a server that went away and came back). */
  public static S3Proxy restart(S3Proxy old, Path dir) throws Exception {
    old.close();
    return start(dir, old.port);
  }

  private static S3Proxy start(Path dir, int port) throws Exception {
    String jar = System.getProperty("s3proxy.jar");
    if (jar == null || !Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException("system property s3proxy.jar must name s3proxy's jar-with-dependencies (set by the build)");
    }
    Path data = Files.createDirectories(dir.resolve("s3-data"));
    Path conf = dir.resolve("s3proxy.conf");
    Files.writeString(conf, String.join("\n",
        "s3proxy.endpoint=http://127.0.0.1:" + port,
        "s3proxy.authorization=aws-v2-or-v4",
        "s3proxy.identity=" + IDENTITY,
        "s3proxy.credential=" + CREDENTIAL,
        "jclouds.provider=filesystem",
        "jclouds.filesystem.basedir=" + data) + "\n");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx256m", "-jar", jar, "--properties", conf.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("s3proxy.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        new Socket("127.0.0.1", port).close();
        break;
      } catch (IOException notYet) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IllegalStateException("s3proxy did not start: " + Files.readString(dir.resolve("s3proxy.log")));
        }
        Thread.sleep(100);
      }
    }
    return new S3Proxy(p, URI.create("http://127.0.0.1:" + port), data, port);
  }

  public S3Client client() {
    return S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(true)
        .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(IDENTITY, CREDENTIAL))).build();
  }

  public void createBucket(String bucket) {
    try (S3Client c = client()) {
      c.createBucket(b -> b.bucket(bucket));
    }
  }

  public S3BlobStore.Config config(String bucket, String prefix) {
    return new S3BlobStore.Config(bucket, prefix, endpoint, "us-east-1", true, IDENTITY, CREDENTIAL);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
