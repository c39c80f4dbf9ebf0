package io.larder.internal;

import io.larder.Integrity;
import io.larder.LarderException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The verifying stream for large blobs, in three stages: one thread reads the file ahead, a second hashes
 * what was read, and the caller's thread copies bytes out. Hashing is then the only work on its core, so a
 * whole read runs at the speed of hashing alone rather than of reading plus hashing plus copying. The verdict is the same as {@link VerifyingInputStream}'s, delivered at the end of
 * the stream: the caller sees end-of-stream only after the hash matched, and an error otherwise.
 */
public final class ReadAheadVerifyingInputStream extends InputStream {
  private static final int CHUNK = 1024 * 1024;
  private static final int BUFFERS = 4;

  /** A chunk of the file; returned to the pool when both the hasher and the reader are done with it. */
  private record Chunk(byte[] data, int length, AtomicInteger users) {}

  private static final Chunk END = new Chunk(new byte[0], 0, new AtomicInteger());

  private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(BUFFERS);
  private final BlockingQueue<Chunk> ready = new ArrayBlockingQueue<>(BUFFERS + 1);
  private final BlockingQueue<Chunk> toHash = new ArrayBlockingQueue<>(BUFFERS + 1);
  private final Thread worker;
  private final Thread hasher;
  private final Supplier<String> what;
  private final Runnable onCorrupt;
  private final Runnable onVerified;
  private volatile Throwable failure; // set by the worker: an I/O error or an integrity failure
  private volatile boolean closed;
  private Chunk current;
  private int pos;
  private boolean finished;
  private final long expectedSize;
  /** Bytes handed to the reader: never more than the recorded size, whatever the file holds. */
  private long delivered;

  public ReadAheadVerifyingInputStream(InputStream raw, Integrity.Hash expected, long expectedSize, Supplier<String> what,
      Runnable onCorrupt, Runnable onVerified) {
    this.what = what;
    this.expectedSize = expectedSize;
    this.onCorrupt = onCorrupt;
    this.onVerified = onVerified;
    for (int i = 0; i < BUFFERS; i++) {
      free.add(new byte[CHUNK]);
    }
    long[] count = new long[1];
    worker = Thread.ofPlatform().daemon().name("larder-read-ahead").start(() -> {
      try (raw) {
        while (!closed) {
          byte[] buf = free.take();
          int n = raw.readNBytes(buf, 0, buf.length);
          if (n == 0) {
            free.offer(buf);
            break;
          }
          count[0] += n;
          Chunk c = new Chunk(buf, n, new AtomicInteger(2));
          toHash.put(c);
          ready.put(c);
          if (count[0] > expectedSize) {
            break;
          }
        }
      } catch (ZstdSeekable.CorruptBlobException e) {
        failure = corrupt("is damaged (" + e.getMessage() + ")");
      } catch (IOException e) {
        failure = e;
      } catch (InterruptedException e) {
        failure = new InterruptedIOException("read-ahead interrupted");
      } catch (RuntimeException e) {
        failure = e;
      } finally {
        toHash.offer(END);
      }
    });
    hasher = Thread.ofPlatform().daemon().name("larder-read-ahead-hash").start(() -> {
      MessageDigest md = expected.algorithm().newDigest();
      try {
        for (Chunk c = toHash.take(); c != END; c = toHash.take()) {
          md.update(c.data(), 0, c.length());
          release(c);
        }
        worker.join(); // count[0] and failure are final now
        if (!closed && failure == null) {
          long n = count[0];
          if (n != expectedSize) {
            failure = corrupt(n > expectedSize ? "is longer than its recorded " + expectedSize + " bytes"
                : "is " + n + " bytes, not its recorded " + expectedSize);
          } else if (!MessageDigest.isEqual(md.digest(), expected.bytes())) {
            failure = corrupt("does not match its digest " + expected.sri());
          }
        }
      } catch (InterruptedException e) {
        failure = new InterruptedIOException("verification interrupted");
      } finally {
        ready.offer(END); // the reader sees the end only after the verdict
      }
    });
  }

  private LarderException corrupt(String why) {
    return Errors.corrupt(what.get(), why);
  }

  private void release(Chunk c) {
    if (c.users().decrementAndGet() == 0) {
      free.offer(c.data());
    }
  }

  @Override
  public int read() throws IOException {
    return Streams.readOne(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (true) {
      if (current == null || pos == current.length()) {
        if (!nextChunk()) {
          return -1;
        }
      }
      long room = expectedSize - delivered;
      if (room <= 0) {
        pos = current.length(); // bytes past the recorded size are never handed out: on to the verdict
        continue;
      }
      int n = (int) Math.min(Math.min(len, current.length() - pos), room);
      System.arraycopy(current.data(), pos, b, off, n);
      pos += n;
      delivered += n;
      return n;
    }
  }

  /**
   * Writes the read-ahead chunks straight to {@code out} (a megabyte per write instead of the default
   * transfer's copies through a small buffer), with the same verdict at the end as {@link #read}.
   */
  @Override
  public long transferTo(java.io.OutputStream out) throws IOException {
    long total = 0;
    while (true) {
      if (current == null || pos == current.length()) {
        if (!nextChunk()) {
          return total;
        }
      }
      int n = (int) Math.max(0, Math.min(current.length() - pos, expectedSize - delivered));
      if (n > 0) {
        out.write(current.data(), pos, n);
        delivered += n;
        total += n;
      }
      pos = current.length(); // bytes past the recorded size are never handed out: on to the verdict
    }
  }

  private boolean nextChunk() throws IOException {
    if (current != null) {
      release(current);
      current = null;
    }
    if (finished) {
      return false;
    }
    Chunk c;
    try {
      c = ready.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while reading content");
    }
    if (c == END) {
      finished = true;
      try {
        hasher.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while verifying content");
      }
      Throwable f = failure;
      if (f instanceof LarderException le) {
        onCorrupt.run();
        throw le;
      } else if (f instanceof IOException io) {
        throw io;
      } else if (f instanceof RuntimeException re) {
        throw re;
      }
      onVerified.run();
      return false;
    }
    current = c;
    pos = 0;
    return true;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    // Unblock the worker: hand back every buffer we hold or that waits for us, until it ends.
    if (current != null) {
      release(current);
      current = null;
    }
    while (worker.isAlive() || hasher.isAlive()) {
      Chunk c = ready.poll();
      if (c != null && c != END) {
        release(c);
      }
      if (c == null) {
        free.offer(new byte[0]);
        try {
          hasher.join(10);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }
}
