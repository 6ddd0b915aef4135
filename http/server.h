#pragma once
// The HTTP server: Boost.Beast over Asio, the only code that touches
// sockets. Each connection reads one request at a time under a deadline,
// hands it to Api::Handle, and writes the answer when it comes (possibly from
// another thread: submissions answer once durable).
//
// Limits: kBodyBytesMax (413 beyond), kHeaderBytesMax (431 beyond),
// kRequestReadTimeout for a whole request including keep-alive idle time (a
// client trickling its headers or body is cut off there), kConnectionsMax
// open at once (fewer when RLIMIT_NOFILE is lower; the soft limit is raised
// to the hard one). When every slot is taken, a new connection takes the
// slot of the one that has waited longest for its request (idle or
// trickling); only when every connection is busy does it get 503 and close.
//
// Before a request reaches Api::Handle, what Beast's parser would let
// through but RFC 9112 does not is refused with 400 (request_from_beast.h:
// folded header lines, Transfer-Encoding other than `chunked`, a missing or
// second Host, a second Authorization, trailer fields), and in open mode a
// Host that does not name the service with 421 (ServerOptions::allowed_hosts).
//
// Thread safety: Start, then Run from one thread; RequestStop from any.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/api.h"

namespace ledger::http {

constexpr size_t kHeaderBytesMax = 16 * 1024;
constexpr std::chrono::seconds kRequestReadTimeout{15};
constexpr std::chrono::seconds kWriteTimeout{30};
constexpr size_t kConnectionsMax = 1024;
constexpr std::chrono::seconds kShutdownGrace{5};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  size_t threads = 2;
  // Called (on a server thread) for each SIGHUP, e.g. to read the auth file
  // again; SIGHUP never stops the server. Unset: SIGHUP is logged and ignored.
  std::function<void()> on_reload;
  // When set, a request is served only when its Host header names the listen
  // address (the IP literal), `localhost` or one of these names (lower case),
  // whatever the port; any other Host gets 421 naming it, before any handler
  // runs. For open mode (no auth file), where a page of another site that
  // rebinds its DNS name to this address (DNS rebinding) could otherwise
  // read and write everything. Unset: any Host is served (tokens guard).
  std::optional<std::vector<std::string>> allowed_hosts;
  // One line per answered request on the log (common/log.h): method, target
  // with secrets redacted (RedactedTarget), status, body bytes, duration,
  // principal and request id. Every answer carries its request id in the
  // X-Request-Id header either way.
  bool access_log = true;
};

class Server {
 public:
  // Binds and listens; fails with kIoError naming the address.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Api* api, Metrics* metrics);
  ~Server();

  // "http://127.0.0.1:41234"
  std::string url() const;

  // Serves until SIGINT or SIGTERM (or RequestStop): then stops accepting,
  // waits up to kShutdownGrace for answers in flight (being prepared or
  // still being written: an answer is whole and has its access line before
  // the stop, unless the grace runs out, which is logged), and returns. A
  // stream (Server-Sent Events) stops counting once its headers are written.
  void Run();
  void RequestStop();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::http
