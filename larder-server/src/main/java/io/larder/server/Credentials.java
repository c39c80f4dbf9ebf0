package io.larder.server;

import io.larder.LarderException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * Who may read and who may write, from an auth file. One credential per line; {@code #} starts a comment:
 *
 * <pre>
 * token  s3cr3t-token-for-ci      rw     # Authorization: Bearer s3cr3t-token-for-ci
 * basic  builder:correct-horse    rw     # HTTP Basic (sent preemptively by ccache, Bazel, Gradle)
 * basic  reader:another-secret    ro
 * anonymous                       ro     # requests without credentials may read
 * </pre>
 *
 * <p>Secrets are compared in constant time and never logged. Keep the file readable by the server only.
 */
public final class Credentials {
  /** What a request may do. */
  public enum Access {
    NONE, READ, WRITE;

    public boolean allows(Access needed) {
      return compareTo(needed) >= 0;
    }
  }

  private record Credential(String kind, byte[] secret, Access access, String name) {}

  /**
   * Who a request is, for the access log: {@code basic:<user>}, {@code token#<n>} (the n-th token of the auth
   * file: a token is a secret and never shown), or {@code -} (anonymous, or authentication off); and what
   * it may do.
   */
  public record Principal(String name, Access access) {}

  private final List<Credential> credentials;
  private final Access anonymous;

  private Credentials(List<Credential> credentials, Access anonymous) {
    this.credentials = credentials;
    this.anonymous = anonymous;
  }

  /** No authentication: everyone may read and write. */
  public static final Credentials OPEN = new Credentials(List.of(), Access.WRITE);

  /** Whether requests must authenticate (to do more than anonymous access allows). */
  public boolean enabled() {
    return anonymous != Access.WRITE;
  }

  /**
   * Reads an auth file.
   *
   * @throws LarderException.InvalidInput naming the line that is wrong
   */
  public static Credentials load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT,
          "cannot read the auth file " + file + ": " + e.getMessage());
    }
    List<Credential> list = new ArrayList<>();
    Access anon = Access.NONE;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int hash = line.indexOf('#');
      String[] f = (hash >= 0 ? line.substring(0, hash) : line).strip().split("\\s+");
      if (f.length == 1 && f[0].isEmpty()) {
        continue;
      }
      String where = file + " line " + (i + 1);
      String kind = f[0].toLowerCase(Locale.ROOT);
      if (kind.equals("anonymous") && f.length == 2) {
        anon = access(f[1], where);
      } else if ((kind.equals("token") || kind.equals("basic")) && f.length == 3) {
        if (kind.equals("basic") && !f[1].contains(":")) {
          throw bad(where, "a basic credential is user:password");
        }
        String name = kind.equals("basic") ? "basic:" + f[1].substring(0, f[1].indexOf(':'))
            : "token#" + (1 + list.stream().filter(c -> c.kind().equals("token")).count());
        list.add(new Credential(kind, f[1].getBytes(StandardCharsets.UTF_8), access(f[2], where), name));
      } else {
        throw bad(where, "expected 'token SECRET rw|ro', 'basic USER:PASSWORD rw|ro' or 'anonymous ro|rw'");
      }
    }
    if (list.isEmpty() && anon != Access.WRITE) {
      throw bad(file.toString(), "the auth file has no credentials");
    }
    return new Credentials(List.copyOf(list), anon);
  }

  private static Access access(String s, String where) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "ro" -> Access.READ;
      case "rw" -> Access.WRITE;
      default -> throw bad(where, "access is ro or rw, not '" + s + "'");
    };
  }

  private static LarderException bad(String where, String why) {
    return new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "auth file: " + where + ": " + why);
  }

  /**
   * What the {@code Authorization} header (or its absence) allows. With authentication on, credentials that
   * are given but wrong allow nothing, even where anonymous access would allow reading.
   */
  public Access check(String authorization) {
    return identify(authorization).access();
  }

  /** Who {@code authorization} says the request is, and what it may do (as {@link #check}). */
  public Principal identify(String authorization) {
    if (!enabled()) {
      return new Principal("-", Access.WRITE); // authentication is off: whatever a client sends (Turborepo always sends a token)
    }
    if (authorization == null || authorization.isBlank()) {
      return new Principal("-", anonymous);
    }
    String a = authorization.strip();
    int sp = a.indexOf(' ');
    if (sp < 0) {
      return new Principal("-", Access.NONE);
    }
    String scheme = a.substring(0, sp).toLowerCase(Locale.ROOT);
    String value = a.substring(sp + 1).strip();
    byte[] given;
    String kind;
    if (scheme.equals("bearer")) {
      kind = "token";
      given = value.getBytes(StandardCharsets.UTF_8);
    } else if (scheme.equals("basic")) {
      kind = "basic";
      try {
        given = Base64.getDecoder().decode(value);
      } catch (IllegalArgumentException e) {
        return new Principal("-", Access.NONE);
      }
    } else {
      return new Principal("-", Access.NONE);
    }
    Access best = Access.NONE;
    String who = "-";
    for (Credential c : credentials) {
      // every credential is compared (constant time each), so timing tells nothing about which matched
      if (c.kind().equals(kind) && MessageDigest.isEqual(c.secret(), given) && c.access().compareTo(best) > 0) {
        best = c.access();
        who = c.name();
      }
    }
    return new Principal(who, best);
  }
}
