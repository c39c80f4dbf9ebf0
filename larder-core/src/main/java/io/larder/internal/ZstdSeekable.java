package io.larder.internal;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * zstd's seekable format: content cut into independently compressed frames (each with zstd's own content
 * checksum), followed by a skippable frame holding the seek table (compressed and decompressed size of each
 * frame) and a footer. Any zstd decoder reads the file as ordinary zstd (it skips the table); a range read
 * finds its first frame in the table and decompresses from there.
 *
 * <pre>
 * frame 0 … frame n-1 | 0x184D2A5E (LE u32) | table size (u32) | n × (compressed u32, decompressed u32)
 *                     | n (u32) | descriptor (u8, 0: no per-frame checksums in the table) | 0x8F92EAB1 (u32)
 * </pre>
 *
 * <p>Specification: facebook/zstd, contrib/seekable_format/zstd_seekable_compression_format.md.
 */
public final class ZstdSeekable {
  /** Content per frame: small enough that a range read decompresses little, large enough to compress well. */
  public static final int FRAME = 256 * 1024;

  private static final int SKIPPABLE_MAGIC = 0x184D2A5E;
  private static final int SEEKABLE_MAGIC = 0x8F92EAB1;
  private static final int FOOTER = 9;
  /** Frames larger than this are refused when reading (ours are {@link #FRAME}): a bad table cannot make us allocate much. */
  private static final int MAX_FRAME = 16 * 1024 * 1024;

  private static final BlockingQueue<ZstdDecompressCtx> DECOMPRESSORS = new ArrayBlockingQueue<>(16);

  private ZstdSeekable() {}

