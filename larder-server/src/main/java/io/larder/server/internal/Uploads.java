package io.larder.server.internal;

import io.larder.Entry;
import io.larder.LarderException;
import io.larder.PutOptions;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;

/** Stores an upload's body, the same way for every protocol; what is answered is the protocol's. */
final class Uploads {
  private Uploads() {}

  /**
   * Stores {@code body} ({@code length} bytes announced) under {@code key}. Empty if the client went away
   * mid-body: nothing was stored, the exchange is finished (logged as 499), and there is no one to answer.
   * A store error is thrown for the caller to answer, after the rest of the body was read (so that the
   * connection stays usable).
   */
  static Optional<Entry> put(Exchange x, String key, PutOptions options, long length, Upload body) {
    Entry e;
    try {
      e = x.context().bound().putWithin(length, () -> x.context().store().put(key, body, options));
    } catch (LarderException ex) {
      if (ex.kind() == LarderException.Kind.IO && body.received() < length && !x.channel.isActive()) {
        x.protocol = x.protocol + "(aborted)";
        x.finish(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST), 499,
            x.channel.newSucceededFuture());
        return Optional.empty();
      }
      drain(body);
      throw ex;
    }
    x.context().metrics().received(e.size());
    x.context().readiness().wrote();
    return Optional.of(e);
  }

  /** After a refused upload whose body is still arriving: take the rest so that the connection stays usable. */
  static void drain(Upload body) {
    try {
      body.transferTo(OutputStream.nullOutputStream());
    } catch (IOException ignored) {
      // the client went away: nothing to keep
    }
  }
}
