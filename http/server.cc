#include "http/server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/request_from_beast.h"

namespace ledger::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Fields the service reads as one value; a second copy is refused rather
// than letting the first (or the last) silently win.
constexpr std::string_view kSingleFields[] = {"Host",           "Authorization",  "Cookie",
                                               "X-CSRF-Token",   "Origin",         "Sec-Fetch-Site",
                                               "Content-Type",   "Content-Length", "Transfer-Encoding",
                                               "Last-Event-ID"};

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Header values are echoed in error messages: at most this much of one.
constexpr size_t kEchoedValueBytesMax = 100;

// `value` fit for an error message: cut to kEchoedValueBytesMax, every byte
// outside printable ASCII as '?'.
std::string Echo(std::string_view value) {
  std::string text(value.substr(0, kEchoedValueBytesMax));
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  if (value.size() > kEchoedValueBytesMax) text += "...";
  return text;
}

Error Refusal(std::string message, std::string_view field) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message), std::string(field));
}

constexpr std::chrono::milliseconds kShutdownPollInterval{20};
// After accept fails for want of file descriptors, wait this long before the
// next accept, rather than spinning on the error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
// File descriptors kept free for RocksDB, the SMTP client and the sheet
// poller when the connection limit is derived from RLIMIT_NOFILE.
constexpr size_t kReservedFileDescriptors = 256;

class Session;

// Connections waiting for a request (idle keep-alive, or still sending its
// headers and body), oldest first. When every connection slot is taken, a
// new client takes the slot of the one that has waited longest: idle or
// trickling clients can never shut others out.
//
// One mutex guards the list and every session's place in it (`slot`), so
// that a session being destroyed (which removes itself, under the mutex)
// and TakeOldest never both erase the same entry.
class WaitingList {
 public:
  struct Entry;
  using Position = std::list<Entry>::iterator;
  struct Entry {
    std::weak_ptr<Session> session;
    std::optional<Position>* slot;  // the session's own record of this entry
  };

  void Add(std::weak_ptr<Session> session, std::optional<Position>* slot) {
    std::lock_guard lock(mutex_);
    if (*slot) return;
    *slot = waiting_.insert(waiting_.end(), Entry{std::move(session), slot});
  }
  void Remove(std::optional<Position>* slot) {
    std::lock_guard lock(mutex_);
    if (!*slot) return;
    waiting_.erase(**slot);
    slot->reset();
  }
  // The oldest waiting session still alive, taken off the list (the caller
  // closes it); nullptr when none waits.
  std::shared_ptr<Session> TakeOldest() {
    std::lock_guard lock(mutex_);
    while (!waiting_.empty()) {
      Entry entry = waiting_.front();
      waiting_.pop_front();
      entry.slot->reset();
      if (std::shared_ptr<Session> session = entry.session.lock()) return session;
    }
    return nullptr;
  }

 private:
  std::mutex mutex_;
  std::list<Entry> waiting_;
};

struct Shared {
  Api* api;
  Metrics* metrics;
  // ServerOptions::allowed_hosts, and the address listened on as text.
  std::optional<std::vector<std::string>> allowed_hosts;
  std::string listen_address;
  size_t connections_max = kConnectionsMax;
  WaitingList waiting;
  std::atomic<int64_t> connections{0};
  // Requests read whose answer is not yet written (and logged): a stop
  // waits for these, so that no answer a client received lacks its access
  // line. A stream counts until its headers are written.
  std::atomic<int64_t> requests_in_flight{0};
  std::atomic<int64_t> evicted{0};
  std::atomic<bool> stopping{false};
  bool access_log = true;
};

// A request's id for the log and the X-Request-Id header: 16 hex digits,
// random per request (unique enough to find one line among a day's).
std::string NewRequestId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = generator();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

// After an error answer sent before the whole request was read (413, 431),
// the rest of what the client sends is read and dropped for a while before
// closing, so that the client sees the answer instead of a reset.
constexpr size_t kLingerBytesMax = 8 * 1024 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};
// Bytes asked of the socket at a time while a request's header comes in.
constexpr size_t kHeaderReadBytes = 4096;