  /** A problem in a compressed blob file: it is corrupt, and must not be served. */
  public static final class CorruptBlobException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptBlobException(String message) {
      super(message);
    }
  }

  /** Writes content as seekable zstd: {@link #write} any number of times, then {@link #finish} once. */
  public static final class Writer implements AutoCloseable {
    private final FileOps ops;
    private final FileChannel out;
    private final ZstdCompressCtx ctx;
    private final byte[] buffer = new byte[(int) Zstd.compressBound(FRAME)];
    private int[] sizes = new int[64]; // compressed, decompressed, compressed, …
    private int frames;
    private long compressedBytes;

    private Writer(FileOps ops, FileChannel out, int level) {
      this.ops = ops;
      this.out = out;
      this.ctx = new ZstdCompressCtx().setLevel(level).setChecksum(true).setContentSize(true);
    }

    /**
     * Compresses the first frame of {@code data[0, length)} and, if it shrinks by at least 10 %, writes it
     * and returns a writer to continue with (the caller then writes {@code data} from {@link #FRAME} on);
     * otherwise writes nothing and returns {@code null}: the content should be stored raw.
     */
    public static Writer startIfWorthIt(FileOps ops, FileChannel out, int level, byte[] data, int length)
        throws IOException {
      Writer w = new Writer(ops, out, level);
      boolean keep = false;
      try {
        int first = Math.min(length, FRAME);
        int c = w.compress(data, 0, first);
        if ((long) c * 10 <= (long) first * 9) {
          w.emit(c, first);
          keep = true;
          return w;
        }
        return null;
      } finally {
        if (!keep) {
          w.close();
        }
      }
    }

    /** Compresses and writes {@code data[off, off + len)} as frames of at most {@link #FRAME} bytes. */
    public void write(byte[] data, int off, int len) throws IOException {
      for (int p = off; p < off + len; p += FRAME) {
        int n = Math.min(FRAME, off + len - p);
        emit(compress(data, p, n), n);
      }
    }

    private int compress(byte[] data, int off, int len) {
      return ctx.compressByteArray(buffer, 0, buffer.length, data, off, len);
    }

    private void emit(int compressed, int decompressed) throws IOException {
      ops.write(out, ByteBuffer.wrap(buffer, 0, compressed));
      if (2 * frames + 2 > sizes.length) {
        sizes = Arrays.copyOf(sizes, sizes.length * 2);
      }
      sizes[2 * frames] = compressed;
      sizes[2 * frames + 1] = decompressed;
      frames++;
      compressedBytes += compressed;
    }

    /** Writes the seek table. */
    public void finish() throws IOException {
      int entries = frames * 8;
      ByteBuffer t = ByteBuffer.allocate(8 + entries + FOOTER).order(ByteOrder.LITTLE_ENDIAN);
      t.putInt(SKIPPABLE_MAGIC).putInt(entries + FOOTER);
      for (int i = 0; i < 2 * frames; i++) {
        t.putInt(sizes[i]);
      }
      t.putInt(frames).put((byte) 0).putInt(SEEKABLE_MAGIC);
      ops.write(out, t.flip());
    }

    /** The bytes of compressed frames written so far (without the seek table). */
    public long compressedBytes() {
      return compressedBytes;
    }

    @Override
    public void close() {
      ctx.close();
    }
  }

  /**
   * The content bytes {@code [offset, offset + length)} of a seekable zstd file (clipped to its end). The
   * stream owns {@code file} and closes it. Damage found while reading (a bad table, a frame that does not
   * decompress or fails its checksum) is a {@link CorruptBlobException}.
   */
  public static InputStream open(FileChannel file, long offset, long length) throws IOException {
    try {
      return new Reader(file, offset, length);
    } catch (IOException | RuntimeException e) {
      file.close();
      throw e;
    }
  }

  private static final class Reader extends InputStream {
    private final FileChannel file;
    private final int[] sizes;
    private int frame;
    private long filePos; // of the next frame
    private long remaining;
    private int skip; // bytes to drop from the start of the next frame
    private byte[] in = new byte[0];
    private byte[] out = new byte[0];
    private int outPos;
    private int outLen;

    Reader(FileChannel file, long offset, long length) throws IOException {
      this.file = file;
      long size = file.size();
      if (size < 8 + FOOTER) {
        throw new CorruptBlobException("compressed file of " + size + " bytes has no seek table");
      }
      ByteBuffer footer = readAt(size - FOOTER, FOOTER);
      int n = footer.getInt();
      byte descriptor = footer.get();
      if (footer.getInt() != SEEKABLE_MAGIC || n < 0 || (descriptor & 0x7c) != 0) {
        throw new CorruptBlobException("compressed file has no valid seek table footer");
      }
      int entry = (descriptor & 0x80) != 0 ? 12 : 8;
      long tableSize = 8L + (long) n * entry + FOOTER;
      if (tableSize > size) {
        throw new CorruptBlobException("seek table of " + n + " frames is larger than the file");
      }
      ByteBuffer table = readAt(size - tableSize, (int) tableSize);
      if (table.getInt() != SKIPPABLE_MAGIC || table.getInt() != tableSize - 8) {
        throw new CorruptBlobException("compressed file has a damaged seek table");
      }
      sizes = new int[2 * n];
      long compressedTotal = 0;
      long content = 0;
      boolean found = false;
      for (int i = 0; i < n; i++) {
        int c = table.getInt();
        int d = table.getInt();
        if (entry == 12) {
          table.getInt();
        }
        if (c <= 0 || d < 0 || c > MAX_FRAME || d > MAX_FRAME) {
          throw new CorruptBlobException("seek table entry " + i + " is out of range");
        }
        sizes[2 * i] = c;
        sizes[2 * i + 1] = d;
        if (!found && offset < content + d) {
          found = true;
          frame = i;
          filePos = compressedTotal;
          skip = (int) (offset - content);
        }
        compressedTotal += c;
        content += d;
      }
      if (compressedTotal != size - tableSize) {
        throw new CorruptBlobException("seek table does not add up to the file's size");
      }
      if (!found) {
        frame = n; // at or past the end
      }
      remaining = offset >= content ? 0 : Math.min(length, content - offset);
    }

    private ByteBuffer readAt(long pos, int len) throws IOException {
      ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
      readFully(b, pos);
      return b.flip();
    }

    private void readFully(ByteBuffer b, long pos) throws IOException {
      while (b.hasRemaining()) {
        int r = file.read(b, pos + b.position());
        if (r < 0) {
          throw new EOFException("compressed file ended early");
        }
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
      if (remaining == 0) {
        return -1;
      }
      while (outPos == outLen) {
        if (!nextFrame()) {
          throw new CorruptBlobException("compressed file ends before its content does");
        }
      }
      int n = (int) Math.min(Math.min(len, outLen - outPos), remaining);
      System.arraycopy(out, outPos, b, off, n);
      outPos += n;
      remaining -= n;
      return n;
    }

    private boolean nextFrame() throws IOException {
      if (frame >= sizes.length / 2) {
        return false;
      }
      int c = sizes[2 * frame];
      int d = sizes[2 * frame + 1];
      if (in.length < c) {
        in = new byte[c];
      }
      if (out.length < d) {
        out = new byte[d];
      }
      ByteBuffer b = ByteBuffer.wrap(in, 0, c);
      readFully(b, filePos);
      ZstdDecompressCtx ctx = DECOMPRESSORS.poll();
      if (ctx == null) {
        ctx = new ZstdDecompressCtx();
      }
      int got;
      try {
        got = ctx.decompressByteArray(out, 0, d, in, 0, c);
      } catch (ZstdException e) {
        ctx.close(); // its state after an error is not worth keeping
        ctx = null;
        throw new CorruptBlobException("frame " + frame + " does not decompress (" + e.getMessage() + ")");
      } finally {
        if (ctx != null && !DECOMPRESSORS.offer(ctx)) {
          ctx.close();
        }
      }
      if (got != d) {
        throw new CorruptBlobException("frame " + frame + " holds " + got + " bytes, not the " + d + " its seek table says");
      }
      filePos += c;
      frame++;
      outPos = skip;
      outLen = d;
      skip = 0;
      return true;
    }

    @Override
    public void close() throws IOException {
      file.close();
    }
  }
}
