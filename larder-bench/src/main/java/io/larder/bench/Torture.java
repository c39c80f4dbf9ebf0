package io.larder.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An attack on {@code larder serve} that a developer can run (loopback only, bounded in time): random bad
 * requests on every protocol, {@code kill -9} rounds checking every acknowledged PUT, a flood of slow
 * clients, and (as root) the full-disk cycle on a small tmpfs. Each part prints what it tried and what held;
 * the exit code is the number of parts that did not hold.
 * Usage: Torture LAUNCHER [BAD_REQUESTS] [KILL_ROUNDS] [SLOW_CLIENTS]
 */
public final class Torture {
  private final Path launcher;
  private final Path work;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private Torture(Path launcher, Path work) {
    this.launcher = launcher;
    this.work = work;
  }

  public static void main(String[] args) throws Exception {
    Path launcher = Path.of(args[0]);
    int bad = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
    int kills = args.length > 2 ? Integer.parseInt(args[2]) : 10;
    int slow = args.length > 3 ? Integer.parseInt(args[3]) : 300;
    Path work = Files.createTempDirectory("larder-torture");
    Torture t = new Torture(launcher, work);
    int failed = 0;
    failed += t.badRequests(bad) ? 0 : 1;
    failed += t.killRounds(kills) ? 0 : 1;
    failed += t.slowClients(slow) ? 0 : 1;
    failed += t.fullDisk() ? 0 : 1;
    System.out.println(failed == 0 ? "torture: everything held" : "torture: " + failed + " part(s) did not hold");
    System.exit(failed);
  }

  // ------------------------------------------------------------------ a server to attack

  private final class Server implements AutoCloseable {
    final Process process;
    final int port;