// Beast's framing errors, said in words a client can act on; any other
// parse error keeps Beast's own message.
std::string ParseErrorMessage(beast::error_code error) {
  if (error == bhttp::error::multiple_content_length) {
    return "the request has Content-Length more than once, with different values; send it once";
  }
  if (error == bhttp::error::bad_content_length) {
    return "bad Content-Length: send one decimal number, and never together with Transfer-Encoding";
  }
  if (error == bhttp::error::bad_transfer_encoding) {
    return "bad Transfer-Encoding: send it once, as exactly 'chunked', and never together with Content-Length";
  }
  return "malformed HTTP request: " + error.message();
}

// One piece of a streamed answer waiting to be written.
struct OutChunk {
  std::string bytes;
  bool last = false;    // the end of the stream
  bool pulled = false;  // came from the stream (a heartbeat did not)
};

// A request's answer as the server follows it: whether it has come, and
// whether its client left before it did.
struct AnswerWatch {
  std::atomic<bool> answered{false};
  std::atomic<bool> abandoned{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared* shared)
      : stream_(std::move(socket)), shared_(shared), heartbeat_timer_(stream_.get_executor()) {
    shared_->metrics->SetOpenConnections(shared_->connections.fetch_add(1) + 1);
  }
  ~Session() {
    AnswerDone();
    StopWaiting();
    if (source_) source_->Cancel();
    shared_->metrics->SetOpenConnections(shared_->connections.fetch_sub(1) - 1);
  }

  // Closes the connection from any thread: its reads and writes end with
  // operation_aborted, on its own strand.
  void Evict() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

