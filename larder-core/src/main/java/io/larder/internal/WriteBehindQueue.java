package io.larder.internal;

import io.larder.Algorithm;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * The keys whose entries still have to reach the remote tier, one small file per key in a directory of the
 * store ({@code tier-queue/<sha256 of the key>}, holding the key), so that what a process acknowledged and
 * had not uploaded yet is uploaded by the next one to open the store. A key queued twice is one item: the
 * upload sends whatever the key holds locally then.
 *
 * <p>One daemon thread uploads, oldest first as this process queued them, retrying with back-off while the
 * tier fails. Bounded: {@link #offer} refuses when {@code limit} items wait, and the caller writes through.
 */
public final class WriteBehindQueue implements AutoCloseable {
  private static final String TMP = ".tmp-";

  private final Path dir;
  private final int limit;
  private final boolean fsync;
  /** Uploads the key's current local entry; returns normally when done (or when there is nothing to upload). */
  private final Predicate<String> upload;
  /**
   * File name → the key and this queueing of it (a new item each time the key is queued again, so that an
   * upload that started before a re-put does not take the re-put's item away with it).
   */
  private final LinkedHashMap<String, Item> pending = new LinkedHashMap<>();
  private final Thread worker;
  private volatile boolean closing;

  /** A queueing of a key: a new one each time the key is queued again. */
  private record Item(String name, String key) {}

  /**
   * @param upload sends the key's entry to the tier; returns false (or throws) if the tier failed, and the
   *     item is retried later
   */
  public WriteBehindQueue(Path dir, int limit, boolean fsync, Predicate<String> upload) {
    this.dir = dir;
    this.limit = limit;
    this.fsync = fsync;
    this.upload = upload;
    try {
      Files.createDirectories(dir);
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        for (Path p : ds) {
          String name = p.getFileName().toString();
          if (name.startsWith(TMP)) {
            if (Files.getLastModifiedTime(p).toInstant().isBefore(java.time.Instant.now().minusSeconds(60))) {
              Files.deleteIfExists(p); // a queue write a crash interrupted: that put was never acknowledged
            } // (a younger one may be another process's write in progress)
          } else {
            String key = queuedKey(p);
            if (key != null) {
              pending.put(name, new Item(name, key)); // left by an earlier process: upload it now
            } else {
              Files.deleteIfExists(p); // not a queue file written whole
            }
          }
        }
      }
    } catch (IOException e) {
      throw Errors.io("opening the write-behind queue " + dir, e);
    }
    worker = Thread.ofPlatform().daemon().name("larder-write-behind").start(this::run);
  }

  /**
   * Records that {@code key} must be uploaded, durably (the file is in place when this returns). Returns
   * false without recording anything when the queue is full.
   */
  public boolean offer(String key) {
    String name = name(key);
    synchronized (pending) {
      if (!pending.containsKey(name) && pending.size() >= limit) {
        return false;
      }
    }
    Path tmp = dir.resolve(TMP + UUID.randomUUID());
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(key.getBytes(StandardCharsets.UTF_8)));
        if (fsync) {
          ch.force(true);
        }
      }
      synchronized (pending) { // with the uploader's check-and-delete: a finished upload never takes this file
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        pending.put(name, new Item(name, key));
        pending.notifyAll();
      }
      if (fsync) {
        FileOps.REAL.forceDirectory(dir);
      }
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort; a later open removes it
      }
      throw Errors.io("queueing '" + key + "' for the remote tier in " + dir, e);
    }
    return true;
  }

  /** How many keys wait to be uploaded. */
  public int depth() {
    synchronized (pending) {
      return pending.size();
    }
  }

  /** Waits until nothing waits (true) or the timeout passes (false). */
  public boolean await(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (pending) {
      while (!pending.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        pending.wait(Math.max(1, left / 1_000_000));
      }
    }
    return true;
  }

  private void run() {
    long backoff = 0;
    while (!closing) {
      Item next;
      synchronized (pending) {
        while (pending.isEmpty() && !closing) {
          try {
            pending.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closing) {
          return;
        }
        next = pending.firstEntry().getValue();
      }
      if (uploadOne(next)) {
        backoff = 0;
      } else {
        backoff = Math.min(Math.max(250, backoff * 2), 30_000); // the tier is failing: try again later
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** Uploads one item; true if it is done with (uploaded, or nothing to upload), false if the tier failed. */
  private boolean uploadOne(Item item) {
    boolean ok;
    try {
      ok = upload.test(item.key());
    } catch (RuntimeException e) { // a LarderException from the tier, or a bug: retried later, never lost
      ok = false;
    }
    if (ok) {
      synchronized (pending) {
        if (pending.get(item.name()) == item) { // not queued again meanwhile (then it goes up once more)
          try {
            Files.deleteIfExists(dir.resolve(item.name()));
          } catch (IOException ignored) {
            // uploaded again by the next process to open the store: harmless
          }
          pending.remove(item.name());
          pending.notifyAll();
        }
      }
    }
    return ok;
  }

  /**
   * The keys queued in {@code dir} by any process (read from the files, not from this process's memory):
   * what a local eviction must keep until it is uploaded.
   */
  public static java.util.Set<String> queuedKeys(Path dir) {
    java.util.Set<String> keys = new java.util.HashSet<>();
    if (!Files.isDirectory(dir)) {
      return keys;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String key = queuedKey(p);
        if (key != null) {
          keys.add(key);
        }
      }
    } catch (IOException e) {
      throw Errors.io("reading the write-behind queue " + dir, e);
    }
    return keys;
  }

  /** The key a queue file holds, or null if it is not one written whole (a temporary file, or damage). */
  private static String queuedKey(Path file) {
    String name = file.getFileName().toString();
    if (name.startsWith(TMP)) {
      return null;
    }
    try {
      String key = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
      return name.equals(name(key)) ? key : null;
    } catch (IOException e) {
      return null;
    }
  }

  static String name(String key) {
    return HexFormat.of().formatHex(Algorithm.SHA256.newDigest().digest(key.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * Stops the uploader after trying, for up to {@code grace}, to upload what waits while the tier accepts
   * it. What is left stays queued on disk for the next process.
   */
  public void close(Duration grace) {
    long deadline = System.nanoTime() + grace.toNanos();
    closing = true;
    synchronized (pending) {
      pending.notifyAll();
    }
    try {
      worker.join(Math.max(1, grace.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    while (System.nanoTime() < deadline) {
      Item next;
      synchronized (pending) {
        if (pending.isEmpty()) {
          return;
        }
        next = pending.firstEntry().getValue();
      }
      if (!uploadOne(next)) {
        return; // the tier is failing: leave the rest for the next process
      }
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(10));
  }
}
