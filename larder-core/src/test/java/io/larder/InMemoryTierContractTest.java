package io.larder;

import io.larder.spi.RemoteTier;
import io.larder.testkit.InMemoryTier;
import io.larder.testkit.RemoteTierContract;

/** The reference tier against the remote-tier contract. */
class InMemoryTierContractTest extends RemoteTierContract {
  @Override
  protected RemoteTier tier() {
    return new InMemoryTier("contract");
  }
}
