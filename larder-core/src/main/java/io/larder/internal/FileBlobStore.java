package io.larder.internal;

import io.larder.Algorithm;
import io.larder.Compression;
import io.larder.Durability;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Blobs as files: {@code content-v2/<algorithm>/<hex[0:2]>/<hex[2:4]>/<hex[4:]>}, the layout of npm's
 * cacache, or the same path with {@code .zst} for a blob stored compressed (see {@link Compression} and
 * {@link ZstdSeekable}). Writes stream into {@code tmp/} (same file system) and are published by an atomic
 * rename. Either form may exist for a digest (and, for an instant after the setting changed, both): readers
 * look for the form the store writes first, then the other.
 */
public final class FileBlobStore implements BlobStore {
  private static final int BUFFER = 1024 * 1024;
  /** Reused first buffers, so that puts of medium content do not allocate a megabyte each. */
  private static final java.util.concurrent.BlockingQueue<byte[]> FIRST_BUFFERS =
      new java.util.concurrent.ArrayBlockingQueue<>(8);
  private static final boolean UNIX_ATTRIBUTES =
      java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("unix");

  private final Path content;
  private final Path tmp;
  private final Algorithm algorithm;
  private final boolean fsync;
  private final FileOps ops;
  private final Compression compression;
  private final Set<Path> knownDirs = ConcurrentHashMap.newKeySet();
  /**
   * Which form each recently seen blob has (true: compressed), so that a read looks at the right file first
   * instead of failing on the other (a failed lookup throws, which costs more than the read of a small
   * range). Only a hint: a wrong one costs one more lookup. Bounded: cleared when full.
   */
  private final java.util.Map<Path, Boolean> formHint = new ConcurrentHashMap<>();
  private static final int MAX_HINTS = 100_000;

  public FileBlobStore(Path root, Algorithm algorithm, Durability durability, Compression compression, FileOps ops) {
    this.compression = compression;
    this.content = root.resolve("content-v2");
    this.tmp = root.resolve("tmp");
    this.algorithm = algorithm;
    this.fsync = durability == Durability.POWER_SAFE;
    this.ops = ops;
    try {
      if (!Files.isDirectory(content) || !Files.isDirectory(tmp)) { // a read-only store has them, and may not make them
        ops.createDirectories(content);
        ops.createDirectories(tmp);
      }
    } catch (IOException e) {
      throw Errors.io("creating the store directories under " + root, e);
    }
  }

  private static final String ZST = ".zst";

  /** The path of a blob stored raw; {@link #variants} gives both forms. */
  public Path path(Integrity digest) {
    Integrity.Hash h = digest.hash(algorithm).orElseThrow(() -> new LarderException.InvalidInput(
        LarderException.Kind.INVALID_INTEGRITY, "this store addresses content by " + algorithm.sriName()
            + ", and " + digest + " has no such digest"));
    String hex = h.hex();
    return content.resolve(algorithm.sriName()).resolve(hex.substring(0, 2)).resolve(hex.substring(2, 4))
        .resolve(hex.substring(4));
  }

  /** The blob's two possible files: the form it was last seen in first, else the form this store writes. */
  private Path[] variants(Integrity digest) {
    Path raw = path(digest);
    Path zst = raw.resolveSibling(raw.getFileName() + ZST);
    return formHint.getOrDefault(raw, compression.enabled()) ? new Path[] {zst, raw} : new Path[] {raw, zst};
  }

  private void seen(Path file) {
    String name = file.getFileName().toString();
    boolean compressed = name.endsWith(ZST);
    if (formHint.size() >= MAX_HINTS) {
      formHint.clear();
    }
    formHint.put(compressed ? file.resolveSibling(name.substring(0, name.length() - ZST.length())) : file, compressed);
  }

