package io.larder.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** One HTTP/1.1 exchange as raw bytes on a fresh connection (for what HttpClient will not send). */
final class RawHttp {
  private RawHttp() {}

  /**
   * Sends {@code method target} with {@code headers} ("Name: value\r\n" each), {@code body} (or none) and a
   * {@code Content-Length} of {@code contentLength} (-1: none; more than the body: a short body, the client
   * then stops sending); returns the whole response, or "" if none came.
   */
  static String exchange(int port, String method, String target, String headers, byte[] body, long contentLength)
      throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write((method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers
          + (contentLength >= 0 ? "Content-Length: " + contentLength + "\r\n" : "") + "\r\n")
          .getBytes(StandardCharsets.UTF_8));
      if (body != null) {
        out.write(body);
      }
      out.flush();
      if (body != null && body.length < contentLength) {
        s.shutdownOutput();
      }
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = in.read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (SocketTimeoutException | SocketException e) {
        // what came is what there is
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }

  /** The status line of a response. */
  static String status(String response) {
    return response.isEmpty() ? "(no response)" : response.substring(0, response.indexOf("\r\n"));
  }
}
