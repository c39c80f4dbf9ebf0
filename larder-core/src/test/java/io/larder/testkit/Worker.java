package io.larder.testkit;

import io.larder.Larder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * A child-JVM program: {@code Worker ROOT ID COUNT MAXSIZE} puts COUNT entries {@code w<ID>:<i>} with
 * {@link Payloads} content, reading each back and reading other workers' entries as it goes. Prints
 * {@code done} and exits 0 if every read was correct; any error is printed and exits 1.
 * {@code Worker ROOT ID COUNT same} puts one fixed content under COUNT keys instead.
 */
public final class Worker {
  public static void main(String[] args) throws Exception {
    Path root = Path.of(args[0]);
    int id = Integer.parseInt(args[1]);
    int count = Integer.parseInt(args[2]);
    boolean same = args[3].equals("same");
    int maxSize = same ? 0 : Integer.parseInt(args[3]);
    try (Larder cache = Larder.open(root)) {
      for (int i = 0; i < count; i++) {
        String key = "w" + id + ":" + i;
        byte[] data = same ? sameContent() : Payloads.forKey(key, maxSize);
        cache.put(key, data);
        check(cache, key, data);
        if (!same && i % 7 == 0) {
          String other = "w" + ((id + 1) % 4) + ":" + (i / 2);
          Optional<byte[]> got = cache.getBytes(other);
          if (got.isPresent() && !Arrays.equals(got.get(), Payloads.forKey(other, maxSize))) {
            throw new AssertionError("wrong bytes for " + other);
          }
        }
      }
    }
    System.out.println("done");
  }

  /** The one content every worker puts in "same" mode (200 kB: a blob file). */
  private static byte[] sameContent() {
    byte[] data = new byte[200_000];
    Arrays.fill(data, (byte) 42);
    return data;
  }

  private static void check(Larder cache, String key, byte[] data) {
    byte[] got = cache.getBytes(key).orElseThrow(() -> new AssertionError("own entry missing: " + key));
    if (!Arrays.equals(got, data)) {
      throw new AssertionError("wrong bytes for own entry " + key);
    }
  }
}
