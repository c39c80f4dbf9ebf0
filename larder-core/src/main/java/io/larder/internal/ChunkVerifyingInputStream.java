package io.larder.internal;

import io.larder.Algorithm;
import io.larder.LarderException;
import io.larder.spi.Chunks;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Serves {@code [offset, offset + length)} of a blob from a raw stream of whole chunks (starting at the chunk
 * that holds {@code offset}), releasing no byte of a chunk before the whole chunk matched its digest. On a
 * mismatch or a short chunk it calls {@code onCorrupt} and throws, as {@link VerifyingInputStream} does.
 */
public final class ChunkVerifyingInputStream extends InputStream {
  private final InputStream raw;
  private final Chunks chunks;
  private final long blobSize;
  private final String what;
  private final Runnable onCorrupt;
  private final MessageDigest md;
  private final byte[] buf;
  private int chunk; // the next chunk to read
  private long skip; // bytes of the next chunk before the range
  private long left; // bytes of the range still to serve
  private int pos;
  private int limit;

  public ChunkVerifyingInputStream(InputStream raw, Chunks chunks, long blobSize, long offset, long length, String what,
      Runnable onCorrupt) {
    this.raw = raw;
    this.chunks = chunks;
    this.blobSize = blobSize;
    this.what = what;
    this.onCorrupt = onCorrupt;
    this.chunk = (int) (offset / chunks.size());
    this.skip = offset - (long) chunk * chunks.size();
    this.left = length;
    this.buf = new byte[chunks.size()];
    this.md = Algorithm.SHA256.newDigest();
  }

  /** Where the raw stream must start: the first byte of the chunk holding {@code offset}. */
  public static long start(Chunks chunks, long offset) {
    return offset / chunks.size() * chunks.size();
  }

  /** How many raw bytes cover {@code [offset, offset + length)} in whole chunks. */
  public static long span(Chunks chunks, long blobSize, long offset, long length) {
    if (length == 0) {
      return 0;
    }
    long end = Math.min(blobSize, ((offset + length - 1) / chunks.size() + 1) * chunks.size());
    return end - start(chunks, offset);
  }

  private boolean fill() throws IOException {
    if (left == 0) {
      return false;
    }
    int want = (int) Math.min(chunks.size(), blobSize - (long) chunk * chunks.size());
    int n = raw.readNBytes(buf, 0, want);
    md.update(buf, 0, n);
    if (n != want || !MessageDigest.isEqual(md.digest(), chunks.digest(chunk))) {
      onCorrupt.run();
      throw new LarderException.IntegrityFailure(LarderException.Kind.CORRUPT, what + " "
          + (n != want ? "ended " + (want - n) + " bytes early in chunk " + chunk : "failed the digest of chunk " + chunk)
          + ": the copy in the remote tier is damaged; nothing of that chunk was served");
    }
    pos = (int) skip;
    limit = (int) Math.min(want, skip + left);
    skip = 0;
    chunk++;
    return true;
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
    if (pos == limit && !fill()) {
      return -1;
    }
    int n = Math.min(len, limit - pos);
    System.arraycopy(buf, pos, b, off, n);
    pos += n;
    left -= n;
    return n;
  }

  @Override
  public void close() throws IOException {
    raw.close();
  }
}
