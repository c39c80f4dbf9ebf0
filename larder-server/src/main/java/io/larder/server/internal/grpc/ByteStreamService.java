package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.Digest;
import com.github.luben.zstd.ZstdOutputStream;
import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.QueryWriteStatusResponse;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.larder.Content;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Blobs of any size, streamed: reads in chunks as fast as the client takes them, writes verified against
 * their name as they arrive (after zstd decompression for {@code compressed-blobs/zstd}); neither holds a
 * whole blob in memory.
 */
final class ByteStreamService extends ByteStreamGrpc.ByteStreamImplBase {
  /** The data in one ReadResponse at most. */
  static final int CHUNK = 1 << 20;

  private final Cas cas;
  private final Calls calls;
  private final ExecutorService workers;
  private final long maxBlobSize;
  /** Uploads in progress by resource name, for QueryWriteStatus. */
  private final Map<String, Upload> uploads = new ConcurrentHashMap<>();

  ByteStreamService(Cas cas, Calls calls, ExecutorService workers, long maxBlobSize) {
    this.cas = cas;
    this.calls = calls;
    this.workers = workers;
    this.maxBlobSize = maxBlobSize;
  }

  // ------------------------------------------------------------------ read

  @Override
  public void read(ReadRequest req, StreamObserver<ReadResponse> observer) {
    ServerCallStreamObserver<ReadResponse> out = (ServerCallStreamObserver<ReadResponse>) observer;
    Calls.Record rec = Calls.record();
    Content content;
    ResourceName name;
    try {
      name = ResourceName.parse(req.getResourceName(), false);
      Digest d = name.digest();
      rec.subject = req.getResourceName();
      long offset = req.getReadOffset();
      if (offset < 0 || req.getReadLimit() < 0) {
        throw Status.OUT_OF_RANGE.withDescription("read_offset and read_limit are not negative").asRuntimeException();
      }
      if (!name.zstd() && offset > d.getSizeBytes()) {
        throw Status.OUT_OF_RANGE.withDescription("read_offset " + offset + " is past the end of the blob ("
            + d.getSizeBytes() + " bytes)").asRuntimeException();
      }
      if (Reapi.isEmpty(d)) {
        rec.hit = true;
        if (name.zstd()) {
          out.onNext(ReadResponse.newBuilder().setData(ByteString.copyFrom(com.github.luben.zstd.Zstd.compress(new byte[0]))).build());
        }
        out.onCompleted();
        return;
      }
      long limit = req.getReadLimit() == 0 ? Long.MAX_VALUE : req.getReadLimit();
      content = (name.zstd() || offset == 0 && limit >= d.getSizeBytes() ? cas.open(d)
          : cas.openRange(d, offset, Math.min(limit, d.getSizeBytes() - offset)))
          .orElseThrow(() -> Status.NOT_FOUND.withDescription("blob " + d.getHash() + "/" + d.getSizeBytes()
              + " is not stored").asRuntimeException());
      rec.hit = true;
    } catch (RuntimeException e) {
      if (e instanceof StatusRuntimeException s && s.getStatus().getCode() == Status.Code.NOT_FOUND) {
        rec.hit = false;
      }
      out.onError(calls.failure(e));
      return;
    }
    // sent from a worker, so that this call's own thread is free to deliver the client's readiness
    Semaphore ready = new Semaphore(0);
    AtomicBoolean cancelled = new AtomicBoolean();
    out.setOnReadyHandler(ready::release);
    out.setOnCancelHandler(() -> {
      cancelled.set(true);
      ready.release();
    });
    long skip = name.zstd() ? req.getReadOffset() : 0;
    long limit = name.zstd() && req.getReadLimit() > 0 ? req.getReadLimit() : Long.MAX_VALUE;
    workers.execute(() -> {
      try (content; InputStream in = content.stream()) {
        Sender send = new Sender(out, ready, cancelled, rec, skip, limit);
        if (name.zstd()) {
          try (OutputStream z = new ZstdOutputStream(send, 1)) {
            in.transferTo(z);
          }
        } else {
          send.drain(in);
        }
        send.flush();
        if (!cancelled.get()) {
          out.onCompleted();
        }
      } catch (Sender.Cancelled e) {
        // the client went away: nothing to answer
      } catch (Exception e) {
        if (!cancelled.get()) {
          out.onError(calls.failure(e instanceof IOException && e.getCause() instanceof RuntimeException r ? r : e));
        }
      }
    });
  }

