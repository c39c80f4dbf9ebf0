package io.larder.testkit;

import io.larder.Larder;
import java.nio.file.Path;

/**
 * A child-JVM program for crash tests: {@code PutLoop ROOT PREFIX MAXSIZE} puts {@code PREFIX<i>} for
 * i = 0, 1, … forever, printing each key on its own line only after {@code put} returned, until killed.
 */
public final class PutLoop {
  public static void main(String[] args) {
    Path root = Path.of(args[0]);
    String prefix = args[1];
    int maxSize = Integer.parseInt(args[2]);
    try (Larder cache = Larder.open(root)) {
      for (int i = 0; ; i++) {
        String key = prefix + i;
        cache.put(key, Payloads.forKey(key, maxSize));
        System.out.println(key);
        System.out.flush();
      }
    }
  }
}
