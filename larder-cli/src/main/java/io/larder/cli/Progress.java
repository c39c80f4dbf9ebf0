package io.larder.cli;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;

/**
 * A one-line progress display on standard error, for work that can take more than a second. Shown only when
 * standard error is a terminal (the launcher tells: {@code -Dlarder.stderr.tty=true}) and not with
 * {@code -q}; it appears after the first second, so quick commands print nothing extra.
 */
final class Progress implements AutoCloseable {
  private static final long DELAY_NANOS = 1_000_000_000L;
  private static final long EVERY_NANOS = 100_000_000L;

  private final String label;
  private final long total; // -1 when unknown
  private final boolean enabled;
  private final PrintStream err = System.err;
  private final long start = System.nanoTime();
  private long lastDraw;
  private long done;
  private boolean drawn;

  Progress(String label, long total, Options options) {
    this.label = label;
    this.total = total;
    this.enabled = !options.quiet && Boolean.getBoolean("larder.stderr.tty");
  }

  /** Whether a progress line may be drawn (for callers that want to skip the bookkeeping). */
  boolean enabled() {
    return enabled;
  }

  void advance(long n) {
    set(done + n);
  }

  void set(long value) {
    done = value;
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (now - start < DELAY_NANOS || now - lastDraw < EVERY_NANOS) {
      return;
    }
    lastDraw = now;
    draw(now);
  }

  private void draw(long now) {
    double secs = (now - start) / 1e9;
    String rate = Base.humanSize((long) (done / Math.max(secs, 1e-9))) + "/s";
    String line = total > 0
        ? String.format("%s  %s / %s  %3d%%  %s", label, Base.humanSize(done), Base.humanSize(total),
            Math.min(100, done * 100 / total), rate)
        : String.format("%s  %s  %s", label, Base.humanSize(done), rate);
    err.print("\r\033[K" + line);
    err.flush();
    drawn = true;
  }

  @Override
  public void close() {
    if (drawn) {
      err.print("\r\033[K");
      err.flush();
    }
  }

  InputStream wrap(InputStream in) {
    if (!enabled) {
      return in;
    }
    return new FilterInputStream(in) {
      @Override
      public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
          advance(1);
        }
        return b;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
          advance(n);
        }
        return n;
      }
    };
  }

  OutputStream wrap(OutputStream out) {
    if (!enabled) {
      return out;
    }
    return new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        advance(len);
      }
    };
  }
}
