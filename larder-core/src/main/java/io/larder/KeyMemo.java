package io.larder;

import java.io.ByteArrayInputStream;
import java.time.InstantSource;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The in-process memo of {@link Memo}: verified contents of small entries by key, each until its deadline
 * (its read plus {@code maxAge}, or the entry's expiry if sooner), at most {@code maxBytes} in all, the
 * oldest dropped first. A change made through the owning {@link Larder} forgets what it touches; a read that
 * raced with any such change is not kept (a counter of changes, read before the read and checked after
 * keeping it).
 */
final class KeyMemo {
  private record Kept(String key, Entry entry, byte[] bytes, long deadlineMillis) {}

  private final Memo memo;
  private final InstantSource clock;
  private final ConcurrentHashMap<String, Kept> kept = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Kept> oldestFirst = new ConcurrentLinkedQueue<>();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong changes = new AtomicLong();
  private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();

  KeyMemo(Memo memo, InstantSource clock) {
    this.memo = memo;
    this.clock = clock;
  }

  /** The content of {@code key}: from the memo while it may be, else from {@code read} (and kept if small). */
  Optional<Content> get(String key, Supplier<Optional<Content>> read) {
    long now = clock.millis();
    Kept k = kept.get(key);
    if (k != null) {
      if (now < k.deadlineMillis()) {
        return Optional.of(content(k));
      }
      drop(k);
    }
    long stamp = changes.get();
    Optional<Content> found = read.get();
    if (found.isEmpty() || found.get().size() > memo.maxEntryBytes() || found.get().entry().isEmpty()) {
      return found;
    }
    Entry e = found.get().entry().get();
    byte[] b;
    try (Content c = found.get()) {
      b = c.readAllBytes(); // verified as it is read: a corrupt content throws here, and is not kept
    }
    long deadline = now + memo.maxAge().toMillis();
    if (e.expires() != null) {
      deadline = Math.min(deadline, e.expires().toEpochMilli());
    }
    Kept fresh = new Kept(key, e, b, deadline);
    Kept before = kept.put(key, fresh);
    if (before != null) {
      bytes.addAndGet(-before.bytes().length);
    }
    bytes.addAndGet(b.length);
    oldestFirst.add(fresh);
    queued.incrementAndGet();
    if (changes.get() != stamp) {
      drop(fresh); // something changed meanwhile: this read may be older than that change
    }
    // over the size, or the queue mostly replaced reads (a key kept again leaves its older read queued)
    while (bytes.get() > memo.maxBytes() || queued.get() > 2 * kept.size() + 1024) {
      Kept oldest = oldestFirst.poll();
      if (oldest == null) {
        break;
      }
      queued.decrementAndGet();
      drop(oldest);
    }
    return Optional.of(content(fresh));
  }

  private static Content content(Kept k) {
    Entry e = k.entry();
    return new Content(e, e.integrity(), e.size(), 0, e.size(), new ByteArrayInputStream(k.bytes()));
  }

  private void drop(Kept k) {
    if (kept.remove(k.key(), k)) {
      bytes.addAndGet(-k.bytes().length);
    }
  }

  /** Forgets {@code key} (changed through the owning Larder). */
  void forget(String key) {
    changes.incrementAndGet();
    Kept k = kept.get(key);
    if (k != null) {
      drop(k);
    }
  }

  /** Forgets everything (a change through the owning Larder that may touch any key). */
  void forgetAll() {
    changes.incrementAndGet();
    for (Kept k : kept.values()) {
      drop(k);
    }
  }
}
