package io.larder.server;

/**
 * Every gRPC cache test again, the client calling the HTTP port: HTTP/2 with prior knowledge (h2c), each
 * stream that is a gRPC call handed to the same services in process (moon's {@code http://} remote cache,
 * Bazel's {@code grpc://} pointed at the HTTP port).
 */
class GrpcOnHttpPortTest extends GrpcCacheTest {
  @Override
  int port() {
    return server.port();
  }
}
