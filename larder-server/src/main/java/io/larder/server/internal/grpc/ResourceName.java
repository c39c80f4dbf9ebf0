package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.Digest;
import java.util.Arrays;

/**
 * A ByteStream resource name: {@code [<instance>/]blobs/<hash>/<size>} to read,
 * {@code [<instance>/]uploads/<uuid>/blobs/<hash>/<size>} to write, with {@code compressed-blobs/zstd} in
 * place of {@code blobs} for zstd-compressed data, an optional digest function ({@code sha256}) before the
 * hash, and anything after the size ignored (the API allows metadata there).
 *
 * @param upload the upload's id ({@code uploads/<uuid>}), or null for a read
 */
record ResourceName(String instance, String upload, boolean zstd, Digest digest) {

  static ResourceName parse(String name, boolean write) {
    String[] s = name.split("/", -1);
    int i = 0;
    while (i < s.length && !s[i].equals(write ? "uploads" : "blobs") && !(!write && s[i].equals("compressed-blobs"))) {
      i++;
    }
    if (i == s.length) {
      throw bad(name, write);
    }
    String instance = Reapi.instance(String.join("/", Arrays.copyOf(s, i)));
    String upload = null;
    if (write) {
      if (i + 1 >= s.length || s[i + 1].isEmpty()) {
        throw bad(name, true);
      }
      upload = s[i + 1];
      i += 2;
    }
    if (i >= s.length) {
      throw bad(name, write);
    }
    boolean zstd = false;
    if (s[i].equals("compressed-blobs")) {
      if (i + 1 >= s.length || !s[i + 1].equals("zstd")) {
        throw Reapi.invalid("this server compresses with zstd only ('compressed-blobs/zstd/…'), not '"
            + Reapi.printable(name) + "'");
      }
      zstd = true;
      i += 2;
    } else if (s[i].equals("blobs")) {
      i++;
    } else {
      throw bad(name, write);
    }
    if (i < s.length && s[i].equals("sha256")) {
      i++;
    }
    if (i + 2 > s.length) {
      throw bad(name, write);
    }
    long size;
    try {
      size = Long.parseLong(s[i + 1]);
    } catch (NumberFormatException e) {
      throw bad(name, write);
    }
    Digest d = Digest.newBuilder().setHash(s[i]).setSizeBytes(size).build();
    Reapi.hex(d);
    return new ResourceName(instance, upload, zstd, d);
  }

  private static RuntimeException bad(String name, boolean write) {
    return Reapi.invalid("a resource name to " + (write ? "write" : "read") + " is '[<instance>/]"
        + (write ? "uploads/<uuid>/" : "") + "blobs/<sha256>/<size>' or '…/compressed-blobs/zstd/<sha256>/<size>', not '"
        + Reapi.printable(name) + "'");
  }
}
