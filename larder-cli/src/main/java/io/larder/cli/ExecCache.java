package io.larder.cli;

import io.larder.Content;
import io.larder.Larder;
import io.larder.LarderException;
import io.larder.PutOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Where `larder exec` keeps its records: the local store, a `larder serve` URL, or both (local first). */
interface ExecCache {
  boolean has(String key) throws IOException;

  /** The content under {@code key}, or empty. Callers check blob content against its digest themselves. */
  Optional<InputStream> open(String key) throws IOException;

  void put(String key, Path file, String metadata) throws IOException;

  void put(String key, byte[] data, String metadata) throws IOException;

  /** The local store. */
  static ExecCache local(Larder store) {
    return new ExecCache() {
      @Override
      public boolean has(String key) {
        return store.info(key).isPresent();
      }

      @Override
      public Optional<InputStream> open(String key) {
        return store.get(key).map(Content::stream);
      }

      @Override
      public void put(String key, Path file, String metadata) {
        store.put(key, file, PutOptions.defaults().metadata(metadata));
      }

      @Override
      public void put(String key, byte[] data, String metadata) {
        store.put(key, data, PutOptions.defaults().metadata(metadata));
      }
    };
  }

  /** A `larder serve` server, through its REST API ({@code /v1/entries/KEY}); a token goes as a Bearer credential. */
  static ExecCache remote(String baseUrl, String token) {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    return new ExecCache() {
      private HttpRequest.Builder request(String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/entries/"
            + URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20").replace("%3A", ":")))
            .timeout(Duration.ofMinutes(10));
        if (token != null && !token.isEmpty()) {
          b.header("Authorization", "Bearer " + token);
        }
        return b;
      }

      private <T> HttpResponse<T> send(HttpRequest r, HttpResponse.BodyHandler<T> h) throws IOException {
        try {
          return http.send(r, h);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted talking to " + base, e);
        }
      }

      private void check(HttpResponse<?> r, String what) {
        if (r.statusCode() == 401 || r.statusCode() == 403) {
          throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, base + " refused to " + what
              + " (" + r.statusCode() + "): give a token with --remote-token or LARDER_REMOTE_TOKEN");
        }
        if (r.statusCode() >= 300) {
          throw new LarderException.StorageFailure(LarderException.Kind.IO,
              base + " answered " + r.statusCode() + " to " + what, null);
        }
      }

      @Override
      public boolean has(String key) throws IOException {
        HttpResponse<Void> r = send(request(key).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 404) {
          return false;
        }
        check(r, "look up " + key);
        return true;
      }

      @Override
      public Optional<InputStream> open(String key) throws IOException {
        HttpResponse<InputStream> r = send(request(key).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() == 404) {
          r.body().close();
          return Optional.empty();
        }
        if (r.statusCode() >= 300) {
          r.body().close();
        }
        check(r, "read " + key);
        return Optional.of(r.body());
      }

      @Override
      public void put(String key, Path file, String metadata) throws IOException {
        HttpRequest.Builder b = request(key).PUT(HttpRequest.BodyPublishers.ofFile(file));
        check(send(metadata(b, metadata).build(), HttpResponse.BodyHandlers.discarding()), "store " + key);
      }

      @Override
      public void put(String key, byte[] data, String metadata) throws IOException {
        HttpRequest.Builder b = request(key).PUT(HttpRequest.BodyPublishers.ofByteArray(data));
        check(send(metadata(b, metadata).build(), HttpResponse.BodyHandlers.discarding()), "store " + key);
      }

      private HttpRequest.Builder metadata(HttpRequest.Builder b, String metadata) {
        return metadata == null ? b : b.header("X-Larder-Metadata", metadata);
      }
    };
  }

  /** Reads from the first that has the key (filling the ones before it), writes to all. */
  static ExecCache layered(List<ExecCache> caches) {
    return new ExecCache() {
      @Override
      public boolean has(String key) throws IOException {
        for (ExecCache c : caches) {
          if (c.has(key)) {
            return true;
          }
        }
        return false;
      }

      @Override
      public Optional<InputStream> open(String key) throws IOException {
        for (int i = 0; i < caches.size(); i++) {
          Optional<InputStream> in = caches.get(i).open(key);
          if (in.isPresent()) {
            if (i == 0) {
              return in;
            }
            // copy into the nearer caches, then read from the nearest
            Path tmp = java.nio.file.Files.createTempFile("larder-exec-fill", ".tmp");
            try (InputStream s = in.get()) {
              java.nio.file.Files.copy(s, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
              for (int j = 0; j < i; j++) {
                caches.get(j).put(key, tmp, null);
              }
              // read back from the temporary copy, which goes when the stream is closed
              return Optional.of(new java.io.FilterInputStream(java.nio.file.Files.newInputStream(tmp)) {
                @Override
                public void close() throws IOException {
                  super.close();
                  java.nio.file.Files.deleteIfExists(tmp);
                }
              });
            } catch (IOException | RuntimeException e) {
              java.nio.file.Files.deleteIfExists(tmp);
              throw e;
            }
          }
        }
        return Optional.empty();
      }

      @Override
      public void put(String key, Path file, String metadata) throws IOException {
        for (ExecCache c : caches) {
          c.put(key, file, metadata);
        }
      }

      @Override
      public void put(String key, byte[] data, String metadata) throws IOException {
        for (ExecCache c : caches) {
          c.put(key, data, metadata);
        }
      }
    };
  }
}
