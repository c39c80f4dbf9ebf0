package io.larder.internal;

import io.larder.LarderException;
import io.larder.LarderException.Kind;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;

/** Turns I/O failures into typed errors whose message says what failed and what to do. */
public final class Errors {
  private Errors() {}

  public static LarderException io(String what, IOException e) {
    String reason = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : e.getMessage();
    if (isDiskFull(e)) {
      return new LarderException.StorageFailure(Kind.INSUFFICIENT_STORAGE,
          what + " failed: no space left on the device; free space or lower the cache's size. Nothing was stored", e);
    }
    if (e instanceof AccessDeniedException) {
      return new LarderException.StorageFailure(Kind.IO,
          what + " failed: permission denied on " + ((AccessDeniedException) e).getFile()
              + "; check the store directory's owner and mode", e);
    }
    return new LarderException.StorageFailure(Kind.IO, what + " failed: " + (reason == null ? e.toString() : reason), e);
  }

  /** Content that failed its check: it has been removed (by the caller), and the message says what to do. */
  public static LarderException corrupt(String what, String why) {
    return new LarderException.IntegrityFailure(Kind.CORRUPT,
        what + " " + why + " on disk: it was corrupted and has been removed (put it again; run 'larder verify' to check the rest)");
  }

  static boolean isDiskFull(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left") || m.contains("Disk quota exceeded") || m.contains("SQLITE_FULL"))) {
        return true;
      }
    }
    return false;
  }
}
