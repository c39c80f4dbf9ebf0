package io.larder.server;

import io.larder.LarderException;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;

/**
 * The server's certificate for HTTPS: a PEM certificate chain and PKCS#8 private key (as {@code openssl
 * req -x509 -newkey …} or Let's Encrypt write them), or a PKCS#12 file (as {@code keytool} writes it).
 * Optionally, clients must present a certificate signed by {@code clientCa} (PEM).
 *
 * @param certificate PEM certificate chain, or {@code null} with a PKCS#12 file
 * @param privateKey PEM private key (PKCS#8, unencrypted), or {@code null} with a PKCS#12 file
 * @param pkcs12 a PKCS#12 key store holding the key and chain, or {@code null} with PEM files
 * @param password the PKCS#12 password ({@code ""} for none)
 * @param clientCa PEM certificates that client certificates must chain to, or {@code null}: no client certificates
 */
public record Tls(Path certificate, Path privateKey, Path pkcs12, String password, Path clientCa) {

  public static Tls pem(Path certificate, Path privateKey) {
    return new Tls(certificate, privateKey, null, null, null);
  }

  public static Tls pkcs12(Path file, String password) {
    return new Tls(null, null, file, password == null ? "" : password, null);
  }

  /** The same, requiring client certificates that chain to {@code caPem}. */
  public Tls requireClientCertificates(Path caPem) {
    return new Tls(certificate, privateKey, pkcs12, password, caPem);
  }

  /** Builds the Netty context; a file that cannot be used is an error naming it. */
  SslContext context() {
    try {
      SslContextBuilder b;
      if (pkcs12 != null) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pkcs12)) {
          ks.load(in, password.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password.toCharArray());
        b = SslContextBuilder.forServer(kmf);
      } else {
        b = SslContextBuilder.forServer(certificate.toFile(), privateKey.toFile());
      }
      b.sslProvider(SslProvider.JDK);
      if (clientCa != null) {
        b.trustManager(clientCa.toFile()).clientAuth(ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (Exception e) {
      throw new LarderException.InvalidInput(LarderException.Kind.INVALID_ARGUMENT, "cannot use the TLS files "
          + (pkcs12 != null ? pkcs12 : certificate + " and " + privateKey) + (clientCa != null ? " (client CA " + clientCa + ")" : "")
          + ": " + e.getMessage() + " (PEM keys must be PKCS#8: 'openssl pkcs8 -topk8 -nocrypt' converts others)");
    }
  }
}
