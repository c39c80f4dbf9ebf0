package io.larder.internal;

import io.larder.spi.Index.Eviction;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.sqlite.Function;

/**
 * Eviction in SQL: least recently accessed first, sparing the newest entries of each group, by age and then
 * by size, in small transactions over a snapshot kept in the connection's temporary storage (SQLite's temp
 * files, not the JVM heap), so that memory does not grow with the store.
 */
final class SqliteEviction {
  private static final int BATCH = 256;
  /** Rows of table {@code accessed} checked per transaction by {@link #sweepAccessed}. */
  private static final int SWEEP_ROWS = 4_096;

  /** What eviction asks for; see {@link io.larder.spi.Index#evict}. */
  record Plan(Instant accessedBefore, long maxBytes, long targetBytes, int keepPerGroup, int groupSegments,
      Set<String> keep, boolean dryRun) {}

  /** An entry that may go, as the snapshot saw it. */
  private record Candidate(String key, String digest, long accessed, long created) {}

  private final SqliteDb db;

  SqliteEviction(SqliteDb db) {
    this.db = db;
  }

  Eviction evict(Plan plan) {
    return db.freeingSpace(() -> db.locked("evicting entries", w -> evict(w, plan)));
  }

  private Eviction evict(SqliteDb.Statements w, Plan plan) throws SQLException {
    if (!plan.dryRun()) {
      sweepAccessed(w);
    }
    try (Statement s = w.c.createStatement()) {
      if (w.firstTime("larder_group")) {
        // larder_group(key, segments): the group of a key, as keep-per-group counts it (Keys.group)
        Function.create(w.c, "larder_group", new Function() {
          @Override
          protected void xFunc() throws SQLException {
            result(Keys.group(value_text(0), value_int(1)));
          }
        }, 2, Function.FLAG_DETERMINISTIC);
      }
      // The entries that may go, least recently used first, and how many entries reference each content.
      s.execute("DROP TABLE IF EXISTS temp.gc_candidates");
      s.execute("DROP TABLE IF EXISTS temp.gc_refs");
      s.execute("CREATE TEMP TABLE gc_refs(digest TEXT PRIMARY KEY, n INTEGER NOT NULL, size INTEGER NOT NULL)");
      s.execute("INSERT INTO temp.gc_refs SELECT digest, count(*), max(size) FROM entries GROUP BY digest");
      s.execute("CREATE TEMP TABLE gc_candidates(key TEXT PRIMARY KEY, digest TEXT, accessed INTEGER, created INTEGER)");
      String columns = "e.key AS key, e.digest AS digest, " + SqliteIndex.ACCESSED + " AS accessed, e.created AS created";
      String ranked = plan.keepPerGroup() <= 0
          ? "SELECT " + columns + " FROM entries e"
          : "SELECT key, digest, accessed, created FROM (SELECT " + columns + ", ROW_NUMBER() OVER"
              + " (PARTITION BY larder_group(e.key, " + plan.groupSegments() + ") ORDER BY e.created DESC, e.key DESC)"
              + " AS rn FROM entries e) WHERE rn > " + plan.keepPerGroup();
      s.execute("INSERT INTO temp.gc_candidates " + ranked);
      if (!plan.keep().isEmpty()) { // keys waiting for their upload: not candidates (at most the queue's limit)
        try (PreparedStatement del = w.c.prepareStatement("DELETE FROM temp.gc_candidates WHERE key = ?")) {
          for (String k : plan.keep()) {
            del.setString(1, k);
            del.addBatch();
          }
          del.executeBatch();
        }
      }
      s.execute("CREATE INDEX temp.gc_candidates_lru ON gc_candidates(accessed, key)");
      long total;
      try (ResultSet rs = s.executeQuery("SELECT total(size) FROM temp.gc_refs")) {
        total = (long) rs.getDouble(1);
      }
      long cutoff = plan.accessedBefore() == null ? Long.MIN_VALUE : plan.accessedBefore().toEpochMilli();
      boolean bySize = plan.maxBytes() >= 0 && total > plan.maxBytes();
      long evicted = 0;
      long freed = 0;
      Candidate last = new Candidate("", null, Long.MIN_VALUE, 0);
      while (last.accessed() < cutoff || bySize && total - freed > plan.targetBytes()) {
        List<Candidate> batch = next(w, last);
        if (batch.isEmpty()) {
          break;
        }
        long freedSoFar = freed;
        Eviction step = SqliteDb.retrying(() -> db.transaction(t -> remove(t, batch, plan, cutoff,
            bySize ? total - freedSoFar : Long.MIN_VALUE)));
        evicted += step.evicted();
        freed += step.bytesFreed();
        last = batch.get(batch.size() - 1);
      }
      s.execute("DROP TABLE IF EXISTS temp.gc_candidates");
      s.execute("DROP TABLE IF EXISTS temp.gc_refs");
      return new Eviction(evicted, freed, total);
    }
  }

