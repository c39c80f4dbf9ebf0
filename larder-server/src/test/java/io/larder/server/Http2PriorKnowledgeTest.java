package io.larder.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.larder.GcOptions;
import io.larder.Larder;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 with prior knowledge (h2c, as moon's cache client opens connections) on the HTTP port, spoken as raw
 * frames: the same protocol table answers each stream, and HTTP/1.1 on the same port is unaffected.
 */
class Http2PriorKnowledgeTest {
  @TempDir Path dir;
  Larder store;
  LarderServer server;

  @BeforeEach
  void start() {
    store = Larder.open(dir.resolve("store"));
    server = LarderServer.start(store, ServerOptions.defaults().port(0).accessLog(null), GcOptions.defaults());
  }

  @AfterEach
  void stop() {
    server.close();
    store.close();
  }

  static byte[] frame(int type, int flags, int stream, byte[] payload) {
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    f.write(payload.length >>> 16);
    f.write(payload.length >>> 8);
    f.write(payload.length);
    f.write(type);
    f.write(flags);
    f.write(stream >>> 24);
    f.write(stream >>> 16);
    f.write(stream >>> 8);
    f.write(stream);
    f.writeBytes(payload);
    return f.toByteArray();
  }

  /** HPACK: a literal header without indexing, its name from the static table. */
  static void literal(ByteArrayOutputStream h, int nameIndex, String value) {
    h.write(nameIndex); // 0000xxxx: literal without indexing, indexed name (index < 15)
    byte[] v = value.getBytes(StandardCharsets.UTF_8);
    h.write(v.length);
    h.writeBytes(v);
  }

  static byte[] request(String method, String path, Integer contentLength) {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    literal(h, 2, method);     // :method
    h.write(0x86);             // :scheme http
    literal(h, 4, path);       // :path
    literal(h, 1, "127.0.0.1"); // :authority
    if (contentLength != null) {
      h.write(0x0f);           // content-length: static index 28, past the 4-bit prefix (15 + 13)
      h.write(13);
      byte[] v = contentLength.toString().getBytes(StandardCharsets.UTF_8);
      h.write(v.length);
      h.writeBytes(v);
    }
    return h.toByteArray();
  }

  record Frame(int type, int flags, int stream, byte[] payload) {}

  @Test
  void streamsAreServedByTheProtocolTable() throws Exception {
    byte[] body = "hello over h2".getBytes(StandardCharsets.UTF_8);
    Map<Integer, ByteArrayOutputStream> data = new HashMap<>();
    Map<Integer, Integer> status = new HashMap<>();
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(3000);
      OutputStream out = s.getOutputStream();
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(frame(4, 0, 0, new byte[0])); // SETTINGS
      out.write(frame(1, 0x4, 1, request("PUT", "/h2/key", body.length))); // HEADERS, end of headers
      out.write(frame(0, 0x1, 1, body)); // DATA, end of stream
      out.flush();
      DataInputStream in = new DataInputStream(s.getInputStream());
      boolean getSent = false;
      while (!ended.contains(3)) {
        Frame f;
        try {
          f = read(in);
        } catch (SocketTimeoutException e) {
          break;
        }
        if (f.type() == 4 && (f.flags() & 1) == 0) {
          out.write(frame(4, 1, 0, new byte[0])); // SETTINGS ack
        }
        if (f.type() == 1) {
          status.put(f.stream(), f.payload()[0] & 0xff); // 0x88: :status 200 from the static table
        }
        if (f.type() == 0) {
          data.computeIfAbsent(f.stream(), k -> new ByteArrayOutputStream()).writeBytes(f.payload());
        }
        if ((f.type() == 0 || f.type() == 1) && (f.flags() & 1) != 0) { // END_STREAM
          ended.add(f.stream());
        }
        if (ended.contains(1) && !getSent) {
          out.write(frame(1, 0x5, 3, request("GET", "/h2/key", null))); // HEADERS, end of headers and stream
          out.flush();
          getSent = true;
        }
      }
    }
    assertThat(status.get(1)).as("PUT answered 200").isEqualTo(0x88);
    assertThat(status.get(3)).as("GET answered 200").isEqualTo(0x88);
    assertThat(data.get(3).toString(StandardCharsets.UTF_8)).isEqualTo("hello over h2");
    assertThat(store.getBytes("http:/h2/key")).hasValueSatisfying(b -> assertThat(b).isEqualTo(body));
    // HTTP/1.1 on the same port, as before
    assertThat(RawHttp.status(RawHttp.exchange(server.port(), "GET", "/h2/key", "", null, -1))).isEqualTo("HTTP/1.1 200 OK");
  }

  private final java.util.Set<Integer> ended = new java.util.HashSet<>();

  static Frame read(DataInputStream in) throws IOException {
    int len = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
    int type = in.readUnsignedByte();
    int flags = in.readUnsignedByte();
    int stream = in.readInt() & 0x7fffffff;
    byte[] p = new byte[len];
    in.readFully(p);
    return new Frame(type, flags, stream, p);
  }
}
