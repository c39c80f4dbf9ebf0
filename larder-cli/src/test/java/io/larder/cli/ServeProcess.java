package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * `larder serve` as a child process for the tests that speak to it: started through the launcher on a free
 * port, its URL read from the first line it prints, its stderr (the access log) kept.
 */
final class ServeProcess implements AutoCloseable {
  private static final Pattern URL = Pattern.compile(" at (https?://\\S+)(?: and (grpcs?://\\S+))?$");

  final Process process;
  /** The first line printed, e.g. "larder 0.1.0 serving /store (shared tier s3://b/) at http://127.0.0.1:40123". */
  final String banner;
  final String url;
  /** The gRPC address (with --grpc-port), or null. */
  final String grpcUrl;
  private final StringBuilder err = new StringBuilder();

  private ServeProcess(Process process, String banner, String url, String grpcUrl) {
    this.process = process;
    this.banner = banner;
    this.url = url;
    this.grpcUrl = grpcUrl;
  }

  /** Starts `larder --cache STORE serve --port 0 EXTRA…` with {@code env} added to the environment. */
  static ServeProcess start(Path store, Map<String, String> env, String... extra) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(System.getProperty("larder.launcher"), "--cache", store.toString(),
        "serve", "--port", "0"));
    cmd.addAll(List.of(extra));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    Process p = pb.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine();
    assertThat(first).as("the first line names the URL").isNotNull();
    Matcher m = URL.matcher(first);
    assertThat(m.find()).as(first).isTrue();
    ServeProcess s = new ServeProcess(p, first, m.group(1), m.group(2));
    drain(out, null); // the hints for each build tool
    drain(new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8)), s.err);
    return s;
  }

  private static void drain(BufferedReader in, StringBuilder into) {
    Thread.ofPlatform().daemon().start(() -> {
      try (in) {
        for (String l; (l = in.readLine()) != null; ) {
          if (into != null) {
            synchronized (into) {
              into.append(l).append('\n');
            }
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    });
  }

  /** What the server wrote to stderr so far. */
  String stderr() {
    synchronized (err) {
      return err.toString();
    }
  }

  /** Sends SIGTERM and waits for the exit; returns the exit code. */
  int terminate() throws InterruptedException {
    process.destroy();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("exits after SIGTERM").isTrue();
    return process.exitValue();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      try {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
