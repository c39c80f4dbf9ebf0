package io.larder.bench;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import com.github.luben.zstd.Zstd;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.larder.GcOptions;
import io.larder.Larder;
import io.larder.PutOptions;
import io.larder.server.Namespaces;
import io.larder.server.LarderServer;
import io.larder.server.ServerOptions;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gRPC remote cache against the same work over Larder's HTTP {@code /cas/} and against SHA-256, in one
 * run, server and clients in this JVM on loopback: FindMissingBlobs of 10,000 digests (half present),
 * BatchUpdate and BatchRead of 1,000 × 4 KiB, ByteStream Write and Read of 100 MiB (plain and zstd), and the
 * server's heap while 8 clients each stream 100 MiB. Each figure is the best of ROUNDS. Usage:
 * {@code GrpcBench [ROUNDS] [MIB]}.
 */
public final class GrpcBench {
  private GrpcBench() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int mib = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    Path dir = Files.createTempDirectory("larder-grpc-bench");
    try (Larder store = Larder.open(dir.resolve("store"));
        LarderServer server = LarderServer.start(store, ServerOptions.defaults().port(0).grpcPort(0)
            .maxBlobSize(1L << 34).accessLog(null), GcOptions.defaults())) {
      int port = Integer.parseInt(server.grpcUrl().orElseThrow().replaceAll(".*:", ""));
      ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
          .maxInboundMessageSize(64 << 20).build();
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      new GrpcBench.Run(store, ch, http, server.url(), 1, mib, false).all(); // warm-up: the JIT, connections, the disk
      new GrpcBench.Run(store, ch, http, server.url(), rounds, mib, true).all();
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    Bench.deleteTree(dir);
  }

