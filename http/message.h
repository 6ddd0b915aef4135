#pragma once
// One HTTP exchange as the service's code sees it, without sockets: the
// request (what server.cc parsed, request_from_beast.h), the response, the
// callback that answers, the error answers every route shares, and the
// hand-off of long work to the pool. Every part of http/ speaks these;
// nothing here knows a route.
//
// Thread safety: plain values and pure functions, except Offload (see there).

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/stop.h"
#include "http/response_stream.h"

namespace ledger::http {

class WorkPool;

// The largest request body the edge reads.
constexpr size_t kBodyBytesMax = 64 * 1024;

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
  std::string forwarded_proto;  // X-Forwarded-Proto, set by a TLS proxy in front ("https")
  // The peer's IP address (the proxy's, behind one), for the refused-
  // credentials log; empty outside the server.
  std::string client_address;
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
  // Who the router admitted (the token's name), for the access log; empty
  // when nobody was (refused, open mode).
  std::string principal;
};

using Respond = std::function<void(HttpResponse)>;

// A JSON answer: `status` and the body as written (Content-Type JSON, the
// HttpResponse default).
HttpResponse JsonAnswer(unsigned status, std::string body);
// Response for an error: the JSON body {"error":{code,message,field}}, the
// status from its code (StatusFor).
HttpResponse ErrorResponse(const Error& error);
// 415 naming the Content-Type a route takes (e.g. "application/json").
HttpResponse UnsupportedMediaType(std::string_view accepted);
unsigned StatusFor(ErrorCode code);

// The long work of a request (see Offload): a response from a token it heeds.
using LongWork = std::function<HttpResponse(const StopToken& stop)>;

// Runs `work` on `pool` (on this thread when pool is null) and hands its
// answer to `respond`; answers 503 with Retry-After at once when the pool's
// queue is full. The work stops when `request`'s client goes away or the
// pool's time budget runs out, and then answers 503 naming why. `respond` is
// called exactly once, on the pool's thread or this one.
void Offload(WorkPool* pool, const HttpRequest& request, LongWork work, Respond respond);

}  // namespace ledger::http
