#include "http/event_hub.h"

#include <algorithm>
#include <utility>

#include "http/json_views.h"

namespace ledger::http {

namespace {

// What a reader below auditor follows: incidents, maintenance windows and
// the catalog of systems, which every viewer reads (GET /api/v1/systems) and
// the dashboard's rows follow (nothing in them names a subscriber).
bool IsIncidentEvent(const StoredEvent& stored) {
  switch (stored.event.type()) {
    case proto::SYSTEM_DEFINED:
    case proto::SYSTEM_UPDATED:
    case proto::SYSTEM_ALIASED:
    case proto::SYSTEM_RETIRED:
    case proto::INCIDENT_OPENED:
    case proto::INCIDENT_UPDATED:
    case proto::INCIDENT_CLOSED:
    case proto::INCIDENT_REOPENED:
    case proto::MAINTENANCE_SCHEDULED:
    case proto::MAINTENANCE_UPDATED:
    case proto::MAINTENANCE_STARTED:
    case proto::MAINTENANCE_ENDED:
    case proto::MAINTENANCE_CANCELLED:
      return true;
    default:
      return false;
  }
}

bool IsIncidentStateEvent(const StoredEvent& stored) {
  return stored.event.type() >= proto::INCIDENT_OPENED && stored.event.type() <= proto::INCIDENT_REOPENED;
}

// Whether a reader whose StreamReader::hides is `hides` gets this event.
bool Shows(const std::function<bool(std::string_view)>& hides, bool incident_state, std::string_view ticket) {
  return !hides || !incident_state || !hides(ticket);
}

}  // namespace

std::string EventStreamFrame(const StoredEvent& stored) {
  // EventJson is one line: JSON escapes every line break inside strings, so
  // the event fits one "data:" field.
  std::string frame = "id: " + std::to_string(stored.seq) + "\ndata: ";
  frame += EventJson(stored);
  frame += "\n\n";
  return frame;
}

class EventHub::Stream : public ResponseStream {
 public:
  Stream(EventHub* hub, uint64_t cursor, StreamReader reader, bool incidents_only)
      : hub_(hub), cursor_(cursor), reader_(std::move(reader)), incidents_only_(incidents_only) {}

  ~Stream() override {
    std::lock_guard<std::mutex> lock(hub_->mutex_);
    hub_->streams_.erase(this);
    hub_->waiting_.erase(this);
    if (!reader_.principal.empty()) {
      const auto count = hub_->streams_per_principal_.find(reader_.principal);
      if (count != hub_->streams_per_principal_.end() && --count->second == 0) {
        hub_->streams_per_principal_.erase(count);
      }
    }
  }

  void Next(DeliverChunk deliver) override {
    std::string bytes;
    bool incidents_only = false;
    {
      std::unique_lock<std::mutex> lock(hub_->mutex_);
      if (cancelled_) return;
      if (!MayGoOnLocked()) {
        lock.unlock();
        return deliver(std::nullopt);
      }
      if (!greeted_) {
        greeted_ = true;
        bytes = "retry: " + std::to_string(kEventStreamRetryMillis) + "\n: events after seq " +
                std::to_string(cursor_) + "\n\n";
      } else {
        bool from_ledger = false;
        // Frames left out (incidents_only) move the cursor without bytes:
        // look again from there.
        while (bytes.empty() && !from_ledger) {
          uint64_t next_cursor = cursor_;
          bytes = hub_->RecentAfter(cursor_, incidents_only_, reader_.hides, &next_cursor, &from_ledger);
          if (next_cursor == cursor_) break;
          cursor_ = next_cursor;
        }
        if (bytes.empty() && !from_ledger) {
          pending_ = std::move(deliver);
          hub_->waiting_.insert(this);
          return;
        }
        if (bytes.empty()) {
          incidents_only = incidents_only_;
          lock.unlock();
          return deliver(ReadFromLedger(incidents_only));
        }
      }
    }
    deliver(std::move(bytes));
  }

  std::chrono::milliseconds heartbeat_interval() const override { return hub_->options_.heartbeat_interval; }
  std::string Heartbeat() const override { return ": heartbeat\n\n"; }

