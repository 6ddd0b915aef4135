// Fuzz target for HTTP request handling end to end: raw bytes are parsed by
// Beast's request_parser under the server's limits (kHeaderBytesMax,
// kBodyBytesMax), refused where the server refuses them (FoldedHeaderLine,
// HeaderFault, TrailerFault), turned into an HttpRequest by RequestFromBeast, and
// answered by Api::Handle backed by a real ledger in a temporary folder, with
// access control (an auth file with one token per role, kRoleNames), the read
// model, the command and subscription processors, the notification queue,
// the event hub and the pages wired as app/main.cc wires them (no socket, no
// SMTP). Up to kRequestsPerInputMax pipelined requests per input,
// as one keep-alive connection would send them. Built like csv_reader_fuzz
// (see tests/fuzz/README.md).
//
// Properties checked on every request:
//   - respond is called exactly once (within kRespondTimeout; a second call
//     aborts wherever it happens);
//   - the status is a known HTTP status and never 5xx: the ledger is healthy,
//     so no input may make the service fail;
//   - every JSON answer is valid JSON; every JSON error is
//     {"error":{"code","message","field"}} with a known code matching the
//     status and a non-empty message; NDJSON lines and event-stream frames are
//     valid JSON; a 405 says Allow, a 303 says Location;
//   - a page is valid UTF-8 and holds no <script> but the service's own;
//   - HEAD answers with the status GET does;
//   - the read model has folded every committed event, and no event stream
//     is left open.
// Every kChecksEveryInputs inputs: the hash chain verifies, and the read
// model equals a fold of the whole log from seq 1.
//
// Two things differ from a served request, both on purpose: a POST
// /api/v1/backup naming a destination is pointed into the temporary folder
// (its --backup-dir here: the route would refuse other places, but a few
// real backups keep the fuzzing quick), and after kServiceEventsMax events
// the service starts over with an empty ledger, so that every input costs
// about the same.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <zlib.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/encoding.h"
#include "http/api.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/maintenance_api.h"
#include "http/systems_api.h"
#include "http/metrics.h"
#include "http/notifications_api.h"
#include "http/query_params.h"
#include "http/request_from_beast.h"
#include "http/server.h"
#include "http/web.h"
#include "ingest/command.h"
#include "ingest/maintenance.h"
#include "ingest/processor.h"
#include "ingest/subscriptions.h"
#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/notifications.h"
#include "projections/read_model.h"
#include "projections/ticket_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace bhttp = boost::beast::http;
using ledger::http::HttpRequest;
using ledger::http::HttpResponse;

constexpr size_t kRequestsPerInputMax = 4;
constexpr std::chrono::seconds kRespondTimeout{10};
constexpr uint64_t kServiceEventsMax = 2'000;
constexpr uint64_t kChecksEveryInputs = 256;
constexpr int kBackupsMax = 8;
// Chunks pulled from an event stream before it is cancelled.
constexpr int kStreamChunksMax = 3;
// The auth file admits one token per role, each named after it; the seed
// corpus carries them as `Authorization: Bearer ilt_fuzz-ROLE`.
constexpr const char* kRoleNames[] = {"viewer", "helpdesk", "auditor", "admin"};

std::string AuthFileText() {
  std::string text = "# the fuzz target's tokens\n";
  for (const char* role : kRoleNames) {
    const std::string token = std::string("ilt_fuzz-") + role;
    text += std::string("fuzz-") + role + " " + role + " sha256:" + ledger::HexEncode(ledger::Sha256(token)) + "\n";
  }
  return text;
}

[[noreturn]] void SetupFailed(const std::string& what) {
  std::fprintf(stderr, "http_request_fuzz: cannot set up the service: %s\n", what.c_str());
  std::abort();
}

template <class T>
T Must(ledger::Result<T> result, const char* what) {
  if (!result) SetupFailed(std::string(what) + ": " + result.error().message);
  return std::move(*result);
}

