package io.larder.testkit;

import io.larder.Entry;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.Index;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/** Forwards to a real index but fails the N-th {@code put} before it reaches the database. */
public final class FaultyIndex implements Index {
  private final Index delegate;
  private int puts;
  private int failAt = -1;

  public FaultyIndex(Index delegate) {
    this.delegate = delegate;
  }

  public synchronized void failNthPut(int n) {
    puts = 0;
    failAt = n;
  }

  /** Runs {@code hook} once, in the next put, after its blob was published and before its entry is recorded. */
  public synchronized void beforeNextCommit(Runnable hook) {
    beforeCommit = hook;
  }

  private Runnable beforeCommit;

  @Override
  public void put(Entry entry, BlobRecord blob) {
    putIfStored(entry, blob, () -> true);
  }

  @Override
  public boolean putIfStored(Entry entry, BlobRecord blob, java.util.function.BooleanSupplier stillStored) {
    Runnable hook;
    synchronized (this) {
      if (++puts == failAt) {
        throw new LarderException.StorageFailure(LarderException.Kind.IO, "injected index failure", null);
      }
      hook = beforeCommit;
      beforeCommit = null;
    }
    if (hook != null) {
      hook.run();
    }
    return delegate.putIfStored(entry, blob, stillStored);
  }

  @Override
  public Optional<Hit> get(String key, boolean withInline) {
    return delegate.get(key, withInline);
  }

  @Override
  public List<Entry> entries(java.util.Collection<String> keys) {
    return delegate.entries(keys);
  }

  @Override
  public Optional<BlobRecord> blob(Integrity digest, boolean withInline) {
    return delegate.blob(digest, withInline);
  }

  @Override
  public boolean remove(String key) {
    return delegate.remove(key);
  }

  @Override
  public long removePrefix(String prefix) {
    return delegate.removePrefix(prefix);
  }

  @Override
  public long removeBlob(Integrity digest) {
    return delegate.removeBlob(digest);
  }

  @Override
  public List<Entry> scan(String prefix, String after, int limit) {
    return delegate.scan(prefix, after, limit);
  }

  @Override
  public List<BlobRecord> blobs(String after, int limit, boolean withInline) {
    return delegate.blobs(after, limit, withInline);
  }

  private final List<List<Long>> accessWrites = new java.util.ArrayList<>();
  private int accessFailAt = -1;

  /** Fails the N-th (from 1) call of {@code recordAccess} from now on, before it reaches the database. */
  public synchronized void failNthAccessWrite(int n) {
    accessWrites.clear();
    accessFailAt = n;
  }

  /**
   * The key hashes ({@link Index#keyHash}) of each {@code recordAccess} call since the last
   * {@link #failNthAccessWrite}, in the order given.
   */
  public synchronized List<List<Long>> accessWrites() {
    return List.copyOf(accessWrites);
  }

  @Override
  public void recordAccess(long[] keyHashes, long[] accessedMillis) {
    synchronized (this) {
      accessWrites.add(java.util.Arrays.stream(keyHashes).boxed().toList());
      if (accessWrites.size() == accessFailAt) {
        throw new LarderException.StorageFailure(LarderException.Kind.BUSY, "injected: recording access times", null);
      }
    }
    delegate.recordAccess(keyHashes, accessedMillis);
  }

  @Override
  public long removeExpired(java.time.Instant now, int limit, boolean dryRun) {
    return delegate.removeExpired(now, limit, dryRun);
  }

  @Override
  public Eviction evict(java.time.Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup,
      int groupSegments, java.util.Set<String> keep, boolean dryRun) {
    return delegate.evict(accessedBefore, maxBytes, targetBytes, keepPerGroup, groupSegments, keep, dryRun);
  }

  @Override
  public Removed removeUnreferencedInline(boolean dryRun) {
    return delegate.removeUnreferencedInline(dryRun);
  }

  @Override
  public void tidy() {
    delegate.tidy();
  }

  @Override
  public List<BlobRecord> unreferencedFiles(String after, int limit) {
    return delegate.unreferencedFiles(after, limit);
  }

  @Override
  public boolean forgetIfUnreferenced(Integrity digest) {
    return delegate.forgetIfUnreferenced(digest);
  }

  @Override
  public Counts counts() {
    return delegate.counts();
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
