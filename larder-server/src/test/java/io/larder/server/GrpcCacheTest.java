package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchReadBlobsResponse;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.GetTreeResponse;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.ServerCapabilities;
import build.bazel.remote.execution.v2.Tree;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import com.github.luben.zstd.Zstd;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.larder.GcOptions;
import io.larder.Larder;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gRPC remote cache (REAPI v2 ActionCache, ContentAddressableStorage, Capabilities; ByteStream; health)
 * through grpc-java's own client over a real port: what Bazel 4.2 does not exercise (zstd, batches, trees,
 * malformed names, limits, credentials).
 */
class GrpcCacheTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;
  ManagedChannel channel;
  AuthTlsTest.ByteArrayLog log = new AuthTlsTest.ByteArrayLog();

  @BeforeEach
  void start() {
    store = Larder.open(dir.resolve("store"));
    start(ServerOptions.defaults());
  }

  void start(ServerOptions options) {
    server = LarderServer.start(store, options.port(0).grpcPort(0).maxBlobSize(64 << 20).accessLog(log.stream()),
        GcOptions.defaults());
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port()).usePlaintext().maxInboundMessageSize(16 << 20).build();
  }

  /** The port the client calls: the gRPC port (a subclass calls the HTTP port). */
  int port() {
    return Integer.parseInt(server.grpcUrl().orElseThrow().replaceAll(".*:", ""));
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    store.close();
  }

  static Digest digest(byte[] data) {
    try {
      return Digest.newBuilder().setHash(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)))
          .setSizeBytes(data.length).build();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  ContentAddressableStorageGrpc.ContentAddressableStorageBlockingStub cas() {
    return ContentAddressableStorageGrpc.newBlockingStub(channel);
  }

  ActionCacheGrpc.ActionCacheBlockingStub ac() {
    return ActionCacheGrpc.newBlockingStub(channel);
  }

  void upload(byte[]... blobs) throws Exception {
    BatchUpdateBlobsRequest.Builder b = BatchUpdateBlobsRequest.newBuilder();
    for (byte[] blob : blobs) {
      b.addRequestsBuilder().setDigest(digest(blob)).setData(ByteString.copyFrom(blob));
    }
    for (BatchUpdateBlobsResponse.Response r : cas().batchUpdateBlobs(b.build()).getResponsesList()) {
      assertThat(r.getStatus().getCode()).as(r.getStatus().getMessage()).isZero();
    }
  }

  static Status.Code code(Runnable call) {
    try {
      call.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  // ------------------------------------------------------------------ capabilities, health

  @Test
  void capabilitiesDescribeACacheOfSha256WithZstd() {
    ServerCapabilities c = CapabilitiesGrpc.newBlockingStub(channel).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
    assertThat(c.getCacheCapabilities().getDigestFunctionsList()).containsExactly(DigestFunction.Value.SHA256);
    assertThat(c.getCacheCapabilities().getActionCacheUpdateCapabilities().getUpdateEnabled()).isTrue();
    assertThat(c.getCacheCapabilities().getSupportedCompressorsList()).contains(Compressor.Value.ZSTD);
    assertThat(c.getCacheCapabilities().getSupportedBatchUpdateCompressorsList()).contains(Compressor.Value.ZSTD);
    assertThat(c.getCacheCapabilities().getMaxBatchTotalSizeBytes()).isEqualTo(4L << 20);
    assertThat(c.getCacheCapabilities().getMaxCasBlobSizeBytes()).isEqualTo(64L << 20);
    assertThat(c.getLowApiVersion().getMajor()).isEqualTo(2);
    assertThat(c.getHighApiVersion().getMinor()).isEqualTo(3);
    assertThat(c.getUnknownFields().hasField(2)).as("no execution capabilities: a cache only").isFalse();
    assertThat(HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()).getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  // ------------------------------------------------------------------ CAS batches

  @Test
  void findMissingBlobsAnswersABatchAndKnowsTheEmptyBlob() throws Exception {
    List<Digest> asked = new ArrayList<>();
    List<byte[]> stored = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      byte[] b = ("blob " + i).getBytes(StandardCharsets.UTF_8);
      asked.add(digest(b));
      if (i % 2 == 0) {
        stored.add(b);
      }
    }
    upload(stored.toArray(byte[][]::new));
    asked.add(digest(new byte[0]));
    asked.add(asked.get(1)); // asked twice, listed once
    List<Digest> missing = cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder().addAllBlobDigests(asked).build())
        .getMissingBlobDigestsList();
    assertThat(missing).hasSize(100).allSatisfy(d -> assertThat(asked.indexOf(d) % 2).isEqualTo(1));
    assertThat(code(() -> cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .addBlobDigests(Digest.newBuilder().setHash("XYZ").setSizeBytes(1)).build())))
        .as("a malformed digest is the client's error, not UNKNOWN").isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(() -> cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder()
        .setDigestFunction(DigestFunction.Value.SHA1).addBlobDigests(asked.get(0)).build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  /** A read-only store over gRPC: FindMissingBlobs and reads answer, an upload is PERMISSION_DENIED. */
  @Test
  void aReadOnlyStoreAnswersLookupsAndRefusesUploads() throws Exception {
    byte[] a = "stored before".getBytes(StandardCharsets.UTF_8);
    upload(a);
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    store.close();
    store = Larder.open(dir.resolve("store"), io.larder.LarderOptions.defaults().readOnly(true));
    start(ServerOptions.defaults());
    byte[] b = "not stored".getBytes(StandardCharsets.UTF_8);
    assertThat(cas().findMissingBlobs(FindMissingBlobsRequest.newBuilder().addBlobDigests(digest(a))
        .addBlobDigests(digest(b)).build()).getMissingBlobDigestsList()).containsExactly(digest(b));
    assertThat(cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(digest(a)).build())
        .getResponses(0).getData().toByteArray()).isEqualTo(a);
    BatchUpdateBlobsResponse r = cas().batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder()
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(b))
            .setData(com.google.protobuf.ByteString.copyFrom(b))).build());
    assertThat(r.getResponses(0).getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED.value());
    assertThat(store.contains("bazel:cas:" + digest(b).getHash())).isFalse();
  }

  @Test
  void batchesVerifyEachBlobAndReadBackPlainOrZstd() throws Exception {
    byte[] a = random(10_000, 1);
    byte[] b = "b".repeat(5000).getBytes(StandardCharsets.UTF_8);
    byte[] lie = random(100, 3);
    BatchUpdateBlobsResponse r = cas().batchUpdateBlobs(BatchUpdateBlobsRequest.newBuilder()
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(a)).setData(ByteString.copyFrom(a)))
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(b))
            .setData(ByteString.copyFrom(Zstd.compress(b))).setCompressor(Compressor.Value.ZSTD))
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(random(100, 4)))
            .setData(ByteString.copyFrom(lie)))
        .addRequests(BatchUpdateBlobsRequest.Request.newBuilder().setDigest(digest(random(100, 5)))
            .setData(ByteString.copyFromUtf8("not zstd at all")).setCompressor(Compressor.Value.ZSTD))
        .build());
    assertThat(r.getResponsesList()).extracting(x -> x.getStatus().getCode())
        .containsExactly(0, 0, Status.Code.INVALID_ARGUMENT.value(), Status.Code.INVALID_ARGUMENT.value());
    assertThat(store.getByDigest(io.larder.Integrity.parse("sha256:" + digest(lie).getHash()))).isEmpty();

    Digest missing = digest(random(10, 9));
    BatchReadBlobsResponse plain = cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder()
        .addDigests(digest(a)).addDigests(missing).addDigests(digest(new byte[0])).build());
    assertThat(plain.getResponses(0).getData().toByteArray()).isEqualTo(a);
    assertThat(plain.getResponses(1).getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND.value());
    assertThat(plain.getResponses(2).getStatus().getCode()).isZero();
    BatchReadBlobsResponse z = cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder().addDigests(digest(b))
        .addAcceptableCompressors(Compressor.Value.ZSTD).build());
    assertThat(z.getResponses(0).getCompressor()).isEqualTo(Compressor.Value.ZSTD);
    assertThat(Zstd.decompress(z.getResponses(0).getData().toByteArray(), b.length)).isEqualTo(b);
    assertThat(z.getResponses(0).getData().size()).isLessThan(b.length);

    assertThat(code(() -> cas().batchReadBlobs(BatchReadBlobsRequest.newBuilder()
        .addDigests(Digest.newBuilder().setHash(digest(a).getHash()).setSizeBytes(5L << 20)).build())))
        .as("a batch over the advertised limit").isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void getTreeReturnsEveryDirectoryOnceInPages() throws Exception {
    byte[] file = "leaf".getBytes(StandardCharsets.UTF_8);
    Directory leaf = Directory.newBuilder().addFiles(FileNode.newBuilder().setName("f").setDigest(digest(file))).build();
    Directory mid1 = Directory.newBuilder().addDirectories(DirectoryNode.newBuilder().setName("l").setDigest(digest(leaf.toByteArray()))).build();
    Directory mid2 = Directory.newBuilder().addDirectories(DirectoryNode.newBuilder().setName("l2").setDigest(digest(leaf.toByteArray())))
        .addFiles(FileNode.newBuilder().setName("g").setDigest(digest(file))).build();
    Directory root = Directory.newBuilder()
        .addDirectories(DirectoryNode.newBuilder().setName("a").setDigest(digest(mid1.toByteArray())))
        .addDirectories(DirectoryNode.newBuilder().setName("b").setDigest(digest(mid2.toByteArray()))).build();
    upload(file, leaf.toByteArray(), mid1.toByteArray(), mid2.toByteArray(), root.toByteArray());
    List<Directory> all = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      Iterator<GetTreeResponse> it = cas().getTree(GetTreeRequest.newBuilder().setRootDigest(digest(root.toByteArray()))
          .setPageSize(2).setPageToken(token).build());
      GetTreeResponse page = it.next();
      all.addAll(page.getDirectoriesList());
      token = page.getNextPageToken();
      pages++;
    } while (!token.isEmpty());
    assertThat(pages).isEqualTo(2);
    assertThat(all).containsExactly(root, mid1, mid2, leaf);
    assertThat(code(() -> cas().getTree(GetTreeRequest.newBuilder().setRootDigest(digest(root.toByteArray()))
        .setPageToken("garbage").build()).next())).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  // ------------------------------------------------------------------ ByteStream

  /** Writes {@code data} in chunks of {@code chunk}; returns the response or throws the status. */
  WriteResponse write(String resource, byte[] data, int chunk, long firstOffset) throws Exception {
    CompletableFuture<WriteResponse> done = new CompletableFuture<>();
    StreamObserver<WriteRequest> req = ByteStreamGrpc.newStub(channel).write(new StreamObserver<>() {
      WriteResponse last;

      @Override
      public void onNext(WriteResponse value) {
        last = value;
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
    long off = firstOffset;
    int pos = 0;
    do {
      int n = Math.min(chunk, data.length - pos);
      req.onNext(WriteRequest.newBuilder().setResourceName(resource).setWriteOffset(off)
          .setData(ByteString.copyFrom(data, pos, n)).setFinishWrite(pos + n == data.length).build());
      pos += n;
      off += n;
      if (done.isDone()) {
        break; // answered early (the blob was stored already)
      }
    } while (pos < data.length);
    req.onCompleted();
    try {
      return done.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  byte[] read(String resource, long offset, long limit) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Iterator<ReadResponse> it = ByteStreamGrpc.newBlockingStub(channel).read(ReadRequest.newBuilder()
        .setResourceName(resource).setReadOffset(offset).setReadLimit(limit).build());
    int chunks = 0;
    while (it.hasNext()) {
      ReadResponse r = it.next();
      assertThat(r.getData().size()).as("a chunk is at most 2 MiB").isLessThanOrEqualTo(2 << 20);
      out.writeBytes(r.getData().toByteArray());
      chunks++;
    }
    return out.toByteArray();
  }

  @Test
  void byteStreamWritesAndReadsLargeBlobsPlainAndZstd() throws Exception {
    byte[] data = new byte[5 << 20];
    Random rnd = new Random(7);
    for (int i = 0; i < data.length; i += 64) {
      data[i] = (byte) rnd.nextInt(4); // compressible, not trivially
    }
    Digest d = digest(data);
    String name = "main/blobs/" + d.getHash() + "/" + d.getSizeBytes();
    WriteResponse w = write("main/uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes(), data, 1 << 20, 0);
    assertThat(w.getCommittedSize()).isEqualTo(data.length);
    assertThat(read(name, 0, 0)).isEqualTo(data);
    assertThat(read(name, 1000, 5000)).isEqualTo(java.util.Arrays.copyOfRange(data, 1000, 6000));
    assertThat(read("other-instance/blobs/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0)).as("one CAS for all instances")
        .isEqualTo(data);
    byte[] zread = read("compressed-blobs/zstd/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0);
    assertThat(Zstd.decompress(zread, data.length)).isEqualTo(data);
    assertThat(zread.length).isLessThan(data.length / 2);

    byte[] other = new byte[3 << 20];
    other[17] = 1;
    Digest od = digest(other);
    byte[] otherZ = Zstd.compress(other, 3);
    WriteResponse zw = write("uploads/" + UUID.randomUUID() + "/compressed-blobs/zstd/" + od.getHash() + "/" + od.getSizeBytes(),
        otherZ, 100_000, 0);
    assertThat(zw.getCommittedSize()).isEqualTo(otherZ.length);
    assertThat(read("blobs/" + od.getHash() + "/" + od.getSizeBytes(), 0, 0)).isEqualTo(other);

    // stored already: answered at once (before all data is sent), -1 for compressed uploads
    assertThat(write("uploads/" + UUID.randomUUID() + "/blobs/" + d.getHash() + "/" + d.getSizeBytes(), data, 1 << 20, 0)
        .getCommittedSize()).isEqualTo(data.length);
    assertThat(write("uploads/" + UUID.randomUUID() + "/compressed-blobs/zstd/" + od.getHash() + "/" + od.getSizeBytes(),
        otherZ, 100_000, 0).getCommittedSize()).isEqualTo(-1);
    assertThat(ByteStreamGrpc.newBlockingStub(channel).queryWriteStatus(QueryWriteStatusRequest.newBuilder()
        .setResourceName("uploads/x/blobs/" + d.getHash() + "/" + d.getSizeBytes()).build()).getComplete()).isTrue();
  }

  @Test
  void byteStreamRefusesBadWritesAndStoresNothing() throws Exception {
    byte[] data = random(300_000, 11);
    Digest d = digest(data);
    byte[] wrong = data.clone();
    wrong[123_456] ^= 1;
    assertThatThrownBy(() -> write("uploads/u1/blobs/" + d.getHash() + "/" + d.getSizeBytes(), wrong, 65536, 0))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThatThrownBy(() -> write("uploads/u2/compressed-blobs/zstd/" + d.getHash() + "/" + d.getSizeBytes(),
        "not zstd".getBytes(StandardCharsets.UTF_8), 65536, 0))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    for (String bad : List.of("uploads/u3/blobs/XYZ/300000", "uploads/u3/blobs/" + d.getHash(), "blobs/" + d.getHash() + "/300000",
        "a/../uploads/u3/blobs/" + d.getHash() + "/300000", "uploads/u3/compressed-blobs/brotli/" + d.getHash() + "/300000")) {
      assertThatThrownBy(() -> write(bad, data, 65536, 0)).as(bad).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
    assertThatThrownBy(() -> write("uploads/u4/blobs/" + d.getHash() + "/" + d.getSizeBytes(), data, 65536, 100))
        .as("no resumption: an upload starts at 0").isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThat(code(() -> read("blobs/" + d.getHash() + "/" + d.getSizeBytes(), 0, 0))).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(code(() -> read("blobs/nothex/1", 0, 0))).isEqualTo(Status.Code.INVALID_ARGUMENT);

    Digest huge = Digest.newBuilder().setHash(d.getHash()).setSizeBytes(1L << 30).build();
    assertThatThrownBy(() -> write("uploads/u5/blobs/" + huge.getHash() + "/" + huge.getSizeBytes(), data, 65536, 0))
        .as("over max-blob-size").isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThat(store.getByDigest(io.larder.Integrity.parse("sha256:" + d.getHash()))).isEmpty();
    // the server still works after all that
    assertThat(write("uploads/u6/blobs/" + d.getHash() + "/" + d.getSizeBytes(), data, 65536, 0).getCommittedSize())
        .isEqualTo(data.length);
  }

  // ------------------------------------------------------------------ action cache

  @Test
  void actionResultsAreServedOnlyWhenComplete() throws Exception {
    byte[] out = "output".getBytes(StandardCharsets.UTF_8);
    byte[] inTree = "in a tree".getBytes(StandardCharsets.UTF_8);
    Tree tree = Tree.newBuilder().setRoot(Directory.newBuilder().addFiles(FileNode.newBuilder().setName("x").setDigest(digest(inTree)))).build();
    upload(out, inTree, tree.toByteArray());
    ActionResult result = ActionResult.newBuilder()
        .addOutputFiles(OutputFile.newBuilder().setPath("bin/out").setDigest(digest(out)))
        .addOutputDirectories(OutputDirectory.newBuilder().setPath("gen").setTreeDigest(digest(tree.toByteArray())))
        .setStdoutRaw(ByteString.copyFromUtf8("compiled\n")).setExitCode(0).build();
    Digest action = digest("action 1".getBytes(StandardCharsets.UTF_8));
    ac().updateActionResult(UpdateActionResultRequest.newBuilder().setInstanceName("ci").setActionDigest(action)
        .setActionResult(result).build());

    ActionResult got = ac().getActionResult(GetActionResultRequest.newBuilder().setInstanceName("ci")
        .setActionDigest(action).setInlineStdout(true).addInlineOutputFiles("bin/out").build());
    assertThat(got.getStdoutRaw().toStringUtf8()).isEqualTo("compiled\n");
    assertThat(got.getOutputFiles(0).getContents().toByteArray()).isEqualTo(out);
    ActionResult plain = ac().getActionResult(GetActionResultRequest.newBuilder().setInstanceName("ci").setActionDigest(action).build());
    assertThat(plain.getStdoutRaw().isEmpty()).as("inlined only when asked").isTrue();
    assertThat(plain.getStdoutDigest()).isEqualTo(digest("compiled\n".getBytes(StandardCharsets.UTF_8)));
    assertThat(code(() -> ac().getActionResult(GetActionResultRequest.newBuilder().setInstanceName("other")
        .setActionDigest(action).build()))).as("results are per instance").isEqualTo(Status.Code.NOT_FOUND);

    // a file inside an output directory's tree goes: the result is a miss, not a broken hit
    assertThat(store.remove(Namespaces.casKey(digest(inTree).getHash()))).isTrue();
    assertThat(code(() -> ac().getActionResult(GetActionResultRequest.newBuilder().setInstanceName("ci")
        .setActionDigest(action).build()))).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(log.text()).contains("GetActionResult reapi-ac bazel:ac:ci/" + action.getHash() + " miss 5 ");
    upload(inTree);
    assertThat(code(() -> ac().getActionResult(GetActionResultRequest.newBuilder().setInstanceName("ci")
        .setActionDigest(action).build()))).isEqualTo(Status.Code.OK);

    // HTTP /ac/ serves the same entry: protobuf, or JSON for a client that asks for it
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<byte[]> pb = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/ci/ac/" + action.getHash())).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(ActionResult.parseFrom(pb.body()).getOutputFiles(0).getPath()).isEqualTo("bin/out");
    HttpResponse<String> json = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/ci/ac/" + action.getHash()))
        .header("Accept", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(json.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(json.body()).contains("\"path\":\"bin/out\"");
    assertThat(store.remove(Namespaces.casKey(digest(out).getHash()))).isTrue();
    assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/ci/ac/" + action.getHash())).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).as("HTTP checks completeness too").isEqualTo(404);
  }

  @Test
  void jsonResultsPutOverHttpAreSeenOverGrpc() throws Exception {
    byte[] out = "moon output".getBytes(StandardCharsets.UTF_8);
    upload(out);
    Digest d = digest(out);
    Digest action = digest("moon action".getBytes(StandardCharsets.UTF_8));
    String json = "{\"outputFiles\":[{\"path\":\"dist/a.js\",\"digest\":{\"hash\":\"" + d.getHash() + "\",\"sizeBytes\":\""
        + d.getSizeBytes() + "\"}}],\"exitCode\":0}";
    HttpClient http = HttpClient.newHttpClient();
    assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/ac/" + action.getHash()))
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
    ActionResult got = ac().getActionResult(GetActionResultRequest.newBuilder().setActionDigest(action).build());
    assertThat(got.getOutputFiles(0).getPath()).isEqualTo("dist/a.js");
    assertThat(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/ac/" + action.getHash()))
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(
            "{\"outputFiles\":[{\"path\":\"../escape\",\"digest\":{\"hash\":\"" + d.getHash() + "\",\"sizeBytes\":\"1\"}}]}"))
        .build(), HttpResponse.BodyHandlers.discarding()).statusCode()).as("checked like a gRPC update").isEqualTo(400);
  }

  /** An action with no outputs and exit code 0 is an empty protobuf message: zero bytes, still a result. */
  @Test
  void anEmptyActionResultIsAHitNotAnError() throws Exception {
    Digest action = digest("does nothing".getBytes(StandardCharsets.UTF_8));
    HttpClient http = HttpClient.newHttpClient();
    URI ac = URI.create(server.url() + "/ac/" + action.getHash());
    assertThat(http.send(HttpRequest.newBuilder(ac).PUT(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
    HttpResponse<byte[]> got = http.send(HttpRequest.newBuilder(ac).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.body()).isEmpty();
    assertThat(ac().getActionResult(GetActionResultRequest.newBuilder().setActionDigest(action).build()))
        .isEqualTo(ActionResult.getDefaultInstance());
  }

  @Test
  void updatesAreValidated() throws Exception {
    Digest action = digest("a".getBytes(StandardCharsets.UTF_8));
    for (String path : List.of("", "/abs", "a/../../b", "a//b")) {
      assertThat(code(() -> ac().updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(action)
          .setActionResult(ActionResult.newBuilder().addOutputFiles(OutputFile.newBuilder().setPath(path)
              .setDigest(action))).build()))).as("'" + path + "'").isEqualTo(Status.Code.INVALID_ARGUMENT);
    }
    assertThat(code(() -> ac().updateActionResult(UpdateActionResultRequest.newBuilder().setActionDigest(action)
        .setActionResult(ActionResult.newBuilder().addOutputFiles(OutputFile.newBuilder().setPath("f")
            .setDigest(action).setContents(ByteString.copyFromUtf8("not a")))).build())))
        .as("inlined contents that do not match their digest").isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(() -> ac().updateActionResult(UpdateActionResultRequest.newBuilder().setInstanceName("a/../b")
        .setActionDigest(action).setActionResult(ActionResult.getDefaultInstance()).build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  // ------------------------------------------------------------------ credentials, metrics

  @Test
  void credentialsGateReadsAndWrites() throws Exception {
    server.close();
    channel.shutdownNow();
    Path auth = dir.resolve("auth");
    Files.writeString(auth, "token writer rw\ntoken reader ro\n");
    start(ServerOptions.defaults().credentials(Credentials.load(auth)));
    Digest d = digest("x".getBytes(StandardCharsets.UTF_8));
    FindMissingBlobsRequest find = FindMissingBlobsRequest.newBuilder().addBlobDigests(d).build();
    BatchUpdateBlobsRequest put = BatchUpdateBlobsRequest.newBuilder().addRequests(BatchUpdateBlobsRequest.Request.newBuilder()
        .setDigest(d).setData(ByteString.copyFromUtf8("x"))).build();
    assertThat(code(() -> cas().findMissingBlobs(find))).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(code(() -> cas().withInterceptors(bearer("wrong")).findMissingBlobs(find))).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(code(() -> cas().withInterceptors(bearer("reader")).findMissingBlobs(find))).isEqualTo(Status.Code.OK);
    assertThat(code(() -> cas().withInterceptors(bearer("reader")).batchUpdateBlobs(put))).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(code(() -> cas().withInterceptors(bearer("writer")).batchUpdateBlobs(put))).isEqualTo(Status.Code.OK);
    assertThat(HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()).getStatus())
        .as("health needs no credentials").isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  static io.grpc.ClientInterceptor bearer(String token) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return MetadataUtils.newAttachHeadersInterceptor(m);
  }

  @Test
  void callsAreCountedInMetricsWithTheirService() throws Exception {
    assertThat(code(() -> ac().getActionResult(GetActionResultRequest.newBuilder()
        .setActionDigest(digest(new byte[] {1})).build()))).isEqualTo(Status.Code.NOT_FOUND);
    upload("m".getBytes(StandardCharsets.UTF_8));
    String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertThat(metrics).contains("larder_misses_total{protocol=\"reapi-ac\"} 1.0")
        .contains("larder_requests_total{method=\"BatchUpdateBlobs\",protocol=\"reapi-cas\",status=\"0\"} 1.0");
  }
}
