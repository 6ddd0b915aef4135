#pragma once
// A response body that is produced over time (Server-Sent Events). The
// server (server.cc) pulls from it: it asks for the next bytes, writes them,
// then asks again, so a slow client never makes the producer buffer more
// than one chunk for it. Nothing here knows about sockets or Beast.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace ledger::http {

// Receives the next bytes to send, or nullopt when the stream has ended (the
// server then finishes the response and closes the connection).
using DeliverChunk = std::function<void(std::optional<std::string>)>;

class ResponseStream {
 public:
  virtual ~ResponseStream() = default;

  // Asks for the next bytes. `deliver` is called exactly once, unless the
  // stream is cancelled first: at once on the calling thread when bytes are
  // ready, or later on any thread (then it must not block). The server calls
  // Next again only after `deliver` ran.
  virtual void Next(DeliverChunk deliver) = 0;

  // The server sends Heartbeat() whenever nothing was sent for this long, so
  // that proxies keep the connection and a dead client is noticed on write.
  virtual std::chrono::milliseconds heartbeat_interval() const = 0;
  virtual std::string Heartbeat() const = 0;

  // The client went away or the server is stopping: a pending `deliver` is
  // dropped without being called. Thread-safe; later calls do nothing.
  virtual void Cancel() = 0;
};

}  // namespace ledger::http
