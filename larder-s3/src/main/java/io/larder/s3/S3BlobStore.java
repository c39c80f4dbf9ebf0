package io.larder.s3;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.LarderException;
import io.larder.spi.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, s3proxy):
 * {@code <prefix>blobs/sha256/<hex[0:2]>/<hex>}.
 *
 * <p>A put never makes a partial or unverified object visible: content up to {@link #SINGLE_PUT_LIMIT} is
 * hashed in memory and sent in one PUT; larger content is spooled to a local temporary file while it is
 * hashed (its name is its digest, so it must be known first) and sent as a multipart upload, which
 * becomes visible only when completed and is aborted on any failure. Creates are conditional
 * ({@code If-None-Match: *}) where the server supports it, so nodes writing the same digest never replace
 * an object with anything but the same bytes. Incomplete multipart uploads left by a killed node are
 * aborted by {@link #removeTmpOlderThan} (and should also expire by a bucket lifecycle rule, see the docs).
 *
 * <p>Reads are ranged GETs and are not verified here: as the {@link BlobStore} contract says, the caller
 * (Larder) verifies what it reads, so bytes from the network are checked before they are served.
 */
public final class S3BlobStore implements BlobStore {
  /** Content up to this size goes in one PUT (held in memory); larger content in parts of this size. */
  public static final int SINGLE_PUT_LIMIT = 8 * 1024 * 1024;

  private final S3Client s3;
  private final String bucket;
  private final String prefix;
  private final Path spool;
  private final Algorithm algorithm = Algorithm.SHA256;

  /**
   * Where and how to reach the bucket.
   *
   * @param endpoint an S3-compatible server's URL, or {@code null} for AWS itself
   * @param region the region (any name for most S3-compatible servers)
   * @param pathStyle path-style addressing ({@code host/bucket/key}), which S3-compatible servers usually need
   * @param accessKey the access key, or {@code null} for the SDK's standard chain (environment, profile, instance role)
   * @param secretKey the secret key, with {@code accessKey}
   */
  public record Config(String bucket, String prefix, URI endpoint, String region, boolean pathStyle, String accessKey,
      String secretKey) {

    public Config {
      if (bucket == null || bucket.isBlank()) {
        throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "an S3 store needs a bucket");
      }
      prefix = prefix == null || prefix.isEmpty() || prefix.endsWith("/") ? (prefix == null ? "" : prefix) : prefix + "/";
      region = region == null ? "us-east-1" : region;
    }
  }

  /** Connects to the bucket; {@code spool} is a local directory for large uploads in flight. */
  public S3BlobStore(Config config, Path spool) {
    AwsCredentialsProvider credentials = config.accessKey() != null
        ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretKey()))
        : DefaultCredentialsProvider.builder().build();
    var b = S3Client.builder().region(Region.of(config.region())).credentialsProvider(credentials)
        .forcePathStyle(config.pathStyle())
        // S3-compatible servers do not all take the SDK's newer default checksums: send them only when required
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClient(UrlConnectionHttpClient.builder().socketTimeout(Duration.ofSeconds(60))
            .connectionTimeout(Duration.ofSeconds(10)).build());
    if (config.endpoint() != null) {
      b.endpointOverride(config.endpoint());
    }
    this.s3 = b.build();
    this.bucket = config.bucket();
    this.prefix = config.prefix();
    this.spool = spool;
    try {
      Files.createDirectories(spool);
    } catch (IOException e) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "creating " + spool + ": " + e.getMessage(), e);
    }
  }

  private String key(Integrity digest) {
    String hex = digest.hash(algorithm).orElseThrow(() -> new LarderException.InvalidInput(
        LarderException.Kind.INVALID_INTEGRITY, "this store addresses content by sha256, and " + digest + " has none"))
        .hex();
    return prefix + "blobs/sha256/" + hex.substring(0, 2) + "/" + hex;
  }

  private static LarderException failure(String what, SdkException e) {
    return new LarderException.StorageFailure(LarderException.Kind.IO, what + " failed: " + e.getMessage(), e);
  }

  @Override
  public StoredBlob put(InputStream in, Integrity expected, long expectedSize) {
    MessageDigest md = algorithm.newDigest();
    byte[] first;
    try {
      first = in.readNBytes(SINGLE_PUT_LIMIT + 1);
    } catch (IOException e) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "reading the content to store: " + e.getMessage(), e);
    }
    if (first.length <= SINGLE_PUT_LIMIT) {
      md.update(first);
      Integrity d = check(md, first.length, expected, expectedSize);
      putObject(key(d), RequestBody.fromBytes(first));
      return new StoredBlob(d, first.length);
    }
    Path tmp = spool.resolve(java.util.UUID.randomUUID() + ".spool");
    try {
      long n;
      try (OutputStream out = Files.newOutputStream(tmp)) {
        md.update(first);
        out.write(first);
        n = first.length;
        byte[] buf = new byte[1024 * 1024];
        for (int r; (r = in.read(buf)) > 0; ) {
          md.update(buf, 0, r);
          out.write(buf, 0, r);
          n += r;
          if (expectedSize >= 0 && n > expectedSize) {
            break; // check() reports it
          }
        }
      }
      Integrity d = check(md, n, expected, expectedSize);
      multipart(key(d), tmp, n);
      return new StoredBlob(d, n);
    } catch (IOException e) {
      throw new LarderException.StorageFailure(LarderException.Kind.IO, "storing content in s3://" + bucket + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // removed with the spool directory's other leftovers
      }
    }
  }

  private Integrity check(MessageDigest md, long n, Integrity expected, long expectedSize) {
    if (expectedSize >= 0 && n != expectedSize) {
      throw new LarderException.IntegrityFailure(LarderException.Kind.SIZE_MISMATCH,
          "the content is " + (n > expectedSize ? "more" : "fewer") + " than the expected " + expectedSize + " bytes; nothing was stored");
    }
    Integrity d = Integrity.of(algorithm, md.digest());
    if (expected != null) {
      Optional<Integrity.Hash> e = expected.hash(algorithm);
      if (e.isPresent() && !e.get().equals(d.hash(algorithm).orElseThrow())) {
        throw new LarderException.IntegrityFailure(LarderException.Kind.DIGEST_MISMATCH,
            "the content's digest is " + d + ", not the expected " + expected + "; nothing was stored");
      }
    }
    return d;
  }

  private void putObject(String key, RequestBody body) {
    try {
      s3.putObject(PutObjectRequest.builder().bucket(bucket).key(key).ifNoneMatch("*").build(), body);
    } catch (S3Exception e) {
      if (e.statusCode() == 412) {
        // it exists (the same digest, the same bytes): make it recent, as a new upload would be, so that a
        // collection running now does not take it for unreferenced (see S3Tier.collect)
        refresh(key);
        return;
      }
      throw failure("storing " + key + " in s3://" + bucket, e);
    } catch (SdkException e) {
      throw failure("storing " + key + " in s3://" + bucket, e);
    }
  }

  private void multipart(String key, Path file, long size) throws IOException {
    String id;
    try {
      id = s3.createMultipartUpload(CreateMultipartUploadRequest.builder().bucket(bucket).key(key).build()).uploadId();
    } catch (SdkException e) {
      throw failure("starting an upload of " + key, e);
    }
    boolean done = false;
    try {
      List<CompletedPart> parts = new ArrayList<>();
      try (InputStream in = Files.newInputStream(file)) {
        int number = 1;
        for (long off = 0; off < size; off += SINGLE_PUT_LIMIT, number++) {
          int len = (int) Math.min(SINGLE_PUT_LIMIT, size - off);
          byte[] part = in.readNBytes(len);
          String etag = s3.uploadPart(UploadPartRequest.builder().bucket(bucket).key(key).uploadId(id)
              .partNumber(number).contentLength((long) len).build(), RequestBody.fromBytes(part)).eTag();
          parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
        }
      }
      s3.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(id)
          .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
      done = true;
    } catch (SdkException e) {
      throw failure("uploading " + key, e);
    } finally {
      if (!done) {
        try {
          s3.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(id).build());
        } catch (SdkException ignored) {
          // left for removeTmpOlderThan and the bucket's lifecycle rule
        }
      }
    }
  }

  @Override
  public Optional<InputStream> open(Integrity digest, long offset, long length) {
    String key = key(digest);
    GetObjectRequest.Builder r = GetObjectRequest.builder().bucket(bucket).key(key);
    if (offset > 0 || length != Long.MAX_VALUE) {
      if (length == 0) {
        return exists(digest) ? Optional.of(InputStream.nullInputStream()) : Optional.empty();
      }
      long last = length == Long.MAX_VALUE ? -1 : offset + length - 1;
      r.range("bytes=" + offset + "-" + (last < 0 ? "" : Long.toString(last)));
    }
    try {
      ResponseInputStream<GetObjectResponse> in = s3.getObject(r.build());
      return Optional.of(in);
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 416) {
        return Optional.of(InputStream.nullInputStream()); // a range at the very end
      }
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw failure("reading " + key + " from s3://" + bucket, e);
    } catch (SdkException e) {
      throw failure("reading " + key + " from s3://" + bucket, e);
    }
  }

  private Optional<HeadObjectResponse> head(Integrity digest) {
    return head(key(digest));
  }

  /** The object's metadata, or empty if there is no such object. */
  Optional<HeadObjectResponse> head(String objectKey) {
    try {
      return ifThere(() -> s3.headObject(HeadObjectRequest.builder().bucket(bucket).key(objectKey).build()));
    } catch (SdkException e) {
      throw failure("looking up " + objectKey, e);
    }
  }

  /** What {@code request} answers, or empty if the object is not there (404); other failures are thrown. */
  static <T> Optional<T> ifThere(java.util.function.Supplier<T> request) {
    try {
      return Optional.of(request.get());
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw e;
    }
  }

  @Override
  public boolean exists(Integrity digest) {
    return head(digest).isPresent();
  }

  @Override
  public boolean delete(Integrity digest) {
    if (!exists(digest)) {
      return false;
    }
    try {
      s3.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(key(digest)).build());
      return true;
    } catch (SdkException e) {
      throw failure("deleting " + key(digest), e);
    }
  }

  /**
   * Deletes an object older than {@code notWrittenSince} once {@code confirm} agrees. An object store has
   * no rename to set an object aside, so unlike the file store this cannot exclude a node that re-puts the
   * same digest between the check and the delete (its conditional create sees the object and skips the
   * write); a reader then finds the blob missing and the entry is dropped — a miss, never wrong content.
   * Collection across nodes is therefore run by one node, with a grace period longer than any upload.
   */
  @Override
  public boolean deleteIfUnchangedSince(Integrity digest, Instant notWrittenSince, BooleanSupplier confirm) {
    Optional<HeadObjectResponse> h = head(digest);
    if (h.isEmpty() || !h.get().lastModified().isBefore(notWrittenSince) || !confirm.getAsBoolean()) {
      return false;
    }
    return delete(digest);
  }

  @Override
  public void forEach(Consumer<Integrity> action) {
    try {
      for (var page : s3.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(bucket)
          .prefix(prefix + "blobs/sha256/").build())) {
        for (S3Object o : page.contents()) {
          String k = o.key();
          String hex = k.substring(k.lastIndexOf('/') + 1);
          if (hex.length() == 64 && hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            action.accept(Integrity.of(algorithm, HexFormat.of().parseHex(hex)));
          }
        }
      }
    } catch (SdkException e) {
      throw failure("listing s3://" + bucket + "/" + prefix, e);
    }
  }

  /** Sets an object's modification time to now: a copy onto itself (server-side, no bytes through here). */
  private void refresh(String key) {
    try {
      s3.copyObject(b -> b.sourceBucket(bucket).sourceKey(key).destinationBucket(bucket).destinationKey(key)
          .metadataDirective(software.amazon.awssdk.services.s3.model.MetadataDirective.REPLACE));
    } catch (SdkException e) {
      throw failure("refreshing " + key + " in s3://" + bucket, e);
    }
  }

  @Override
  public boolean touch(Integrity digest) {
    if (head(digest).isEmpty()) {
      return false;
    }
    refresh(key(digest));
    return true;
  }

  @Override
  public Optional<Object> stamp(Integrity digest) {
    return head(digest).map(h -> List.of(h.eTag(), String.valueOf(h.lastModified()), h.contentLength()));
  }

  /** Aborts multipart uploads started before {@code cutoff} (a node killed mid-upload) and cleans the spool. */
  @Override
  public int removeTmpOlderThan(Instant cutoff) {
    int n = 0;
    try {
      for (var page : s3.listMultipartUploadsPaginator(ListMultipartUploadsRequest.builder().bucket(bucket)
          .prefix(prefix + "blobs/").build())) {
        for (MultipartUpload u : page.uploads()) {
          if (u.initiated().isBefore(cutoff)) {
            s3.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(u.key())
                .uploadId(u.uploadId()).build());
            n++;
          }
        }
      }
    } catch (SdkException e) {
      // not every S3-compatible server lists uploads; a bucket lifecycle rule covers it
    }
    try (var files = Files.newDirectoryStream(spool, "*.spool")) {
      for (Path f : files) {
        if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff) && Files.deleteIfExists(f)) {
          n++;
        }
      }
    } catch (IOException ignored) {
      // best effort
    }
    return n;
  }

  @Override
  public void close() {
    s3.close();
  }

  /** For tests and tools: the raw client. */
  S3Client client() {
    return s3;
  }

  String bucket() {
    return bucket;
  }

  /** The name of the object holding a digest's content ({@code <prefix>blobs/sha256/<hh>/<hex>}). */
  public String objectKey(Integrity d) {
    return key(d);
  }
}
