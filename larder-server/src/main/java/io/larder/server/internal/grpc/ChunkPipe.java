package io.larder.server.internal.grpc;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The bytes of a streaming upload as an {@link InputStream} for a put: the call hands each message's data
 * in, and asks the client for the next message only when the put has taken this one, so that an upload
 * holds at most a message or two in memory however large the blob.
 */
final class ChunkPipe extends InputStream {
  private static final Object END = new Object();

  private final BlockingQueue<Object> chunks = new LinkedBlockingQueue<>();
  private final Runnable wantMore;
  private volatile StatusRuntimeException failure;
  private ByteString current = ByteString.EMPTY;
  private int pos;
  private boolean ended;

  /** @param wantMore asks the client for its next message */
  ChunkPipe(Runnable wantMore) {
    this.wantMore = wantMore;
  }

  void add(ByteString data) {
    chunks.add(data);
  }

  /** The upload is complete: reads reach the end after what was added. */
  void end() {
    chunks.add(END);
  }

  /** The upload failed with {@code why}: the put reading this stream fails, and stores nothing. */
  void fail(StatusRuntimeException why) {
    failure = why;
    chunks.add(why);
  }

  /** Why the upload failed, if it did (the reason a put that read this stream failed). */
  StatusRuntimeException failure() {
    return failure;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (pos == current.size()) {
      if (ended) {
        return -1;
      }
      Object next;
      try {
        next = chunks.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the upload");
      }
      if (next == END) {
        ended = true;
        return -1;
      }
      if (next instanceof StatusRuntimeException e) {
        throw new IOException(e.getStatus().getDescription(), e);
      }
      current = (ByteString) next;
      pos = 0;
      wantMore.run();
    }
    int n = Math.min(len, current.size() - pos);
    current.substring(pos, pos + n).copyTo(b, off);
    pos += n;
    return n;
  }
}
