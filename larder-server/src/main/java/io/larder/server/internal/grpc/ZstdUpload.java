package io.larder.server.internal.grpc;

import com.github.luben.zstd.ZstdInputStream;
import io.grpc.StatusRuntimeException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * An upload's zstd data, decompressed as it is read (the put verifies what comes out), which remembers
 * whether it failed because the data was malformed: the client's error, not the store's.
 */
final class ZstdUpload extends FilterInputStream {
  private volatile IOException malformed;

  ZstdUpload(InputStream compressed) {
    super(open(compressed));
  }

  private static InputStream open(InputStream compressed) {
    try {
      return new ZstdInputStream(compressed);
    } catch (IOException e) {
      throw Reapi.invalid("the zstd data is malformed: " + e.getMessage());
    }
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    try {
      return super.read(b, off, len);
    } catch (IOException e) {
      if (!(e.getCause() instanceof StatusRuntimeException)) { // not the upload failing underneath
        malformed = e;
      }
      throw e;
    }
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  /** The status for a put that failed because the data could not be decompressed, or null. */
  StatusRuntimeException malformed() {
    IOException e = malformed;
    return e == null ? null : Reapi.invalid("the zstd data is malformed: " + e.getMessage());
  }
}
