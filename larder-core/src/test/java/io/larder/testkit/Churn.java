package io.larder.testkit;

import io.larder.Larder;
import io.larder.LarderException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * A child-JVM program for collection tests: {@code Churn ROOT ID SECONDS [trusted]} puts, removes and reads keys
 * whose content comes from a small shared pool (so content keeps becoming unreferenced and referenced
 * again), checking every read. Prints {@code done N} and exits 0, or prints the error and exits 1. With
 * {@code trusted}, the store trusts files verified since they last changed and puts declare their digest,
 * so puts of stored content take the path that refreshes the file instead of rewriting it.
 */
public final class Churn {
  public static byte[] content(int n) {
    byte[] b = new byte[n % 2 == 0 ? 200 : 40_000 + n]; // inline and file content
    new SplittableRandom(n).nextBytes(b);
    return b;
  }

  public static void main(String[] args) {
    Path root = Path.of(args[0]);
    int id = Integer.parseInt(args[1]);
    long end = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
    SplittableRandom r = new SplittableRandom(id);
    int ops = 0;
    boolean trusted = args.length > 3 && args[3].equals("trusted");
    try (Larder cache = Larder.open(root, io.larder.LarderOptions.defaults().verifyEveryRead(!trusted))) {
      while (System.nanoTime() < end) {
        String key = "churn:" + r.nextInt(40);
        int c = r.nextInt(2000); // many contents: some go unreferenced for longer than the grace period
        switch (r.nextInt(3)) {
          case 0 -> {
            io.larder.PutOptions po = io.larder.PutOptions.defaults().metadata("{\"c\":" + c + "}");
            if (trusted) {
              po = po.integrity(io.larder.Integrity.compute(io.larder.Algorithm.SHA256, content(c)));
            }
            cache.put(key, new java.io.ByteArrayInputStream(content(c)), po);
          }
          case 1 -> cache.remove(key);
          default -> {
            Optional<io.larder.Content> got = cache.get(key);
            if (got.isPresent()) {
              try (io.larder.Content content = got.get()) {
                byte[] bytes = content.readAllBytes();
                int which = Integer.parseInt(content.entry().orElseThrow().metadata().replaceAll("\\D", ""));
                if (!Arrays.equals(bytes, content(which))) {
                  throw new AssertionError("wrong bytes for " + key);
                }
              }
            }
          }
        }
        ops++;
      }
    } catch (LarderException | AssertionError e) {
      System.out.println("error " + e);
      System.exit(1);
    }
    System.out.println("done " + ops);
  }
}