// The service as app/main.cc wires it, minus the socket and the mail.
class Service {
 public:
  Service() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ledger-http-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) SetupFailed("mkdtemp");
    folder_ = pattern;
    log_ = Must(ledger::Ledger::Open(ledger::LedgerOptions{.path = folder_ + "/ledger", .sync_writes = false}),
                "open the ledger");
    checkpoints_ = Must(ledger::projections::ProjectionCheckpoints::Open(folder_ + "/projections"), "open checkpoints");
    (void)Must(read_model_.Open(*log_, checkpoints_.get()), "open the read model");  // the report is for a person
    processor_ = Must(ledger::ingest::CommandProcessor::Create(log_.get(), &read_model_), "create the command processor");
    subscriptions_ = Must(ledger::ingest::SubscriptionProcessor::Create(log_.get(), &read_model_),
                          "create the subscription processor");
    routes_ = ledger::http::NotificationRoutes{.subscriptions = subscriptions_.get(), .model = &notification_model_, .ledger = log_.get()};
    maintenance_ = ledger::ingest::MaintenanceProcessor::Create(log_.get(), &read_model_);
    maintenance_routes_ = ledger::http::MaintenanceRoutes{
        .processor = maintenance_.get(), .read_model = &read_model_, .ledger = log_.get()};
    systems_ = ledger::ingest::SystemProcessor::Create(log_.get(), &read_model_);
    system_routes_ = ledger::http::SystemRoutes{.processor = systems_.get(), .read_model = &read_model_};
    event_hub_ = std::make_unique<ledger::http::EventHub>(log_.get(), ledger::http::EventHub::Options{});
    // Without the lockout (failures_max 0): it is state across requests, so
    // a GET's refusal could lock the address out before the HEAD that is
    // compared with it. The lockout has tests of its own (auth_test.cc,
    // test_anonymous_access.py).
    ledger::http::AccessOptions access_options;
    access_options.lockout.failures_max = 0;
    access_ = std::make_unique<ledger::http::AccessControl>(
        Must(ledger::http::AuthFile::Parse(AuthFileText()), "parse the auth file"), nullptr, access_options);
    log_->SetCommitListener([this](const std::vector<ledger::StoredEvent>& events) {
      read_model_.Apply(events);  // the notification side too: notification_model_ reads it
      event_hub_->Publish(events);
    });
    log_->SetBatchSizeObserver([this](size_t events) { metrics_.ObserveBatchSize(events); });
    web_ = std::make_unique<ledger::http::Web>(ledger::http::WebDependencies{
        .ledger = log_.get(),
        .processor = processor_.get(),
        .read_model = &read_model_,
        .event_hub = event_hub_.get(),
        .access = access_.get(),
        // The maintenance form takes posts as the service's does (without
        // its processor the page answers 503, which no input may cause).
        .maintenance = maintenance_.get()});
    api_ = std::make_unique<ledger::http::Api>(ledger::http::ApiDependencies{.ledger = log_.get(),
                                                                             .processor = processor_.get(),
                                                                             .read_model = &read_model_,
                                                                             .metrics = &metrics_,
                                                                             .web = web_.get(),
                                                                             .notifications = &routes_,
                                                                             .maintenance = &maintenance_routes_,
                                                                             .systems = &system_routes_,
                                                                             .access = access_.get(),
                                                                             .backup = BackupPlaces()});
    Seed();
  }

  ~Service() {
    log_->Shutdown();
    api_.reset();
    web_.reset();
    access_.reset();
    event_hub_.reset();
    subscriptions_.reset();
    maintenance_.reset();
    processor_.reset();
    log_.reset();
    checkpoints_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& folder() const { return folder_; }
  ledger::http::Api& api() { return *api_; }
  const ledger::Ledger& log() const { return *log_; }
  const ledger::projections::ReadModel& read_model() const { return read_model_; }
  const ledger::http::EventHub& event_hub() const { return *event_hub_; }
  int next_backup() { return backups_++; }

 private:
  // Something to read: INC-1 open, INC-2 closed, one subscription, MNT-1
  // scheduled.
  void Seed() {
    const char* const kSubmissions[] = {
        (R"({"action":"create","title":"Mail delayed","systems":["mail","vpn"],"engineer":"Ana Ruiz",)"
         R"("severity":"major","started_at":"2026-11-24T08:40:00+01:00","submission_id":"seed-1"})"),
        R"({"action":"create","title":"VPN down","systems":["vpn"],"engineer":"Bo Li","submission_id":"seed-2"})",
        R"({"action":"close","ticket":"INC-2","note":"tunnel restarted"})",
    };
    for (const char* body : kSubmissions) {
      (void)Must(processor_->Submit(Must(ledger::ingest::ParseJsonSubmission(body), "parse a seed")), "submit a seed");
    }
    (void)Must(subscriptions_->Submit(Must(ledger::ingest::ParseSubscriptionJson(
                                               R"({"email":"ana.ruiz@example.org","systems":["mail"]})",
                                               ledger::ingest::SubscriptionAction::kAdd),
                                           "parse the seed subscription")),
               "subscribe");
    (void)Must(maintenance_->Submit(Must(ledger::ingest::ParseMaintenanceJson(
                                             R"({"action":"schedule","title":"Patch mail","systems":["mail"],)"
                                             R"("starts_at":"2026-11-28T22:00:00Z","ends_at":"2026-11-29T01:00:00Z"})"),
                                         "parse the seed window")),
               "schedule");
  }

  // As `serve --backup-dir FOLDER` would: backups below the temporary folder,
  // never inside the ledger's own.
  ledger::http::BackupOptions BackupPlaces() const {
    return ledger::http::BackupOptions{.data_folder = folder_ + "/ledger",
                                       .allowed_parent = std::filesystem::canonical(folder_).string()};
  }

  std::string folder_;
  std::unique_ptr<ledger::Ledger> log_;
  std::unique_ptr<ledger::projections::ProjectionCheckpoints> checkpoints_;
  ledger::projections::ReadModel read_model_;
  std::unique_ptr<ledger::ingest::CommandProcessor> processor_;
  ledger::projections::NotificationModel notification_model_{&read_model_};
  std::unique_ptr<ledger::ingest::SubscriptionProcessor> subscriptions_;
  ledger::http::NotificationRoutes routes_{};
  std::unique_ptr<ledger::ingest::MaintenanceProcessor> maintenance_;
  ledger::http::MaintenanceRoutes maintenance_routes_{};
  std::unique_ptr<ledger::ingest::SystemProcessor> systems_;
  ledger::http::SystemRoutes system_routes_{};
  ledger::http::Metrics metrics_;
  std::unique_ptr<ledger::http::EventHub> event_hub_;
  std::unique_ptr<ledger::http::AccessControl> access_;
  std::unique_ptr<ledger::http::Web> web_;
  std::unique_ptr<ledger::http::Api> api_;
  int backups_ = 0;
};

