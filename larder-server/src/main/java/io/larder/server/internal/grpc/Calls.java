package io.larder.server.internal.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import io.larder.LarderException;
import io.larder.server.Credentials;
import io.larder.server.Credentials.Access;
import io.larder.server.internal.ServerContext;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What every RPC goes through, whichever service it calls: its credentials are checked (the health service
 * needs none; writes need write access), it is recorded once in the metrics and the access log with its
 * service's label, and a failure becomes a status a client can act on.
 */
final class Calls implements ServerInterceptor {
  /** What a service tells the access log about the call in progress. */
  static final class Record {
    volatile String subject = "-";
    volatile Boolean hit;
    volatile long bytes;
  }

  private static final Context.Key<Record> RECORD = Context.key("larder-call");
  private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> USER_AGENT = Metadata.Key.of("user-agent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Map<String, String> LABELS = Map.of(
      "build.bazel.remote.execution.v2.ActionCache", "reapi-ac",
      "build.bazel.remote.execution.v2.ContentAddressableStorage", "reapi-cas",
      "build.bazel.remote.execution.v2.Capabilities", "reapi-capabilities",
      "google.bytestream.ByteStream", "bytestream",
      HealthGrpc.SERVICE_NAME, "grpc-health");
  private static final Set<String> WRITES = Set.of(
      "build.bazel.remote.execution.v2.ActionCache/UpdateActionResult",
      "build.bazel.remote.execution.v2.ContentAddressableStorage/BatchUpdateBlobs",
      "google.bytestream.ByteStream/Write");

  private final ServerContext context;

  Calls(ServerContext context) {
    this.context = context;
  }

  /** The record of the call the current thread serves (a throwaway one outside a call). */
  static Record record() {
    Record r = RECORD.get();
    return r == null ? new Record() : r;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    String method = call.getMethodDescriptor().getBareMethodName();
    String label = LABELS.getOrDefault(service, "grpc");
    long start = System.nanoTime();
    Record rec = new Record();
    Credentials.Principal who = context.options().credentials().identify(headers.get(AUTHORIZATION));
    java.net.SocketAddress remote = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    ServerContext.Client client = new ServerContext.Client(remote instanceof java.net.InetSocketAddress a
        ? a.getAddress().getHostAddress() : null, who.name(), headers.get(USER_AGENT));
    ServerCall<Q, R> recorded = new SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        context.record(label, method == null ? "?" : method, rec.subject, rec.hit, status.getCode().value(), rec.bytes,
            System.nanoTime() - start, client);
        super.close(status, trailers);
      }
    };
    if (!HealthGrpc.SERVICE_NAME.equals(service)) {
      Status refused = refusal(who.access(), headers.get(AUTHORIZATION), call.getMethodDescriptor().getFullMethodName(), method);
      if (refused != null) {
        recorded.close(refused, new Metadata());
        return new ServerCall.Listener<>() {};
      }
    }
    return Contexts.interceptCall(Context.current().withValue(RECORD, rec), recorded, headers, next);
  }

  /** Why the credentials do not allow the call, or null if they do. */
  private Status refusal(Access given, String authorization, String fullMethod, String method) {
    Access needed = WRITES.contains(fullMethod) ? Access.WRITE : Access.READ;
    if (given.allows(needed)) {
      return null;
    }
    if (authorization == null) {
      return Status.UNAUTHENTICATED.withDescription("this server needs credentials for " + method
          + ": send the metadata 'authorization: Bearer <token>' or 'Basic <base64 user:password>'"
          + " (Bazel: --remote_header=authorization=Bearer <token>)");
    }
    if (given == Access.NONE) {
      return Status.UNAUTHENTICATED.withDescription("the credentials in 'authorization' were not accepted");
    }
    return Status.PERMISSION_DENIED.withDescription("these credentials may only read; " + method + " writes");
  }

  /** Answers a unary call with what {@code work} returns, or with the status of its failure. */
  <T> void unary(StreamObserver<T> out, Supplier<T> work) {
    T reply;
    try {
      reply = work.get();
    } catch (RuntimeException e) {
      out.onError(failure(e));
      return;
    }
    out.onNext(reply);
    out.onCompleted();
  }

  /** The status a failure is answered with: a store error by its kind, a bad request as it says, else INTERNAL. */
  StatusRuntimeException failure(Throwable e) {
    if (e instanceof StatusRuntimeException s) {
      return s;
    }
    if (e instanceof LarderException le) {
      context.failed(le);
      return Reapi.status(le).asRuntimeException();
    }
    return Status.INTERNAL.withDescription("internal error: " + e).withCause(e).asRuntimeException();
  }
}
