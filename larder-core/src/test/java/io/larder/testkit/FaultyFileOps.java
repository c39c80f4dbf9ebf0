package io.larder.testkit;

import io.larder.internal.FileOps;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * Forwards to the real file system but fails the N-th operation of one kind, once (OkHttp's
 * FaultyFileSystem, by count). Counts every operation so a test can sweep N = 1, 2, … until none fails.
 */
public final class FaultyFileOps implements FileOps {
  public enum Op { CREATE, WRITE, FORCE, FORCE_DIR, MOVE, DELETE, MKDIRS }

  private final FileOps delegate;
  private final Map<Op, Integer> counts = new EnumMap<>(Op.class);
  private Op failOp;
  private int failAt;
  private boolean fired;
  private final String message;

  public FaultyFileOps(FileOps delegate, String message) {
    this.delegate = delegate;
    this.message = message;
  }

  /** Fails the {@code n}-th (1-based) operation of kind {@code op} from now on. */
  public synchronized void failNth(Op op, int n) {
    counts.clear();
    failOp = op;
    failAt = n;
    fired = false;
  }

  public synchronized void disarm() {
    failOp = null;
  }

  public synchronized boolean fired() {
    return fired;
  }

  private synchronized void tick(Op op) throws IOException {
    int c = counts.merge(op, 1, Integer::sum);
    if (op == failOp && c == failAt) {
      fired = true;
      throw new IOException(message + " (injected: " + op + " #" + c + ")");
    }
  }

  @Override
  public FileChannel create(Path file) throws IOException {
    tick(Op.CREATE);
    return delegate.create(file);
  }

  @Override
  public void write(FileChannel channel, ByteBuffer buffer) throws IOException {
    tick(Op.WRITE);
    delegate.write(channel, buffer);
  }

  @Override
  public void force(FileChannel channel) throws IOException {
    tick(Op.FORCE);
    delegate.force(channel);
  }

  @Override
  public void forceDirectory(Path dir) throws IOException {
    tick(Op.FORCE_DIR);
    delegate.forceDirectory(dir);
  }

  @Override
  public void move(Path from, Path to) throws IOException {
    tick(Op.MOVE);
    delegate.move(from, to);
  }

  @Override
  public boolean delete(Path file) throws IOException {
    tick(Op.DELETE);
    return delegate.delete(file);
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    tick(Op.MKDIRS);
    delegate.createDirectories(dir);
  }
}
