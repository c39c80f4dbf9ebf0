package io.larder.s3;

import io.larder.Entry;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.RemoteTier;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The shared S3 tier: blobs by digest ({@link S3BlobStore}) and entries by key, so that any node can answer
 * for any key. An entry is a small object {@code <prefix>entries/<key>} (the key percent-encoded except
 * for letters, digits, {@code - . _ ~ : /}, which keeps prefixes prefixes) holding the entry's digest,
 * size, times and metadata — and, for content up to {@link #INLINE_LIMIT}, the content itself, so small
 * entries cost one request each way. A put stores the blob before the entry, so an entry never points at
 * nothing.
 */
public final class S3Tier implements RemoteTier {
  /** Content up to this size is kept inside its entry object (as the local index keeps small content inline). */
  public static final int INLINE_LIMIT = 16 * 1024;

  private final S3BlobStore blobs;
  private final S3BlobStore.Config config;

  public S3Tier(S3BlobStore.Config config, Path spool) {
    this.config = config;
    this.blobs = new S3BlobStore(config, spool);
  }

  /** The blob store underneath (e.g. for its contract tests and for collection). */
  public S3BlobStore blobs() {
    return blobs;
  }

  String entryKey(String key) {
    StringBuilder sb = new StringBuilder(config.prefix()).append("entries/");
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~:/".indexOf(c) >= 0) {
        sb.append((char) c);
      } else {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return sb.toString();
  }

  private static LarderException failure(String what, SdkException e) {
    return new LarderException.StorageFailure(LarderException.Kind.IO, what + " failed: " + e.getMessage(), e);
  }

  @Override
  public Optional<RemoteEntry> lookup(String key) {
    String k = entryKey(key);
    String text;
    try {
      text = blobs.client().getObjectAsBytes(b -> b.bucket(config.bucket()).key(k)).asUtf8String();
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw failure("reading the entry " + k, e);
    } catch (SdkException e) {
      throw failure("reading the entry " + k, e);
    }
    Properties p = new Properties();
    try {
      p.load(new StringReader(text));
      String data = p.getProperty("data");
      return Optional.of(new RemoteEntry(Integrity.parse(p.getProperty("integrity")),
          Long.parseLong(p.getProperty("size")), Instant.parse(p.getProperty("created")),
          p.getProperty("expires") == null ? null : Instant.parse(p.getProperty("expires")), p.getProperty("metadata"),
          data == null ? null : java.util.Base64.getDecoder().decode(data)));
    } catch (IOException | RuntimeException e) {
      throw new LarderException.IntegrityFailure(LarderException.Kind.CORRUPT,
          "the entry object " + k + " in s3://" + config.bucket() + " is damaged: " + e.getMessage());
    }
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    return blobs.open(digest, offset, length);
  }

  @Override
  public void store(Entry entry, Supplier<InputStream> content) {
    Properties p = new Properties();
    if (entry.size() <= INLINE_LIMIT) {
      // small content travels inside its entry: one request to store it, one to read it
      try (InputStream in = content.get()) {
        p.setProperty("data", java.util.Base64.getEncoder().encodeToString(in.readAllBytes()));
      } catch (IOException e) {
        throw new LarderException.StorageFailure(LarderException.Kind.IO, "reading the local copy: " + e.getMessage(), e);
      }
    } else {
      // no existence check first (a round trip per put): the blob store's create is conditional, so a blob
      // that is there already is not replaced
      try (InputStream in = content.get()) {
        blobs.put(in, entry.integrity(), entry.size());
      } catch (IOException e) {
        throw new LarderException.StorageFailure(LarderException.Kind.IO, "reading the local copy: " + e.getMessage(), e);
      }
    }
    p.setProperty("integrity", entry.integrity().toString());
    p.setProperty("size", Long.toString(entry.size()));
    p.setProperty("created", entry.created().toString());
    if (entry.expires() != null) {
      p.setProperty("expires", entry.expires().toString());
    }
    if (entry.metadata() != null) {
      p.setProperty("metadata", entry.metadata());
    }
    StringWriter w = new StringWriter();
    try {
      p.store(w, null);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    String k = entryKey(entry.key());
    try {
      blobs.client().putObject(b -> b.bucket(config.bucket()).key(k), RequestBody.fromString(w.toString()));
    } catch (SdkException e) {
      throw failure("storing the entry " + k, e);
    }
  }

  @Override
  public boolean remove(String key) {
    String k = entryKey(key);
    try {
      if (lookup(key).isEmpty()) {
        return false;
      }
      blobs.client().deleteObject(b -> b.bucket(config.bucket()).key(k));
      return true;
    } catch (SdkException e) {
      throw failure("removing the entry " + k, e);
    }
  }

  @Override
  public String describe() {
    return "s3://" + config.bucket() + "/" + config.prefix();
  }

  @Override
  public void close() {
    blobs.close();
  }
}
