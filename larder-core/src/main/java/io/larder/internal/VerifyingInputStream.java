package io.larder.internal;

import io.larder.Integrity;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.function.Supplier;

/**
 * Hashes bytes as they are read and, at the end of the stream, checks size and digest. On a mismatch it
 * calls {@code onCorrupt} (which removes the bad copy) and throws, so a caller that reads to the end never
 * takes bad bytes for good ones.
 */
public final class VerifyingInputStream extends FilterInputStream {
  private final Integrity.Hash expected;
  private final long expectedSize;
  private final MessageDigest digest;
  private final Runnable onCorrupt;
  private final Runnable onVerified;
  private final Supplier<String> what;
  private long count;
  private boolean done;

  public VerifyingInputStream(InputStream raw, Integrity.Hash expected, long expectedSize, Supplier<String> what,
      Runnable onCorrupt, Runnable onVerified) {
    super(raw);
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.digest = expected.algorithm().newDigest();
    this.what = what;
    this.onCorrupt = onCorrupt;
    this.onVerified = onVerified;
  }

  @Override
  public int read() throws IOException {
    return Streams.readOne(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (done) {
      return -1;
    }
    if (len == 0) {
      return 0;
    }
    int n;
    try {
      n = in.read(b, off, len);
    } catch (ZstdSeekable.CorruptBlobException e) {
      fail("is damaged (" + e.getMessage() + ")");
      throw e; // not reached: fail throws
    }
    if (n < 0) {
      finish();
      return -1;
    }
    count += n;
    if (count > expectedSize) {
      fail("is longer than its recorded " + expectedSize + " bytes");
    }
    digest.update(b, off, n);
    return n;
  }

  private void finish() {
    done = true;
    if (count != expectedSize) {
      fail("is " + count + " bytes, not its recorded " + expectedSize);
    }
    if (!MessageDigest.isEqual(digest.digest(), expected.bytes())) {
      fail("does not match its digest " + expected.sri());
    }
    onVerified.run();
  }

  private void fail(String why) {
    done = true;
    onCorrupt.run();
    throw Errors.corrupt(what.get(), why);
  }

  /** Copies with a large buffer: far fewer calls than the default 16 KiB, which matters at GB/s. */
  @Override
  public long transferTo(java.io.OutputStream out) throws IOException {
    byte[] buf = new byte[256 * 1024];
    long total = 0;
    int n;
    while ((n = read(buf, 0, buf.length)) >= 0) {
      out.write(buf, 0, n);
      total += n;
    }
    return total;
  }

  @Override
  public long skip(long n) throws IOException {
    // Skipped bytes must still be hashed.
    byte[] buf = new byte[(int) Math.min(n, 8192)];
    long skipped = 0;
    while (skipped < n) {
      int r = read(buf, 0, (int) Math.min(buf.length, n - skipped));
      if (r < 0) {
        break;
      }
      skipped += r;
    }
    return skipped;
  }

  @Override
  public boolean markSupported() {
    return false;
  }
}
