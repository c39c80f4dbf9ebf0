package io.larder.server.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A request body on its way from the event loop to a store put running on another thread, as an
 * {@link InputStream}, with back-pressure: the connection stops reading when {@link #HIGH} chunks wait and
 * resumes when the put has taken half of them. A client that disconnects mid-body makes the stream fail,
 * so the put fails and nothing becomes visible.
 */
final class Upload extends InputStream {
  private static final int HIGH = 16;
  private static final ByteBuf END = io.netty.buffer.Unpooled.EMPTY_BUFFER;

  private final Channel channel;
  private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private volatile boolean paused; // written on the event loop only
  private ByteBuf current;
  private boolean ended;
  private long received;

  Upload(Channel channel) {
    this.channel = channel;
  }

  /** Event loop: a chunk of the body (retained for us). */
  void offer(ByteBuf chunk) {
    received += chunk.readableBytes();
    queue.add(chunk);
    if (queue.size() >= HIGH && !paused) {
      paused = true;
      channel.config().setAutoRead(false);
    }
  }

  /** Event loop: the body is complete. */
  void end() {
    queue.add(END);
  }

  /** Event loop (or any thread): the body will not complete. */
  void fail(String why) {
    queue.add(new IOException(why));
  }

  /** Event loop: whether reading is stopped until the put catches up. */
  boolean paused() {
    return paused;
  }

  long received() {
    return received;
  }

  private void resumeIfDrained() {
    if (paused && queue.size() < HIGH / 2) {
      paused = false;
      channel.config().setAutoRead(true);
    }
  }

  private boolean next() throws IOException {
    if (current != null) {
      current.release();
      current = null;
    }
    if (ended) {
      return false;
    }
    Object o;
    try {
      o = queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while receiving the body");
    }
    if (paused && queue.size() < HIGH / 2) {
      channel.eventLoop().execute(this::resumeIfDrained); // only then: a task per chunk would wake the loop each time
    }
    if (o instanceof IOException e) {
      ended = true;
      throw new IOException(e.getMessage());
    }
    if (o == END) {
      ended = true;
      return false;
    }
    current = (ByteBuf) o;
    return true;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) <= 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (current == null || !current.isReadable()) {
      if (!next()) {
        return -1;
      }
    }
    int n = Math.min(len, current.readableBytes());
    current.readBytes(b, off, n);
    return n;
  }

  /** Releases whatever was not consumed. */
  @Override
  public void close() {
    if (current != null) {
      current.release();
      current = null;
    }
    ended = true;
    for (Object o; (o = queue.poll()) != null; ) {
      if (o instanceof ByteBuf b && b != END) {
        b.release();
      }
    }
  }
}
