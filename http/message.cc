#include "http/message.h"

#include "http/json_views.h"
#include "http/work_pool.h"

namespace ledger::http {

unsigned StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kCorruption: return 500;
    case ErrorCode::kIoError: return 503;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
  }
  return 500;
}

HttpResponse JsonAnswer(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse ErrorResponse(const Error& error) { HttpResponse response;
  response.status = StatusFor(error.code);
  response.body = ErrorJson(error);
  return response; }

void Offload(WorkPool* pool, const HttpRequest& request, LongWork work, Respond respond) {
  if (pool == nullptr) return respond(work(StopToken()));
  // Both the task and this thread may need to answer (the queue may refuse
  // the task), so the respond function is shared rather than moved in.
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  const bool queued = pool->Submit(
      [work = std::move(work), shared_respond](const StopToken& stop) {
        // Nobody waits, or the time ran out while queued: answer without
        // starting.
        if (stop.ShouldStop()) {
          (*shared_respond)(ErrorResponse(stop.Reason()));
          return false;
        }
        HttpResponse response = work(stop);
        const bool stopped = response.status == 503 && stop.ShouldStop();
        (*shared_respond)(std::move(response));
        return !stopped;
      },
      request.abandoned);
  if (queued) return;
  HttpResponse busy = ErrorResponse(
      MakeError(ErrorCode::kUnavailable, "the service is busy with long requests; try again in a few seconds"));
  busy.headers.emplace_back("Retry-After", "2");
  (*shared_respond)(std::move(busy));
}

HttpResponse UnsupportedMediaType(std::string_view accepted) {
  HttpResponse response =
      ErrorResponse(InvalidArgument("Content-Type", "Content-Type must be " + std::string(accepted)));
  response.status = 415;
  return response;
}

}  // namespace ledger::http
