package io.larder.s3;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.Algorithm;
import io.larder.Integrity;
import io.larder.spi.BlobStore;
import io.larder.testkit.BlobStoreContract;
import io.larder.testkit.Payloads;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;

/** The S3 blob store against the blob-store contract, over a real S3 wire protocol (s3proxy). */
class S3BlobStoreContractTest extends BlobStoreContract {
  static Path dir;
  static S3Proxy proxy;
  final List<S3BlobStore> opened = new ArrayList<>();

  @BeforeAll
  static void startS3() throws Exception {
    dir = Files.createTempDirectory("larder-s3-test");
    proxy = S3Proxy.start(dir);
    proxy.createBucket("larder");
  }

  @AfterAll
  static void stopS3() throws Exception {
    proxy.close();
  }

  @AfterEach
  void closeStores() {
    opened.forEach(S3BlobStore::close);
  }

  @Override
  protected BlobStore store() {
    // each test its own prefix in the one bucket: listing and counting see only its own blobs
    S3BlobStore s = new S3BlobStore(proxy.config("larder", "t-" + UUID.randomUUID()), dir.resolve("spool"));
    opened.add(s);
    return s;
  }

  @Test
  void objectsAreNamedByDigestUnderThePrefixAndLargeOnesGoInParts() throws Exception {
    S3BlobStore s = (S3BlobStore) store();
    byte[] large = Payloads.random(S3BlobStore.SINGLE_PUT_LIMIT * 2 + 12345, 9); // three parts
    Integrity d = s.put(new ByteArrayInputStream(large), null, large.length).digest();
    assertThat(d).isEqualTo(Integrity.compute(Algorithm.SHA256, large));
    String key = s.objectKey(d);
    assertThat(key).matches("t-[0-9a-f-]+/blobs/sha256/[0-9a-f]{2}/[0-9a-f]{64}");
    try (S3Client raw = proxy.client()) {
      // read back with the plain SDK: the object is exactly the content
      byte[] got = raw.getObjectAsBytes(b -> b.bucket("larder").key(key)).asByteArray();
      assertThat(got).isEqualTo(large);
      assertThat(raw.listMultipartUploads(b -> b.bucket("larder")).uploads()).as("no upload left open").isEmpty();
    }
  }
}
