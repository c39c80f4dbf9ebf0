package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.BatchReadBlobsRequest;
import build.bazel.remote.execution.v2.BatchReadBlobsResponse;
import build.bazel.remote.execution.v2.BatchUpdateBlobsRequest;
import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import build.bazel.remote.execution.v2.Compressor;
import build.bazel.remote.execution.v2.ContentAddressableStorageGrpc;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.FindMissingBlobsRequest;
import build.bazel.remote.execution.v2.FindMissingBlobsResponse;
import build.bazel.remote.execution.v2.GetTreeRequest;
import build.bazel.remote.execution.v2.GetTreeResponse;
import com.github.luben.zstd.Zstd;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.larder.LarderException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The content-addressable store's batch calls: which blobs are missing (one index query per call), small
 * blobs stored and read many at a time (each with its own status), and a directory tree read in pages.
 */
final class CasService extends ContentAddressableStorageGrpc.ContentAddressableStorageImplBase {
  /** The largest batch (the sum of its blobs' sizes) this server reads or stores in one call. */
  static final long MAX_BATCH = 4L << 20;
  private static final int DEFAULT_TREE_PAGE = 1000;
  private static final int MAX_TREE_PAGE = 10_000;

  private final Cas cas;
  private final Calls calls;

  CasService(Cas cas, Calls calls) {
    this.cas = cas;
    this.calls = calls;
  }

  @Override
  public void findMissingBlobs(FindMissingBlobsRequest req, StreamObserver<FindMissingBlobsResponse> out) {
    calls.unary(out, () -> {
      Reapi.checkFunction(req.getDigestFunction());
      Reapi.instance(req.getInstanceName());
      Set<String> present = cas.present(req.getBlobDigestsList());
      FindMissingBlobsResponse.Builder b = FindMissingBlobsResponse.newBuilder();
      Set<String> listed = new HashSet<>();
      for (Digest d : req.getBlobDigestsList()) {
        if (!present.contains(d.getHash()) && listed.add(d.getHash())) {
          b.addMissingBlobDigests(d);
        }
      }
      Calls.record().subject = req.getBlobDigestsCount() + " digests, " + b.getMissingBlobDigestsCount() + " missing";
      return b.build();
    });
  }

  @Override
  public void batchUpdateBlobs(BatchUpdateBlobsRequest req, StreamObserver<BatchUpdateBlobsResponse> out) {
    calls.unary(out, () -> {
      Reapi.checkFunction(req.getDigestFunction());
      Reapi.instance(req.getInstanceName());
      checkBatch(req.getRequestsList().stream().map(BatchUpdateBlobsRequest.Request::getDigest).toList(),
          "send larger blobs with ByteStream.Write");
      BatchUpdateBlobsResponse.Builder b = BatchUpdateBlobsResponse.newBuilder();
      for (BatchUpdateBlobsRequest.Request r : req.getRequestsList()) {
        b.addResponsesBuilder().setDigest(r.getDigest()).setStatus(status(() -> update(r)));
      }
      Calls.record().subject = req.getRequestsCount() + " blobs";
      return b.build();
    });
  }

  /** Refuses a batch whose blobs add up to more than {@link #MAX_BATCH} bytes. */
  private static void checkBatch(java.util.List<Digest> digests, String instead) {
    long total = 0;
    for (Digest d : digests) {
      total += Math.max(0, d.getSizeBytes());
    }
    if (total > MAX_BATCH) {
      throw Reapi.invalid("a batch holds at most " + MAX_BATCH + " bytes (this one " + total + "); " + instead);
    }
  }

