package io.larder.internal;

/**
 * Told of a process's write transactions on an index as they commit ({@link SqliteDb#watchCommits}), so that
 * it can tell its own commits from other processes' (the read table: {@link ReadTable}).
 */
@FunctionalInterface
interface CommitWatcher {
  /**
   * Called in the transaction, after its work and before its COMMIT, on the writer {@code w}. Returns what to
   * run once the COMMIT succeeded, or null. Must not throw, nor end the transaction.
   */
  Runnable beforeCommit(SqliteDb.Statements w);
}
