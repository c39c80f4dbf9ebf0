package io.larder.server.internal.grpc;

import build.bazel.remote.execution.v2.ActionCacheGrpc;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.GetActionResultRequest;
import build.bazel.remote.execution.v2.UpdateActionResultRequest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.larder.Larder;
import io.larder.server.Namespaces;
import io.larder.server.internal.ServerContext;
import java.util.Optional;

/**
 * The action cache: results per instance under {@code bazel:ac:[<instance>/]<sha256>} (the keys of HTTP
 * {@code /ac/}, so both transports see the same entries). A result is served only if everything it names is
 * in the CAS.
 */
final class ActionCacheService extends ActionCacheGrpc.ActionCacheImplBase {
  private final ServerContext context;
  private final Larder store;
  private final ActionResults results;
  private final Calls calls;

  ActionCacheService(ServerContext context, ActionResults results, Calls calls) {
    this.context = context;
    this.store = context.store();
    this.results = results;
    this.calls = calls;
  }

  @Override
  public void getActionResult(GetActionResultRequest req, StreamObserver<ActionResult> out) {
    calls.unary(out, () -> {
      Reapi.checkFunction(req.getDigestFunction());
      String key = Namespaces.actionKey(Reapi.instance(req.getInstanceName()), Reapi.hex(req.getActionDigest()));
      Calls.Record rec = Calls.record();
      rec.subject = key;
      Optional<ActionResult> found = ActionResults.load(store, key).map(ActionResults.Stored::result)
          .filter(results::complete);
      rec.hit = found.isPresent();
      if (found.isEmpty()) {
        throw Status.NOT_FOUND.withDescription("no complete action result for " + req.getActionDigest().getHash())
            .asRuntimeException();
      }
      ActionResult r = results.inline(found.get(), req.getInlineStdout(), req.getInlineStderr(), req.getInlineOutputFilesList());
      rec.bytes = r.getSerializedSize();
      return r;
    });
  }

  @Override
  public void updateActionResult(UpdateActionResultRequest req, StreamObserver<ActionResult> out) {
    calls.unary(out, () -> {
      Reapi.checkFunction(req.getDigestFunction());
      String key = Namespaces.actionKey(Reapi.instance(req.getInstanceName()), Reapi.hex(req.getActionDigest()));
      Calls.Record rec = Calls.record();
      rec.subject = key;
      ActionResult r = req.getActionResult();
      ActionResults.validate(r);
      ActionResult stored = results.storeInlined(r);
      byte[] bytes = stored.toByteArray();
      context.bound().putWithin(bytes.length, () -> store.put(key, bytes));
      return r;
    });
  }
}