  private void update(BatchUpdateBlobsRequest.Request r) {
    Reapi.hex(r.getDigest());
    if (Reapi.isEmpty(r.getDigest()) && r.getData().isEmpty()) {
      return;
    }
    InputStream in = switch (r.getCompressor()) {
      case IDENTITY -> r.getData().newInput();
      case ZSTD -> new ZstdUpload(r.getData().newInput());
      default -> throw Reapi.invalid("blobs are sent plain or zstd-compressed, not " + r.getCompressor());
    };
    try (in) {
      cas.put(r.getDigest(), in);
    } catch (LarderException e) {
      StatusRuntimeException malformed = in instanceof ZstdUpload z ? z.malformed() : null;
      throw malformed != null ? malformed : e;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void batchReadBlobs(BatchReadBlobsRequest req, StreamObserver<BatchReadBlobsResponse> out) {
    calls.unary(out, () -> {
      Reapi.checkFunction(req.getDigestFunction());
      Reapi.instance(req.getInstanceName());
      checkBatch(req.getDigestsList(), "read larger blobs with ByteStream.Read");
      boolean zstd = req.getAcceptableCompressorsList().contains(Compressor.Value.ZSTD);
      BatchReadBlobsResponse.Builder b = BatchReadBlobsResponse.newBuilder();
      int found = 0;
      long bytes = 0;
      for (Digest d : req.getDigestsList()) {
        BatchReadBlobsResponse.Response.Builder one = b.addResponsesBuilder().setDigest(d);
        one.setStatus(status(() -> {
          byte[] data = cas.read(d).orElseThrow(() -> Status.NOT_FOUND.withDescription("blob " + d.getHash() + "/"
              + d.getSizeBytes() + " is not stored").asRuntimeException());
          if (zstd) {
            one.setData(ByteString.copyFrom(Zstd.compress(data, 1))).setCompressor(Compressor.Value.ZSTD);
          } else {
            one.setData(ByteString.copyFrom(data));
          }
        }));
        if (one.getStatus().getCode() == 0) {
          found++;
          bytes += one.getData().size();
        }
      }
      Calls.Record rec = Calls.record();
      rec.subject = req.getDigestsCount() + " blobs, " + found + " found";
      rec.hit = found == req.getDigestsCount();
      rec.bytes = bytes;
      return b.build();
    });
  }

  /** The per-blob status of {@code work}: OK, or the code and message of its failure. */
  private com.google.rpc.Status status(Runnable work) {
    try {
      work.run();
      return com.google.rpc.Status.newBuilder().setCode(0).build();
    } catch (StatusRuntimeException | LarderException | UncheckedIOException e) {
      Status s = calls.failure(e).getStatus();
      return com.google.rpc.Status.newBuilder().setCode(s.getCode().value())
          .setMessage(s.getDescription() == null ? "" : s.getDescription()).build();
    }
  }

  /**
   * The directories below a root, breadth first, each once, in pages: {@code page_token} is how many were
   * sent before. Directories that are not stored are left out with what is below them, as the API says.
   */
  @Override
  public void getTree(GetTreeRequest req, StreamObserver<GetTreeResponse> out) {
    List<Directory> page;
    String next;
    try {
      Reapi.checkFunction(req.getDigestFunction());
      Reapi.instance(req.getInstanceName());
      Reapi.hex(req.getRootDigest());
      int size = req.getPageSize() <= 0 ? DEFAULT_TREE_PAGE : Math.min(req.getPageSize(), MAX_TREE_PAGE);
      int skip = token(req.getPageToken());
      Calls.record().subject = req.getRootDigest().getHash();
      page = new ArrayList<>(size);
      Deque<Digest> queue = new ArrayDeque<>(List.of(req.getRootDigest()));
      Set<Digest> seen = new HashSet<>(queue);
      int index = 0;
      boolean more = false;
      while (!queue.isEmpty()) {
        Digest d = queue.poll();
        Optional<Directory> dir = directory(d);
        if (dir.isEmpty()) {
          continue;
        }
        if (index >= skip + size) {
          more = true;
          break;
        }
        if (index >= skip) {
          page.add(dir.get());
        }
        index++;
        for (DirectoryNode child : dir.get().getDirectoriesList()) {
          if (seen.add(child.getDigest())) {
            queue.add(child.getDigest());
          }
        }
      }
      next = more ? Integer.toString(skip + size) : "";
      Calls.record().hit = index > 0;
    } catch (RuntimeException e) {
      out.onError(calls.failure(e));
      return;
    }
    out.onNext(GetTreeResponse.newBuilder().addAllDirectories(page).setNextPageToken(next).build());
    out.onCompleted();
  }

  private Optional<Directory> directory(Digest d) {
    Optional<byte[]> data;
    try {
      data = cas.read(d);
    } catch (StatusRuntimeException e) {
      return Optional.empty(); // a malformed digest inside a directory: that part of the tree is not there
    }
    try {
      return data.isEmpty() ? Optional.empty() : Optional.of(Directory.parseFrom(data.get()));
    } catch (InvalidProtocolBufferException e) {
      return Optional.empty();
    }
  }

  private static int token(String t) {
    if (t.isEmpty()) {
      return 0;
    }
    try {
      int n = Integer.parseInt(t);
      if (n >= 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw Reapi.invalid("'" + Reapi.printable(t) + "' is not a page token this server gave");
  }
}