std::unique_ptr<Service> service;
uint64_t inputs_run = 0;

void StopService() { service.reset(); }

Service& CurrentService() {
  if (!service) {
    service = std::make_unique<Service>();
    static const bool registered = std::atexit(StopService) == 0;
    (void)registered;
  }
  return *service;
}

std::string Describe(const HttpRequest& request) { return request.method + " " + request.target; }

// ---------------------------------------------------------------- answers

const std::string* Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return &value;
    }
  }
  return nullptr;
}

// The bytes of a gzip body, or nullopt when it is not whole, valid gzip.
std::optional<std::string> Gunzip(std::string_view compressed) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int status = Z_OK;
  while (status == Z_OK) {
    char chunk[16384];
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) return std::nullopt;
  return out;
}

struct Answer {
  std::mutex mutex;
  std::condition_variable done;
  int calls = 0;
  HttpResponse response;
};

HttpResponse Handle(Service& current, const HttpRequest& request) {
  auto answer = std::make_shared<Answer>();
  current.api().Handle(request, [answer](HttpResponse response) {
    std::lock_guard<std::mutex> lock(answer->mutex);
    ++answer->calls;
    LEDGER_FUZZ_CHECK(answer->calls == 1, "respond is called exactly once", "");
    answer->response = std::move(response);
    answer->done.notify_all();
  });
  std::unique_lock<std::mutex> lock(answer->mutex);
  const bool answered = answer->done.wait_for(lock, kRespondTimeout, [&answer] { return answer->calls > 0; });
  LEDGER_FUZZ_CHECK(answered, "respond is called", Describe(request));
  HttpResponse response = std::move(answer->response);
  if (response.shared_body) response.body = *response.shared_body;  // as the server sends it
  // And as a client reads it: a gzip answer (Accept-Encoding: gzip) is
  // checked inflated.
  if (const std::string* encoding = Header(response, "Content-Encoding"); encoding != nullptr) {
    LEDGER_FUZZ_CHECK(*encoding == "gzip", "the only content coding is gzip", Describe(request) + " -> " + *encoding);
    std::optional<std::string> plain = Gunzip(response.body);
    LEDGER_FUZZ_CHECK(plain.has_value(), "a gzip answer is whole, valid gzip", Describe(request));
    response.body = std::move(*plain);
  }
  return response;
}

