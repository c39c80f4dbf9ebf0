package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.Digest;
import io.larder.Algorithm;
import io.larder.Content;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.PutOptions;
import io.larder.server.Namespaces;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The content-addressable store as the REAPI services see it: blobs under {@code bazel:cas:<sha256>} (the
 * keys HTTP {@code /cas/} uses, so both see one CAS), each verified against its name when written, and read
 * back by that digest. The empty blob is present without being stored.
 */
public final class Cas {
  private final Larder store;
  private final io.larder.server.internal.SizeBound bound;

  public Cas(Larder store, io.larder.server.internal.SizeBound bound) {
    this.store = store;
    this.bound = bound;
  }

  static Integrity integrity(String hex) {
    return Integrity.parse("sha256:" + hex);
  }

  /**
   * The hashes of those of {@code digests} that are stored, found in one index query, each refreshed as if
   * read (so that what a client was told is present is not the next thing evicted).
   */
  public Set<String> present(Collection<Digest> digests) {
    List<String> keys = new ArrayList<>(digests.size());
    Set<String> found = new HashSet<>();
    for (Digest d : digests) {
      if (Reapi.isEmpty(d)) {
        found.add(Reapi.EMPTY);
      } else {
        keys.add(Namespaces.casKey(Reapi.hex(d)));
      }
    }
    for (String k : store.touch(keys)) {
      found.add(k.substring(Namespaces.BAZEL_CAS.length()));
    }
    return found;
  }

  /**
   * The blob {@code d} names, verified as it is read; empty if it is not stored (or is stored with another
   * size, which is then not that blob).
   */
  public Optional<Content> open(Digest d) {
    String hex = Reapi.hex(d);
    // one lookup when the blob is under its own key (the usual case); by digest otherwise (stored through
    // the REST API, or that key replaced meanwhile)
    return ofThisBlob(store.get(Namespaces.casKey(hex)), d).or(() -> ofThisBlob(store.getByDigest(integrity(hex)), d));
  }

  /** A range of the blob {@code d} names (verified as {@link Larder#getRange} says), empty if it is not stored. */
  public Optional<Content> openRange(Digest d, long offset, long length) {
    String hex = Reapi.hex(d);
    return ofThisBlob(store.getRange(Namespaces.casKey(hex), offset, length), d)
        .or(() -> ofThisBlob(store.getRangeByDigest(integrity(hex), offset, length), d));
  }

  /** {@code c} if it is the blob {@code d} names (its SHA-256 and size); closed and empty otherwise. */
  private static Optional<Content> ofThisBlob(Optional<Content> c, Digest d) {
    if (c.isPresent() && (!names(c.get().integrity(), d.getHash()) || c.get().size() != d.getSizeBytes())) {
      c.get().close();
      return Optional.empty();
    }
    return c;
  }

  /** The whole blob, verified; empty if it is not stored. For blobs small enough for one message. */
  public Optional<byte[]> read(Digest d) {
    if (Reapi.isEmpty(d)) {
      return Optional.of(new byte[0]);
    }
    return open(d).map(c -> {
      try (c) {
        return c.readAllBytes();
      }
    });
  }

  /** Stores {@code in} as the blob {@code d} names; refused (nothing stored) unless it hashes to it, size included. */
  public Entry put(Digest d, InputStream in) {
    String hex = Reapi.hex(d);
    return bound.putWithin(d.getSizeBytes(),
        () -> store.put(Namespaces.casKey(hex), in, PutOptions.defaults().integrity(integrity(hex)).size(d.getSizeBytes())));
  }

  /** Stores {@code data} under its own digest, the one returned. */
  public Digest put(byte[] data) {
    Digest d = Digest.newBuilder().setHash(Integrity.compute(Algorithm.SHA256, data).hash(Algorithm.SHA256)
        .orElseThrow().hex()).setSizeBytes(data.length).build();
    if (data.length > 0) {
      put(d, new java.io.ByteArrayInputStream(data));
    }
    return d;
  }

  private static boolean names(Integrity i, String hex) {
    return i.hash(Algorithm.SHA256).map(h -> h.hex().equals(hex)).orElse(false);
  }
}
