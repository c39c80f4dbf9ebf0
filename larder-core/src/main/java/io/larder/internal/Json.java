package io.larder.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.larder.LarderException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Metadata is kept as the caller's JSON text; this only checks that it is one well-formed object. */
public final class Json {
  private static final JsonFactory FACTORY = new JsonFactory();

  private Json() {}

  public static String requireObject(String text, int maxBytes) {
    if (text.getBytes(StandardCharsets.UTF_8).length > maxBytes) {
      throw invalid("it is over " + maxBytes + " bytes");
    }
    try (JsonParser p = FACTORY.createParser(text)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw invalid("it is not a JSON object");
      }
      p.skipChildren();
      if (p.nextToken() != null) {
        throw invalid("there is text after the object");
      }
    } catch (IOException e) {
      throw invalid(e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe ? jpe.getOriginalMessage() : e.getMessage());
    }
    return text;
  }

  private static LarderException.InvalidInput invalid(String why) {
    return new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "invalid metadata: " + why);
  }
}