// The status an error code answers with; 0 for an unknown code.
bool CodeFitsStatus(std::string_view code, unsigned status) {
  if (code == "invalid_argument") return status == 400 || status == 405 || status == 415 || status == 431;
  if (code == "not_found") return status == 404;
  if (code == "conflict") return status == 409;
  if (code == "too_large") return status == 413;
  if (code == "unauthenticated") return status == 401;
  if (code == "permission_denied") return status == 403;
  if (code == "io_error") return status == 503;
  // 429: too many refused credentials from the address (auth.h) or too many
  // event streams of one principal, for a while.
  if (code == "unavailable") return status == 503 || status == 429;
  return false;
}

void CheckJsonAnswer(const HttpRequest& request, const HttpResponse& response) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  LEDGER_FUZZ_CHECK(ledger::fuzz::ParsesAsJson(response.body, &parser, &root), "a JSON answer is valid JSON",
                    Describe(request) + " -> " + response.body);
  if (response.status < 400) return;
  std::string_view code;
  std::string_view message;
  std::string_view field;
  const simdjson::dom::element error = root["error"];
  LEDGER_FUZZ_CHECK(error["code"].get_string().get(code) == simdjson::SUCCESS &&
                        error["message"].get_string().get(message) == simdjson::SUCCESS &&
                        error["field"].get_string().get(field) == simdjson::SUCCESS,
                    "a JSON error is {\"error\":{\"code\",\"message\",\"field\"}}", Describe(request) + " -> " + response.body);
  LEDGER_FUZZ_CHECK(!message.empty(), "a JSON error has a message", Describe(request) + " -> " + response.body);
  LEDGER_FUZZ_CHECK(CodeFitsStatus(code, response.status), "a JSON error's code fits its status",
                    Describe(request) + " -> " + std::to_string(response.status) + " " + response.body);
}

void CheckNdjsonAnswer(const HttpRequest& request, const HttpResponse& response) {
  size_t start = 0;
  while (start < response.body.size()) {
    size_t end = response.body.find('\n', start);
    if (end == std::string::npos) end = response.body.size();
    const std::string_view line = std::string_view(response.body).substr(start, end - start);
    if (!line.empty()) {
      LEDGER_FUZZ_CHECK(ledger::fuzz::IsJson(line), "an NDJSON line is valid JSON", Describe(request) + " -> " + std::string(line));
    }
    start = end + 1;
  }
}

// No user text may become markup: every <script in a page is one of the
// service's own script tags.
void CheckPage(const HttpRequest& request, const HttpResponse& response) {
  LEDGER_FUZZ_CHECK(ledger::IsValidUtf8(response.body), "a page is valid UTF-8", Describe(request));
  std::string lower = response.body;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  constexpr std::string_view kOwnScript = "<script defer src=\"/static/";
  for (size_t at = lower.find("<script"); at != std::string::npos; at = lower.find("<script", at + 1)) {
    LEDGER_FUZZ_CHECK(std::string_view(response.body).substr(at).starts_with(kOwnScript),
                      "a page holds no script but the service's own", Describe(request) + " -> " + response.body.substr(at, 200));
  }
}

struct StreamChunk {
  std::mutex mutex;
  bool delivered = false;
  std::optional<std::string> bytes;
};

