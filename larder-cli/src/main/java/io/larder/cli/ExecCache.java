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

  /**
   * A `larder serve` server, through its REST API ({@code /v1/entries/KEY}): {@code remote.credentials()}
   * (a token, or the user and password of the URL) go as an Authorization header. Connecting waits at most
   * {@code timeout}, and so does each answer (after the request is sent).
   */
  static ExecCache remote(Remote remote, Duration timeout) {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
    String base = remote.url();
    return new ExecCache() {
      private HttpRequest.Builder request(String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/entries/"
            + URLEncoder.encode(key, StandardCharsets.UTF_8).replace("+", "%20").replace("%3A", ":")))
            .timeout(timeout);
        remote.authorization().ifPresent(a -> b.header("Authorization", a));
        return b;
      }

      private <T> HttpResponse<T> send(HttpRequest r, HttpResponse.BodyHandler<T> h) throws IOException {
        try {
          return http.send(r, h);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", e);
        }
      }

      private void check(HttpResponse<?> r, String what) {
        if (r.statusCode() == 401 || r.statusCode() == 403) {
          throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "it refused to " + what
              + " (" + r.statusCode() + "): give credentials with --remote-token, LARDER_REMOTE_TOKEN or"
              + " http://USER:PASSWORD@HOST");
        }
        if (r.statusCode() >= 300) {
          throw new LarderException.StorageFailure(LarderException.Kind.IO,
              "it answered " + r.statusCode() + " to " + what, null);
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

  /**
   * Where a remote cache is, and its credentials: the URL without them (safe to print), and the header
   * that carries them.
   */
  record Remote(String url, Optional<String> authorization) {
    /**
     * {@code url}, with credentials from its user info ({@code http://USER:PASSWORD@HOST}: Basic) or else
     * {@code token} (Bearer), if any.
     */
    static Remote parse(String url, String token) {
      URI u;
      try {
        u = URI.create(url);
      } catch (IllegalArgumentException e) {
        throw new Main.UsageException("--remote is a URL such as http://HOST:PORT, not a valid one");
      }
      if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null) {
        throw new Main.UsageException("--remote is a URL such as http://HOST:PORT");
      }
      String shown = u.getScheme() + "://" + u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort())
          + (u.getRawPath() == null ? "" : u.getRawPath().replaceAll("/+$", ""));
      Optional<String> auth = Optional.empty();
      if (u.getUserInfo() != null) {
        auth = Optional.of("Basic " + java.util.Base64.getEncoder().encodeToString(
            u.getUserInfo().getBytes(StandardCharsets.UTF_8)));
      } else if (token != null && !token.isEmpty()) {
        auth = Optional.of("Bearer " + token);
      }
      return new Remote(shown, auth);
    }

    @Override
    public String toString() {
      return url; // never the credentials
    }
  }

  /**
   * {@code cache}, where a failure is never the build's: the first one prints one warning line (naming
   * {@code where} and the reason, never a credential) and from then on this run treats the cache as empty
   * and stores nothing there. A miss runs the command, as ccache, Bazel and Gradle do.
   */
  static ExecCache tolerant(ExecCache cache, String where) {
    return new ExecCache() {
      private boolean down;

      private <T> T attempt(String then, java.util.concurrent.Callable<T> call, T otherwise) {
        if (down) {
          return otherwise;
        }
        try {
          return call.call();
        } catch (Exception e) {
          down = true;
          System.err.println("larder: warning: the cache at " + where + " is unavailable (" + reason(e) + "); " + then);
          return otherwise;
        }
      }

      @Override
      public boolean has(String key) {
        return attempt("going on as a miss", () -> cache.has(key), false);
      }

      @Override
      public Optional<InputStream> open(String key) {
        return attempt("going on as a miss", () -> cache.open(key), Optional.empty());
      }

      @Override
      public void put(String key, Path file, String metadata) {
        attempt("the run is not stored there", () -> {
          cache.put(key, file, metadata);
          return null;
        }, null);
      }

      @Override
      public void put(String key, byte[] data, String metadata) {
        attempt("the run is not stored there", () -> {
          cache.put(key, data, metadata);
          return null;
        }, null);
      }
    };
  }

  /** Why a request to a remote cache failed, in words (no exception class names). */
  static String reason(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.ConnectException) {
        return Main.describe(t);
      }
      if (t instanceof java.net.http.HttpTimeoutException) {
        return "no answer in time (--remote-timeout)";
      }
      if (t instanceof java.net.UnknownHostException) {
        return "unknown host";
      }
      if (t instanceof LarderException && t.getMessage() != null) {
        return t.getMessage();
      }
    }
    return e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage() : "it stopped answering";
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