  void Start(bool over_capacity) {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity] {
      self->client_address_ = self->PeerAddress();
      if (over_capacity) {
        self->keep_alive_ = false;
        self->version_ = 11;
        self->WriteError(503, MakeError(ErrorCode::kUnavailable, "too many open connections; try again shortly"));
        return;
      }
      self->Read();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderBytesMax);
    parser_->body_limit(kBodyBytesMax);
    header_bytes_ = 0;
    header_fields_ = 0;
    head_only_ = false;
    stream_.expires_after(kRequestReadTimeout);
    StartWaiting();
    ParseHeader();
  }

  // The bytes buffered and not yet consumed.
  std::string_view Buffered() const {
    return {static_cast<const char*>(buffer_.data().data()), buffer_.size()};
  }

  // The header is given to the parser as it arrives (so that garbage is
  // refused at once), but its bytes stay in buffer_ until the parser has all
  // of it: then the lines as sent are checked for what the parser would
  // silently accept (FoldedHeaderLine), and Beast reads the body.
  void ParseHeader() {
    for (;;) {
      const std::string_view buffered = Buffered();
      if (header_bytes_ == buffered.size()) break;
      beast::error_code error;
      const size_t used =
          parser_->put(asio::buffer(buffered.data() + header_bytes_, buffered.size() - header_bytes_), error);
      header_bytes_ += used;
      if (error && error != bhttp::error::need_more) return OnRead(error);
      if (parser_->is_header_done()) return OnHeader();
      if (used == 0) break;
    }
    // Beast measures its header limit from the last field it took; the
    // whole header is held to it here.
    if (Buffered().size() >= kHeaderBytesMax) return OnRead(bhttp::error::header_limit);
    stream_.async_read_some(buffer_.prepare(kHeaderReadBytes),
                            [self = shared_from_this()](beast::error_code error, size_t bytes) {
                              self->buffer_.commit(bytes);
                              if (error == asio::error::eof) {
                                error = self->parser_->got_some() ? beast::error_code(bhttp::error::partial_message)
                                                                  : beast::error_code(bhttp::error::end_of_stream);
                              }
                              if (error) return self->OnRead(error);
                              self->ParseHeader();
                            });
  }

  // The whole header is parsed; its bytes are the first header_bytes_ of
  // buffer_. Refuses what RFC 9112 does not allow and, in open mode, a Host
  // that does not name the service; else reads the body.
  void OnHeader() {
    const std::string_view header = Buffered().substr(0, header_bytes_);
    std::optional<Error> fault = FoldedHeaderLine(header);
    buffer_.consume(header_bytes_);
    header_bytes_ = 0;
    const BeastRequest& message = parser_->get();
    head_only_ = message.method() == bhttp::verb::head;
    BeginAccess(message.method_string(), message.target());
    if (!fault) fault = HeaderFault(message);
    if (fault) return Refuse(400, *fault);
    if (shared_->allowed_hosts && message.count(bhttp::field::host) > 0) {
      const std::string_view host = message[bhttp::field::host];
      if (!HostNamesService(host, shared_->listen_address, *shared_->allowed_hosts)) {
        return Refuse(421, MakeError(ErrorCode::kPermissionDenied,
                                     "this service does not answer to the Host '" + Echo(host) +
                                         "': without --auth-file it serves only requests whose Host is " +
                                         shared_->listen_address +
                                         ", localhost or a name given with --allowed-host NAME (a page of "
                                         "another site could otherwise reach it through DNS rebinding)",
                                     "Host"));
      }
    }
    header_fields_ = static_cast<size_t>(std::distance(message.begin(), message.end()));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code error, size_t) { self->OnRead(error); });
  }

  // The peer's address, as text; empty when the socket no longer has one.
  std::string PeerAddress() {
    beast::error_code error;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(error);
    return error ? std::string() : peer.address().to_string();
  }

  // Answers a request refused before any handler ran, and closes: what the
  // client sent after it (a body, a smuggled request) is read and dropped.
  void Refuse(unsigned status, const Error& error) {
    StopWaiting();
    keep_alive_ = false;
    version_ = 11;
    linger_ = true;
    WriteError(status, error);
  }

  void StartWaiting() { shared_->waiting.Add(weak_from_this(), &waiting_position_); }
  void StopWaiting() { shared_->waiting.Remove(&waiting_position_); }

  void OnRead(beast::error_code error) {
    StopWaiting();
    if (error == bhttp::error::end_of_stream || error == asio::error::eof ||
        error == beast::error::timeout || error == asio::error::connection_reset ||
        error == asio::error::operation_aborted) {
      return Close();
    }
    if (error) {
      keep_alive_ = false;
      version_ = 11;
      linger_ = true;
    }
    if (error == bhttp::error::body_limit) {
      return WriteError(413, MakeError(ErrorCode::kTooLarge,
                                       "the body is larger than " + std::to_string(kBodyBytesMax) + " bytes", "body"));
    }
    if (error == bhttp::error::header_limit) {
      return WriteError(431, MakeError(ErrorCode::kInvalidArgument,
                                       "the request headers are larger than " + std::to_string(kHeaderBytesMax) + " bytes",
                                       "headers"));
    }
    if (error) return WriteError(400, MakeError(ErrorCode::kInvalidArgument, ParseErrorMessage(error)));
    const BeastRequest& message = parser_->get();
    if (std::optional<Error> fault = TrailerFault(message, header_fields_)) return Refuse(400, *fault);
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    head_only_ = message.method() == bhttp::verb::head;
    HttpRequest request = RequestFromBeast(message);
    request.client_address = client_address_;
    // No read deadline while the answer is being prepared (a submission waits
    // for its group commit); the write gets its own.
    stream_.expires_never();
    shared_->requests_in_flight.fetch_add(1);
    in_flight_ = true;
    auto self = shared_from_this();
    // One allocation per request for both flags: `abandoned` (raised when
    // the client goes away before its answer: long work stops) shares the
    // watch's lifetime.
    auto watch = std::make_shared<AnswerWatch>();
    request.abandoned = std::shared_ptr<std::atomic<bool>>(watch, &watch->abandoned);
    shared_->api->Handle(request, [self, watch](HttpResponse response) {
      watch->answered.store(true);
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Write(std::move(response));
      });
    });
    // Most answers are ready by now; for the others (long work, a
    // submission waiting for its commit) watch the connection meanwhile.
    if (!watch->answered.load()) WatchWhileAnswering(std::move(watch));
  }

  // Until the answer comes, a closed connection (end of file or a reset)
  // raises `abandoned`. A client that sends more meanwhile (a pipelined
  // request) is not abandoning anything: the watch then ends, and that
  // request is read after the answer as usual.
  void WatchWhileAnswering(std::shared_ptr<AnswerWatch> watch) {
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this(), watch](beast::error_code error) {
          if (error || watch->answered.load()) return;
          char byte = 0;
          const ssize_t peeked =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            watch->abandoned.store(true);
          }
        });
  }

  // The access record of the request being answered: begun when its header
  // is whole (or, for an answer to bytes that never made a header, when the
  // answer is written), logged when the answer is written (a stream: when it
  // closes).
  void BeginAccess(std::string_view method, std::string_view target) {
    access_ = AccessRecord{.method = std::string(method),
                           .target = RedactedTarget(target),
                           .request_id = NewRequestId(),
                           .start = std::chrono::steady_clock::now(),
                           .begun = true};
  }

  void LogAccess() {
    if (!access_.begun) return;
    access_.begun = false;
    if (!shared_->access_log) return;
    const double milliseconds =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - access_.start).count();
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f", milliseconds);
    const std::string status = std::to_string(access_.status);
    const std::string bytes = std::to_string(access_.bytes);
    const std::string_view principal = access_.principal.empty() ? std::string_view("-") : access_.principal;
    const std::string message = access_.method + " " + access_.target;
    if (access_.end.empty()) {
      Log("access", message,
          {{"method", access_.method}, {"path", access_.target}, {"status", status}, {"bytes", bytes},
           {"duration_ms", duration}, {"principal", principal}, {"request_id", access_.request_id},
           {"client", client_address_}});
    } else {
      Log("access", message,
          {{"method", access_.method}, {"path", access_.target}, {"status", status}, {"bytes", bytes},
           {"duration_ms", duration}, {"principal", principal}, {"request_id", access_.request_id},
           {"client", client_address_}, {"end", access_.end}});
    }
  }

  void WriteError(unsigned status, const Error& error) {
    HttpResponse response;
    response.status = status;
    response.body = ErrorJson(error);
    shared_->metrics->CountRequest("invalid_request", status, 0);
    Write(std::move(response));
  }

  void Write(HttpResponse response) {
    if (!access_.begun) BeginAccess("-", "-");
    access_.status = response.status;
    access_.principal = std::move(response.principal);
    response.headers.emplace_back("X-Request-Id", access_.request_id);
    if (response.stream && head_only_) {
      response.stream->Cancel();
      response.stream.reset();
    }
    if (response.stream) return StartStream(std::move(response));
    if (response.shared_body) {
      // The bytes are shared with the answer cache: sent from where they
      // are, kept alive until the write ends.
      std::shared_ptr<const std::string> bytes = std::move(response.shared_body);
      auto message = std::make_shared<bhttp::response<bhttp::span_body<const char>>>(
          static_cast<bhttp::status>(response.status), version_);
      const size_t length = bytes->size();
      if (!head_only_) message->body() = {bytes->data(), length};
      access_.bytes = head_only_ ? 0 : length;
      return Send(std::move(message), response, length, std::move(bytes));
    }
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_);
    const size_t length = response.body.size();
    if (!head_only_) message->body() = std::move(response.body);
    access_.bytes = head_only_ ? 0 : length;
    Send(std::move(message), response, length, nullptr);
  }

  // Sets the headers every answer carries and writes `message`; `keep`
  // holds bytes the body points into until the write is done.
  template <class Message>
  void Send(std::shared_ptr<Message> message, const HttpResponse& response, size_t length,
            std::shared_ptr<const std::string> keep) {
    message->set(bhttp::field::server, "incident-ledger");
    message->set(bhttp::field::content_type, response.content_type);
    message->set(bhttp::field::cache_control, "no-store");
    message->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : response.headers) message->set(name, value);
    // While stopping, every answer closes its connection, so that busy
    // keep-alive clients cannot hold the shutdown open.
    if (shared_->stopping.load()) keep_alive_ = false;
    message->keep_alive(keep_alive_);
    // A 304 describes the representation it stands for and has no body of
    // its own; a Content-Length of 0 there would misstate it.
    if (response.status != 304) message->content_length(length);
    stream_.expires_after(kWriteTimeout);
    bhttp::async_write(stream_, *message,
                       [self = shared_from_this(), message, keep = std::move(keep)](beast::error_code error, size_t) {
                         self->OnWrite(error);
                       });
  }

  void OnWrite(beast::error_code error) {
    LogAccess();
    AnswerDone();
    if (!error && linger_) return Linger();
    if (error || !keep_alive_) return Close();
    Read();
  }

  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    linger_buffer_.resize(64 * 1024);
    ReadAndDrop();
  }

  void ReadAndDrop() {
    stream_.async_read_some(asio::buffer(linger_buffer_), [self = shared_from_this()](beast::error_code error, size_t bytes) {
      self->lingered_bytes_ += bytes;
      if (error || self->lingered_bytes_ > kLingerBytesMax) return self->Close();
      self->ReadAndDrop();
    });
  }

  // A streamed answer (Server-Sent Events): the headers, then chunks pulled
  // from the stream one at a time (the next is asked for only once the last
  // is written, so a slow client holds at most one chunk here), plus a
  // heartbeat when idle. The connection closes when the stream ends, a write
  // fails or times out, or the client sends anything (a closed socket reads
  // as end of file; an event-stream client sends nothing after its request).
  void StartStream(HttpResponse response) {
    source_ = std::move(response.stream);
    keep_alive_ = false;
    chunked_ = version_ >= 11;
    auto message = std::make_shared<bhttp::response<bhttp::empty_body>>(static_cast<bhttp::status>(response.status),
                                                                       version_);
    message->set(bhttp::field::server, "incident-ledger");
    message->set(bhttp::field::content_type, response.content_type);
    message->set(bhttp::field::cache_control, "no-store");
    message->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->keep_alive(false);
    if (chunked_) message->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*message);
    stream_.expires_after(kWriteTimeout);
    bhttp::async_write_header(stream_, *serializer,
                              [self = shared_from_this(), message, serializer](beast::error_code error, size_t) {
                                self->AnswerDone();
                                if (error) return self->CloseStream("header write failed: " + error.message());
                                self->WatchForClientClose();
                                self->ArmHeartbeat();
                                self->PullChunk();
                              });
  }

  // The socket turning readable ends the stream only when the client has
  // closed (end of file), reset, or sent bytes (it has nothing to send); a
  // wake-up with nothing to read (EAGAIN) waits again.
  void WatchForClientClose() {
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code error) {
      if (self->stream_closed_) return;
      if (error) return self->CloseStream("waiting on the socket failed: " + error.message());
      char byte = 0;
      const ssize_t peeked = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->WatchForClientClose();
      std::string why = peeked == 0  ? "client closed"
                        : peeked > 0 ? "client sent bytes"
                                     : std::string("client reset: ") + std::strerror(errno);
      // A write under way ends first (its bytes were sent, or it fails):
      // the access line then counts what reached the client.
      if (self->writing_) {
        self->close_after_write_ = std::move(why);
        return;
      }
      self->CloseStream(std::move(why));
    });
  }

  void ArmHeartbeat() {
    heartbeat_timer_.expires_after(source_->heartbeat_interval());
    heartbeat_timer_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (error || self->stream_closed_) return;
      if (!self->writing_ && self->outbox_.empty()) {
        self->outbox_.push_back(OutChunk{.bytes = self->source_->Heartbeat()});
        self->WriteChunk();
      }
      self->ArmHeartbeat();
    });
  }

  // The stream may deliver from another thread (the ledger's writer); the
  // bytes come back to this session's strand, and only if it still exists.
  void PullChunk() {
    if (stream_closed_) return;
    std::weak_ptr<Session> weak = shared_from_this();
    auto executor = stream_.get_executor();
    source_->Next([weak, executor](std::optional<std::string> bytes) {
      asio::post(executor, [weak, bytes = std::move(bytes)]() mutable {
        if (std::shared_ptr<Session> self = weak.lock()) self->OnChunk(std::move(bytes));
      });
    });
  }

  void OnChunk(std::optional<std::string> bytes) {
    if (stream_closed_) return;
    if (!bytes) {
      outbox_.push_back(OutChunk{.last = true});
    } else if (bytes->empty()) {
      // An empty chunk would end a chunked body; ask for more instead.
      return PullChunk();
    } else {
      outbox_.push_back(OutChunk{.bytes = std::move(*bytes), .pulled = true});
    }
    WriteChunk();
  }

  void WriteChunk() {
    if (writing_ || outbox_.empty() || stream_closed_) return;
    writing_ = true;
    auto chunk = std::make_shared<OutChunk>(std::move(outbox_.front()));
    outbox_.pop_front();
    stream_.expires_after(kWriteTimeout);
    auto done = [self = shared_from_this(), chunk](beast::error_code error, size_t) {
      self->OnChunkWritten(error, *chunk);
    };
    if (chunk->last) {
      if (!chunked_) return CloseStream("ended");
      asio::async_write(stream_, bhttp::make_chunk_last(), std::move(done));
    } else if (chunked_) {
      asio::async_write(stream_, bhttp::make_chunk(asio::buffer(chunk->bytes)), std::move(done));
    } else {
      asio::async_write(stream_, asio::buffer(chunk->bytes), std::move(done));
    }
  }

  void OnChunkWritten(beast::error_code error, const OutChunk& chunk) {
    writing_ = false;
    if (!error) access_.bytes += chunk.bytes.size();
    if (!close_after_write_.empty()) return CloseStream(std::move(close_after_write_));
    if (error) return CloseStream("write failed: " + error.message());
    if (chunk.last) return CloseStream("ended");
    if (chunk.pulled) PullChunk();
    WriteChunk();
  }

  // `why`: said in the access line (`end=`), so that a cut-off stream can
  // be told from one that ended.
  void CloseStream(std::string why) {
    if (stream_closed_) return;
    stream_closed_ = true;
    access_.end = std::move(why);
    LogAccess();
    heartbeat_timer_.cancel();
    if (source_) source_->Cancel();
    Close();
  }

  // The request being answered stops counting as in flight (see
  // Shared::requests_in_flight); also run by the destructor, for a session
  // dropped before its write ended.
  void AnswerDone() {
    if (!in_flight_) return;
    in_flight_ = false;
    shared_->requests_in_flight.fetch_sub(1);
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  struct AccessRecord {
    std::string method = "-";
    std::string target = "-";
    std::string request_id;
    std::chrono::steady_clock::time_point start;
    std::string principal;
    unsigned status = 0;
    uint64_t bytes = 0;
    bool begun = false;  // begun and not yet logged
    std::string end;     // a stream: why it closed
  };

  beast::tcp_stream stream_;
  Shared* shared_;
  AccessRecord access_;
  std::string client_address_;
  // Where this session is in shared_->waiting while it waits for a request
  // (guarded by the list's mutex).
  std::optional<WaitingList::Position> waiting_position_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // While the header comes in: how many bytes of buffer_ the parser took
  // (kept there until the header is whole). Once it is: how many fields it
  // had (any more came in a chunked trailer).
  size_t header_bytes_ = 0;
  size_t header_fields_ = 0;
  bool keep_alive_ = false;
  bool head_only_ = false;
  bool linger_ = false;
  size_t lingered_bytes_ = 0;
  std::vector<char> linger_buffer_;
  unsigned version_ = 11;

  // Streaming (StartStream and below).
  std::shared_ptr<ResponseStream> source_;
  asio::steady_timer heartbeat_timer_;
  std::deque<OutChunk> outbox_;
  bool chunked_ = false;
  bool writing_ = false;
  bool stream_closed_ = false;
  bool in_flight_ = false;  // counted in Shared::requests_in_flight
  std::string close_after_write_;  // why the client-close watch fired during a write
};

}  // namespace