// Pulls what the stream has at once (the greeting, then events), checks the
// frames, and cancels it as a client that goes away would.
void DrainStream(const HttpRequest& request, ledger::http::ResponseStream& stream) {
  for (int pulled = 0; pulled < kStreamChunksMax; ++pulled) {
    auto chunk = std::make_shared<StreamChunk>();
    stream.Next([chunk](std::optional<std::string> bytes) {
      std::lock_guard<std::mutex> lock(chunk->mutex);
      chunk->delivered = true;
      chunk->bytes = std::move(bytes);
    });
    std::lock_guard<std::mutex> lock(chunk->mutex);
    if (!chunk->delivered || !chunk->bytes) break;  // waiting for new events, or ended
    std::string_view text = *chunk->bytes;
    while (!text.empty()) {
      const size_t end = text.find('\n');
      LEDGER_FUZZ_CHECK(end != std::string_view::npos, "an event-stream chunk ends its lines", Describe(request));
      const std::string_view line = text.substr(0, end);
      text.remove_prefix(end + 1);
      if (line.starts_with("data: ")) {
        LEDGER_FUZZ_CHECK(ledger::fuzz::IsJson(line.substr(6)), "an event-stream data line is valid JSON", line);
      } else {
        LEDGER_FUZZ_CHECK(line.empty() || line.starts_with(":") || line.starts_with("id: ") || line.starts_with("retry: "),
                          "an event-stream line is a known field", line);
      }
    }
  }
  stream.Cancel();
}

void CheckResponse(const HttpRequest& request, const HttpResponse& response) {
  LEDGER_FUZZ_CHECK(bhttp::int_to_status(response.status) != bhttp::status::unknown, "the status is a known HTTP status",
                    Describe(request) + " -> " + std::to_string(response.status));
  LEDGER_FUZZ_CHECK(response.status < 500, "no input makes the service answer 5xx",
                    Describe(request) + " -> " + std::to_string(response.status) + " " + response.body);
  if (response.status == 405) {
    LEDGER_FUZZ_CHECK(Header(response, "Allow") != nullptr, "a 405 says Allow", Describe(request));
  }
  if (response.status == 303) {
    const std::string* location = Header(response, "Location");
    LEDGER_FUZZ_CHECK(location != nullptr && location->starts_with("/"), "a 303 says Location, on this site",
                      Describe(request));
  }
  const std::string media = ledger::http::MediaType(response.content_type);
  if (media == "application/json") CheckJsonAnswer(request, response);
  if (media == "application/x-ndjson") CheckNdjsonAnswer(request, response);
  if (media == "text/html") CheckPage(request, response);
  if (response.stream) {
    LEDGER_FUZZ_CHECK(media == "text/event-stream", "a streamed answer is an event stream", Describe(request));
    DrainStream(request, *response.stream);
  }
}

// ---------------------------------------------------------------- requests

// POST /api/v1/backup writes a RocksDB checkpoint wherever "to" says; here
// it may only write into the service's folder, a few times.
void ConfineBackup(Service& current, HttpRequest* request) {
  if (request->method != "POST" || request->target.substr(0, request->target.find('?')) != "/api/v1/backup") return;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!ledger::fuzz::ParsesAsJson(request->body, &parser, &root)) return;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return;
  bool names_destination = false;
  for (const auto field : object) names_destination = names_destination || field.key == "to";
  if (!names_destination) return;
  const int backup = current.next_backup();
  request->body = backup < kBackupsMax ? R"({"to":")" + current.folder() + "/backup-" + std::to_string(backup) + "\"}"
                                       : std::string(R"({"to":""})");
}

