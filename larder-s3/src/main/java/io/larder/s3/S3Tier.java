package io.larder.s3;

import io.larder.Algorithm;
import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.Chunks;
import io.larder.spi.RemoteTier;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Supplier;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The shared S3 tier: entries by key and large content by digest ({@link S3BlobStore}), so that any node
 * can answer for any key. An entry is an object {@code <prefix>entries/<key>} (the key percent-encoded
 * except for letters, digits, {@code - . _ ~ : /}, which keeps prefixes prefixes): a first line
 * {@code larder-entry 2 <header length>}, a header (properties: digest, size, times, metadata, chunk
 * digests) and, for content up to {@link #INLINE_LIMIT}, the content itself, so that most entries cost one
 * request each way. Larger content is a blob, stored before the entry, so an entry never points at
 * nothing. Layout and trade-offs: docs/s3.md.
 */
public final class S3Tier implements RemoteTier {
  /**
   * Content up to this size is kept inside its entry object instead of as a blob of its own: a put and a
   * read are then one request each, not two (larger content is named by its digest and shared by entries).
   */
  public static final int INLINE_LIMIT = 1024 * 1024;

  /**
   * Blobs above this size get chunk digests in their entry (for ranged reads); smaller ones are fetched whole
   * by a range read, which costs little more than the range, and their puts skip a second hash.
   */
  public static final int CHUNKED_ABOVE = 1024 * 1024;

  private final S3BlobStore blobs;
  private final S3BlobStore.Config config;
  private volatile boolean batchDelete = true;

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

  /** The key an entry object's name stands for (the inverse of {@link #entryKey}). */
  String keyOf(String objectKey) {
    String enc = objectKey.substring(config.prefix().length() + "entries/".length());
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(enc.length());
    for (int i = 0; i < enc.length(); i++) {
      char c = enc.charAt(i);
      if (c == '%' && i + 2 < enc.length()) {
        out.write(Integer.parseInt(enc, i + 1, i + 3, 16));
        i += 2;
      } else {
        out.write(c);
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static LarderException failure(String what, SdkException e) {
    return new LarderException.StorageFailure(LarderException.Kind.IO, what + " failed: " + e.getMessage(), e);
  }

  /**
   * The longest an entry lookup may take, retries included: entries are small, and a read that misses
   * locally waits for this when S3 hangs (blobs keep the client's socket timeouts: they may be large).
   */
  static final java.time.Duration ENTRY_TIMEOUT = java.time.Duration.ofSeconds(10);

  /** S3's limit on object names, in UTF-8 bytes. */
  static final int MAX_NAME = 1024;

  /** An entry object's name, refused when the key is too long for one (Larder takes keys up to 4 KiB). */
  private String checkedEntryKey(String key) {
    String k = entryKey(key);
    if (k.length() > MAX_NAME) { // percent-encoding leaves only ASCII: chars = bytes
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_KEY, "this key is too long for the S3 tier: "
          + "its entry object's name would be " + k.length() + " bytes and S3 allows " + MAX_NAME
          + " (keys of at most ~" + (MAX_NAME - k.length() + key.getBytes(StandardCharsets.UTF_8).length)
          + " plain ASCII bytes fit under this prefix)");
    }
    return k;
  }

  /**
   * How much of an entry object a lookup without content asks for at first: the header of any entry but
   * those of blobs large enough for their chunk digests not to fit (then a second request reads the rest).
   */
  static final int HEADER_PROBE = 8 * 1024;

  @Override
  public Optional<RemoteEntry> lookup(String key, boolean content) {
    String k = entryKey(key);
    if (k.length() > MAX_NAME) {
      return Optional.empty(); // it cannot have been stored
    }
    try {
      if (content) {
        // streamed: the content goes into an array of its size without passing through a buffer first
        Optional<ResponseInputStream<GetObjectResponse>> whole = S3BlobStore.ifThere(
            () -> blobs.client().getObject(entryRequest(k, null)));
        if (whole.isEmpty()) {
          return Optional.empty();
        }
        try (ResponseInputStream<GetObjectResponse> in = whole.get()) {
          Long length = in.response().contentLength();
          return Optional.of(read(k, in, length == null ? -1 : length, true));
        }
      }
      Optional<ResponseBytes<GetObjectResponse>> first = S3BlobStore.ifThere(
          () -> blobs.client().getObjectAsBytes(entryRequest(k, "bytes=0-" + (HEADER_PROBE - 1))));
      if (first.isEmpty()) {
        return Optional.empty();
      }
      byte[] b = first.get().asByteArrayUnsafe();
      if (!holdsHeader(b) && totalLength(first.get().response(), b.length) > b.length) {
        // the header goes on past the probe (or an entry of the first format): the whole object
        Optional<ResponseBytes<GetObjectResponse>> all = S3BlobStore.ifThere(
            () -> blobs.client().getObjectAsBytes(entryRequest(k, null)));
        if (all.isEmpty()) {
          return Optional.empty();
        }
        b = all.get().asByteArrayUnsafe();
      }
      return Optional.of(read(k, new java.io.ByteArrayInputStream(b), -1, false));
    } catch (SdkException e) {
      throw failure("reading the entry " + k, e);
    } catch (IOException e) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "reading the entry " + k + " failed: "
          + e.getMessage(), e);
    }
  }

  private software.amazon.awssdk.services.s3.model.GetObjectRequest entryRequest(String k, String range) {
    return software.amazon.awssdk.services.s3.model.GetObjectRequest.builder().bucket(config.bucket()).key(k)
        .range(range).overrideConfiguration(o -> o.apiCallTimeout(ENTRY_TIMEOUT)).build();
  }

  private static long totalLength(GetObjectResponse r, long fallback) {
    String cr = r.contentRange(); // bytes 0-8191/12345
    if (cr == null || cr.indexOf('/') < 0) {
      return fallback;
    }
    String total = cr.substring(cr.indexOf('/') + 1).trim();
    return total.equals("*") ? fallback : Long.parseLong(total);
  }

  /** The entry object's first line: what it is, and how long its header is. */
  private static final String MAGIC = "larder-entry 2 ";

  /** Whether {@code b}, the start of an entry object, holds all of its first line and header. */
  private static boolean holdsHeader(byte[] b) {
    if (!startsWithMagic(b)) {
      return false;
    }
    for (int i = MAGIC.length(); i < Math.min(b.length, MAGIC.length() + 11); i++) {
      if (b[i] == '\n') {
        return i > MAGIC.length() && i + 1L + Long.parseLong(new String(b, MAGIC.length(), i - MAGIC.length(),
            StandardCharsets.US_ASCII)) <= b.length;
      }
    }
    return false;
  }

  private static boolean startsWithMagic(byte[] b) {
    if (b.length < MAGIC.length()) {
      return false;
    }
    for (int i = 0; i < MAGIC.length(); i++) {
      if (b[i] != MAGIC.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * An entry from its object, read from its start: {@code larder-entry 2 <header length>}, a line; the
   * header (properties, UTF-8); then, when the header says {@code inline=true}, the content itself (read,
   * and checked against {@code length} when that is known, only if {@code content}). Objects of the first
   * format (properties only, small content base64 in {@code data}) are read too.
   *
   * @throws LarderException.IntegrityFailure {@code CORRUPT} for an object that is not one
   */
  private RemoteEntry read(String k, InputStream in, long length, boolean content) throws IOException {
    try {
      Properties p = new Properties();
      byte[] start = in.readNBytes(MAGIC.length());
      if (!startsWithMagic(start)) { // the first format (or damage, which parsing reports)
        p.load(new java.io.InputStreamReader(new java.io.SequenceInputStream(new java.io.ByteArrayInputStream(start),
            in), StandardCharsets.UTF_8));
        String data = p.getProperty("data");
        return entryOf(k, p, data == null || !content ? null : java.util.Base64.getDecoder().decode(data));
      }
      StringBuilder digits = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c < '0' || c > '9' || digits.length() > 9) {
          throw damaged(k, "its first line does not end in a header length");
        }
        digits.append((char) c);
      }
      int h = Integer.parseInt(digits.toString());
      byte[] header = in.readNBytes(h);
      if (header.length != h) {
        throw damaged(k, "it ends inside its header");
      }
      p.load(new StringReader(new String(header, StandardCharsets.UTF_8)));
      byte[] inline = null;
      if (content && "true".equals(p.getProperty("inline"))) {
        long size = Long.parseLong(p.getProperty("size"));
        long expected = MAGIC.length() + digits.length() + 1L + h + size;
        // up to 8 MiB (the most a request holds in memory): a later version may keep more inline than this one
        if (size > 8 << 20 || (length >= 0 && length != expected)) {
          throw damaged(k, "it has " + length + " bytes where its header says " + expected);
        }
        inline = in.readNBytes((int) size);
        if (inline.length != size || in.read() != -1) {
          throw damaged(k, "its content is not the " + size + " bytes its header says");
        }
      }
      return entryOf(k, p, inline);
    } catch (IllegalArgumentException e) { // numbers, base64, properties escapes
      throw damaged(k, e.toString());
    }
  }

  private LarderException damaged(String k, String why) {
    return new LarderException.IntegrityFailure(LarderException.Kind.CORRUPT,
        "the entry object " + k + " in s3://" + config.bucket() + " is damaged: " + why);
  }

  /** The entry an entry object's header describes. */
  private RemoteEntry entryOf(String k, Properties p, byte[] inline) {
    try {
      String chunks = p.getProperty("chunks");
      return new RemoteEntry(Integrity.parse(p.getProperty("integrity")),
          Long.parseLong(p.getProperty("size")), Instant.parse(p.getProperty("created")),
          p.getProperty("expires") == null ? null : Instant.parse(p.getProperty("expires")), p.getProperty("metadata"),
          inline, chunks == null ? null : new Chunks(Integer.parseInt(p.getProperty("chunk-size")),
              java.util.HexFormat.of().parseHex(chunks)));
    } catch (RuntimeException e) {
      throw e instanceof LarderException le ? le : damaged(k, e.toString());
    }
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    return blobs.open(digest, offset, length);
  }

  @Override
  public void store(Entry entry, Supplier<InputStream> content) {
    String k = checkedEntryKey(entry.key()); // before anything is uploaded
    Properties p = new Properties();
    byte[] inline = null;
    if (entry.size() <= INLINE_LIMIT) {
      // content up to 1 MiB travels inside its entry: one request to store it, one to read it
      try (InputStream in = content.get()) {
        inline = in.readAllBytes(); // read to its end: a local copy is verified as it is read
      } catch (IOException e) {
        throw new LarderException.StorageFailure(LarderException.Kind.IO, "reading the local copy: " + e.getMessage(), e);
      }
      if (inline.length != entry.size()) {
        throw new LarderException.IntegrityFailure(LarderException.Kind.SIZE_MISMATCH, "the local copy of '"
            + entry.key() + "' has " + inline.length + " bytes, its entry says " + entry.size());
      }
      p.setProperty("inline", "true");
    } else {
      // no existence check first (a round trip per put): the blob store's create is conditional, so a blob
      // that is there already is not replaced
      try (InputStream in = content.get()) {
        // the chunks' digests go into the entry: a node that misses locally can then serve a range from
        // ranged GETs, verified chunk by chunk
        Chunks.Hashing hashing = entry.size() > CHUNKED_ABOVE ? Chunks.hashing(in, Chunks.DEFAULT_SIZE) : null;
        blobs.put(hashing != null ? hashing : in, entry.integrity(), entry.size());
        if (hashing != null) {
          Chunks c = hashing.finish();
          p.setProperty("chunk-size", Integer.toString(c.size()));
          p.setProperty("chunks", java.util.HexFormat.of().formatHex(c.digests()));
        }
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
    byte[] header = w.toString().getBytes(StandardCharsets.UTF_8);
    byte[] line = (MAGIC + header.length + "\n").getBytes(StandardCharsets.US_ASCII);
    byte[] data = inline == null ? new byte[0] : inline;
    // the parts as they are (no copy into one array; the SDK reads them again for a retry)
    RequestBody body = RequestBody.fromContentProvider(() -> new java.io.SequenceInputStream(
        java.util.Collections.enumeration(List.of(new java.io.ByteArrayInputStream(line),
            new java.io.ByteArrayInputStream(header), new java.io.ByteArrayInputStream(data)))),
        (long) line.length + header.length + data.length, "application/octet-stream");
    try {
      blobs.client().putObject(b -> b.bucket(config.bucket()).key(k), body);
    } catch (SdkException e) {
      throw failure("storing the entry " + k, e);
    }
  }

  @Override
  public boolean remove(String key) {
    String k = entryKey(key);
    if (k.length() > MAX_NAME) {
      return false; // it cannot have been stored
    }
    if (blobs.head(k).isEmpty()) { // S3 answers a delete the same whether the object existed or not
      return false;
    }
    try {
      blobs.client().deleteObject(b -> b.bucket(config.bucket()).key(k));
      return true;
    } catch (SdkException e) {
      throw failure("removing the entry " + k, e);
    }
  }

  /**
   * Keys in the order of their object names: key order, except that a byte outside {@code A-Z a-z 0-9 - . _
   * ~ : /} sorts as {@code %} (before {@code -}).
   */
  @Override
  public List<String> keys(String prefix, String afterKey, int limit) {
    try {
      var page = blobs.client().listObjectsV2(b -> {
        b.bucket(config.bucket()).prefix(entryKey(prefix)).maxKeys(Math.min(limit, 1000));
        if (afterKey != null) {
          b.startAfter(entryKey(afterKey));
        }
      });
      List<String> keys = new ArrayList<>(page.contents().size());
      for (S3Object o : page.contents()) {
        keys.add(keyOf(o.key()));
      }
      return keys;
    } catch (SdkException e) {
      throw failure("listing " + describe() + "entries/", e);
    }
  }

  @Override
  public long removePrefix(String prefix) {
    long removed = 0;
    String after = null;
    while (true) {
      List<String> keys = keys(prefix, after, 1000);
      if (keys.isEmpty()) {
        return removed;
      }
      try {
        deleteAll(keys.stream().map(this::entryKey).toList());
      } catch (SdkException e) {
        throw failure("removing entries under " + describe() + "entries/", e);
      }
      removed += keys.size();
      after = keys.get(keys.size() - 1);
    }
  }

  @Override
  public GcReport collect(Instant now, java.time.Duration grace, boolean dryRun) {
    // 1. every entry: expired ones go, the others' blobs are referenced
    java.util.Set<String> referenced = java.util.concurrent.ConcurrentHashMap.newKeySet();
    java.util.concurrent.atomic.LongAdder expired = new java.util.concurrent.atomic.LongAdder();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(16,
        Thread.ofVirtual().factory());
    try {
      String after = null;
      while (true) {
        List<String> keys = keys("", after, 1000);
        if (keys.isEmpty()) {
          break;
        }
        List<java.util.concurrent.Future<?>> reads = new ArrayList<>();
        List<String> gone = java.util.Collections.synchronizedList(new ArrayList<>());
        for (String key : keys) {
          reads.add(pool.submit(() -> {
            Optional<RemoteEntry> e;
            try {
              e = lookup(key, false); // not the content
            } catch (LarderException.IntegrityFailure damaged) {
              return; // unreadable: it cannot be served, and what it pointed at is not needed for it
            }
            if (e.isEmpty()) {
              return;
            }
            if (e.get().expires() != null && !e.get().expires().isAfter(now)) {
              gone.add(entryKey(key));
              expired.increment();
            } else { // content kept in its entry references no blob; protecting one of its digest costs nothing
              e.get().integrity().hash(Algorithm.SHA256).ifPresent(h -> referenced.add(h.hex()));
            }
          }));
        }
        for (java.util.concurrent.Future<?> f : reads) {
          f.get();
        }
        if (!dryRun && !gone.isEmpty()) {
          deleteAll(gone);
        }
        after = keys.get(keys.size() - 1);
      }
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof LarderException le ? le
          : new LarderException.StorageFailure(LarderException.Kind.IO, "collecting " + describe() + ": " + e.getCause(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "interrupted collecting " + describe(), e);
    } catch (SdkException e) {
      throw failure("collecting " + describe(), e);
    } finally {
      pool.shutdownNow();
    }
    // 2. blobs no entry referenced, and not written (or re-referenced: see S3BlobStore) within the grace
    Instant cutoff = now.minus(grace);
    long blobsRemoved = 0;
    long bytesFreed = 0;
    long bytesBefore = 0;
    try {
      List<String> doomed = new ArrayList<>();
      for (var page : blobs.client().listObjectsV2Paginator(b -> b.bucket(config.bucket())
          .prefix(config.prefix() + "blobs/sha256/"))) {
        for (S3Object o : page.contents()) {
          String hex = o.key().substring(o.key().lastIndexOf('/') + 1);
          if (hex.length() != 64) {
            continue; // not a blob (a server's directory marker)
          }
          bytesBefore += o.size();
          if (!referenced.contains(hex) && o.lastModified().isBefore(cutoff)) {
            doomed.add(o.key());
            blobsRemoved++;
            bytesFreed += o.size();
          }
        }
        if (doomed.size() >= 1000) {
          if (!dryRun) {
            deleteAll(doomed);
          }
          doomed.clear();
        }
      }
      if (!dryRun && !doomed.isEmpty()) {
        deleteAll(doomed);
      }
    } catch (SdkException e) {
      throw failure("collecting " + describe() + "blobs/", e);
    }
    long aborted = dryRun ? 0 : blobs.removeTmpOlderThan(cutoff);
    return new GcReport(expired.sum(), 0, blobsRemoved, bytesFreed, aborted, bytesBefore, bytesBefore - bytesFreed, dryRun);
  }

  /** Deletes objects a thousand per request where the server can (DeleteObjects), else one by one. */
  private void deleteAll(List<String> objectKeys) {
    if (batchDelete) {
      List<ObjectIdentifier> ids = objectKeys.stream().map(k -> ObjectIdentifier.builder().key(k).build()).toList();
      try {
        var r = blobs.client().deleteObjects(b -> b.bucket(config.bucket()).delete(d -> d.objects(ids).quiet(true)));
        if (!r.errors().isEmpty()) {
          throw new LarderException.StorageFailure(LarderException.Kind.IO, "deleting objects in " + describe()
              + " failed: " + r.errors().get(0).key() + ": " + r.errors().get(0).message(), null);
        }
        return;
      } catch (S3Exception e) {
        if (e.statusCode() != 501 && e.statusCode() != 400) {
          throw e;
        }
        // some S3-compatible servers (s3proxy) refuse the checksum header the SDK sends with DeleteObjects
        batchDelete = false;
      }
    }
    for (String k : objectKeys) {
      blobs.client().deleteObject(b -> b.bucket(config.bucket()).key(k));
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