  @Override
  public StoredBlob put(InputStream in, Integrity expected, long expectedSize) {
    Path tmpFile = tmp.resolve(UUID.randomUUID() + ".tmp");
    boolean published = false;
    FdHold handedOver = null; // given to the caller (see hold) once the put succeeded
    boolean succeeded = false;
    try {
      Hasher hasher = new Hasher(algorithm, expected, expectedSize);
      try (FileChannel ch = ops.create(tmpFile)) {
        // Content up to one buffer is written directly; larger content is pipelined (threads pay off there).
        byte[] first = FIRST_BUFFERS.poll();
        if (first == null) {
          first = new byte[BUFFER];
        }
        int n = readInput(in, first);
        hasher.update(first, 0, n);
        boolean whole = n < first.length;
        if (!whole && expectedSize == n) {
          // exactly one buffer, as declared: no pipeline (and no threads) for it, once we know it ends here
          byte[] extra = new byte[1];
          if (readInput(in, extra) > 0) {
            hasher.update(extra, 0, 1); // longer than declared: fails
          }
          whole = true;
        }
        // Compressed only if the first frame shrinks enough (incompressible content is stored raw).
        ZstdSeekable.Writer zstd = compression.enabled() && n > 0
            ? ZstdSeekable.Writer.startIfWorthIt(ops, ch, compression.zstdLevel(), first, n) : null;
        try {
          int done = zstd == null ? 0 : Math.min(n, ZstdSeekable.FRAME);
          if (whole) {
            sink(ch, zstd).write(first, done, n - done);
            FIRST_BUFFERS.offer(first);
          } else {
            writePipelined(in, sink(ch, zstd), first, done, hasher); // the first buffer stays with that pipeline
          }
          if (zstd != null) {
            zstd.finish();
          }
        } finally {
          if (zstd != null) {
            zstd.close();
          }
        }
        Integrity digest = hasher.finish();
        if (fsync) {
          ops.force(ch);
        }
        Path raw = path(digest);
        Path zst = raw.resolveSibling(raw.getFileName() + ZST);
        Path target = zstd != null ? zst : raw;
        Path other = zstd != null ? raw : zst;
        Path dir = target.getParent();
        if (!knownDirs.contains(dir)) {
          ops.createDirectories(dir);
          knownDirs.add(dir);
        }
        // The caller's hold on these bytes (see hold) is taken before they are published, so that no
        // collection can come between the two.
        FdHold hold = fdHold(target, tmpFile);
        // Replacing an existing blob is safe (same digest, same bytes), heals a corrupted copy, and
        // refreshes its time so that a collector cannot race the new reference.
        try {
          ops.move(tmpFile, target);
        } catch (IOException | RuntimeException e) {
          if (hold != null) {
            hold.close();
          }
          throw e;
        }
        published = true;
        handedOver = hold;
        seen(target);
        // The same content in the other form (stored before the setting changed) is now redundant.
        Files.deleteIfExists(other);
        if (fsync) {
          ops.forceDirectory(dir);
        }
        succeeded = true;
        pending(handedOver);
        return new StoredBlob(digest, hasher.count());
      }
    } catch (IOException e) {
      throw Errors.io("writing content to " + tmp, e);
    } finally {
      if (!published) {
        deleteQuietly(tmpFile);
      }
      if (!succeeded && handedOver != null) {
        handedOver.close();
      }
    }
  }

  /** Where content bytes go: the file itself, or a zstd writer in front of it. */
  @FunctionalInterface
  private interface Sink {
    void write(byte[] b, int off, int len) throws IOException;
  }

  private Sink sink(FileChannel ch, ZstdSeekable.Writer zstd) {
    return zstd != null ? zstd::write : (b, off, len) -> ops.write(ch, ByteBuffer.wrap(b, off, len));
  }

  /** A buffer of content ({@code data[start, length)}) on its way to the hasher and the writer; pooled again when both are done. */
  private record Chunk(byte[] data, int start, int length, java.util.concurrent.atomic.AtomicInteger users) {}

