package io.larder.internal;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.Supplier;

/**
 * For range reads of a blob that is not re-hashed: damage the blob's format itself reveals (a compressed
 * frame that fails its checksum) is reported as corruption, and the bad copy removed, as a full read would.
 */
public final class CorruptionGuard extends FilterInputStream {
  private final Supplier<String> what;
  private final Runnable onCorrupt;

  public CorruptionGuard(InputStream in, Supplier<String> what, Runnable onCorrupt) {
    super(in);
    this.what = what;
    this.onCorrupt = onCorrupt;
  }

  @Override
  public int read() throws IOException {
    try {
      return in.read();
    } catch (ZstdSeekable.CorruptBlobException e) {
      throw corrupt(e);
    }
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    try {
      return in.read(b, off, len);
    } catch (ZstdSeekable.CorruptBlobException e) {
      throw corrupt(e);
    }
  }

  private RuntimeException corrupt(ZstdSeekable.CorruptBlobException e) {
    onCorrupt.run();
    return Errors.corrupt(what.get(), "is damaged (" + e.getMessage() + ")");
  }
}
