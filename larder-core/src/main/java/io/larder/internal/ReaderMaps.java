package io.larder.internal;

/**
 * How much of the index file its readers map into memory, decided from the rate of commits.
 *
 * <p>While commits are rare, readers map the whole file (SQLite maps up to the file's size; this build's
 * ceiling is 1 TiB): pages read through the map are not copied. But in WAL mode SQLite unmaps a connection's
 * whole map whenever it begins a read transaction after any commit, and every page read after that is a page
 * fault (with the other processors' TLBs flushed at the unmap): under hundreds of commits a second that costs
 * more than copying the pages by {@code pread} (BENCHMARKS.md, "Two descents instead of three"). So readers
 * map nothing while the index sees at least {@value #BUSY_COMMITS} commits a second, and map it all again once
 * it sees at most {@value #QUIET_COMMITS}.
 *
 * <p>The rate is counted by {@link #sweep()}, called at a fixed interval from one thread: the WAL-index
 * header's transaction counter goes up by one with every commit of any process (also across the log's
 * restarts: {@code SqliteDbTest}); an unreadable header counts nothing.
 */
final class ReaderMaps {
  static final long ALL = 1L << 40;
  static final int BUSY_COMMITS = 100;
  static final int QUIET_COMMITS = 20;

  private final WalHeader walHeader;
  private final long sweepNanos;
  private volatile long bytes = ALL;
  // The sweeps' count (their thread only): the last transaction counter seen, and this second's commits.
  private int lastTransactions;
  private boolean counting;
  private long commitsThisSecond;
  private int sweepsThisSecond;

  /** Counts the commits of the database whose header is {@code walHeader}, swept every {@code sweepNanos}. */
  ReaderMaps(WalHeader walHeader, long sweepNanos) {
    this.walHeader = walHeader;
    this.sweepNanos = sweepNanos;
  }

  /** The {@code mmap_size} readers should have now: all of the file, or nothing while commits are frequent. */
  long bytes() {
    return bytes;
  }

  /** Counts the commits since the last sweep, and once a second decides what readers map. */
  void sweep() {
    long[] header = walHeader.read();
    if (header != null) {
      int transactions = WalHeader.transactions(header);
      long step = Integer.toUnsignedLong(transactions - lastTransactions);
      if (counting && step < 1 << 24) { // more is the counter starting over (the shared memory rebuilt)
        commitsThisSecond += step;
      }
      lastTransactions = transactions;
      counting = true;
    }
    if (++sweepsThisSecond * sweepNanos >= 1_000_000_000L) {
      if (commitsThisSecond >= BUSY_COMMITS) {
        bytes = 0;
      } else if (commitsThisSecond <= QUIET_COMMITS) {
        bytes = ALL;
      }
      commitsThisSecond = 0;
      sweepsThisSecond = 0;
    }
  }
}
