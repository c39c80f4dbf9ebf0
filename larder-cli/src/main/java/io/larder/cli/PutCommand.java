package io.larder.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.larder.Entry;
import io.larder.Integrity;
import io.larder.Larder;
import io.larder.PutOptions;
import io.larder.config.LarderConfig;
import io.larder.server.Namespaces;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "put", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Store a file or standard input under KEY and print its integrity.",
    footerHeading = "%nExamples:%n",
    footer = {
      "  larder put build:mylib:1.0.0 out/mylib.jar",
      "  tar c src | larder put src:snapshot - --meta branch=main --ttl 7d",
      "  larder put blob:x file.bin --integrity sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="})
final class PutCommand extends Base {
  @Parameters(index = "0", paramLabel = "KEY", description = "The key.")
  String key;

  @Parameters(index = "1", arity = "0..1", paramLabel = "FILE", description = "A file, or - (default) for standard input.")
  String file;

  @Option(names = "--meta", paramLabel = "K=V", description = "A metadata field (repeatable); values are strings.")
  Map<String, String> meta = new LinkedHashMap<>();

  @Option(names = "--meta-json", paramLabel = "JSON", description = "Metadata as a JSON object (merged under --meta fields).")
  String metaJson;

  @Option(names = "--integrity", paramLabel = "SRI", description = "Refuse the content unless it has this digest.")
  String integrity;

  @Option(names = "--size", paramLabel = "N", description = "Refuse the content unless it is N bytes.")
  Long size;

  @Option(names = "--ttl", paramLabel = "DURATION", description = "Expire after this long: 30s, 15m, 12h, 7d, or ISO-8601 (PT1H).")
  String ttl;

  @Override
  int run() throws Exception {
    Optional<String> owner = Namespaces.owner(key);
    if (owner.isPresent()) { // what a protocol serves is only what it stored
      throw new Main.UsageException(Namespaces.refusal(key, owner.get()));
    }
    PutOptions po = PutOptions.defaults();
    String metadata = metadata();
    if (metadata != null) {
      po = po.metadata(metadata);
    }
    if (integrity != null) {
      po = po.integrity(Integrity.parse(integrity));
    }
    if (size != null) {
      po = po.size(size);
    }
    if (ttl != null) {
      po = po.ttl(parseDuration(ttl));
    }
    Entry e;
    try (Larder cache = open()) {
      if (file == null || file.equals("-")) {
        try (Progress progress = new Progress("put", size == null ? -1 : size, options)) {
          e = cache.put(key, progress.wrap(System.in), po);
        }
      } else {
        Path p = Path.of(file);
        if (!Files.exists(p)) {
          throw new NoSuchFileException(file);
        }
        try (InputStream in = Files.newInputStream(p); Progress progress = new Progress("put", Files.size(p), options)) {
          e = cache.put(key, progress.wrap(in), po);
        }
      }
    } catch (NoSuchFileException ex) {
      throw new Main.UsageException("no such file: " + ex.getFile()); // a mistake in the command, not a miss
    }
    if (options.json) {
      printJson(entryJson(e));
    } else {
      out.println(e.integrity());
    }
    return Main.OK;
  }

  private String metadata() throws Exception {
    if (meta.isEmpty() && metaJson == null) {
      return null;
    }
    ObjectNode node = Jsons.MAPPER.createObjectNode();
    if (metaJson != null) {
      var parsed = Jsons.MAPPER.readTree(metaJson);
      if (!parsed.isObject()) {
        throw new Main.UsageException("--meta-json must be a JSON object, not " + parsed.getNodeType().toString().toLowerCase());
      }
      node.setAll((ObjectNode) parsed);
    }
    meta.forEach(node::put);
    return Jsons.MAPPER.writeValueAsString(node);
  }

  static Duration parseDuration(String text) {
    try {
      return LarderConfig.duration(text);
    } catch (IllegalArgumentException e) {
      throw new Main.UsageException("invalid duration '" + text + "': use a number and a unit (30s, 15m, 12h, 7d, 2w) or ISO-8601 (PT1H)");
    }
  }
}
