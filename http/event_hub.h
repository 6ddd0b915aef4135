#pragma once
// Fans committed events out to Server-Sent Events streams
// (GET /api/v1/events/stream).
//
// The ledger's commit listener calls Publish on the writer thread. Publish
// renders each event once as an SSE frame ("id: <seq>\ndata: <event JSON>\n\n"),
// keeps the most recent frames (at most kRecentEventsMax of them and
// kRecentEventBytesMax bytes, always the newest), and hands new frames to every
// stream that is waiting for them. It never waits for a client: a stream
// that is busy writing simply asks again later, and one that has fallen
// further behind than the recent frames reads the rest from the ledger
// (on its own thread, not the writer's). So memory stays bounded by
// kRecentEventBytesMax (or the one newest frame, when it alone is larger)
// however slow a client is and however large events are (a batch of
// delivery receipts is tens of kilobytes), and a stream never skips or
// repeats an event.
//
// A stream starts after a given seq (the client's Last-Event-ID, or the head
// when none), sends every later event in seq order, and a comment line as a
// heartbeat when idle. At most kEventStreamsMax streams are open at once, and
// at most kEventStreamsPerPrincipalMax of one principal (one token), so that
// one reader cannot take every slot.
//
// A stream does not outlive its reader's right: its StreamReader::access is
// asked again before every chunk it hands out and, while it waits for
// events, every access_check_interval (a thread of the hub). When the reader
// may no longer follow the stream it ends; when it may no longer see
// subscriptions and receipts, they are left out from then on.
//
// Thread safety: every method may be called from any thread. The hub must
// outlive every stream it opened (the server's sessions hold them).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "http/response_stream.h"
#include "ledger/ledger.h"

namespace ledger::http {

constexpr size_t kEventStreamsMax = 256;
// Streams one principal (a token, by Bearer and sessions together) may hold
// open at once; a browser tab holds one.
constexpr size_t kEventStreamsPerPrincipalMax = 16;
// How often a waiting stream asks again whether its reader may still follow
// it (each chunk handed out asks too): well within a second.
constexpr std::chrono::milliseconds kEventStreamAccessCheckInterval{250};
// Error::field of Open's refusal when the principal holds
// kEventStreamsPerPrincipalMax streams (the route answers 429 then).
constexpr std::string_view kEventStreamsPerPrincipalField = "event_streams_per_principal";
constexpr size_t kRecentEventsMax = 4096;
// ...and at most this many bytes of them: about 4,096 incident events, or
// 150 full batches of receipts.
constexpr size_t kRecentEventBytesMax = 8 << 20;
// One chunk a stream hands the server: at most this many events...
constexpr size_t kStreamChunkEventsMax = 256;
// ...read from the ledger at a time when catching up.
constexpr std::chrono::milliseconds kEventStreamHeartbeat{15'000};
// Sent first: how long a client waits before reconnecting (EventSource's
// "retry" field), in milliseconds.
constexpr int kEventStreamRetryMillis = 2'000;

// "id: <seq>\ndata: <EventJson>\n\n"
std::string EventStreamFrame(const StoredEvent& stored);

// What the reader of a stream may see now.
enum class StreamAccess : uint8_t {
  kNothing,     // the right is gone: the stream ends
  kIncidents,   // INCIDENT_*, MAINTENANCE_* and SYSTEM_* events only (subscriptions and receipts name people's addresses)
  kEverything,
};

// Who reads a stream.
struct StreamReader {
  // Streams are counted per principal (kEventStreamsPerPrincipalMax); empty
  // (open mode, where everyone is the same one): only the global cap holds.
  std::string principal;
  // Asked when the stream opens, before each chunk it hands out and every
  // access_check_interval while it waits. Called under the hub's lock: it
  // must be quick and must not call the hub. Null: kEverything, for good.
  std::function<StreamAccess()> access;
  // Set: asked for the ticket of each INCIDENT_* event before it is handed
  // out; true leaves the event out (an internal incident, for a reader below
  // the help desk: http/visibility.h). Called under the hub's lock, like
  // `access`: it must be quick and must not call the hub. Null: none hidden.
  std::function<bool(std::string_view ticket)> hides;
};

class EventHub {
 public:
  struct Options {
    std::chrono::milliseconds heartbeat_interval = kEventStreamHeartbeat;
    size_t streams_max = kEventStreamsMax;
    size_t streams_per_principal_max = kEventStreamsPerPrincipalMax;
    size_t recent_events_max = kRecentEventsMax;
    size_t recent_bytes_max = kRecentEventBytesMax;
    std::chrono::milliseconds access_check_interval = kEventStreamAccessCheckInterval;
  };

  // `ledger` must outlive the hub; streams read older events from it. The
  // hub starts at the ledger's current head: construct it before the first
  // append that the commit listener will publish.
  EventHub(const Ledger* ledger, Options options);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Newly committed events, in seq order, continuing the last published.
  void Publish(const std::vector<StoredEvent>& events);

  // A stream of every event after `after_seq` (clamped to the head), or,
  // without one, of every event after the current head, for as long as
  // `reader.access` allows (see StreamReader). Fails with kUnavailable when
  // kEventStreamsMax streams are open, or when the principal holds
  // kEventStreamsPerPrincipalMax (then with field
  // kEventStreamsPerPrincipalField); with kUnauthenticated when the reader
  // may see nothing already.
  Result<std::shared_ptr<ResponseStream>> Open(std::optional<uint64_t> after_seq, StreamReader reader);
  // The same for a reader whose access never changes: with `incidents_only`,
  // only INCIDENT_* events are sent.
  Result<std::shared_ptr<ResponseStream>> Open(std::optional<uint64_t> after_seq, bool incidents_only = false);

  size_t open_streams() const;
  uint64_t published_seq() const;
  // The bytes of the recent frames held (at most Options::recent_bytes_max,
  // or the one newest frame).
  size_t recent_bytes() const;

 private:
  class Stream;
  friend class Stream;

  // Under mutex_: the frames after `cursor` that the recent list holds, up to
  // kStreamChunkEventsMax (only incident events with `incidents_only`); sets
  // *next_cursor to the last seq looked at, which may advance even when
  // every frame was left out. Empty when there are none or when `cursor` is
  // older than the list (then *from_ledger is set).
  // `hides` (StreamReader::hides, may be null) leaves out the incident
  // events of the tickets it names.
  std::string RecentAfter(uint64_t cursor, bool incidents_only, const std::function<bool(std::string_view)>& hides,
                          uint64_t* next_cursor, bool* from_ledger) const;

  // The hub's thread: asks the waiting streams' readers again every
  // access_check_interval, and ends the streams whose right is gone.
  void CheckAccessLoop();

  struct Frame {
    uint64_t seq;
    std::string bytes;
    bool incident;  // an INCIDENT_* event
    std::string ticket;  // the envelope's ticket of an INCIDENT_* event; empty otherwise
  };

  const Ledger* ledger_;
  Options options_;
  mutable std::mutex mutex_;
  uint64_t published_seq_ = 0;
  std::deque<Frame> recent_;  // contiguous seqs
  size_t recent_bytes_ = 0;   // the sum of recent_'s frames' bytes
  std::set<Stream*> streams_;
  std::set<Stream*> waiting_;  // streams with a pending deliver
  std::unordered_map<std::string, size_t> streams_per_principal_;
  bool stopping_ = false;
  std::condition_variable stop_;
  std::thread checker_;  // CheckAccessLoop; last, so that it starts after the rest
};

}  // namespace ledger::http