HttpRequest RequestFromBeast(const BeastRequest& message) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.content_type = std::string(message[bhttp::field::content_type]);
  request.accept = std::string(message[bhttp::field::accept]);
  request.accept_encoding = std::string(message[bhttp::field::accept_encoding]);
  request.if_none_match = std::string(message[bhttp::field::if_none_match]);
  request.last_event_id = std::string(message["Last-Event-ID"]);
  request.authorization = std::string(message[bhttp::field::authorization]);
  request.cookie = std::string(message[bhttp::field::cookie]);
  request.csrf_token = std::string(message["X-CSRF-Token"]);
  request.host = std::string(message[bhttp::field::host]);
  request.origin = std::string(message[bhttp::field::origin]);
  request.sec_fetch_site = std::string(message["Sec-Fetch-Site"]);
  request.forwarded_proto = std::string(message["X-Forwarded-Proto"]);
  request.body = message.body();
  return request;
}

std::optional<Error> FoldedHeaderLine(std::string_view header) {
  // Every line after the request line starts right after a CRLF; the empty
  // line that ends the header starts with CR, so it never matches.
  size_t line_end = header.find("\r\n");
  while (line_end != std::string_view::npos && line_end + 2 < header.size()) {
    const char first = header[line_end + 2];
    if (first == ' ' || first == '\t') {
      return Refusal("a header line starts with a space or tab (obsolete line folding, RFC 9112 section 5.2): send "
                     "each header field on one line",
                     "headers");
    }
    line_end = header.find("\r\n", line_end + 2);
  }
  return std::nullopt;
}

