package io.larder.server.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.GcReport;
import io.larder.LarderException;
import io.larder.config.JsonShapes;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Maintenance started from the web page (or a script) that reports while it runs: one collection or
 * verification at a time, in the background; {@code GET /v1/jobs} says what runs (or last ran), how far it
 * is (a verification counts the bytes it re-hashed against the store's content), and its report when done.
 */
final class Jobs {
  private final ServerContext context;
  private volatile Job current;

  Jobs(ServerContext context) {
    this.context = context;
  }

  /** One job: what, since when, how far, and how it ended. */
  private static final class Job {
    final long id;
    final String kind;
    final Instant started = Instant.now();
    final long bytesTotal;
    final AtomicLong bytesDone = new AtomicLong();
    volatile Instant finished;
    volatile ObjectNode report;
    volatile String error;

    Job(long id, String kind, long bytesTotal) {
      this.id = id;
      this.kind = kind;
      this.bytesTotal = bytesTotal;
    }

    ObjectNode json() {
      ObjectNode n = JsonShapes.MAPPER.createObjectNode();
      n.put("id", id).put("kind", kind).put("started", JsonShapes.time(started));
      n.put("done", finished != null);
      if (finished != null) {
        n.put("finished", JsonShapes.time(finished));
      }
      n.put("bytesDone", bytesDone.get()).put("bytesTotal", bytesTotal);
      if (report != null) {
        n.set("report", report);
      }
      if (error != null) {
        n.put("error", error);
      }
      return n;
    }
  }

  private final AtomicLong ids = new AtomicLong();

  /** Starts a job of {@code kind} ("gc" or "verify"); empty if one is running (then it is the one returned). */
  synchronized java.util.Optional<ObjectNode> start(String kind) {
    Job running = current;
    if (running != null && running.finished == null) {
      return java.util.Optional.empty();
    }
    Job job = new Job(ids.incrementAndGet(), kind, kind.equals("verify") ? context.counts().get().bytes() : 0);
    current = job;
    Thread.ofVirtual().name("larder-job-" + kind).start(() -> {
      try {
        if (kind.equals("verify")) {
          job.report = JsonShapes.verifyReport(context.store().verify(job.bytesDone::addAndGet));
        } else {
          GcReport r = context.store().gc(context.gcOptions());
          context.metrics().evicted(r.evicted() + r.expired());
          job.report = JsonShapes.gcReport(r);
        }
      } catch (LarderException e) {
        job.error = e.getMessage();
      } finally {
        job.finished = Instant.now();
      }
    });
    return java.util.Optional.of(job.json());
  }

  /** The job that runs or last ran, or null. */
  ObjectNode current() {
    Job j = current;
    return j == null ? null : j.json();
  }
}