// LEDGER_FUZZ_VERBOSE=1 prints every request and its status (to see what a
// corpus reaches).
bool Verbose() {
  static const bool verbose = std::getenv("LEDGER_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void HandleParsed(Service& current, HttpRequest request) {
  ConfineBackup(current, &request);
  const HttpResponse response = Handle(current, request);
  if (Verbose()) std::fprintf(stderr, "%s -> %u\n", Describe(request).c_str(), response.status);
  CheckResponse(request, response);
  if (request.method == "GET" || request.method == "HEAD") {
    HttpRequest twin = request;
    twin.method = request.method == "GET" ? "HEAD" : "GET";
    const HttpResponse twin_response = Handle(current, twin);
    CheckResponse(twin, twin_response);
    LEDGER_FUZZ_CHECK(twin_response.status == response.status, "HEAD answers with the status GET does",
                      Describe(request) + " -> " + std::to_string(response.status) + ", " + twin.method + " -> " +
                          std::to_string(twin_response.status));
  }
}

// Parses one request from `input` as the server's parser would; answers it
// and returns the bytes used, or nullopt when the connection would end here
// (incomplete input, a refused request, or no keep-alive).
std::optional<size_t> HandleOne(Service& current, std::string_view input) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(ledger::http::kHeaderBytesMax);
  parser.body_limit(ledger::http::kBodyBytesMax);
  size_t used = 0;
  boost::beast::error_code error;
  // The header first, as the server reads it, then what it refuses there
  // (request_from_beast.h); the server's open-mode Host check does not apply
  // (this service has an auth file).
  while (!parser.is_header_done()) {
    const size_t consumed = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), error);
    used += consumed;
    if (error && error != bhttp::error::need_more) return std::nullopt;
    if (parser.is_header_done()) break;
    if (consumed == 0 || used == input.size()) return std::nullopt;
  }
  if (ledger::http::FoldedHeaderLine(input.substr(0, used)) || ledger::http::HeaderFault(parser.get())) {
    return std::nullopt;
  }
  const size_t header_fields = static_cast<size_t>(std::distance(parser.get().begin(), parser.get().end()));
  parser.eager(true);
  while (!parser.is_done()) {
    const size_t consumed = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), error);
    used += consumed;
    if (error == bhttp::error::need_more) {
      if (used < input.size() && consumed > 0) continue;
      return std::nullopt;  // the client has not sent the rest: the server would time out
    }
    // body_limit (413), header_limit (431) or anything else (400): the server
    // answers without the handlers and closes.
    if (error) return std::nullopt;
    if (consumed == 0) return std::nullopt;
  }
  if (ledger::http::TrailerFault(parser.get(), header_fields)) return std::nullopt;
  const bool keep_alive = parser.get().keep_alive();
  HandleParsed(current, ledger::http::RequestFromBeast(parser.get()));
  if (!keep_alive) return std::nullopt;
  return used;
}

// The fold of the whole log equals what the commit listener built.
void CheckReadModel(const Service& current) {
  ledger::projections::ReadModel rebuilt;
  if (ledger::Status folded = rebuilt.Rebuild(current.log()); !folded) {
    ledger::fuzz::PropertyFailed("the log folds from seq 1", folded.error().message);
  }
  current.read_model().Read([&](const ledger::projections::TicketStore& incremental, uint64_t) {
    rebuilt.Read([&](const ledger::projections::TicketStore& from_scratch, uint64_t) {
      LEDGER_FUZZ_CHECK(incremental.size() == from_scratch.size(), "the read model has every ticket a fold has", "");
      for (const auto& [number, state] : from_scratch.all()) {
        const ledger::projections::TicketState* kept = incremental.FindNumber(number);
        LEDGER_FUZZ_CHECK(kept != nullptr, "the read model has every ticket a fold has", state.ticket);
        std::string expected;
        std::string actual;
        ledger::projections::EncodeTicket(state, &expected);
        ledger::projections::EncodeTicket(*kept, &actual);
        LEDGER_FUZZ_CHECK(expected == actual, "the read model equals a fold of the log", state.ticket);
      }
    });
  });
}

void CheckLedger(const Service& current) {
  const ledger::Result<ledger::VerifyReport> report = current.log().Verify();
  LEDGER_FUZZ_CHECK(report.has_value(), "the ledger can be verified", report ? std::string() : report.error().message);
  LEDGER_FUZZ_CHECK(report->ok, "the ledger verifies", report->problem);
  CheckReadModel(current);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Service& current = CurrentService();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t request = 0; request < kRequestsPerInputMax && !input.empty(); ++request) {
    const std::optional<size_t> used = HandleOne(current, input);
    if (!used) break;
    input.remove_prefix(*used);
  }
  LEDGER_FUZZ_CHECK(current.read_model().applied_seq() == current.log().head().seq,
                    "the read model has folded every committed event", "");
  LEDGER_FUZZ_CHECK(current.event_hub().open_streams() == 0, "no event stream is left open", "");
  if (++inputs_run % kChecksEveryInputs == 0 || current.log().head().seq > kServiceEventsMax) {
    CheckLedger(current);
  }
  if (current.log().head().seq > kServiceEventsMax) service.reset();
  return 0;
}
