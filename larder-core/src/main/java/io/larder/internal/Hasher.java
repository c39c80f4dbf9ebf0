package io.larder.internal;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.LarderException.Kind;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * Hashes content with the store's addressing algorithm and, when the caller expects an integrity in
 * another algorithm, that one too; counts bytes; and checks the result against what was expected.
 */
public final class Hasher {
  private final Algorithm address;
  private final Integrity expected;
  private final long expectedSize;
  private final MessageDigest addressDigest;
  private final MessageDigest checkDigest; // null when the expected integrity uses the address algorithm
  private final Algorithm checkAlgorithm;
  private long count;

  public Hasher(Algorithm address, Integrity expected, long expectedSize) {
    this.address = address;
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.addressDigest = address.newDigest();
    Algorithm check = expected == null ? address : expected.strongest().algorithm();
    this.checkAlgorithm = check;
    this.checkDigest = check == address ? null : check.newDigest();
  }

  public void update(byte[] b, int off, int len) {
    count += len;
    if (expectedSize >= 0 && count > expectedSize) {
      throw sizeMismatch("more than");
    }
    addressDigest.update(b, off, len);
    if (checkDigest != null) {
      checkDigest.update(b, off, len);
    }
  }

  public long count() {
    return count;
  }

  /**
   * Finishes hashing and checks size and integrity.
   *
   * @return the digest in the addressing algorithm
   * @throws LarderException.IntegrityFailure on a mismatch
   */
  public Integrity finish() {
    if (expectedSize >= 0 && count != expectedSize) {
      throw sizeMismatch(count < expectedSize ? "fewer than" : "more than");
    }
    byte[] a = addressDigest.digest();
    Integrity actual = Integrity.of(address, a);
    if (expected != null) {
      List<Integrity.Hash> hashes = new ArrayList<>(actual.hashes());
      if (checkDigest != null) {
        hashes.add(Integrity.Hash.of(checkAlgorithm, checkDigest.digest()));
      }
      Integrity computed = new Integrity(hashes);
      if (!expected.matches(computed)) {
        throw new LarderException.IntegrityFailure(Kind.DIGEST_MISMATCH,
            "content does not match the expected integrity: expected " + expected.strongest().sri() + ", got "
                + computed.hash(checkAlgorithm).orElseThrow().sri() + "; nothing was stored");
      }
    }
    return actual;
  }

  private LarderException sizeMismatch(String relation) {
    return new LarderException.IntegrityFailure(Kind.SIZE_MISMATCH,
        "content has " + relation + " the expected " + expectedSize + " bytes" + (relation.startsWith("fewer")
            ? " (" + count + ")" : "") + "; nothing was stored");
  }
}
