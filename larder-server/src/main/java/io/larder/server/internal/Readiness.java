package io.larder.server.internal;

import io.larder.Larder;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Optional;

/**
 * Whether the server is ready for traffic ({@code /readyz}): not while the store's directory is gone or not
 * writable, its index cannot be read (the background count failed), or writes fail because its disk is full. A write refused for a full disk marks it; a write that succeeds, or free space on the store's
 * file system again (looked at when asked), clears it.
 */
public final class Readiness {
  /** Free space below which a disk that refused a write is still taken as full. */
  private static final long ROOM = 8L << 20;

  private final Larder store;
  private final StoreCounts counts;
  private volatile long fullSince; // 0 while writes succeed

  public Readiness(Larder store, StoreCounts counts) {
    this.store = store;
    this.counts = counts;
  }

  /** A write failed because the disk is full. */
  public void diskFull() {
    if (fullSince == 0) {
      fullSince = System.currentTimeMillis();
    }
  }

  /** A write succeeded. */
  public void wrote() {
    if (fullSince != 0) {
      fullSince = 0;
    }
  }

  /**
   * Why the server is not ready, or empty when it is: the store's directory is gone or not a directory, or
   * puts fail on a full disk. (Cheap enough for the event loop: no store call.)
   */
  public Optional<String> notReady() {
    if (!Files.isDirectory(store.root())) {
      return Optional.of("the store directory " + store.root() + " is gone; restore it or restart the server");
    }
    if (!Files.isWritable(store.root())) {
      return Optional.of("the store directory " + store.root() + " is not writable by this server");
    }
    Optional<String> unreadable = counts.failure();
    if (unreadable.isPresent()) {
      return Optional.of("the store's index cannot be read: " + unreadable.get());
    }
    long since = fullSince;
    if (since == 0) {
      return Optional.empty();
    }
    try {
      long free = Files.getFileStore(store.root()).getUsableSpace();
      if (free >= ROOM) {
        fullSince = 0;
        return Optional.empty();
      }
      return Optional.of("writes are failing since " + java.time.Instant.ofEpochMilli(since)
          + ": the disk of " + store.root() + " is full (" + free + " bytes free); free space or lower max-size");
    } catch (IOException e) {
      return Optional.of("cannot read the free space of " + store.root() + ": " + e.getMessage());
    }
  }
}
