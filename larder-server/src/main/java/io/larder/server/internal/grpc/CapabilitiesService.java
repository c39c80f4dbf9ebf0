package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.ActionCacheUpdateCapabilities;
import build.bazel.remote.execution.v2.CacheCapabilities;
import build.bazel.remote.execution.v2.CapabilitiesGrpc;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.GetCapabilitiesRequest;
import build.bazel.remote.execution.v2.ServerCapabilities;
import build.bazel.remote.execution.v2.SymlinkAbsolutePathStrategy;
import build.bazel.semver.SemVer;
import io.grpc.stub.StreamObserver;

/** What this server is: a cache (no execution) of SHA-256 blobs, API versions 2.0 to 2.3, zstd for transfers. */
final class CapabilitiesService extends CapabilitiesGrpc.CapabilitiesImplBase {
  private final ServerCapabilities capabilities;
  private final Calls calls;

  CapabilitiesService(long maxBlobSize, Calls calls) {
    this.calls = calls;
    capabilities = ServerCapabilities.newBuilder()
        .setCacheCapabilities(CacheCapabilities.newBuilder()
            .addDigestFunctions(DigestFunction.Value.SHA256)
            .setActionCacheUpdateCapabilities(ActionCacheUpdateCapabilities.newBuilder().setUpdateEnabled(true))
            .setMaxBatchTotalSizeBytes(CasService.MAX_BATCH)
            .setSymlinkAbsolutePathStrategy(SymlinkAbsolutePathStrategy.Value.ALLOWED)
            .addSupportedCompressors(Compressor.Value.ZSTD)
            .addSupportedBatchUpdateCompressors(Compressor.Value.ZSTD)
            .setMaxCasBlobSizeBytes(maxBlobSize))
        .setLowApiVersion(SemVer.newBuilder().setMajor(2))
        .setHighApiVersion(SemVer.newBuilder().setMajor(2).setMinor(3))
        .build();
  }

  @Override
  public void getCapabilities(GetCapabilitiesRequest req, StreamObserver<ServerCapabilities> out) {
    calls.unary(out, () -> {
      Reapi.instance(req.getInstanceName());
      return capabilities;
    });
  }
}