  /** Bytes written to it go to the client in chunks of {@link #CHUNK}, each when the client can take it. */
  private static final class Sender extends OutputStream {
    static final class Cancelled extends IOException {
      private static final long serialVersionUID = 1L;
    }

    private final ServerCallStreamObserver<ReadResponse> out;
    private final Semaphore ready;
    private final AtomicBoolean cancelled;
    private final Calls.Record rec;
    private long skip;
    private long limit;
    /** The chunk being filled; handed to gRPC as it is (not copied) when full, and a new one started. */
    private byte[] chunk = new byte[CHUNK];
    private int size;

    Sender(ServerCallStreamObserver<ReadResponse> out, Semaphore ready, AtomicBoolean cancelled, Calls.Record rec,
        long skip, long limit) {
      this.out = out;
      this.ready = ready;
      this.cancelled = cancelled;
      this.rec = rec;
      this.skip = skip;
      this.limit = limit;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (skip > 0) {
        int s = (int) Math.min(skip, len);
        skip -= s;
        off += s;
        len -= s;
      }
      len = (int) Math.min(len, limit);
      limit -= len;
      while (len > 0) {
        int n = Math.min(len, CHUNK - size);
        System.arraycopy(b, off, chunk, size, n);
        size += n;
        off += n;
        len -= n;
        if (size == CHUNK) {
          flush();
        }
      }
    }

    /** Sends all of {@code in}, read straight into the chunks (the plain path: one copy fewer than write). */
    void drain(InputStream in) throws IOException {
      if (skip != 0 || limit != Long.MAX_VALUE) {
        in.transferTo(this);
        return;
      }
      for (int n; (n = in.readNBytes(chunk, size, CHUNK - size)) > 0; ) {
        size += n;
        if (size == CHUNK) {
          flush();
        }
      }
    }

    @Override
    public void flush() throws IOException {
      if (size == 0) {
        return;
      }
      while (!out.isReady()) {
        if (cancelled.get()) {
          throw new Cancelled();
        }
        try {
          ready.tryAcquire(100, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new Cancelled();
        }
      }
      if (cancelled.get()) {
        throw new Cancelled();
      }
      out.onNext(ReadResponse.newBuilder().setData(UnsafeByteOperations.unsafeWrap(chunk, 0, size)).build());
      rec.bytes += size;
      chunk = new byte[CHUNK]; // the one sent belongs to gRPC now
      size = 0;
    }
  }

  // ------------------------------------------------------------------ write

  @Override
  public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> observer) {
    ServerCallStreamObserver<WriteResponse> out = (ServerCallStreamObserver<WriteResponse>) observer;
    out.disableAutoRequest();
    out.request(1);
    return new Upload(out, Calls.record());
  }

  /** One Write call: its messages feed a put running on a worker. */
  private final class Upload implements StreamObserver<WriteRequest> {
    private final ServerCallStreamObserver<WriteResponse> out;
    private final Calls.Record rec;
    private final AtomicBoolean answered = new AtomicBoolean();
    private ResourceName name;
    private String resource;
    private ChunkPipe pipe;
    private volatile long received;

    Upload(ServerCallStreamObserver<WriteResponse> out, Calls.Record rec) {
      this.out = out;
      this.rec = rec;
    }

