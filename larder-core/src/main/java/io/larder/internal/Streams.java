package io.larder.internal;

import java.io.IOException;
import java.io.InputStream;

/** Small stream helpers shared by the store's filtering streams. */
public final class Streams {
  private Streams() {}

  /** {@link InputStream#read()} in terms of the stream's own bulk read, for streams that only implement that. */
  public static int readOne(InputStream s) throws IOException {
    byte[] one = new byte[1];
    return s.read(one, 0, 1) <= 0 ? -1 : one[0] & 0xff;
  }
}
