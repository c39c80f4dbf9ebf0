package io.larder;

import java.time.Duration;
import java.time.InstantSource;
import java.util.Objects;

/**
 * How a store is opened. Immutable; start from {@link #defaults()} and change what you need:
 * {@code LarderOptions.defaults().durability(Durability.POWER_SAFE)}.
 *
 * @param durability what an acknowledged put survives; default {@link Durability#PROCESS_SAFE}
 * @param algorithm the algorithm that addresses new content; default SHA-256
 * @param clock the source of time for created/accessed/expiry and tmp-file age; default the system clock
 * @param inlineThreshold content of at most this many bytes is kept inside the index instead of as a file
 *     (measured in BENCHMARKS.md); 0 stores every blob as a file. Default 16 KiB
 * @param tmpGrace how old an abandoned temporary file must be before it is removed; default 1 hour
 * @param trackAccess whether reads by key record the entry's access time (batched: see
 *     {@link Entry#accessed()}); default true. Eviction of the least recently used entries relies on it
 * @param defaultTtl the expiry of entries put without a TTL, or {@code null} (default) for none
 * @param compression how new blob files are stored at rest; default {@link Compression#NONE}
 * @param verifyEveryRead whether every whole read re-hashes a blob file (default true). When false, a file
 *     this process wrote or verified is trusted while its stamp (size, mtime, ctime, inode, device) is
 *     unchanged, as range reads always do: a write to the file changes its ctime and brings back
 *     verification; bit rot below the file system does not, so run {@link Larder#verify()} periodically
 *     (the server does). Inline content is checked whenever it is read from the index; when false, the
 *     index's hot hits (the same bytes handed out again, in memory, while nothing was committed anywhere)
 *     are not hashed again once verified. Trusted reads of uncompressed files can be sent
 *     without copying ({@link Content#channel()})
 * @param memo an in-process memo of small contents read by key, or {@code null} (default) for none: see
 *     {@link Memo} for exactly what it may serve stale, and for how long
 * @param readOnly whether the store is only read (default false): the index is opened read-only, nothing
 *     is created, access times are not recorded, and every change (put, removals, collection, scrubbing) fails
 *     with {@link LarderException.Kind#READ_ONLY}; {@link Larder#verify()} counts what is corrupt or missing
 *     and leaves it. For a store on a read-only mount, another user's store, or a process that must not
 *     change it. The store must exist
 * @param readTable whether reads by key come from a copy of the index made for reading (default false): a
 *     memory-mapped hash table of the entries with their inline content, beside the index as
 *     {@code index-read.tbl}, rebuilt in the background as entries change. A read answers from it only for a
 *     key that has not changed since the copy was made, which the index's change log tells (a table of the
 *     keys written, kept by triggers in every writer's transaction): so every read sees every write committed
 *     before it, by any process, and content is verified as always. It costs a second copy of the inline
 *     content on disk, a row in the log per write, and a rewrite of the copy after a quarter of the entries
 *     changed; it makes random reads of small entries about twice as fast (BENCHMARKS.md, "The read table").
 *     Ignored when read-only
 */
public record LarderOptions(Durability durability, Algorithm algorithm, InstantSource clock, int inlineThreshold,
    Duration tmpGrace, boolean trackAccess, Duration defaultTtl, Compression compression, boolean verifyEveryRead,
    Memo memo, boolean readOnly, boolean readTable) {

  /** The default inline threshold, 16 KiB. */
  public static final int DEFAULT_INLINE_THRESHOLD = 16 * 1024;

  /** The largest inline threshold accepted, 1 MiB. */
  public static final int MAX_INLINE_THRESHOLD = 1024 * 1024;

  public LarderOptions {
    Objects.requireNonNull(durability, "durability");
    Objects.requireNonNull(algorithm, "algorithm");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(tmpGrace, "tmpGrace");
    Objects.requireNonNull(compression, "compression");
    if (!algorithm.canAddress()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          algorithm.sriName() + " can verify content but not address it; use sha256, sha384 or sha512");
    }
    if (inlineThreshold < 0 || inlineThreshold > MAX_INLINE_THRESHOLD) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "inlineThreshold must be between 0 and " + MAX_INLINE_THRESHOLD + " bytes, not " + inlineThreshold);
    }
    PutOptions.checkTtl("the default TTL (default-ttl)", defaultTtl);
    if (tmpGrace.isNegative()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "tmpGrace must not be negative");
    }
  }

  public static LarderOptions defaults() {
    return new LarderOptions(Durability.PROCESS_SAFE, Algorithm.SHA256, InstantSource.system(),
        DEFAULT_INLINE_THRESHOLD, Duration.ofHours(1), true, null, Compression.NONE, true, null, false, false);
  }

  public LarderOptions durability(Durability d) {
    return new LarderOptions(d, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions algorithm(Algorithm a) {
    return new LarderOptions(durability, a, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions clock(InstantSource c) {
    return new LarderOptions(durability, algorithm, c, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions inlineThreshold(int bytes) {
    return new LarderOptions(durability, algorithm, clock, bytes, tmpGrace, trackAccess, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions tmpGrace(Duration grace) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, grace, trackAccess, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions trackAccess(boolean track) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, track, defaultTtl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions defaultTtl(Duration ttl) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, ttl, compression, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions compression(Compression c) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, c, verifyEveryRead, memo, readOnly, readTable);
  }

  public LarderOptions verifyEveryRead(boolean v) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression, v, memo, readOnly, readTable);
  }

  /** Reads by key through an in-process memo (see {@link Memo}); {@code null} turns it off. */
  public LarderOptions memo(Memo m) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression,
        verifyEveryRead, m, readOnly, readTable);
  }

  /** Reads by key from a copy of the index made for reading (see {@link #readTable()}). */
  public LarderOptions readTable(boolean t) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression,
        verifyEveryRead, memo, readOnly, t);
  }

  /** Opens the store read-only (see {@link #readOnly()}). */
  public LarderOptions readOnly(boolean r) {
    return new LarderOptions(durability, algorithm, clock, inlineThreshold, tmpGrace, trackAccess, defaultTtl, compression,
        verifyEveryRead, memo, r, readTable);
  }
}