  static Digest digest(byte[] data) throws Exception {
    return Digest.newBuilder().setHash(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)))
        .setSizeBytes(data.length).build();
  }

  private record Run(Larder store, ManagedChannel ch, HttpClient http, String url, int rounds, int mib, boolean print) {
    ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas() {
      return ContentAddressableStorageGrpc.newBlockingStub(ch).withMaxInboundMessageSize(64 << 20);
    }

    interface Work {
      void run() throws Exception;
    }

    /** The best (shortest) of {@code rounds} timings of {@code w}, in seconds. */
    double best(Work w) throws Exception {
      double best = Double.MAX_VALUE;
      for (int i = 0; i < rounds; i++) {
        long t0 = System.nanoTime();
        w.run();
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
      return best;
    }

    void all() throws Exception {
      SplittableRandom rnd = new SplittableRandom(42);
      out("| workload | gRPC | peer in the same run | ratio |");
      out("|---|---:|---:|---:|");

      // FindMissingBlobs: 10,000 digests, half of them stored
      List<Digest> asked = new ArrayList<>();
      BatchUpdateBlobsRequest.Builder present = BatchUpdateBlobsRequest.newBuilder();
      for (int i = 0; i < 10_000; i++) {
        byte[] b = new byte[64];
        rnd.nextBytes(b);
        Digest d = digest(b);
        asked.add(d);
        if (i % 2 == 0) {
          present.addRequestsBuilder().setDigest(d).setData(ByteString.copyFrom(b));
        }
      }
      cas().batchUpdateBlobs(present.build());
      FindMissingBlobsRequest find = FindMissingBlobsRequest.newBuilder().addAllBlobDigests(asked).build();
      for (int i = 0; i < 5; i++) {
        cas().findMissingBlobs(find); // warm-up
      }
      double fm = best(() -> {
        int missing = cas().findMissingBlobs(find).getMissingBlobDigestsCount();
        if (missing != 5000) {
          throw new IllegalStateException(missing + " missing, not 5000");
        }
      });
      out(String.format(Locale.ROOT, "| FindMissingBlobs, 10,000 digests (half present) | %.1f ms | target < 50 ms | |", fm * 1e3));

      // batches of 1,000 × 4 KiB against 1,000 HTTP PUTs / GETs of /cas/ (8 at a time)
      byte[][] small = new byte[1000][];
      List<Digest> smallDigests = new ArrayList<>();
      for (int i = 0; i < small.length; i++) {
        small[i] = new byte[4096];
        rnd.nextBytes(small[i]);
        smallDigests.add(digest(small[i]));
      }
      BatchUpdateBlobsRequest.Builder ub = BatchUpdateBlobsRequest.newBuilder();
      for (int i = 0; i < small.length; i++) {
        ub.addRequestsBuilder().setDigest(smallDigests.get(i)).setData(ByteString.copyFrom(small[i]));
      }
      BatchUpdateBlobsRequest update = ub.build();
      double bu = best(() -> cas().batchUpdateBlobs(update));
      double hu = best(() -> httpAll(small, smallDigests, true));
      row("BatchUpdateBlobs 1,000 × 4 KiB (blobs/s)", 1000 / bu, "HTTP PUT /cas/, 8 at a time", 1000 / hu);
      BatchReadBlobsRequest read = BatchReadBlobsRequest.newBuilder().addAllDigests(smallDigests).build();
      double br = best(() -> cas().batchReadBlobs(read));
      double hr = best(() -> httpAll(small, smallDigests, false));
      row("BatchReadBlobs 1,000 × 4 KiB (blobs/s)", 1000 / br, "HTTP GET /cas/, 8 at a time", 1000 / hr);

      // ByteStream of a large blob against SHA-256 and HTTP /cas/
      byte[] big = new byte[mib << 20];
      for (int i = 0; i < big.length; i += 16) {
        big[i] = (byte) rnd.nextInt(8); // compressible, as build outputs often are
        big[i + 1] = (byte) rnd.nextInt();
      }
      Digest bd = digest(big);
      double sha = best(() -> MessageDigest.getInstance("SHA-256").digest(big));
      double mb = big.length / 1e6;
      // each write stores anew: the blob is removed over HTTP between rounds (untimed)
      double bw = bestWithReset(bd, () -> write("uploads/" + UUID.randomUUID() + "/blobs/" + bd.getHash() + "/" + big.length, big, bd));
      row("ByteStream.Write " + mib + " MiB (MB/s)", mb / bw, "SHA-256 of the same bytes", mb / sha);
      double local = bestWithReset(bd, () -> store.put(Namespaces.casKey(bd.getHash()), new java.io.ByteArrayInputStream(big),
          PutOptions.defaults().size(big.length)));
      row("ByteStream.Write " + mib + " MiB (MB/s)", mb / bw, "Larder.put of the same bytes in this process (the store alone)", mb / local);
      double hw = bestWithReset(bd, () -> {
        HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(url + "/cas/" + bd.getHash()))
            .PUT(HttpRequest.BodyPublishers.ofByteArray(big)).build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() != 200) {
          throw new IllegalStateException("PUT " + r.statusCode());
        }
      });
      row("ByteStream.Write " + mib + " MiB (MB/s)", mb / bw, "HTTP PUT /cas/", mb / hw);
      byte[] z = Zstd.compress(big, 1);
      double zw = bestWithReset(bd, () -> write("uploads/" + UUID.randomUUID() + "/compressed-blobs/zstd/" + bd.getHash() + "/"
          + big.length, z, bd));
      row("ByteStream.Write zstd " + mib + " MiB (MB/s of blob; " + (z.length >> 20) + " MiB sent)", mb / zw, "SHA-256", mb / sha);
      write("uploads/" + UUID.randomUUID() + "/blobs/" + bd.getHash() + "/" + big.length, big, bd);
      double rd = best(() -> readAll("blobs/" + bd.getHash() + "/" + big.length, big.length));
      double hg = best(() -> {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(url + "/cas/" + bd.getHash())).build(),
            HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
          long n = in.transferTo(java.io.OutputStream.nullOutputStream());
          if (n != big.length) {
            throw new IllegalStateException("GET " + n);
          }
        }
      });
      row("ByteStream.Read " + mib + " MiB (MB/s)", mb / rd, "HTTP GET /cas/", mb / hg);
      double zr = best(() -> readAll("compressed-blobs/zstd/" + bd.getHash() + "/" + big.length, -1));
      row("ByteStream.Read zstd " + mib + " MiB (MB/s of blob)", mb / zr, "HTTP GET /cas/", mb / hg);

      // heap while 8 clients each read the blob
      MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
      System.gc();
      long before = mem.getHeapMemoryUsage().getUsed();
      AtomicLong peak = new AtomicLong();
      Thread sampler = Thread.ofPlatform().daemon().start(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          peak.accumulateAndGet(mem.getHeapMemoryUsage().getUsed(), Math::max);
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      long t0 = System.nanoTime();
      List<Thread> clients = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        clients.add(Thread.ofPlatform().start(() -> {
          try {
            readAll("blobs/" + bd.getHash() + "/" + big.length, big.length);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }));
      }
      for (Thread t : clients) {
        t.join();
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      sampler.interrupt();
      System.gc();
      long after = mem.getHeapMemoryUsage().getUsed();
      out(String.format(Locale.ROOT, "| 8 clients × ByteStream.Read %d MiB: %.0f MB/s in all | heap %d MiB before, peak %d MiB"
          + " (uncollected garbage included; this JVM also holds the %d MiB test blob), %d MiB after | | |",
          mib, 8 * mb / secs, before >> 20, peak.get() >> 20, mib, after >> 20));
    }

    void row(String what, double v, String peer, double p) {
      out(String.format(Locale.ROOT, "| %s | %.0f | %s: %.0f | %.2f |", what, v, peer, p, v / p));
    }

    void out(String line) {
      if (print) {
        System.out.println(line);
      }
    }

    double bestWithReset(Digest d, Work w) throws Exception {
      double best = Double.MAX_VALUE;
      for (int i = 0; i < rounds; i++) {
        http.send(HttpRequest.newBuilder(URI.create(url + "/cas/" + d.getHash())).DELETE().build(),
            HttpResponse.BodyHandlers.discarding());
        // and its file too (a collection), so that each round writes the blob, not just hashes it
        http.send(HttpRequest.newBuilder(URI.create(url + "/v1/gc")).POST(HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.discarding());
        long t0 = System.nanoTime();
        w.run();
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
      }
      return best;
    }

    void httpAll(byte[][] blobs, List<Digest> digests, boolean put) throws Exception {
      List<CompletableFuture<HttpResponse<byte[]>>> inFlight = new ArrayList<>();
      for (int i = 0; i < blobs.length; i++) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "/cas/" + digests.get(i).getHash()));
        inFlight.add(http.sendAsync(put ? b.PUT(HttpRequest.BodyPublishers.ofByteArray(blobs[i])).build() : b.build(),
            HttpResponse.BodyHandlers.ofByteArray()));
        if (inFlight.size() == 8) {
          check(inFlight.remove(0).get());
        }
      }
      for (CompletableFuture<HttpResponse<byte[]>> f : inFlight) {
        check(f.get());
      }
    }

    static void check(HttpResponse<byte[]> r) {
      if (r.statusCode() != 200) {
        throw new IllegalStateException("HTTP " + r.statusCode());
      }
    }

    void write(String resource, byte[] data, Digest d) throws Exception {
      CompletableFuture<WriteResponse> done = new CompletableFuture<>();
      StreamObserver<WriteRequest> req = ByteStreamGrpc.newStub(ch).write(new StreamObserver<>() {
        WriteResponse last;

        @Override
        public void onNext(WriteResponse v) {
          last = v;
        }

        @Override
        public void onError(Throwable t) {
          done.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
          done.complete(last);
        }
      });
      int chunk = 1 << 20;
      for (int off = 0; off < data.length; off += chunk) {
        int n = Math.min(chunk, data.length - off);
        req.onNext(WriteRequest.newBuilder().setResourceName(off == 0 ? resource : "").setWriteOffset(off)
            .setData(ByteString.copyFrom(data, off, n)).setFinishWrite(off + n == data.length).build());
      }
      req.onCompleted();
      done.get(300, TimeUnit.SECONDS);
    }

    void readAll(String resource, long expect) {
      long n = 0;
      var it = ByteStreamGrpc.newBlockingStub(ch).read(ReadRequest.newBuilder().setResourceName(resource).build());
      while (it.hasNext()) {
        ReadResponse r = it.next();
        n += r.getData().size();
      }
      if (expect >= 0 && n != expect) {
        throw new IllegalStateException("read " + n + " of " + expect);
      }
    }
  }
}
