package io.larder;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Remembers the SHA-256 of files by their stamp, so that {@link BuildKey} need not read a file again while
 * it is unchanged. Kept in one file (written atomically); safe to delete at any time.
 *
 * <p><b>When a remembered digest is used</b> — all of these must hold, otherwise the file is read:
 * <ol>
 *   <li>the file's size, modification time, <em>change time (ctime)</em>, inode and device are exactly as
 *       recorded (nanosecond times). Every write to a file moves its ctime, and no user can set ctime back
 *       (unlike mtime, which {@code touch -d} sets): a change that keeps size and mtime still changes ctime;
 *   <li>the file was not changing while it was hashed (its stamp was the same before and after);
 *   <li>its ctime was more than 2 seconds older than the moment it was hashed. File-system clocks tick
 *       coarsely (a few milliseconds), so a write just after hashing, within the same tick, could leave
 *       ctime as it was; such "racily recent" files are simply hashed again next time (as git does).
 * </ol>
 * Only on file systems with POSIX attributes (Linux, macOS); elsewhere nothing is remembered.
 */
public final class FileMemo {
  private static final long RACY_NANOS = 2_000_000_000L;
  private static final boolean UNIX =
      java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("unix");

  /** What identifies a file's contents without reading them. */
  record Stamp(long size, long mtimeNanos, long ctimeNanos, long inode, long device) {}

  private record Known(Stamp stamp, String sha256) {}

  private final Path file;
  private final long racyNanos;
  private final Map<String, Known> known = new ConcurrentHashMap<>();
  private volatile boolean changed;

  private FileMemo(Path file, long racyNanos) {
    this.file = file;
    this.racyNanos = racyNanos;
  }

  /** Opens (or starts) the memo kept in {@code file}; an unreadable memo starts empty. */
  public static FileMemo open(Path file) {
    return open(file, RACY_NANOS);
  }

  /** For tests: a different "racily recent" window (0 remembers files however recently they changed). */
  static FileMemo open(Path file, long racyNanos) {
    FileMemo m = new FileMemo(file, racyNanos);
    if (Files.isRegularFile(file)) {
      try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
        lines.forEach(m::parse);
      } catch (IOException | RuntimeException e) {
        m.known.clear(); // a damaged memo only costs hashing
      }
    }
    return m;
  }

  private void parse(String line) {
    String[] f = line.split("\t");
    if (f.length == 7) {
      known.put(f[6], new Known(new Stamp(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]),
          Long.parseLong(f[3]), Long.parseLong(f[4])), f[5]));
    }
  }

  static Stamp stamp(Path p) throws IOException {
    if (!UNIX) {
      return null;
    }
    Map<String, Object> a = Files.readAttributes(p, "unix:size,lastModifiedTime,ctime,ino,dev", LinkOption.NOFOLLOW_LINKS);
    return new Stamp((Long) a.get("size"), nanos((FileTime) a.get("lastModifiedTime")), nanos((FileTime) a.get("ctime")),
        ((Number) a.get("ino")).longValue(), ((Number) a.get("dev")).longValue());
  }

  private static long nanos(FileTime t) {
    java.time.Instant i = t.toInstant();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  /** The remembered digest if the file's stamp is exactly the recorded one; otherwise null. */
  String lookup(Path p) throws IOException {
    Known k = known.get(p.toString());
    if (k == null) {
      return null;
    }
    Stamp now = stamp(p);
    return now != null && now.equals(k.stamp()) ? k.sha256() : null;
  }

  /** Records a digest computed from a read that started at stamp {@code before}, if it can be trusted later. */
  void record(Path p, Stamp before, String sha256) throws IOException {
    if (before == null) {
      return;
    }
    Stamp after = stamp(p);
    long now = nanos(FileTime.from(java.time.Instant.now()));
    if (before.equals(after) && now - after.ctimeNanos() > racyNanos) {
      known.put(p.toString(), new Known(after, sha256));
      changed = true;
    } else if (known.remove(p.toString()) != null) {
      changed = true;
    }
  }

  /** Writes the memo (atomically) if anything changed. */
  void save() {
    if (!changed) {
      return;
    }
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        for (Map.Entry<String, Known> e : known.entrySet()) {
          if (e.getKey().indexOf('\t') >= 0 || e.getKey().indexOf('\n') >= 0) {
            continue; // such names are hashed every time
          }
          Stamp s = e.getValue().stamp();
          w.write(s.size() + "\t" + s.mtimeNanos() + "\t" + s.ctimeNanos() + "\t" + s.inode() + "\t" + s.device() + "\t"
              + e.getValue().sha256() + "\t" + e.getKey() + "\n");
        }
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      changed = false;
    } catch (IOException e) {
      // a memo that cannot be written only costs hashing next time
    }
  }
}