  /**
   * Deletes the recorded reads of keys that have gone (an entry's removal leaves its row in {@code accessed}):
   * the entries' hashes are read into temporary storage first, outside any write transaction, then the rows
   * are checked against them {@value #SWEEP_ROWS} at a time, each its own short transaction. (One statement
   * held the index's write lock for 2.3 s over 1M entries.) A row of a key put since the snapshot may go with
   * them: that entry's access time is then its put's, a moment ago.
   */
  private void sweepAccessed(SqliteDb.Statements w) throws SQLException {
    try (Statement s = w.c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS temp.gc_live");
      s.execute("CREATE TEMP TABLE gc_live(h INTEGER PRIMARY KEY)");
      s.execute("INSERT OR IGNORE INTO temp.gc_live SELECT h FROM entries WHERE h IS NOT NULL");
      try (PreparedStatement bound = w.c.prepareStatement("SELECT id FROM acc.accessed WHERE id >= ? ORDER BY id"
          + " LIMIT 1 OFFSET " + (SWEEP_ROWS - 1))) {
        long from = Long.MIN_VALUE;
        while (true) {
          bound.setLong(1, from);
          Long to;
          try (ResultSet rs = bound.executeQuery()) {
            to = rs.next() ? rs.getLong(1) : null;
          }
          long first = from;
          SqliteDb.retrying(() -> db.transaction(t -> {
            try (PreparedStatement del = t.c.prepareStatement("DELETE FROM acc.accessed WHERE id >= ?1"
                + (to == null ? "" : " AND id <= ?2") + " AND NOT EXISTS (SELECT 1 FROM temp.gc_live l WHERE l.h = acc.accessed.id)")) {
              del.setLong(1, first);
              if (to != null) {
                del.setLong(2, to);
              }
              return del.executeUpdate();
            }
          }));
          if (to == null || to == Long.MAX_VALUE) {
            break;
          }
          from = to + 1;
        }
      }
      s.execute("DROP TABLE IF EXISTS temp.gc_live");
    }
  }

  /** The next candidates after {@code last}, least recently used first. */
  private static List<Candidate> next(SqliteDb.Statements w, Candidate last) throws SQLException {
    List<Candidate> batch = new ArrayList<>(BATCH);
    // not kept prepared: the temporary tables it reads are dropped after each eviction
    try (PreparedStatement ps = w.c.prepareStatement("SELECT key, digest, accessed, created FROM temp.gc_candidates"
        + " WHERE accessed > ?1 OR (accessed = ?1 AND key > ?2) ORDER BY accessed, key LIMIT " + BATCH)) {
      ps.setLong(1, last.accessed());
      ps.setString(2, last.key());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          batch.add(new Candidate(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4)));
        }
      }
    }
    return batch;
  }

  /**
   * One transaction: removes the batch's entries that are due (older than {@code cutoff}, or while
   * {@code bytesLeft} minus what goes is over the target; {@code Long.MIN_VALUE} when size does not count),
   * each only if unchanged since the snapshot.
   */
  private static Eviction remove(SqliteDb.Statements t, List<Candidate> batch, Plan plan, long cutoff, long bytesLeft)
      throws SQLException {
    long n = 0;
    long bytes = 0;
    PreparedStatement del = t.get("DELETE FROM entries AS e WHERE e.key = ?1 AND " + SqliteIndex.ACCESSED + " = ?2"
        + " AND e.created = ?3");
    try (PreparedStatement ref = t.c.prepareStatement(
        "UPDATE temp.gc_refs SET n = n - 1 WHERE digest = ? RETURNING n, size")) {
      for (Candidate c : batch) {
        boolean ageVictim = c.accessed() < cutoff;
        if (!ageVictim && !(bytesLeft != Long.MIN_VALUE && bytesLeft - bytes > plan.targetBytes())) {
          break;
        }
        boolean gone = true;
        if (!plan.dryRun()) {
          // Only if unchanged since the snapshot: an entry read or rewritten meanwhile stays.
          del.setString(1, c.key());
          del.setLong(2, c.accessed());
          del.setLong(3, c.created());
          gone = del.executeUpdate() > 0;
        }
        if (gone) {
          n++;
          ref.setString(1, c.digest());
          try (ResultSet rs = ref.executeQuery()) {
            if (rs.next() && rs.getLong(1) == 0) {
              bytes += rs.getLong(2);
            }
          }
        }
      }
    }
    return new Eviction(n, bytes, 0);
  }
}
