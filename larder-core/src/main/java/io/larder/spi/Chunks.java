package io.larder.spi;

import io.larder.Algorithm;
import io.larder.internal.Streams;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * The SHA-256 digests of a blob's consecutive chunks of {@code size} bytes (the last one may be shorter).
 * A remote tier keeps them with an entry so that a range can be fetched and verified chunk by chunk without
 * reading the whole blob.
 *
 * @param size bytes per chunk
 * @param digests the chunks' SHA-256 digests, 32 bytes each, in order
 */
public record Chunks(int size, byte[] digests) {
  /**
   * The chunk size tiers use: 256 KiB. A range then costs at most 512 KiB of extra transfer; the digests
   * cost 32 bytes per 256 KiB (measured: 1 MiB chunks made a 64 KiB range cost as much as a 1 MiB GET).
   */
  public static final int DEFAULT_SIZE = 256 * 1024;

  /**
   * Checks the shape: a positive chunk size and whole SHA-256 digests.
   *
   * @throws IllegalArgumentException when either is wrong
   */
  public Chunks {
    if (size <= 0 || digests.length % 32 != 0) {
      throw new IllegalArgumentException("chunks of " + size + " bytes with " + digests.length + " bytes of digests");
    }
  }

  /** How many chunks there are. */
  public int count() {
    return digests.length / 32;
  }

  /** The digest of chunk {@code i}. */
  public byte[] digest(int i) {
    return Arrays.copyOfRange(digests, i * 32, i * 32 + 32);
  }

  /** Whether these are the chunks of a blob of {@code blobSize} bytes (by count). */
  public boolean fits(long blobSize) {
    return count() == (blobSize + size - 1) / size;
  }

  /** A stream that passes {@code in} through and computes its chunks' digests as it goes. */
  public static Hashing hashing(InputStream in, int size) {
    return new Hashing(in, size);
  }

  /** See {@link #hashing}. */
  public static final class Hashing extends FilterInputStream {
    private final int size;
    private final MessageDigest md;
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    private long inChunk;

    private Hashing(InputStream in, int size) {
      super(in);
      this.size = size;
      this.md = Algorithm.SHA256.newDigest();
    }

    @Override
    public int read() throws IOException {
      return Streams.readOne(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      for (int done = 0; done < n; ) {
        int take = (int) Math.min(n - done, size - inChunk);
        md.update(b, off + done, take);
        done += take;
        inChunk += take;
        if (inChunk == size) {
          out.writeBytes(md.digest());
          inChunk = 0;
        }
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      throw new IOException("a hashing stream is read, not skipped");
    }

    /**
     * Reads what is left (nothing is skipped) and returns the chunks of everything read.
     *
     * @return the chunk size and digests of everything this stream delivered
     * @throws IOException when the underlying stream fails
     */
    public Chunks finish() throws IOException {
      transferTo(java.io.OutputStream.nullOutputStream());
      byte[] all = out.toByteArray();
      if (inChunk > 0) {
        byte[] last = md.digest();
        all = Arrays.copyOf(all, all.length + 32);
        System.arraycopy(last, 0, all, all.length - 32, 32);
      }
      return new Chunks(size, all);
    }
  }
}
