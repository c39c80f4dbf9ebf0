package io.larder.testkit;

import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.spi.Chunks;
import io.larder.spi.RemoteTier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Supplier;

/**
 * A remote tier in memory, shared by every store given the same instance (like nodes over one bucket): the
 * reference implementation of the {@link RemoteTier} contract. Like the S3 tier it keeps small content with
 * its entry and chunk digests with larger content, stores what it is given without checking it (reads
 * verify), and dates content by when it was last written (its clock).
 */
public final class InMemoryTier implements RemoteTier {
  /** Content up to this size travels inside its entry. */
  public static final int INLINE_LIMIT = 64 * 1024;

  private record Stored(RemoteEntry entry) {}

  private record Blob(byte[] bytes, Instant written) {}

  private final String name;
  private final InstantSource clock;
  private final ConcurrentSkipListMap<String, Stored> entries = new ConcurrentSkipListMap<>();
  private final Map<String, Blob> blobs = new ConcurrentHashMap<>(); // by SRI

  public InMemoryTier(String name, InstantSource clock) {
    this.name = name;
    this.clock = clock;
  }

  public InMemoryTier(String name) {
    this(name, InstantSource.system());
  }

  @Override
  public Optional<RemoteEntry> lookup(String key, boolean content) {
    Stored s = entries.get(key);
    if (s == null) {
      return Optional.empty();
    }
    RemoteEntry e = s.entry();
    return Optional.of(content ? e : new RemoteEntry(e.integrity(), e.size(), e.created(), e.expires(), e.metadata(),
        null, e.chunks()));
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    Blob b = blobs.get(digest.strongest().sri());
    if (b == null) {
      return Optional.empty();
    }
    int from = (int) Math.min(offset, b.bytes().length);
    int to = (int) Math.min(b.bytes().length, from + Math.min(length, Integer.MAX_VALUE));
    return Optional.of(new ByteArrayInputStream(Arrays.copyOfRange(b.bytes(), from, to)));
  }

  @Override
  public void store(Entry entry, Supplier<InputStream> content) {
    byte[] bytes;
    Chunks chunks;
    try (InputStream in = content.get()) {
      Chunks.Hashing hashing = Chunks.hashing(in, Chunks.DEFAULT_SIZE);
      bytes = hashing.readAllBytes();
      chunks = hashing.finish();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    boolean inline = bytes.length <= INLINE_LIMIT;
    if (!inline) { // content first, then the entry: an entry never points at nothing
      blobs.put(entry.integrity().strongest().sri(), new Blob(bytes, clock.instant()));
    }
    entries.put(entry.key(), new Stored(new RemoteEntry(entry.integrity(), bytes.length, entry.created(),
        entry.expires(), entry.metadata(), inline ? bytes : null, inline ? null : chunks)));
  }

  @Override
  public boolean remove(String key) {
    return entries.remove(key) != null;
  }

  @Override
  public List<String> keys(String prefix, String afterKey, int limit) {
    List<String> out = new ArrayList<>();
    boolean fromPrefix = afterKey == null || afterKey.compareTo(prefix) < 0;
    for (String k : entries.tailMap(fromPrefix ? prefix : afterKey, fromPrefix).keySet()) {
      if (!k.startsWith(prefix) || out.size() == limit) {
        break;
      }
      out.add(k);
    }
    return out;
  }

  @Override
  public long removePrefix(String prefix) {
    long n = 0;
    for (String k : keys(prefix, null, Integer.MAX_VALUE)) {
      if (entries.remove(k) != null) {
        n++;
      }
    }
    return n;
  }

  @Override
  public GcReport collect(Instant now, Duration grace, boolean dryRun) {
    long expired = 0;
    Set<String> referenced = new HashSet<>();
    for (Map.Entry<String, Stored> e : entries.entrySet()) {
      RemoteEntry r = e.getValue().entry();
      if (r.expires() != null && !r.expires().isAfter(now)) {
        expired++;
        if (!dryRun) {
          entries.remove(e.getKey(), e.getValue());
        }
      } else {
        referenced.add(r.integrity().strongest().sri());
      }
    }
    long removed = 0;
    long freed = 0;
    long before = 0;
    Instant cutoff = now.minus(grace);
    for (Map.Entry<String, Blob> b : blobs.entrySet()) {
      before += b.getValue().bytes().length;
      if (!referenced.contains(b.getKey()) && b.getValue().written().isBefore(cutoff)) {
        removed++;
        freed += b.getValue().bytes().length;
        if (!dryRun) {
          blobs.remove(b.getKey(), b.getValue());
        }
      }
    }
    return new GcReport(expired, 0, removed, freed, 0, before, before - freed, dryRun);
  }

  /** Flips the byte at {@code at} of the stored content of {@code digest} (a damaged object), for tests of reads. */
  public void damage(Integrity digest, int at) {
    blobs.computeIfPresent(digest.strongest().sri(), (k, b) -> {
      byte[] bad = b.bytes().clone();
      bad[at] ^= 1;
      return new Blob(bad, b.written());
    });
    entries.replaceAll((k, s) -> {
      RemoteEntry e = s.entry();
      if (e.inline() == null || !e.integrity().equals(digest)) {
        return s;
      }
      byte[] bad = e.inline().clone();
      bad[at] ^= 1;
      return new Stored(new RemoteEntry(e.integrity(), e.size(), e.created(), e.expires(), e.metadata(), bad, null));
    });
  }

  /** How many blobs are kept apart from their entries. */
  public int blobCount() {
    return blobs.size();
  }

  @Override
  public String describe() {
    return "memory://" + name + "/";
  }

  @Override
  public void close() {
    // nothing to release: the content stays for other stores sharing this tier
  }
}