    @Override
    public void onNext(WriteRequest req) {
      if (answered.get()) {
        return; // answered already (the blob was stored): the rest is not needed
      }
      try {
        if (name == null) {
          start(req);
          if (answered.get()) {
            return;
          }
        } else if (!req.getResourceName().isEmpty() && !req.getResourceName().equals(resource)) {
          throw Reapi.invalid("a Write names one resource: '" + Reapi.printable(req.getResourceName())
              + "' after '" + Reapi.printable(resource) + "'");
        }
        if (req.getWriteOffset() != received) {
          throw Reapi.invalid("write_offset " + req.getWriteOffset() + " where " + received + " bytes were received");
        }
        received += req.getData().size();
        if (!name.zstd() && received > name.digest().getSizeBytes()) {
          throw Reapi.invalid("more data than the " + name.digest().getSizeBytes() + " bytes the resource name says");
        }
        if (!req.getData().isEmpty()) {
          pipe.add(req.getData()); // the pipe asks for the next message when the put takes this one
        } else if (!req.getFinishWrite()) {
          out.request(1);
        }
        if (req.getFinishWrite()) {
          pipe.end();
        }
      } catch (RuntimeException e) {
        fail(calls.failure(e));
      }
    }

    private void start(WriteRequest req) {
      resource = req.getResourceName();
      name = ResourceName.parse(resource, true);
      rec.subject = resource;
      Digest d = name.digest();
      if (d.getSizeBytes() > maxBlobSize) {
        throw Status.RESOURCE_EXHAUSTED.withDescription("blobs are at most " + maxBlobSize + " bytes here (max-blob-size); "
            + d.getSizeBytes() + " is too large").asRuntimeException();
      }
      if (req.getWriteOffset() != 0) {
        throw Reapi.invalid("this server does not resume uploads: start again at write_offset 0 (QueryWriteStatus says"
            + " what is stored)");
      }
      if (!cas.present(java.util.List.of(d)).isEmpty()) {
        // stored already: say so at once, and the client stops sending (for compressed data the API says -1)
        answer(name.zstd() ? -1 : d.getSizeBytes());
        return;
      }
      pipe = new ChunkPipe(() -> out.request(1));
      uploads.put(resource, this);
      InputStream body = name.zstd() ? new ZstdUpload(pipe) : pipe;
      workers.execute(() -> {
        try (body) {
          cas.put(d, body);
          answer(received);
        } catch (Exception e) {
          StatusRuntimeException why = pipe.failure();
          if (why == null && body instanceof ZstdUpload z) {
            why = z.malformed();
          }
          fail(why != null ? why : calls.failure(e));
        } finally {
          uploads.remove(resource, this);
        }
      });
    }

    private void answer(long committed) {
      if (answered.compareAndSet(false, true)) {
        rec.bytes = received;
        out.onNext(WriteResponse.newBuilder().setCommittedSize(committed).build());
        out.onCompleted();
      }
    }

    private void fail(StatusRuntimeException why) {
      if (pipe != null) {
        pipe.fail(why); // the put stops, and stores nothing
      }
      if (answered.compareAndSet(false, true)) {
        out.onError(why);
      }
    }

    @Override
    public void onError(Throwable t) {
      if (pipe != null) {
        pipe.fail(Status.CANCELLED.withDescription("the client cancelled the upload").asRuntimeException());
      }
      answered.set(true);
    }

    @Override
    public void onCompleted() {
      if (pipe != null && !answered.get()) {
        // half-closed without finish_write: an incomplete upload, not a blob
        pipe.fail(Reapi.invalid("the upload ended without finish_write after " + received + " bytes"));
      } else if (name == null) {
        fail(Reapi.invalid("a Write sent no request"));
      }
    }
  }

  // ------------------------------------------------------------------ status

  @Override
  public void queryWriteStatus(QueryWriteStatusRequest req, StreamObserver<QueryWriteStatusResponse> out) {
    calls.unary(out, () -> {
      ResourceName name = ResourceName.parse(req.getResourceName(), true);
      Calls.record().subject = req.getResourceName();
      if (!cas.present(Set.of(name.digest())).isEmpty()) {
        return QueryWriteStatusResponse.newBuilder().setCommittedSize(name.digest().getSizeBytes()).setComplete(true).build();
      }
      Upload u = uploads.get(req.getResourceName());
      if (u == null) {
        throw Status.NOT_FOUND.withDescription("no upload of '" + Reapi.printable(req.getResourceName())
            + "' is in progress, and the blob is not stored").asRuntimeException();
      }
      return QueryWriteStatusResponse.newBuilder().setCommittedSize(u.received).build();
    });
  }
}