std::optional<Error> HeaderFault(const BeastRequest& message) {
  for (const std::string_view name : kSingleFields) {
    const size_t copies = message.count(name);
    if (copies > 1) {
      return Refusal("the request has " + std::to_string(copies) + " " + std::string(name) +
                         " header fields; send it once",
                     name);
    }
  }
  const auto transfer_encoding = message.find(bhttp::field::transfer_encoding);
  if (transfer_encoding != message.end()) {
    if (message.version() < 11) {
      return Refusal("Transfer-Encoding is not allowed on an HTTP/1.0 request", "Transfer-Encoding");
    }
    const std::string_view coding = TrimSpaces(transfer_encoding->value());
    if (!EqualsIgnoringCase(coding, "chunked")) {
      return Refusal("Transfer-Encoding '" + Echo(transfer_encoding->value()) +
                         "' is not accepted: a request body is either sent with Content-Length or with "
                         "Transfer-Encoding: chunked, and no other coding",
                     "Transfer-Encoding");
    }
    if (message.count(bhttp::field::content_length) > 0) {
      return Refusal("the request has both Transfer-Encoding and Content-Length; send one", "Content-Length");
    }
  }
  const auto content_length = message.find(bhttp::field::content_length);
  if (content_length != message.end() && content_length->value().find(',') != std::string_view::npos) {
    return Refusal("Content-Length '" + Echo(content_length->value()) + "' is a list; send one number",
                   "Content-Length");
  }
  if (message.version() >= 11 && message.count(bhttp::field::host) == 0) {
    return Refusal("an HTTP/1.1 request must carry a Host header", "Host");
  }
  return std::nullopt;
}

