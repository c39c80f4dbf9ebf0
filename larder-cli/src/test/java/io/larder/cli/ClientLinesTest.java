package io.larder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The banner's line for each client: ready to paste, with placeholders where credentials go when auth is on. */
class ClientLinesTest {
  @Test
  void withoutCredentialsEachLineIsReadyToUse() {
    List<String> lines = ServeCommand.clientLines("http://127.0.0.1:8080", "grpc://127.0.0.1:8080", false);
    assertThat(String.join("\n", lines)).contains("--remote_cache=http://127.0.0.1:8080\n")
        .contains("--remote_cache=grpc://127.0.0.1:8080 ")
        .contains("TURBO_TOKEN=any").contains("CCACHE_REMOTE_STORAGE=\"http://127.0.0.1:8080/ccache|layout=subdirs\"")
        .contains("remote<HttpBuildCache> { url = uri(\"http://127.0.0.1:8080/gradle/\"); isAllowInsecureProtocol = true; isPush = true }")
        .contains("\"url\": \"http://127.0.0.1:8080/rush/\", \"isCacheWriteAllowed\": true }")
        .doesNotContain("<token>", "<user>", "credentials {");
  }

  @Test
  void withCredentialsEachLineSaysWhereTheyGo() {
    List<String> lines = ServeCommand.clientLines("https://cache.example:8443", null, true);
    String all = String.join("\n", lines);
    assertThat(all).contains("--remote_cache=https://cache.example:8443 --remote_header=authorization=\"Bearer <token>\"")
        .contains("CCACHE_REMOTE_STORAGE=\"https://<user>:<password>@cache.example:8443/ccache|layout=subdirs\"")
        .contains("credentials { username = \"<user>\"; password = \"<password>\" }")
        .doesNotContain("isAllowInsecureProtocol") // https: not needed
        .contains("TURBO_TOKEN=<token>").contains("NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=<token>")
        .contains("SCCACHE_WEBDAV_TOKEN=<token>").contains("auth: { token: 'LARDER_TOKEN' }")
        .doesNotContain("REAPI"); // TLS without a gRPC port: no gRPC address to give
    assertThat(lines).allSatisfy(l -> assertThat(l).startsWith("  "));
  }
}
