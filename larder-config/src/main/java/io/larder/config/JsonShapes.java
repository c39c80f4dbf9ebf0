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
  public static final ObjectMapper MAPPER = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

  private JsonShapes() {}

  public static ObjectNode entry(Entry e) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("key", e.key());
    n.put("integrity", e.integrity().toString());
    n.put("size", e.size());
    n.put("created", e.created().toString());
    n.put("accessed", e.accessed().toString());
    if (e.expires() == null) {
      n.putNull("expires");
    } else {
      n.put("expires", e.expires().toString());
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
