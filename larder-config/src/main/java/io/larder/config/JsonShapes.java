package io.larder.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Entry;
import io.larder.GcReport;
import io.larder.Stats;

/** The JSON shapes of entries, statistics and collection reports: one shape for the CLI's --json and the REST API. */
public final class JsonShapes {
  private static final java.time.format.DateTimeFormatter TIME =
      java.time.format.DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(java.time.ZoneOffset.UTC);

  /**
   * A time as every output of Larder writes it: UTC, ISO-8601, always milliseconds
   * ({@code 2026-12-02T19:02:55.000Z}; {@code Instant.toString()} drops a zero fraction and shows nanoseconds).
   */
  public static String time(java.time.Instant t) {
    return TIME.format(t);
  }

  public static final ObjectMapper MAPPER = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

  private JsonShapes() {}

  public static ObjectNode entry(Entry e) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("key", e.key());
    n.put("integrity", e.integrity().toString());
    n.put("size", e.size());
    n.put("created", time(e.created()));
    n.put("accessed", time(e.accessed()));
    if (e.expires() == null) {
      n.putNull("expires");
    } else {
      n.put("expires", time(e.expires()));
    }
    if (e.metadata() == null) {
      n.putNull("metadata");
    } else {
      try {
        n.set("metadata", MAPPER.readTree(e.metadata()));
      } catch (JsonProcessingException ex) {
        n.put("metadata", e.metadata()); // stored metadata is validated JSON; this is only a fallback
      }
    }
    return n;
  }

  /** Statistics and, if given, the effective configuration with each value's source. */
  public static ObjectNode stats(Stats s, LarderConfig config) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("entries", s.entries());
    n.put("blobs", s.blobs());
    n.put("bytes", s.bytes());
    n.put("inlineBlobs", s.inlineBlobs());
    n.put("indexBytes", s.indexBytes());
    n.put("path", s.root().toString());
    if (config != null) {
      ObjectNode c = n.putObject("config");
      config.effective().forEach((k, v) -> {
        ObjectNode o = c.putObject(k.configName());
        o.put("value", v.value());
        o.put("source", v.source());
      });
    }
    return n;
  }

  public static ObjectNode verifyReport(io.larder.VerifyReport r) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("blobsChecked", r.blobsChecked());
    n.put("bytesChecked", r.bytesChecked());
    n.put("corruptRemoved", r.corruptRemoved());
    n.put("missingRemoved", r.missingRemoved());
    n.put("entriesRemoved", r.entriesRemoved());
    n.put("clean", r.clean());
    return n;
  }

  public static ObjectNode gcReport(GcReport r) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("expired", r.expired());
    n.put("evicted", r.evicted());
    n.put("blobsRemoved", r.blobsRemoved());
    n.put("bytesFreed", r.bytesFreed());
    n.put("tmpRemoved", r.tmpRemoved());
    n.put("bytesBefore", r.bytesBefore());
    n.put("bytesAfter", r.bytesAfter());
    n.put("dryRun", r.dryRun());
    return n;
  }
}
