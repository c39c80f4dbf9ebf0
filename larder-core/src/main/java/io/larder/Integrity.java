package io.larder;

import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An integrity string: one or more digests of the same content, in Subresource Integrity form
 * ({@code sha256-<base64>}, several separated by spaces).
 *
 * <p>{@link #parse} also accepts the forms other tools use and normalises them: OCI's
 * {@code sha256:<hex>} and Bazel's bare 64-character hex (SHA-256). Tokens with an unknown algorithm
 * are ignored, as the SRI specification asks, but a string with no usable digest is an error.
 *
 * @param hashes the digests, strongest first; never empty
 */
public record Integrity(List<Hash> hashes) {

  private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");
  private static final Comparator<Hash> STRONGEST_FIRST =
      Comparator.comparingInt((Hash h) -> h.algorithm().strength()).reversed();
  private static final Pattern OCI = Pattern.compile("(sha256|sha384|sha512):([0-9a-fA-F]+)");

  /** One digest: an algorithm and its raw bytes, kept as lower-case hex so that records compare by value. */
  public record Hash(Algorithm algorithm, String hex) {
    public Hash {
      if (hex.length() != algorithm.digestLength() * 2 || !isLowerHex(hex)) {
        throw new LarderException.InvalidInput(
            LarderException.Kind.INVALID_INTEGRITY,
            "a " + algorithm.sriName() + " digest is " + algorithm.digestLength() * 2 + " lower-case hex characters");
      }
    }

    public static Hash of(Algorithm algorithm, byte[] digest) {
      return new Hash(algorithm, HexFormat.of().formatHex(digest));
    }

    public byte[] bytes() {
      return HexFormat.of().parseHex(hex);
    }

    /** Whether {@code digest} is this hash, compared against the hex without decoding it (a read's hot path). */
    boolean matches(byte[] digest) {
      if (hex.length() != digest.length * 2) {
        return false;
      }
      int diff = 0;
      for (int i = 0; i < digest.length; i++) {
        diff |= (digest[i] & 0xff) ^ (Character.digit(hex.charAt(2 * i), 16) << 4 | Character.digit(hex.charAt(2 * i + 1), 16));
      }
      return diff == 0;
    }

    public String base64() {
      return Base64.getEncoder().encodeToString(bytes());
    }

    /** This hash alone in SRI form, e.g. {@code sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=}. */
    public String sri() {
      return algorithm.sriName() + "-" + base64();
    }

    private static boolean isLowerHex(String s) {
      for (int i = 0; i < s.length(); i++) { // a loop, not a stream: every read parses a digest
        char c = s.charAt(i);
        if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
          return false;
        }
      }
      return true;
    }
  }

  public Integrity {
    if (hashes.isEmpty()) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_INTEGRITY, "an integrity needs at least one digest");
    }
    if (hashes.size() == 1) {
      hashes = List.copyOf(hashes); // the common case: nothing to sort (List.of's list is kept as it is)
    } else {
      List<Hash> sorted = new ArrayList<>(hashes);
      sorted.sort(STRONGEST_FIRST);
      hashes = List.copyOf(sorted);
    }
  }

  /** The integrity of one digest. */
  public static Integrity of(Algorithm algorithm, byte[] digest) {
    return new Integrity(List.of(Hash.of(algorithm, digest)));
  }

  /** Digests {@code data} with {@code algorithm}. */
  public static Integrity compute(Algorithm algorithm, byte[] data) {
    return of(algorithm, algorithm.newDigest().digest(data));
  }

  /**
   * Parses an SRI string, {@code sha256:<hex>} or bare 64-character hex.
   *
   * @throws LarderException.InvalidInput with kind {@code INVALID_INTEGRITY} and a message naming the accepted forms
   */
  public static Integrity parse(String text) {
    if (text == null || text.isBlank()) {
      throw invalid(text, "it is empty");
    }
    String s = text.strip();
    Integrity single = parseSingleSri(s);
    if (single != null) {
      return single; // the common case (every read parses the index's digest): no regular expression
    }
    if (HEX64.matcher(s).matches()) {
      return new Integrity(List.of(new Hash(Algorithm.SHA256, s.toLowerCase(java.util.Locale.ROOT))));
    }
    var oci = OCI.matcher(s);
    if (oci.matches()) {
      Algorithm a = Algorithm.bySriName(oci.group(1)).orElseThrow();
      String hex = oci.group(2).toLowerCase(java.util.Locale.ROOT);
      if (hex.length() != a.digestLength() * 2) {
        throw invalid(text, "a " + a.sriName() + " digest has " + a.digestLength() * 2 + " hex characters");
      }
      return new Integrity(List.of(new Hash(a, hex)));
    }
    List<Hash> hashes = new ArrayList<>();
    for (String token : s.split("\\s+")) {
      int dash = token.indexOf('-');
      if (dash <= 0) {
        throw invalid(text, "'" + token + "' is not of the form <algorithm>-<base64>");
      }
      Optional<Algorithm> algorithm = Algorithm.bySriName(token.substring(0, dash));
      if (algorithm.isEmpty()) {
        continue; // SRI: unknown algorithms are ignored
      }
      String b64 = token.substring(dash + 1);
      int q = b64.indexOf('?');
      if (q >= 0) {
        b64 = b64.substring(0, q); // SRI options are allowed and ignored
      }
      byte[] digest;
      try {
        digest = Base64.getDecoder().decode(b64);
      } catch (IllegalArgumentException e) {
        throw invalid(text, "'" + b64 + "' is not valid base64");
      }
      if (digest.length != algorithm.get().digestLength()) {
        throw invalid(text, "a " + algorithm.get().sriName() + " digest is " + algorithm.get().digestLength()
            + " bytes, this one is " + digest.length);
      }
      Hash h = Hash.of(algorithm.get(), digest);
      if (!hashes.contains(h)) {
        hashes.add(h);
      }
    }
    if (hashes.isEmpty()) {
      throw invalid(text, "it names no supported algorithm (sha1, sha256, sha384, sha512)");
    }
    return new Integrity(hashes);
  }

  private static LarderException.InvalidInput invalid(String text, String why) {
    return new LarderException.InvalidInput(LarderException.Kind.INVALID_INTEGRITY,
        "invalid integrity '" + text + "': " + why
            + "; expected SRI (sha256-<base64>), sha256:<hex> or 64 hex characters");
  }

  /** One well-formed SRI token of a known algorithm, or {@code null} to take the general path. */
  private static Integrity parseSingleSri(String s) {
    int dash = s.indexOf('-');
    if (dash < 4 || dash > 6) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= ' ' || c == '?') {
        return null;
      }
    }
    Optional<Algorithm> found = Algorithm.bySriName(s.substring(0, dash));
    if (found.isEmpty()) {
      return null;
    }
    Algorithm a = found.get();
    byte[] digest;
    try {
      digest = Base64.getDecoder().decode(s.substring(dash + 1));
    } catch (IllegalArgumentException e) {
      return null;
    }
    return digest.length == a.digestLength() ? new Integrity(List.of(Hash.of(a, digest))) : null;
  }

  /** The strongest digest. */
  public Hash strongest() {
    return hashes.get(0);
  }

  /** The digest for {@code algorithm}, if this integrity has one. */
  public Optional<Hash> hash(Algorithm algorithm) {
    for (Hash h : hashes) { // a loop, not a stream: this is on every read's path
      if (h.algorithm() == algorithm) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }

  /**
   * Whether {@code actual} agrees with this integrity: compared on the strongest algorithm they share.
   * Two integrities with no algorithm in common do not match.
   */
  public boolean matches(Integrity actual) {
    for (Hash h : hashes) {
      Optional<Hash> other = actual.hash(h.algorithm());
      if (other.isPresent()) {
        return other.get().equals(h);
      }
    }
    return false;
  }

  /** The SRI form, strongest digest first. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Hash h : hashes) {
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(h.sri());
    }
    return sb.toString();
  }
}