std::optional<Error> TrailerFault(const BeastRequest& message, size_t header_fields) {
  size_t index = 0;
  for (const auto& field : message) {
    if (index++ < header_fields) continue;
    return Refusal("the chunked body ends with trailer fields (" + Echo(field.name_string()) +
                       "); this service takes none: send every field in the header",
                   "trailer");
  }
  return std::nullopt;
}

bool HostNamesService(std::string_view host, std::string_view listen_address, const std::vector<std::string>& names) {
  std::string_view name = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(0, close + 1);
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  if (name.empty()) return false;
  if (EqualsIgnoringCase(name, "localhost")) return true;
  // An IPv6 listen address is written in brackets in a Host header.
  if (listen_address.find(':') != std::string_view::npos) {
    if (name.size() == listen_address.size() + 2 && name.front() == '[' &&
        EqualsIgnoringCase(name.substr(1, listen_address.size()), listen_address)) {
      return true;
    }
  } else if (name == listen_address) {
    return true;
  }
  return std::any_of(names.begin(), names.end(), [&](const std::string& allowed) { return EqualsIgnoringCase(name, allowed); });
}

class Server::Impl {
 public:
  Impl(const ServerOptions& options, Api* api, Metrics* metrics)
      : options_(options), io_(static_cast<int>(std::max<size_t>(1, options.threads))), acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM), reload_signals_(io_, SIGHUP), shutdown_timer_(io_), accept_retry_timer_(io_) {
    shared_.api = api;
    shared_.metrics = metrics;
    shared_.allowed_hosts = options.allowed_hosts;
    shared_.access_log = options.access_log;
    shared_.connections_max = ConnectionsMax();
  }

  // kConnectionsMax, or fewer when the process may not open that many files.
  // The soft RLIMIT_NOFILE is raised to the hard one first.
  static size_t ConnectionsMax() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return kConnectionsMax;
    if (limit.rlim_cur < limit.rlim_max) {
      rlimit raised = limit;
      raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(limit.rlim_cur, 65536) : limit.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY) return kConnectionsMax;
    const size_t files = static_cast<size_t>(limit.rlim_cur);
    if (files <= kReservedFileDescriptors + 16) return 16;
    return std::min(kConnectionsMax, files - kReservedFileDescriptors);
  }

  Status Listen() {
    const std::string address_text = options_.host + ":" + std::to_string(options_.port);
    beast::error_code error;
    const asio::ip::address address = asio::ip::make_address(options_.host, error);
    if (error) return MakeError(ErrorCode::kInvalidArgument, "cannot listen on " + address_text + ": not an IP address", "listen");
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) return MakeError(ErrorCode::kIoError, "cannot listen on " + address_text + ": " + error.message(), "listen");
    bound_ = acceptor_.local_endpoint();
    shared_.listen_address = bound_.address().to_string();
    Accept();
    signals_.async_wait([this](beast::error_code error_code, int) {
      if (!error_code) BeginShutdown();
    });
    WaitForReload();
    return {};
  }

  void WaitForReload() {
    reload_signals_.async_wait([this](beast::error_code error_code, int) {
      if (error_code) return;  // cancelled: stopping
      if (options_.on_reload) {
        options_.on_reload();
      } else {
        Log("server", "SIGHUP: nothing to reload");
      }
      WaitForReload();
    });
  }

  std::string url() const {
    const std::string host = bound_.address().is_v6() ? "[" + bound_.address().to_string() + "]" : bound_.address().to_string();
    return "http://" + host + ":" + std::to_string(bound_.port());
  }

  void Run() {
    std::vector<std::thread> threads;
    for (size_t i = 1; i < std::max<size_t>(1, options_.threads); ++i) threads.emplace_back([this] { io_.run(); });
    io_.run();
    for (std::thread& thread : threads) thread.join();
  }

  void RequestStop() {
    asio::post(io_, [this] { BeginShutdown(); });
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code error, tcp::socket socket) {
      if (error) {
        if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (error == asio::error::no_descriptors || error.value() == ENFILE || error == asio::error::no_buffer_space ||
            error == asio::error::no_memory) {
          // Out of file descriptors (or kernel memory): wait, then accept again.
          accept_retry_timer_.expires_after(kAcceptRetryDelay);
          accept_retry_timer_.async_wait([this](beast::error_code) {
            if (acceptor_.is_open()) Accept();
          });
          return;
        }
        Accept();
        return;
      }
      bool over_capacity = shared_.connections.load() >= static_cast<int64_t>(shared_.connections_max);
      if (over_capacity) {
        if (std::shared_ptr<Session> oldest = shared_.waiting.TakeOldest()) {
          oldest->Evict();
          shared_.evicted.fetch_add(1);
          over_capacity = false;
        }
      }
      std::make_shared<Session>(std::move(socket), &shared_)->Start(over_capacity);
      Accept();
    });
  }

  void BeginShutdown() {
    if (stopping_) return;
    stopping_ = true;
    shared_.stopping.store(true);
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    signals_.cancel(ignored);
    reload_signals_.cancel(ignored);
    shutdown_deadline_ = std::chrono::steady_clock::now() + kShutdownGrace;
    Log("server", "stopping: no new connections",
        {{"answers_in_flight", std::to_string(shared_.requests_in_flight.load())}});
    PollShutdown();
  }

  // Waits until every request read has its answer written and logged (or
  // the grace period is over), then stops the event loop; idle keep-alive
  // connections are dropped.
  void PollShutdown() {
    const int64_t in_flight = shared_.requests_in_flight.load();
    if (in_flight == 0) return io_.stop();
    if (std::chrono::steady_clock::now() >= shutdown_deadline_) {
      Log("server", "stopping after the grace period with answers unfinished (cut off, not logged)",
          {{"answers_in_flight", std::to_string(in_flight)}});
      return io_.stop();
    }
    shutdown_timer_.expires_after(kShutdownPollInterval);
    shutdown_timer_.async_wait([this](beast::error_code) { PollShutdown(); });
  }

  // First, so that it outlives the sessions still queued in io_ when io_ is
  // destroyed (their destructors update the connection count).
  Shared shared_;
  ServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::signal_set reload_signals_;
  asio::steady_timer shutdown_timer_;
  asio::steady_timer accept_retry_timer_;
  tcp::endpoint bound_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point shutdown_deadline_;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Api* api, Metrics* metrics) {
  auto impl = std::make_unique<Impl>(options, api, metrics);
  if (Status listening = impl->Listen(); !listening) return listening.error();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::url() const { return impl_->url(); }
void Server::Run() { impl_->Run(); }
void Server::RequestStop() { impl_->RequestStop(); }

}  // namespace ledger::http
