package io.larder.server.internal;

import io.larder.Larder;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** The server's Prometheus metrics (Micrometer). */
public final class Metrics {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final ConcurrentMap<String, ProtocolMeters> protocols = new ConcurrentHashMap<>();
  private final DistributionSummary bytesIn;
  private final DistributionSummary bytesOut;
  private final Counter integrityFailures;
  private final Counter evictions;
  private final long startNanos = System.nanoTime();
  private volatile String version = "unknown";
  private volatile String commit = "unknown";

  public Metrics(Larder store, StoreCounts counts) {
    bytesIn = DistributionSummary.builder("larder_received_bytes").baseUnit("bytes")
        .description("request bodies stored").register(registry);
    bytesOut = DistributionSummary.builder("larder_sent_bytes").baseUnit("bytes")
        .description("response bodies sent").register(registry);
    integrityFailures = Counter.builder("larder_integrity_failures").description(
        "content that failed verification on read (removed, never served) or an upload that did not match its digest")
        .register(registry);
    evictions = Counter.builder("larder_evictions").description("entries evicted or expired by collections")
        .register(registry);
    // from counts kept up to date in the background: a scrape never counts the index
    Gauge.builder("larder_store_bytes", counts, c -> c.get().bytes()).description("bytes of unique content")
        .baseUnit("bytes").register(registry);
    Gauge.builder("larder_store_index_bytes", counts, c -> c.get().indexBytes()).description("bytes of the index on disk")
        .baseUnit("bytes").register(registry);
    Gauge.builder("larder_store_entries", counts, c -> c.get().entries()).description("entries").register(registry);
    if (store.remoteTier().isPresent()) {
      tierCounter("larder_tier_local_hits", "reads by key answered locally", store, s -> s.tierStats().localHits());
      tierCounter("larder_tier_remote_hits", "local misses answered by the remote tier", store, s -> s.tierStats().remoteHits());
      tierCounter("larder_tier_misses", "reads found in neither tier", store, s -> s.tierStats().misses());
      tierCounter("larder_tier_remote_errors", "remote lookups or writes that failed", store, s -> s.tierStats().remoteErrors());
      tierCounter("larder_tier_remote_corrupt", "remote content that failed verification", store, s -> s.tierStats().remoteCorrupt());
      tierCounter("larder_tier_writes_through", "puts stored in the remote tier", store, s -> s.tierStats().writesThrough());
      tierCounter("larder_tier_local_copy_failures", "local copies of remote content that could not be written",
          store, s -> s.tierStats().localCopyFailures());
      Gauge.builder("larder_tier_pending_writes", store, s -> s.tierStats().pendingWrites())
          .description("puts queued for the remote tier and not uploaded yet (s3-writes = behind)").register(registry);
    }
    new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.FileDescriptorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics().bindTo(registry);
  }

  private void tierCounter(String name, String description, Larder store, java.util.function.ToDoubleFunction<Larder> f) {
    io.micrometer.core.instrument.FunctionCounter.builder(name, store, f).description(description).register(registry);
  }

  /** One finished request: its protocol, method, status, whether it was a hit, and its duration. */
  public void request(String protocol, String method, int status, Boolean hit, long nanos) {
    ProtocolMeters p = protocols.computeIfAbsent(protocol, ProtocolMeters::new);
    p.requests.computeIfAbsent(new RequestKind(method, status), k -> Counter.builder("larder_requests")
        .description("requests answered, by protocol (tool), method and status").tag("protocol", protocol).tag("method", method).tag("status", Integer.toString(status)).register(registry))
        .increment();
    if (hit != null) {
      (hit ? p.hits : p.misses).increment();
    }
    p.duration.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private record RequestKind(String method, int status) {}

  /** The meters of one protocol, looked up once per request. */
  private final class ProtocolMeters {
    final ConcurrentMap<RequestKind, Counter> requests = new ConcurrentHashMap<>();
    final Counter hits;
    final Counter misses;
    final Timer duration;

    ProtocolMeters(String protocol) {
      hits = Counter.builder("larder_hits").description("reads answered with content, by protocol (tool)")
          .tag("protocol", protocol).register(registry);
      misses = Counter.builder("larder_misses").description("reads of content the store does not have, by protocol (tool)")
          .tag("protocol", protocol).register(registry);
      duration = Timer.builder("larder_request_duration")
          .description("from a request's arrival until its last byte was handed to the kernel, by protocol (tool)")
          .tag("protocol", protocol).publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofNanos(50_000)).maximumExpectedValue(Duration.ofSeconds(60)).register(registry);
    }
  }

  public void received(long bytes) {
    bytesIn.record(bytes);
  }

  public void sent(long bytes) {
    bytesOut.record(bytes);
  }

  public void integrityFailure() {
    integrityFailures.increment();
  }

  public void evicted(long entries) {
    evictions.increment(entries);
  }

  /**
   * What this server is: {@code larder_build_info{version, commit}} (always 1) and the same in
   * {@code /status}. Once; later calls change nothing.
   */
  public synchronized void buildInfo(String version, String commit) {
    if (!this.version.equals("unknown") || !this.commit.equals("unknown")) {
      return;
    }
    this.version = version;
    this.commit = commit;
    // an info metric of Prometheus's own client (Micrometer has no info type, and drops "_info" from a gauge)
    io.prometheus.metrics.core.metrics.Info.builder().name("larder_build_info")
        .help("the version and commit of this server").labelNames("version", "commit")
        .register(registry.getPrometheusRegistry()).setLabelValues(version, commit);
  }

  public String version() {
    return version;
  }

  public String commit() {
    return commit;
  }

  /** Seconds since the server started. */
  public long uptimeSeconds() {
    return (System.nanoTime() - startNanos) / 1_000_000_000L;
  }

  /** Hits and misses so far, per protocol that had any: {protocol: [hits, misses]}. */
  public java.util.SortedMap<String, long[]> hitsAndMisses() {
    java.util.SortedMap<String, long[]> m = new java.util.TreeMap<>();
    protocols.forEach((name, p) -> {
      long hits = (long) p.hits.count();
      long misses = (long) p.misses.count();
      if (hits + misses > 0) {
        m.put(name, new long[] {hits, misses});
      }
    });
    return m;
  }

  /** Running totals since the server started, for its own history (see {@link History}). */
  public record Totals(long requests, long bytesIn, long bytesOut, long integrityFailures, long evictions,
      java.util.SortedMap<String, long[]> hitsAndMisses) {}

  public Totals totals() {
    long requests = 0;
    for (ProtocolMeters p : protocols.values()) {
      for (Counter c : p.requests.values()) {
        requests += (long) c.count();
      }
    }
    return new Totals(requests, (long) bytesIn.totalAmount(), (long) bytesOut.totalAmount(),
        (long) integrityFailures.count(), (long) evictions.count(), hitsAndMisses());
  }

  /** The Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }
}
