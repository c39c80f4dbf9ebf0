package io.larder;

/**
 * Every error Larder raises. The {@link Kind} says what went wrong in a way a program can branch on;
 * the message says it in a way a person can act on. The CLI maps kinds to exit codes and the server to
 * HTTP statuses, each in one place.
 *
 * <p>Unchecked, so that it can also leave an {@link java.io.InputStream} returned by a read.
 */
public abstract sealed class LarderException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** What went wrong. */
  public enum Kind {
    /** The key or digest is not in the store. */
    NOT_FOUND,
    /** Content did not hash to the integrity the caller expected. Nothing was stored. */
    DIGEST_MISMATCH,
    /** Content was not the size the caller expected. Nothing was stored. */
    SIZE_MISMATCH,
    /** Stored content no longer matches its digest (or is missing); it was removed and not returned. */
    CORRUPT,
    /** A key that Larder does not accept (empty, too long, control characters, unpaired surrogates). */
    INVALID_KEY,
    /** A malformed integrity string. */
    INVALID_INTEGRITY,
    /** Another malformed argument: a negative range, metadata that is not a JSON object, … */
    INVALID_ARGUMENT,
    /** The disk (or quota) is full. Nothing was stored. */
    INSUFFICIENT_STORAGE,
    /** The index stayed locked by other processes for longer than the busy timeout. */
    BUSY,
    /** Any other I/O failure: permissions, a missing directory, a failing disk. */
    IO,
    /** The store was closed. */
    CLOSED,
    /** A write to a store opened read-only ({@link LarderOptions#readOnly()}). Nothing was changed. */
    READ_ONLY
  }

  private final Kind kind;

  private LarderException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** A key or digest that is not in the store. */
  public static final class NotFound extends LarderException {
    private static final long serialVersionUID = 1L;

    public NotFound(String message) {
      super(Kind.NOT_FOUND, message, null);
    }
  }

  /** Content that does not match its digest or size: on the way in (nothing stored) or out (removed). */
  public static final class IntegrityFailure extends LarderException {
    private static final long serialVersionUID = 1L;

    public IntegrityFailure(Kind kind, String message) {
      super(kind, message, null);
    }
  }

  /** An argument Larder refuses. */
  public static final class InvalidInput extends LarderException {
    private static final long serialVersionUID = 1L;

    public InvalidInput(Kind kind, String message) {
      super(kind, message, null);
    }
  }

  /** The store could not do its work: I/O failure, full disk, lock held too long, closed. */
  public static final class StorageFailure extends LarderException {
    private static final long serialVersionUID = 1L;

    public StorageFailure(Kind kind, String message, Throwable cause) {
      super(kind, message, cause);
    }
  }
}