    Server(Path store, String... extra) throws Exception {
      port = freePort();
      List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "--cache", store.toString(), "serve", "--port",
          String.valueOf(port), "--no-access-log"));
      cmd.addAll(Arrays.asList(extra));
      process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(work.resolve("serve-" + port + ".log").toFile())
          .start();
      for (int i = 0; i < 600; i++) {
        try {
          if (get("/healthz").statusCode() == 200) {
            return;
          }
        } catch (IOException notYet) {
          // starting
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException("larder serve did not start: see " + work.resolve("serve-" + port + ".log"));
    }

    HttpResponse<byte[]> get(String path) throws Exception {
      return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30))
          .build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<byte[]> put(String path, byte[] body) throws Exception {
      return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30))
          .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    void kill9() throws InterruptedException {
      process.destroyForcibly(); // the launcher exec's the JVM: this is SIGKILL to the server itself
      process.waitFor();
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(40, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }

  static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  // ------------------------------------------------------------------ 1. bad requests on every protocol

  private static final String[] BASES = {"/ac/", "/cas/", "/cache/", "/v8/artifacts/", "/v1/entries/", "/v1/cache/",
      "/sccache/", "/gradle/", "/ccache/", "/maven/", "/status", "/", "/ui/", "/v1/", "/healthz", "/metrics"};
  private static final String[] METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE", "PROPFIND", "MKCOL", "OPTIONS", "BREW",
      "get", "TRACE", "CONNECT"};
  private static final String[] NASTY = {"%zz", "%", "%0", "%00", "%c3%28", "%ff", "..", "%2e%2e", "//", "\u0085", "é",
      "a:b", "?teamId=%zz", "?prefix=%G0", "?limit=-1", "?cursor=!!", "\\", "%0aFORGED", "\u0001", "?slug=a:b"};

  boolean badRequests(int n) throws Exception {
    System.out.println("== bad requests: " + n + " random malformed requests over every protocol's paths");
    Path store = work.resolve("bad");
    Map<String, Integer> statuses = new TreeMap<>();
    List<String> broken = new ArrayList<>();
    try (Server s = new Server(store)) {
      SplittableRandom r = new SplittableRandom(42);
      for (int i = 0; i < n; i++) {
        String request = badRequest(r);
        String status = exchange(s.port, request);
        statuses.merge(status, 1, Integer::sum);
        if (System.getenv("TORTURE_SHOW") != null && status.equals(System.getenv("TORTURE_SHOW"))) {
          System.out.println("   " + status + ": " + request.replace("\r\n", "\\r\\n").substring(0, Math.min(160, request.length())));
        }
        if (status.startsWith("5") || status.equals("no answer")) {
          if (broken.size() < 10) {
            broken.add(status + " for " + request.replace("\r\n", "\\r\\n").substring(0, Math.min(200, request.length())));
          }
        }
      }
      boolean healthy = s.get("/healthz").statusCode() == 200 && s.put("/cache/after", "ok".getBytes()).statusCode() == 200
          && new String(s.get("/cache/after").body(), StandardCharsets.UTF_8).equals("ok");
      System.out.println("   statuses: " + statuses);
      broken.forEach(b -> System.out.println("   NOT HELD: " + b));
      System.out.println("   server healthy and serving afterwards: " + healthy);
      return broken.isEmpty() && healthy;
    }
  }

  private static String badRequest(SplittableRandom r) {
    String method = METHODS[r.nextInt(METHODS.length)];
    String path = BASES[r.nextInt(BASES.length)] + "k" + r.nextInt(1000) + NASTY[r.nextInt(NASTY.length)];
    if (r.nextInt(20) == 0) {
      path = "/cache/" + "x".repeat(10_000 + r.nextInt(20_000));
    }
    StringBuilder b = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: x\r\n");
    switch (r.nextInt(6)) {
      case 0 -> b.append("Content-Length: 10\r\n\r\n").append("short"); // lies: fewer bytes, then close
      case 1 -> b.append("Content-Length: nope\r\n\r\n");
      case 2 -> b.append("Transfer-Encoding: chunked\r\n\r\nzz\r\ngarbage\r\n");
      case 3 -> b.append("Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
      case 4 -> b.append("X-Larder-TTL: 9223372036854775807\r\nContent-Length: 2\r\n\r\nhi");
      default -> b.append("Authorization: Bearer \u0001\r\n\r\n");
    }
    return b.toString();
  }

  /**
   * Sends {@code request} and returns the status code of the answer, or what happened instead. A request whose
   * body is shorter than its Content-Length is followed by a half-close (the client gave up): the server may
   * answer 400 or just close; every other request must be answered.
   */
  private static String exchange(int port, String request) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.UTF_8));
      out.flush();
      if (request.endsWith("Content-Length: 10\r\n\r\nshort")) {
        s.shutdownOutput();
      }
      InputStream in = s.getInputStream();
      byte[] head = in.readNBytes(12);
      String line = new String(head, StandardCharsets.ISO_8859_1);
      if (line.startsWith("HTTP/1.1 100")) {
        in.readNBytes(13); // "Continue\r\n\r\n" and the next status line's start
        line = new String(in.readNBytes(12), StandardCharsets.ISO_8859_1);
      }
      return line.length() >= 12 ? line.substring(9, 12) : "closed";
    } catch (java.net.SocketTimeoutException e) {
      return "no answer";
    } catch (IOException e) {
      return "closed";
    }
  }

  // ------------------------------------------------------------------ 2. kill -9 under load

  boolean killRounds(int rounds) throws Exception {
    System.out.println("== kill -9: " + rounds + " rounds of 4 clients putting while the server is killed");
    Path store = work.resolve("kill");
    Map<String, Integer> acknowledged = new ConcurrentHashMap<>();
    SplittableRandom r = new SplittableRandom(7);
    AtomicInteger next = new AtomicInteger();
    for (int round = 1; round <= rounds; round++) {
      try (Server s = new Server(store)) {
        AtomicBoolean run = new AtomicBoolean(true);
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
          clients.add(Thread.ofPlatform().start(() -> {
            while (run.get()) {
              int i = next.incrementAndGet();
              try {
                if (s.put("/cache/k" + i, content(i)).statusCode() == 200) {
                  acknowledged.put("/cache/k" + i, i);
                }
              } catch (Exception e) {
                return; // the server went away
              }
            }
          }));
        }
        Thread.sleep(300 + r.nextInt(1500));
        s.kill9();
        run.set(false);
        for (Thread t : clients) {
          t.join();
        }
      }
    }
    int lost = 0;
    int wrong = 0;
    try (Server s = new Server(store)) {
      for (Map.Entry<String, Integer> e : acknowledged.entrySet()) {
        HttpResponse<byte[]> got = s.get(e.getKey());
        if (got.statusCode() != 200) {
          lost++;
        } else if (!Arrays.equals(got.body(), content(e.getValue()))) {
          wrong++;
        }
      }
    }
    System.out.println("   acknowledged PUTs: " + acknowledged.size() + "; lost: " + lost + "; served wrong: " + wrong);
    return lost == 0 && wrong == 0 && !acknowledged.isEmpty();
  }

  static byte[] content(int i) {
    byte[] b = new byte[1000 + i % 70_000];
    new SplittableRandom(i).nextBytes(b);
    return b;
  }

  // ------------------------------------------------------------------ 3. slow clients

  boolean slowClients(int n) throws Exception {
    System.out.println("== slow clients: " + n + " connections trickling headers while a normal client works");
    List<Socket> sockets = new ArrayList<>();
    try (Server s = new Server(work.resolve("slow"))) {
      for (int i = 0; i < n; i++) {
        Socket sock = new Socket("127.0.0.1", s.port);
        sock.getOutputStream().write("GET /cache/x HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
        sockets.add(sock);
      }
      AtomicBoolean trickle = new AtomicBoolean(true);
      Thread t = Thread.ofPlatform().daemon().start(() -> {
        while (trickle.get()) {
          for (Socket sock : sockets) {
            try {
              sock.getOutputStream().write('x');
            } catch (IOException closedByServer) {
              // what should happen to a client this slow
            }
          }
          try {
            Thread.sleep(1000);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      int served = 0;
      long worst = 0;
      s.put("/cache/x", "hello".getBytes());
      for (int i = 0; i < 50; i++) {
        long t0 = System.nanoTime();
        if (s.get("/cache/x").statusCode() == 200) {
          served++;
        }
        worst = Math.max(worst, (System.nanoTime() - t0) / 1_000_000);
      }
      trickle.set(false);
      t.join();
      System.out.println("   normal requests served: " + served + "/50, slowest " + worst + " ms");
      return served == 50;
    } finally {
      for (Socket sock : sockets) {
        sock.close();
      }
    }
  }

  // ------------------------------------------------------------------ 4. a full disk

  boolean fullDisk() throws Exception {
    if (!"root".equals(System.getProperty("user.name"))) {
      System.out.println("== full disk: skipped (needs root to mount a small tmpfs)");
      return true;
    }
    System.out.println("== full disk: a 20 MB tmpfs filled through the server, then space freed");
    Path mnt = Files.createDirectories(work.resolve("tmpfs"));
    if (new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mnt.toString()).inheritIO().start().waitFor() != 0) {
      System.out.println("   skipped: tmpfs cannot be mounted here");
      return true;
    }
    try (Server s = new Server(mnt.resolve("store"))) {
      int stored = 0;
      int status = 200;
      for (int i = 0; i < 40 && status == 200; i++) {
        byte[] mib = new byte[1 << 20];
        new SplittableRandom(i).nextBytes(mib);
        status = s.put("/cache/big" + i, mib).statusCode();
        stored += status == 200 ? 1 : 0;
      }
      for (int i = 0; i < 2000 && status != 507; i++) {
        status = s.put("/cache/small" + i, new byte[8192 + i]).statusCode();
      }
      boolean refused = status == 507;
      boolean notReady = s.get("/readyz").statusCode() == 503;
      int deleted = 0;
      for (int i = 0; i < stored; i++) {
        HttpResponse<byte[]> d = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port + "/cache/big" + i))
            .DELETE().build(), HttpResponse.BodyHandlers.ofByteArray());
        deleted += d.statusCode() == 204 ? 1 : 0;
      }
      int gc = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port + "/v1/gc"))
          .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray()).statusCode();
      boolean writesAgain = s.put("/cache/after", "ok".getBytes()).statusCode() == 200;
      boolean ready = s.get("/readyz").statusCode() == 200;
      System.out.println("   1 MB PUTs stored before the disk filled: " + stored + "; refused with 507 when full: " + refused
          + "; /readyz 503 while full: " + notReady + "; deleted at a full disk: " + deleted + "; POST /v1/gc: " + gc
          + "; writes again after space was freed: " + writesAgain + "; ready again: " + ready);
      return refused && notReady && deleted == stored && gc == 200 && writesAgain && ready;
    } finally {
      new ProcessBuilder("umount", mnt.toString()).inheritIO().start().waitFor();
    }
  }
}
