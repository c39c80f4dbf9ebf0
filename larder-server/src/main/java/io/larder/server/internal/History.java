package io.larder.server.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.config.JsonShapes;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The server's own recent past, for its web page: every {@link #INTERVAL_SECONDS} a sample of what happened
 * since the last one (requests, bytes in and out, hits and misses per tool, evictions, integrity failures)
 * and of the store's size; the last {@link #SAMPLES} kept in memory (an hour), nothing on disk. No external
 * monitoring needed to see a hit rate fall.
 */
public final class History {
  static final int INTERVAL_SECONDS = 10;
  static final int SAMPLES = 360;

  private final Metrics metrics;
  private final StoreCounts counts;
  private final Deque<ObjectNode> samples = new ArrayDeque<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      r -> Thread.ofPlatform().daemon().name("larder-history").unstarted(r));
  private Metrics.Totals last;

  public History(Metrics metrics, StoreCounts counts) {
    this.metrics = metrics;
    this.counts = counts;
    last = metrics.totals();
    timer.scheduleAtFixedRate(this::sample, INTERVAL_SECONDS, INTERVAL_SECONDS, TimeUnit.SECONDS);
  }

  private void sample() {
    try {
      Metrics.Totals now = metrics.totals();
      ObjectNode s = JsonShapes.MAPPER.createObjectNode();
      s.put("time", System.currentTimeMillis());
      s.put("requests", now.requests() - last.requests());
      s.put("bytesIn", now.bytesIn() - last.bytesIn());
      s.put("bytesOut", now.bytesOut() - last.bytesOut());
      s.put("evictions", now.evictions() - last.evictions());
      s.put("integrityFailures", now.integrityFailures() - last.integrityFailures());
      ObjectNode tools = s.putObject("tools");
      now.hitsAndMisses().forEach((tool, hm) -> {
        long[] before = last.hitsAndMisses().getOrDefault(tool, new long[2]);
        long hits = hm[0] - before[0];
        long misses = hm[1] - before[1];
        if (hits + misses > 0) {
          tools.putObject(tool).put("hits", hits).put("misses", misses);
        }
      });
      io.larder.Stats st = counts.get();
      s.put("storeBytes", st.bytes() + st.indexBytes());
      s.put("entries", st.entries());
      last = now;
      synchronized (samples) {
        samples.addLast(s);
        if (samples.size() > SAMPLES) {
          samples.removeFirst();
        }
      }
    } catch (RuntimeException e) {
      // a closed or failing store: no sample this time
    }
  }

  /** {"intervalSeconds": 10, "samples": [oldest … newest]}. */
  public ObjectNode json() {
    ObjectNode out = JsonShapes.MAPPER.createObjectNode();
    out.put("intervalSeconds", INTERVAL_SECONDS);
    ArrayNode arr = out.putArray("samples");
    synchronized (samples) {
      samples.forEach(arr::add);
    }
    return out;
  }

  public void close() {
    timer.shutdownNow();
  }
}
