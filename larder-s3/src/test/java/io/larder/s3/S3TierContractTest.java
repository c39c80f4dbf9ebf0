package io.larder.s3;

import io.larder.spi.RemoteTier;
import io.larder.testkit.RemoteTierContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The S3 tier against the remote-tier contract, over a real S3 wire protocol (s3proxy). */
class S3TierContractTest extends RemoteTierContract {
  static Path dir;
  static S3Proxy proxy;
  final List<S3Tier> opened = new ArrayList<>();

  @BeforeAll
  static void startS3() throws Exception {
    dir = Files.createTempDirectory("larder-s3-tier-test");
    proxy = S3Proxy.start(dir);
    proxy.createBucket("tiers");
  }

  @AfterAll
  static void stopS3() throws Exception {
    proxy.close();
  }

  @AfterEach
  void closeTiers() throws IOException {
    for (S3Tier t : opened) {
      t.close();
    }
  }

  @Override
  protected RemoteTier tier() {
    // each test its own prefix in the one bucket: listings and collections see only its own objects
    S3Tier t = new S3Tier(proxy.config("tiers", "t-" + UUID.randomUUID()), dir.resolve("spool"));
    opened.add(t);
    return t;
  }
}
