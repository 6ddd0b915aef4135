#pragma once
// The /api/v1 contract: maps an HTTP request to a response. No sockets here;
// server.h feeds it parsed requests and writes what it answers.
//
// Routes (see DESIGN.md): POST /api/v1/submissions, GET /api/v1/incidents,
// GET /api/v1/incidents/{ticket}, GET /api/v1/incidents/{ticket}/events,
// GET /api/v1/events, GET /healthz, GET /metrics.
//
// Thread safety: Handle may be called from many threads at once. `respond`
// is called exactly once, possibly on another thread (the ledger's writer
// thread for submissions), and must not block.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/answer_cache.h"
#include "http/metrics.h"
#include "http/response_stream.h"
#include "http/work_pool.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"

namespace ledger::http {

class Web;
class Router;
struct Route;
class AccessControl;
struct NotificationRoutes;
struct Principal;

// Limits of the HTTP edge.
constexpr size_t kBodyBytesMax = 64 * 1024;
constexpr size_t kEventsPageMax = 10'000;
constexpr size_t kEventsPageDefault = 1'000;
constexpr size_t kIncidentsPageMax = 1'000;
constexpr size_t kIncidentsPageDefault = 100;
constexpr int64_t kDefaultWindowMicros = 7LL * 24 * 3600 * 1'000'000;

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string content_type;
  std::string accept;
  std::string accept_encoding;
  std::string if_none_match;
  std::string last_event_id;  // Server-Sent Events resume point, as sent
  // What access control reads (auth.h): credentials, and where a browser
  // says the request came from.
  std::string authorization;   // "Bearer TOKEN"
  std::string cookie;          // the session cookie rides here
  std::string csrf_token;      // X-CSRF-Token, sent by the pages' scripts
  std::string host;
  std::string origin;
  std::string sec_fetch_site;  // "same-origin", "cross-site", ...
  std::string body;
  // Raised by the server when the client's connection closes before the
  // answer is written (null outside the server): long work stops then.
  std::shared_ptr<std::atomic<bool>> abandoned;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, sent instead of `body`: bytes shared with a cache, so that a
  // cached answer of ~100 KB is not copied for every request.
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for a streamed answer (Server-Sent Events): the server sends the
  // headers, then whatever the stream yields; `body` is not sent.
  std::shared_ptr<ResponseStream> stream;
};

using Respond = std::function<void(HttpResponse)>;

struct ApiDependencies {
  Ledger* ledger;
  ingest::CommandProcessor* processor;
  projections::ReadModel* read_model;
  Metrics* metrics;
  Web* web = nullptr;  // pages, assets, the event stream (web.h); none: API only
  const NotificationRoutes* notifications = nullptr;  // subscriptions and the queue (notifications_api.h)
  // Who may call what (auth.h); none: every request has every role (tests).
  const AccessControl* access = nullptr;
  // Where work that can take long runs (work_pool.h); none: on the calling
  // thread, with no budget (tests).
  WorkPool* pool = nullptr;
};

// The long work of a request (see Api::Offload): a response from a token
// it heeds.
using LongWork = std::function<HttpResponse(const StopToken& stop)>;

class Api {
 public:
  explicit Api(ApiDependencies dependencies);
  ~Api();

  // Answers through the route table (router.h): the rows of the API below,
  // of the pages (Web::Routes) and of the notification routes.
  void Handle(const HttpRequest& request, Respond respond);
  const Router& router() const;

  // Response for an error (JSON body, status from its code).
  static HttpResponse ErrorResponse(const Error& error);
  // 415 naming the Content-Type a route takes (e.g. "application/json").
  static HttpResponse UnsupportedMediaType(std::string_view accepted);
  static unsigned StatusFor(ErrorCode code);

  // Runs `work` on `pool` (on this thread when pool is null) and hands its
  // answer to `respond`; answers 503 with Retry-After at once when the
  // pool's queue is full. The work stops when `request`'s client goes away
  // or the pool's time budget runs out, and then answers 503 naming why.
  static void Offload(WorkPool* pool, const HttpRequest& request, LongWork work, Respond respond);

 private:
  // The /api/v1 rows (and /healthz, /metrics).
  std::vector<Route> Routes();

  ApiDependencies deps_;
  AnswerCache answers_;  // GET /api/v1/incidents
  std::unique_ptr<Router> router_;
};

}  // namespace ledger::http
