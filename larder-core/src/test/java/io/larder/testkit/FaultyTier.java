package io.larder.testkit;

import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.RemoteTier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A remote tier that forwards to another and injects faults on demand: every call from the N-th on fails (an
 * unreachable tier), calls hang until released (a stalled connection), or content comes back with a byte
 * flipped (a damaged object or a lying network). With no fault set it is a faithful forwarder, and passes the
 * tier contract as such.
 */
public final class FaultyTier implements RemoteTier {
  private final RemoteTier delegate;
  private final AtomicLong calls = new AtomicLong();
  private volatile long failFrom = Long.MAX_VALUE;
  private volatile CountDownLatch hang;
  private final AtomicInteger hanging = new AtomicInteger();
  private volatile boolean corrupt;

  public FaultyTier(RemoteTier delegate) {
    this.delegate = delegate;
  }

  /** Every call from the {@code n}-th from now on (1: the next) fails, until {@link #heal()}. */
  public FaultyTier failFromCall(long n) {
    failFrom = calls.get() + n;
    return this;
  }

  /** Calls block from now on until {@link #release()} (then they proceed). */
  public FaultyTier hangCalls() {
    hang = new CountDownLatch(1);
    return this;
  }

  /** How many calls are blocked by {@link #hangCalls()} now. */
  public int hanging() {
    return hanging.get();
  }

  /** Lets blocked calls proceed; later calls no longer block. */
  public void release() {
    CountDownLatch h = hang;
    hang = null;
    if (h != null) {
      h.countDown();
    }
  }

  /** Content read from now on has one byte flipped (inline content in entries, and opened streams). */
  public FaultyTier corruptContent() {
    corrupt = true;
    return this;
  }

  /** No more faults. */
  public void heal() {
    failFrom = Long.MAX_VALUE;
    corrupt = false;
    release();
  }

  /** Calls made so far. */
  public long calls() {
    return calls.get();
  }

  private void call(String what) {
    long n = calls.incrementAndGet();
    CountDownLatch h = hang;
    if (h != null) {
      hanging.incrementAndGet();
      try {
        h.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        hanging.decrementAndGet();
      }
    }
    if (n >= failFrom) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO,
          what + " on " + describe() + " failed: connection refused (injected)", null);
    }
  }

  private static byte[] flip(byte[] b) {
    byte[] bad = b.clone();
    if (bad.length > 0) {
      bad[bad.length / 2] ^= 1;
    }
    return bad;
  }

  @Override
  public Optional<RemoteEntry> lookup(String key, boolean content) {
    call("looking up " + key);
    Optional<RemoteEntry> r = delegate.lookup(key, content);
    if (!corrupt || r.isEmpty() || r.get().inline() == null) {
      return r;
    }
    RemoteEntry e = r.get();
    return Optional.of(new RemoteEntry(e.integrity(), e.size(), e.created(), e.expires(), e.metadata(),
        flip(e.inline()), e.chunks()));
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    call("reading " + digest);
    Optional<InputStream> in = delegate.open(digest, offset, length);
    if (!corrupt || in.isEmpty()) {
      return in;
    }
    try (InputStream s = in.get()) {
      return Optional.of(new ByteArrayInputStream(flip(s.readAllBytes())));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void store(Entry entry, Supplier<InputStream> content) {
    call("storing " + entry.key());
    delegate.store(entry, content);
  }

  @Override
  public boolean remove(String key) {
    call("removing " + key);
    return delegate.remove(key);
  }

  @Override
  public List<String> keys(String prefix, String afterKey, int limit) {
    call("listing " + prefix);
    return delegate.keys(prefix, afterKey, limit);
  }

  @Override
  public long removePrefix(String prefix) {
    call("removing " + prefix);
    return delegate.removePrefix(prefix);
  }

  @Override
  public GcReport collect(Instant now, Duration grace, boolean dryRun) {
    call("collecting");
    return delegate.collect(now, grace, dryRun);
  }

  @Override
  public String describe() {
    return delegate.describe();
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
