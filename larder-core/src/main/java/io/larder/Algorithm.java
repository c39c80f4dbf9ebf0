package io.larder;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Optional;

/** A digest algorithm that Larder can verify. Stronger algorithms have a higher {@link #strength()}. */
public enum Algorithm {
  /** SHA-1: read and verified (older caches hold it), never chosen for new content. */
  SHA1("sha1", "SHA-1", 20, 1),
  /** SHA-256: the default. */
  SHA256("sha256", "SHA-256", 32, 2),
  /** SHA-384. */
  SHA384("sha384", "SHA-384", 48, 3),
  /** SHA-512: the strongest; npm's cacache default. */
  SHA512("sha512", "SHA-512", 64, 4);

  private final String sriName;
  private final String jcaName;
  /** A fresh digest to clone; set on first use. */
  private volatile MessageDigest prototype;
  private final int digestLength;
  private final int strength;

  Algorithm(String sriName, String jcaName, int digestLength, int strength) {
    this.sriName = sriName;
    this.jcaName = jcaName;
    this.digestLength = digestLength;
    this.strength = strength;
  }

  /** The name used in SRI strings and on disk, e.g. {@code sha256}. */
  public String sriName() {
    return sriName;
  }

  /** Length of a digest in bytes. */
  public int digestLength() {
    return digestLength;
  }

  /** Ordering used to pick the strongest hash of an integrity string. */
  public int strength() {
    return strength;
  }

  /** A fresh {@link MessageDigest}; every JDK provides these four. */
  public MessageDigest newDigest() {
    MessageDigest p = prototype;
    if (p != null) {
      try {
        return (MessageDigest) p.clone(); // far cheaper than a provider lookup, which reads every read
      } catch (CloneNotSupportedException e) {
        // a provider whose digests do not clone: look up each time
      }
    }
    try {
      MessageDigest d = MessageDigest.getInstance(jcaName);
      if (p == null) {
        prototype = MessageDigest.getInstance(jcaName);
      }
      return d;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no " + jcaName, e);
    }
  }

  /** Whether content may be addressed (stored) by this algorithm; SHA-1 is accepted for verification only. */
  public boolean canAddress() {
    return this != SHA1;
  }

  private static final Algorithm[] ALL = values();

  /** Looks up an algorithm by its SRI name, case-insensitively. */
  public static Optional<Algorithm> bySriName(String name) {
    for (Algorithm a : ALL) { // no copy of values(), and the usual lower-case name not copied: every read asks
      if (a.sriName.equals(name)) {
        return Optional.of(a);
      }
    }
    String n = name.toLowerCase(Locale.ROOT);
    for (Algorithm a : ALL) {
      if (a.sriName.equals(n)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }
}
