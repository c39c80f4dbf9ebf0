package io.larder;

import io.larder.spi.RemoteTier;
import io.larder.testkit.FaultyTier;
import io.larder.testkit.InMemoryTier;
import io.larder.testkit.RemoteTierContract;

/** The fault injector, with no fault set, is a faithful tier: what tests make it do is the only difference. */
class FaultyTierContractTest extends RemoteTierContract {
  @Override
  protected RemoteTier tier() {
    return new FaultyTier(new InMemoryTier("faulty"));
  }
}
