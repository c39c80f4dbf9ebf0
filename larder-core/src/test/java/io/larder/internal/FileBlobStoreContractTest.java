package io.larder.internal;

import io.larder.Algorithm;
import io.larder.Compression;
import io.larder.Durability;
import io.larder.spi.BlobStore;
import io.larder.testkit.BlobStoreContract;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The local file blob store against the blob-store contract. */
class FileBlobStoreContractTest extends BlobStoreContract {
  @TempDir Path dir;

  @Override
  protected BlobStore store() {
    return new FileBlobStore(dir, Algorithm.SHA256, Durability.PROCESS_SAFE, Compression.NONE, FileOps.REAL);
  }
}