  void Cancel() override {
    DeliverChunk dropped;
    std::lock_guard<std::mutex> lock(hub_->mutex_);
    cancelled_ = true;
    dropped = std::move(pending_);
    pending_ = nullptr;
    hub_->waiting_.erase(this);
  }

 private:
  friend class EventHub;

  // Under the hub's lock: asks the reader's right again. False once the
  // reader may follow the stream no more (then for good); otherwise sets
  // what it may see.
  bool MayGoOnLocked() {
    if (ended_) return false;
    if (!reader_.access) return true;
    const StreamAccess access = reader_.access();
    if (access == StreamAccess::kNothing) {
      ended_ = true;
      return false;
    }
    incidents_only_ = access == StreamAccess::kIncidents;
    return true;
  }

  // Events older than the recent frames: read them from the ledger, outside
  // the hub's lock (only this stream's Next touches cursor_ meanwhile: it is
  // not waiting). A read error ends the stream; the client reconnects with
  // its Last-Event-ID. The right is asked again once the events are read.
  std::optional<std::string> ReadFromLedger(bool incidents_only) {
    Result<std::vector<StoredEvent>> events = hub_->ledger_->ReadAfter(cursor_, kStreamChunkEventsMax);
    if (!events) return std::nullopt;
    std::lock_guard<std::mutex> lock(hub_->mutex_);
    if (!MayGoOnLocked()) return std::nullopt;
    incidents_only = incidents_only || incidents_only_;
    std::string bytes;
    uint64_t last = cursor_;
    for (const StoredEvent& stored : *events) {
      const bool shown = (!incidents_only || IsIncidentEvent(stored)) &&
                         Shows(reader_.hides, IsIncidentStateEvent(stored), stored.event.ticket());
      if (shown) bytes += EventStreamFrame(stored);
      last = stored.seq;
    }
    cursor_ = last;
    // Empty when the ledger lags the hub or every event was left out; the
    // server then asks again.
    return bytes;
  }

  EventHub* hub_;
  uint64_t cursor_;  // the last seq handed out (or left out); under hub_->mutex_
  const StreamReader reader_;
  bool incidents_only_;  // under hub_->mutex_, set by MayGoOnLocked
  bool greeted_ = false;
  bool cancelled_ = false;
  bool ended_ = false;  // the reader's right is gone
  DeliverChunk pending_;
};

EventHub::EventHub(const Ledger* ledger, Options options)
    : ledger_(ledger), options_(options), published_seq_(ledger->head().seq) {
  checker_ = std::thread([this] { CheckAccessLoop(); });
}

EventHub::~EventHub() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  checker_.join();
}

void EventHub::CheckAccessLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    stop_.wait_for(lock, options_.access_check_interval, [this] { return stopping_; });
    if (stopping_) return;
    std::vector<DeliverChunk> ended;
    for (Stream* stream : waiting_) {
      if (stream->MayGoOnLocked()) continue;
      ended.push_back(std::move(stream->pending_));
      stream->pending_ = nullptr;
    }
    if (ended.empty()) continue;
    std::erase_if(waiting_, [](Stream* stream) { return !stream->pending_; });
    // Outside the lock: a deliver only posts to the stream's connection,
    // which then sends the end of the answer and closes.
    lock.unlock();
    for (DeliverChunk& deliver : ended) deliver(std::nullopt);
    lock.lock();
  }
}