  /**
   * Large content, in three stages: this thread reads the input, a second thread hashes, a third writes, so
   * that a put runs at the speed of hashing alone rather than of reading plus hashing plus writing. At most
   * {@code BUFFERS} buffers are in flight (constant memory). The first buffer was hashed by the caller.
   */
  private void writePipelined(InputStream in, Sink sink, byte[] first, int firstDone, Hasher hasher) throws IOException {
    final int buffers = 4;
    // Capacities leave room for every buffer plus one marker, so that offer() never fails.
    java.util.concurrent.BlockingQueue<byte[]> free = new java.util.concurrent.ArrayBlockingQueue<>(buffers + 1);
    java.util.concurrent.BlockingQueue<Chunk> toWrite = new java.util.concurrent.ArrayBlockingQueue<>(buffers + 2);
    java.util.concurrent.BlockingQueue<Chunk> toHash = new java.util.concurrent.ArrayBlockingQueue<>(buffers + 2);
    java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
    Chunk end = new Chunk(new byte[0], 0, 0, null);
    for (int i = 1; i < buffers; i++) {
      free.add(new byte[BUFFER]);
    }
    java.util.function.Consumer<Chunk> release = c -> {
      if (c.users().decrementAndGet() == 0) {
        free.offer(c.data());
      }
    };
    Thread writer = stage("larder-blob-writer", toWrite, end, failure, free, c -> {
      sink.write(c.data(), c.start(), c.length() - c.start());
      release.accept(c);
    });
    Thread hashing = stage("larder-blob-hasher", toHash, end, failure, free, c -> {
      hasher.update(c.data(), 0, c.length());
      release.accept(c);
    });
    boolean ended = false;
    try {
      toWrite.put(new Chunk(first, firstDone, first.length, new java.util.concurrent.atomic.AtomicInteger(1)));
      while (failure.get() == null) {
        byte[] buf = free.take();
        if (buf.length == 0) {
          break; // a stage failed and woke us
        }
        int n = readInput(in, buf);
        if (n == 0) {
          free.offer(buf);
          break;
        }
        Chunk c = new Chunk(buf, 0, n, new java.util.concurrent.atomic.AtomicInteger(2));
        toHash.put(c);
        toWrite.put(c);
      }
      toHash.put(end);
      toWrite.put(end);
      ended = true;
      hashing.join();
      writer.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while storing content");
    } finally {
      if (!ended) {
        failure.compareAndSet(null, new IOException("aborted"));
        toHash.clear();
        toWrite.clear();
        toHash.offer(end);
        toWrite.offer(end);
        try {
          hashing.join();
          writer.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    Throwable t = failure.get();
    if (t instanceof IOException io) {
      throw io;
    } else if (t instanceof RuntimeException re) {
      throw re;
    } else if (t != null) {
      throw new IOException(t);
    }
  }

  @FunctionalInterface
  private interface ChunkWork {
    void accept(Chunk c) throws IOException;
  }

  /** One pipeline stage: applies {@code work} to chunks until the end marker; stops working after a failure. */
  private static Thread stage(String name, java.util.concurrent.BlockingQueue<Chunk> queue, Chunk end,
      java.util.concurrent.atomic.AtomicReference<Throwable> failure, java.util.concurrent.BlockingQueue<byte[]> free,
      ChunkWork work) {
    return Thread.ofPlatform().daemon().name(name).start(() -> {
      try {
        for (Chunk c = queue.take(); c != end; c = queue.take()) {
          if (failure.get() == null) {
            try {
              work.accept(c);
            } catch (Throwable t) {
              failure.compareAndSet(null, t);
              free.offer(new byte[0]); // wake the reader if it waits for a buffer
            }
          }
        }
      } catch (InterruptedException e) {
        failure.compareAndSet(null, e);
      }
    });
  }

  private static int readInput(InputStream in, byte[] buf) throws IOException {
    int total = 0;
    while (total < buf.length) {
      int n;
      try {
        n = in.read(buf, total, buf.length - total);
      } catch (IOException e) {
        throw new IOException("reading the content to store: " + e.getMessage(), e);
      }
      if (n < 0) {
        break;
      }
      total += n;
    }
    return total;
  }

  private void deleteQuietly(Path file) {
    try {
      ops.delete(file);
    } catch (IOException | RuntimeException ignored) {
      // Best effort: a leftover tmp file is removed by removeTmpOlderThan after its grace period.
    }
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    for (Path p : variants(digest)) {
      FileChannel ch;
      try {
        ch = FileChannel.open(p);
      } catch (NoSuchFileException e) {
        continue;
      } catch (IOException e) {
        throw Errors.io("opening " + p, e);
      }
      seen(p);
      try {
        if (p.getFileName().toString().endsWith(ZST)) {
          return Optional.of(ZstdSeekable.open(ch, offset, length));
        }
        if (offset > 0) {
          ch.position(offset);
        }
        return Optional.of(new BoundedInputStream(java.nio.channels.Channels.newInputStream(ch), length));
      } catch (ZstdSeekable.CorruptBlobException e) {
        return Optional.of(failing(e)); // the caller's verification reports it and removes the copy
      } catch (IOException e) {
        closeQuietly(ch);
        throw Errors.io("opening " + p, e);
      }
    }
    return Optional.empty();
  }

  @Override
  public boolean touch(Integrity digest) {
    java.nio.file.attribute.FileTime now = java.nio.file.attribute.FileTime.from(Instant.now());
    for (Path p : variants(digest)) {
      try {
        FdHold hold = fdHold(p, p); // held before it is touched (see hold)
        try {
          Files.setLastModifiedTime(p, now);
        } catch (IOException e) {
          if (hold != null) {
            hold.close();
          }
          throw e;
        }
        pending(hold);
        return true;
      } catch (NoSuchFileException e) {
        // the other form, or gone
      } catch (IOException e) {
        return false; // then the caller writes it again
      }
    }
    return false;
  }

  /**
   * The hold a put or touch of this thread took on the bytes it published (before publishing them), else a
   * new one: the blob file kept open for reading. An open file keeps its bytes after it is deleted, and
   * holding it changes nothing a stamp sees (a second hard link would change the file's ctime).
   */
  @Override
  public Optional<Hold> hold(Integrity digest) {
    FdHold mine = PENDING.get();
    if (mine != null) {
      PENDING.remove();
      if (java.util.Arrays.asList(variants(digest)).contains(mine.blob)) {
        return Optional.of(mine);
      }
      mine.close();
    }
    for (Path p : variants(digest)) {
      FdHold h = fdHold(p, p);
      if (h != null) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }

  /** Holds taken by the last put or touch of each thread, until its caller asks for them (see hold). */
  private static final ThreadLocal<FdHold> PENDING = new ThreadLocal<>();

  private static void pending(FdHold hold) {
    FdHold unclaimed = PENDING.get();
    if (unclaimed != null) {
      unclaimed.close();
    }
    if (hold == null) {
      PENDING.remove();
    } else {
      PENDING.set(hold);
    }
  }

  /** A hold on {@code source}'s bytes, for the blob at {@code blob}; null if it cannot be opened. */
  private FdHold fdHold(Path blob, Path source) {
    try {
      return new FdHold(blob, FileChannel.open(source, StandardOpenOption.READ));
    } catch (IOException e) {
      return null;
    }
  }

  private final class FdHold implements Hold {
    private final Path blob;
    private final FileChannel bytes;

    FdHold(Path blob, FileChannel bytes) {
      this.blob = blob;
      this.bytes = bytes;
    }

    /** Writes the held bytes to a new file and publishes it, unless the blob is there (rare: a collector's race). */
    @Override
    public boolean restore() {
      if (Files.exists(blob)) {
        return true;
      }
      Path copy = tmp.resolve("restore-" + UUID.randomUUID() + ".tmp");
      try {
        try (FileChannel out = ops.create(copy)) {
          long size = bytes.size();
          for (long pos = 0; pos < size; ) {
            pos += bytes.transferTo(pos, size - pos, out);
          }
          if (fsync) {
            ops.force(out);
          }
        }
        ops.createDirectories(blob.getParent());
        try {
          Files.createLink(blob, copy); // never replaces a copy published meanwhile
        } catch (java.nio.file.FileAlreadyExistsException e) {
          // published again meanwhile: that copy stays
        }
        if (fsync) {
          ops.forceDirectory(blob.getParent());
        }
        return true;
      } catch (IOException | UnsupportedOperationException e) {
        return false;
      } finally {
        deleteQuietly(copy);
      }
    }

    @Override
    public void close() {
      try {
        bytes.close();
      } catch (IOException ignored) {
        // nothing held any more either way
      }
    }
  }

  @Override
  public Optional<FileChannel> openFile(Integrity digest) {
    Path raw = path(digest);
    try {
      FileChannel ch = FileChannel.open(raw);
      seen(raw);
      return Optional.of(ch);
    } catch (NoSuchFileException e) {
      return Optional.empty(); // compressed, or gone
    } catch (IOException e) {
      throw Errors.io("opening " + raw, e);
    }
  }

  private static InputStream failing(IOException e) {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        throw e;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        throw e;
      }
    };
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // nothing was read from it
    }
  }

  @Override
  public boolean exists(Integrity digest) {
    for (Path p : variants(digest)) {
      if (Files.exists(p)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean delete(Integrity digest) {
    boolean any = false;
    for (Path p : variants(digest)) {
      try {
        any |= ops.delete(p);
      } catch (IOException e) {
        throw Errors.io("deleting " + p, e);
      }
    }
    return any;
  }

  /**
   * The collector's unlink. A put publishes by renaming a new file over the blob's path, so between this
   * method's look at the file and its unlink a put could republish it; the unlink would then take the new
   * file and the put's entry would point at nothing. So the file is first moved aside (atomic), then
   * checked: if it is not the file that was judged old, a put republished it, and it is moved back.
   */
  @Override
  public boolean deleteIfUnchangedSince(Integrity digest, Instant notWrittenSince,
      java.util.function.BooleanSupplier confirm) {
    boolean any = false;
    for (Path p : variants(digest)) {
      any |= deleteIfUnchangedSince(p, notWrittenSince, confirm);
    }
    return any;
  }

  private boolean deleteIfUnchangedSince(Path p, Instant notWrittenSince, java.util.function.BooleanSupplier confirm) {
    try {
      BasicFileAttributes before;
      try {
        before = Files.readAttributes(p, BasicFileAttributes.class);
      } catch (NoSuchFileException e) {
        return false;
      }
      if (!before.lastModifiedTime().toInstant().isBefore(notWrittenSince)) {
        return false; // written recently: a writer may be about to reference it
      }
      Path aside = tmp.resolve("gc-" + UUID.randomUUID() + ".tmp");
      try {
        ops.move(p, aside);
      } catch (NoSuchFileException e) {
        return false;
      }
      BasicFileAttributes moved = Files.readAttributes(aside, BasicFileAttributes.class);
      boolean same = java.util.Objects.equals(moved.fileKey(), before.fileKey())
          && moved.lastModifiedTime().equals(before.lastModifiedTime());
      boolean confirmed = false;
      if (same) {
        try {
          confirmed = confirm.getAsBoolean();
        } catch (RuntimeException e) {
          putBack(aside, p);
          throw e;
        }
      }
      if (!confirmed) {
        // A put republished the blob between our look and our move, or an entry references it now.
        putBack(aside, p);
        return false;
      }
      ops.delete(aside);
      return true;
    } catch (IOException e) {
      throw Errors.io("collecting " + p, e);
    }
  }

  /**
   * Puts a set-aside blob back without ever replacing a copy that a put has published meanwhile (a hard
   * link fails if the path exists; a rename would silently replace the newer copy with the older one).
   */
  private void putBack(Path aside, Path p) throws IOException {
    try {
      Files.createLink(p, aside);
    } catch (java.nio.file.FileAlreadyExistsException e) {
      // a put published it again: keep that copy
    } catch (UnsupportedOperationException e) {
      try {
        Files.move(aside, p); // no hard links here: a plain move, which also refuses to replace
        return;
      } catch (java.nio.file.FileAlreadyExistsException alreadyThere) {
        // keep the put's copy
      }
    }
    ops.delete(aside);
  }

  @Override
  public Optional<Object> stamp(Integrity digest) {
    for (Path p : variants(digest)) {
      try {
        String form = p.getFileName().toString().endsWith(ZST) ? "zstd" : "raw";
        if (UNIX_ATTRIBUTES) {
          // ctime moves on every write and cannot be set back by a user, unlike mtime.
          java.util.Map<String, Object> a = Files.readAttributes(p, "unix:size,lastModifiedTime,ctime,ino,dev");
          seen(p);
          return Optional.of(List.of(form, a.get("size"), String.valueOf(a.get("lastModifiedTime")),
              String.valueOf(a.get("ctime")), a.get("ino"), a.get("dev")));
        }
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        seen(p);
        return Optional.of(List.of(form, a.size(), String.valueOf(a.lastModifiedTime()), String.valueOf(a.fileKey())));
      } catch (IOException e) {
        // look for the other form
      }
    }
    return Optional.empty();
  }

  @Override
  public void forEach(Consumer<Integrity> action) {
    Path algoDir = content.resolve(algorithm.sriName());
    if (!Files.isDirectory(algoDir)) {
      return;
    }
    try (Stream<Path> files = Files.walk(algoDir, 3)) {
      files.filter(Files::isRegularFile).forEach(f -> {
        Path rel = algoDir.relativize(f);
        if (rel.getNameCount() != 3) {
          return;
        }
        String name = rel.getName(2).toString();
        if (name.endsWith(ZST)) {
          name = name.substring(0, name.length() - ZST.length());
          if (Files.exists(f.resolveSibling(name))) {
            return; // both forms exist for an instant: report the digest once
          }
        }
        String hex = rel.getName(0).toString() + rel.getName(1) + name;
        Integrity digest;
        try {
          digest = new Integrity(List.of(new Integrity.Hash(algorithm, hex)));
        } catch (LarderException e) {
          return; // not a blob of ours
        }
        action.accept(digest);
      });
    } catch (IOException | UncheckedIOException e) {
      throw Errors.io("listing " + algoDir, e instanceof IOException io ? io : ((UncheckedIOException) e).getCause());
    }
  }

  @Override
  public int removeTmpOlderThan(Instant cutoff) {
    int removed = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmp)) {
      for (Path f : ds) {
        try {
          if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff) && ops.delete(f)) {
            removed++;
          }
        } catch (NoSuchFileException ignored) {
          // another process took it
        }
      }
    } catch (IOException e) {
      throw Errors.io("cleaning " + tmp, e);
    }
    return removed;
  }

  @Override
  public void close() {}
}