void EventHub::Publish(const std::vector<StoredEvent>& events) {
  if (events.empty()) return;
  std::vector<Frame> frames;
  frames.reserve(events.size());
  for (const StoredEvent& stored : events) {
    frames.push_back(Frame{.seq = stored.seq,
                           .bytes = EventStreamFrame(stored),
                           .incident = IsIncidentEvent(stored),
                           .ticket = IsIncidentStateEvent(stored) ? stored.event.ticket() : std::string()});
  }

  std::vector<std::pair<DeliverChunk, std::optional<std::string>>> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Frame& frame : frames) {
      if (frame.seq <= published_seq_) continue;  // already published (never expected)
      published_seq_ = frame.seq;
      recent_bytes_ += frame.bytes.size();
      recent_.push_back(std::move(frame));
    }
    while (recent_.size() > 1 &&
           (recent_.size() > options_.recent_events_max || recent_bytes_ > options_.recent_bytes_max)) {
      recent_bytes_ -= recent_.front().bytes.size();
      recent_.pop_front();
    }
    for (Stream* stream : waiting_) {
      // Asked before anything new is handed out: a stream whose right is
      // gone ends instead.
      if (!stream->MayGoOnLocked()) {
        ready.emplace_back(std::move(stream->pending_), std::nullopt);
        stream->pending_ = nullptr;
        continue;
      }
      uint64_t next_cursor = stream->cursor_;
      bool from_ledger = false;
      std::string bytes =
          RecentAfter(stream->cursor_, stream->incidents_only_, stream->reader_.hides, &next_cursor, &from_ledger);
      if (bytes.empty() && !from_ledger) {
        stream->cursor_ = next_cursor;  // past frames it does not get; it keeps waiting
        continue;
      }
      // An empty chunk for a stream that fell behind the recent frames makes
      // the server ask again, and Next then reads from the ledger.
      stream->cursor_ = next_cursor;
      ready.emplace_back(std::move(stream->pending_), std::move(bytes));
      stream->pending_ = nullptr;
    }
    std::erase_if(waiting_, [](Stream* stream) { return !stream->pending_; });
  }
  // Outside the lock: a deliver only posts to the stream's connection.
  for (auto& [deliver, bytes] : ready) deliver(std::move(bytes));
}

std::string EventHub::RecentAfter(uint64_t cursor, bool incidents_only,
                                  const std::function<bool(std::string_view)>& hides, uint64_t* next_cursor,
                                  bool* from_ledger) const {
  *from_ledger = false;
  if (cursor >= published_seq_) return {};
  if (recent_.empty() || cursor + 1 < recent_.front().seq) {
    *from_ledger = true;
    return {};
  }
  std::string bytes;
  size_t index = static_cast<size_t>(cursor + 1 - recent_.front().seq);
  for (size_t taken = 0; index < recent_.size() && taken < kStreamChunkEventsMax; ++index, ++taken) {
    const Frame& frame = recent_[index];
    if ((!incidents_only || frame.incident) && Shows(hides, !frame.ticket.empty(), frame.ticket)) bytes += frame.bytes;
    *next_cursor = recent_[index].seq;
  }
  return bytes;
}

Result<std::shared_ptr<ResponseStream>> EventHub::Open(std::optional<uint64_t> after_seq, bool incidents_only) {
  if (!incidents_only) return Open(after_seq, StreamReader{});
  return Open(after_seq, StreamReader{.access = [] { return StreamAccess::kIncidents; }});
}

Result<std::shared_ptr<ResponseStream>> EventHub::Open(std::optional<uint64_t> after_seq, StreamReader reader) {
  std::lock_guard<std::mutex> lock(mutex_);
  const StreamAccess access = reader.access ? reader.access() : StreamAccess::kEverything;
  if (access == StreamAccess::kNothing) {
    return MakeError(ErrorCode::kUnauthenticated, "the credentials no longer admit the event stream");
  }
  if (streams_.size() >= options_.streams_max) {
    return MakeError(ErrorCode::kUnavailable, "too many open event streams (at most " +
                                                  std::to_string(options_.streams_max) + "); try again shortly");
  }
  if (!reader.principal.empty() && streams_per_principal_[reader.principal] >= options_.streams_per_principal_max) {
    return MakeError(ErrorCode::kUnavailable,
                     "'" + reader.principal + "' already has " + std::to_string(options_.streams_per_principal_max) +
                         " event streams open, the most one token may hold at once (" +
                         std::string(kEventStreamsPerPrincipalField) + "); close one and try again",
                     std::string(kEventStreamsPerPrincipalField));
  }
  const uint64_t cursor = after_seq ? std::min(*after_seq, published_seq_) : published_seq_;
  const std::string principal = reader.principal;
  auto stream = std::make_shared<Stream>(this, cursor, std::move(reader), access == StreamAccess::kIncidents);
  streams_.insert(stream.get());
  if (!principal.empty()) ++streams_per_principal_[principal];
  return std::shared_ptr<ResponseStream>(std::move(stream));
}

size_t EventHub::open_streams() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return streams_.size();
}

uint64_t EventHub::published_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_seq_;
}

size_t EventHub::recent_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return recent_bytes_;
}

}  // namespace ledger::http
