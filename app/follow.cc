#include "app/follow.h"

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <simdjson.h>

#include "app/audit_commands.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "common/signing.h"
#include "common/text.h"
#include "ledger/merkle.h"
#include "ledger/tree_head.h"
#include "projections/ticket_name.h"

namespace ledger::app {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kTokenFileBytesMax = 4096;
constexpr size_t kUrlBytesMax = 2048;
constexpr uint64_t kPollMsMax = 60'000;
constexpr std::chrono::milliseconds kSignalCheckInterval{50};

// Raised by SIGINT or SIGTERM in `follow`.
std::atomic<bool> stop_signal_received{false};

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch()).count();
}

// A problem talking to the primary: asked again later, never a divergence.
Error Unreachable(std::string message) { return MakeError(ErrorCode::kUnavailable, std::move(message)); }

std::optional<Sha256Digest> DigestFromHex(std::string_view text) {
  const std::optional<std::string> bytes = HexDecode(text);
  if (!bytes || bytes->size() != kSha256Bytes) return std::nullopt;
  Sha256Digest digest;
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

struct Answer {
  long status = 0;
  std::string body;
};

// The primary's HTTP API through one libcurl handle (kept alive between
// requests). Used by the follower's thread only.
class PrimaryClient {
 public:
  explicit PrimaryClient(const FollowOptions& options) : base_url_(options.primary_url) {
    curl_ = curl_easy_init();
    if (!options.token.empty()) {
      const std::string authorization = "Authorization: Bearer " + options.token;
      headers_ = curl_slist_append(headers_, authorization.c_str());
    }
    headers_ = curl_slist_append(headers_, "Accept: application/json");
  }
  ~PrimaryClient() {
    curl_slist_free_all(headers_);
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }
  PrimaryClient(const PrimaryClient&) = delete;
  PrimaryClient& operator=(const PrimaryClient&) = delete;

  // GET base_url + target; kUnavailable when there is no answer.
  Result<Answer> Get(const std::string& target) {
    if (curl_ == nullptr) return Unreachable("cannot start libcurl");
    Answer answer;
    Sink sink{.body = &answer.body};
    const std::string url = base_url_ + target;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &PrimaryClient::Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, kFollowRequestTimeoutSeconds);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, "");
    const CURLcode result = curl_easy_perform(curl_);
    if (sink.too_large) {
      return Unreachable("GET " + target + ": the answer is larger than " + std::to_string(kFollowAnswerBytesMax) +
                         " bytes");
    }
    if (result != CURLE_OK) return Unreachable("GET " + base_url_ + target + ": " + curl_easy_strerror(result));
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

  // GET target; a JSON body of a 200 answer, parsed into `parser`.
  Result<simdjson::dom::element> GetJson(const std::string& target, simdjson::dom::parser& parser) {
    Result<Answer> answer = Get(target);
    if (!answer) return answer.error();
    if (answer->status != 200) {
      return Unreachable("GET " + target + " answered HTTP " + std::to_string(answer->status) + ": " +
                         answer->body.substr(0, 300));
    }
    simdjson::dom::element root;
    if (const auto error = parser.parse(answer->body).get(root); error != simdjson::SUCCESS) {
      return Unreachable("GET " + target + ": the answer is not JSON: " + simdjson::error_message(error));
    }
    return root;
  }

 private:
  struct Sink {
    std::string* body;
    bool too_large = false;
  };
  static size_t Collect(char* data, size_t size, size_t count, void* target) {
    Sink* sink = static_cast<Sink*>(target);
    if (sink->body->size() + size * count > kFollowAnswerBytesMax) {
      sink->too_large = true;
      return 0;  // libcurl stops the transfer
    }
    sink->body->append(data, size * count);
    return size * count;
  }

  std::string base_url_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
};

}  // namespace

Result<FollowOptions> ParseFollowOptions(const std::string& url, const std::string& token_file,
                                         const std::string& poll_ms, const std::string& data_folder) {
  FollowOptions options;
  options.data_folder = data_folder;
  std::string base = url;
  while (base.ends_with('/')) base.pop_back();
  const size_t scheme = base.find("://");
  const std::string scheme_name = scheme == std::string::npos ? "" : base.substr(0, scheme);
  const std::string rest = scheme == std::string::npos ? "" : base.substr(scheme + 3);
  if (url.size() > kUrlBytesMax || (scheme_name != "http" && scheme_name != "https") || rest.empty() ||
      rest.find_first_of("/?#@ \t\r\n") != std::string::npos) {
    return InvalidArgument("--from", "the primary's URL must be http://HOST:PORT or https://HOST:PORT (no path, "
                                     "no user:password@; a token goes in --token-file), not '" +
                                         url.substr(0, 200) + "'");
  }
  options.primary_url = base;
  if (!token_file.empty()) {
    Result<std::string> text = ReadWholeFile(token_file, kTokenFileBytesMax, "token file");
    if (!text) return MakeError(text.error().code, "--token-file: " + text.error().message, "--token-file");
    const std::string_view first_line = Trim(std::string_view(*text).substr(0, text->find('\n')));
    if (first_line.empty() || first_line.find_first_of(" \t\r") != std::string_view::npos) {
      return InvalidArgument("--token-file", "--token-file " + token_file + ": its first line must be the token");
    }
    options.token = std::string(first_line);
  }
  if (!poll_ms.empty()) {
    if (poll_ms.size() > 6 || !std::all_of(poll_ms.begin(), poll_ms.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoull(poll_ms) < 1 || std::stoull(poll_ms) > kPollMsMax) {
      return InvalidArgument("--poll-ms", "--poll-ms must be a whole number from 1 to " + std::to_string(kPollMsMax));
    }
    options.poll_interval = std::chrono::milliseconds(std::stoull(poll_ms));
  }
  return options;
}

class Follower::Impl {
 public:
  Impl(Ledger* log, FollowOptions options) : log_(log), options_(std::move(options)), client_(options_) {}

  Status Run() {
    started_micros_ = SteadyMicros();
    caught_up_micros_.store(started_micros_);
    std::chrono::milliseconds retry_delay{0};
    std::string last_problem;
    SteadyClock::time_point next_head_check{};
    while (!stopping()) {
      Status step = key_ ? Status() : PinPrimaryKey();
      if (step && SteadyClock::now() >= next_head_check) {
        step = CheckTreeHead();
        if (step) next_head_check = SteadyClock::now() + kTreeHeadCheckInterval;
      }
      bool caught_up = false;
      if (step) {
        Result<bool> fetched = FetchAndImport();
        if (fetched) caught_up = *fetched;
        else step = fetched.error();
      }
      if (!step) {
        if (step.error().code != ErrorCode::kUnavailable) return Stop(step.error());
        fetch_failures_.fetch_add(1);
        if (step.error().message != last_problem) {
          LogPrintf("incident-ledger", "follow: %s; asking again", step.error().message.c_str());
          last_problem = step.error().message;
        }
        retry_delay = std::min(kRetryDelayMax, std::max(options_.poll_interval, retry_delay * 2));
        Wait(retry_delay);
        continue;
      }
      if (!last_problem.empty()) LogPrintf("incident-ledger", "follow: the primary answers again");
      last_problem.clear();
      retry_delay = std::chrono::milliseconds(0);
      if (caught_up) Wait(options_.poll_interval);
    }
    return {};
  }

  void RequestStop() {
    std::lock_guard lock(mutex_);
    stop_ = true;
    wake_.notify_all();
  }

  http::FollowerStats stats() const {
    http::FollowerStats stats;
    stats.local_head_seq = log_->head().seq;
    stats.primary_head_seq = primary_head_seq_.load();
    const int64_t since = caught_up_micros_.load();
    stats.lag_seconds = since == 0 ? 0.0 : static_cast<double>(SteadyMicros() - since) / 1e6;
    stats.events_imported = events_imported_.load();
    stats.fetch_failures = fetch_failures_.load();
    stats.tree_heads_checked = tree_heads_checked_.load();
    stats.diverged_seq = diverged_seq_.load();
    return stats;
  }

 private:
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  void Wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, delay, [this] { return stop_; });
  }

  Status Stop(const Error& error) {
    LogPrintf("incident-ledger", "follow: stopped: %s", error.message.c_str());
    return error;
  }

  // The divergence at `seq`: remembered for the metrics, and the error that
  // stops the follower.
  Error Diverged(uint64_t seq, const std::string& what) {
    diverged_seq_.store(seq);
    return MakeError(ErrorCode::kCorruption,
                     "the primary's history differs from this copy's at seq " + std::to_string(seq) + ": " + what +
                         "; following stopped, this copy is left as it is (head seq " +
                         std::to_string(log_->head().seq) + ")",
                     "seq");
  }

  // The primary's key, pinned at the first follow; a primary serving
  // another key later is refused.
  Status PinPrimaryKey() {
    Result<Answer> answer = client_.Get("/api/v1/public-key");
    if (!answer) return answer.error();
    if (answer->status != 200) {
      return Unreachable("GET /api/v1/public-key answered HTTP " + std::to_string(answer->status));
    }
    Result<PublicKey> served = PublicKey::FromPem(answer->body);
    if (!served) return Unreachable("GET /api/v1/public-key: " + served.error().message);
    const std::string pinned_path = (std::filesystem::path(options_.data_folder) / kPrimaryKeyFile).string();
    std::error_code error;
    if (std::filesystem::exists(pinned_path, error)) {
      Result<std::string> pem = ReadWholeFile(pinned_path, kKeyFileBytesMax, "the primary's public key");
      if (!pem) return MakeError(ErrorCode::kIoError, pem.error().message);
      Result<PublicKey> pinned = PublicKey::FromPem(*pem);
      if (!pinned) return MakeError(ErrorCode::kCorruption, pinned_path + ": " + pinned.error().message);
      if (pinned->KeyId() != served->KeyId()) {
        return MakeError(ErrorCode::kCorruption,
                         "the primary now signs with another key (key id " + served->KeyId() + ") than the one " +
                             pinned_path + " holds (" + pinned->KeyId() +
                             "); following stopped, this copy is left as it is");
      }
    } else if (Status written = WriteFileAtomically(pinned_path, served->Pem()); !written) {
      return MakeError(ErrorCode::kIoError, "cannot keep the primary's key: " + written.error().message);
    }
    key_ = std::move(*served);
    return {};
  }

  // The primary's hash of event `seq`, or nullopt when it has no such event.
  Result<std::optional<Sha256Digest>> PrimaryHash(uint64_t seq) {
    simdjson::dom::parser parser;
    Result<simdjson::dom::element> page =
        client_.GetJson("/api/v1/events?after=" + std::to_string(seq - 1) + "&limit=1", parser);
    if (!page) return page.error();
    simdjson::dom::array events;
    if ((*page)["events"].get_array().get(events) != simdjson::SUCCESS) {
      return Unreachable("GET /api/v1/events: no \"events\" list");
    }
    for (simdjson::dom::element event : events) {
      uint64_t got = 0;
      std::string_view hash_hex;
      if (event["seq"].get_uint64().get(got) != simdjson::SUCCESS || got != seq ||
          event["hash"].get_string().get(hash_hex) != simdjson::SUCCESS) {
        return std::optional<Sha256Digest>();
      }
      return DigestFromHex(hash_hex);
    }
    return std::optional<Sha256Digest>();
  }

  // The first seq in [1, upto] whose hash differs between the primary and
  // this copy (a changed event changes every hash after it, so the
  // differences are a suffix: binary search), or upto + 1 when none does.
  Result<uint64_t> FirstDifference(uint64_t upto) {
    uint64_t low = 1;
    uint64_t high = upto + 1;  // differs (or beyond the range)
    while (low < high) {
      const uint64_t middle = low + (high - low) / 2;
      Result<StoredEvent> local = log_->ReadEvent(middle);
      if (!local) return local.error();
      Result<std::optional<Sha256Digest>> primary = PrimaryHash(middle);
      if (!primary) return primary.error();
      if (primary->has_value() && **primary == local->hash) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }

  // Names the first bad seq up to `upto` (or `fallback` when every hash up
  // to it agrees) and explains it.
  Error Divergence(uint64_t upto, uint64_t fallback, const std::string& found) {
    Result<uint64_t> first = FirstDifference(upto);
    if (!first) {
      // The search itself failed: still a divergence, named by what was found.
      return Diverged(fallback, found + " (the search for the first differing event failed: " +
                                    first.error().message + ")");
    }
    if (*first <= upto) {
      Result<StoredEvent> local = log_->ReadEvent(*first);
      return Diverged(*first, found + "; the first event whose hash differs is seq " + std::to_string(*first) +
                                  (local ? " (this copy's hash " + HexEncode(local->hash) + ")" : std::string()));
    }
    return Diverged(fallback, found);
  }

  // The primary's signed head, checked against this copy (see follow.h).
  Status CheckTreeHead() {
    simdjson::dom::parser parser;
    Result<simdjson::dom::element> root = client_.GetJson("/api/v1/tree-head", parser);
    if (!root) return root.error();
    uint64_t size = 0;
    std::string_view root_hex, timestamp, signature_base64, key_id;
    if ((*root)["tree_size"].get_uint64().get(size) != simdjson::SUCCESS ||
        (*root)["root_hash"].get_string().get(root_hex) != simdjson::SUCCESS ||
        (*root)["timestamp"].get_string().get(timestamp) != simdjson::SUCCESS ||
        (*root)["signature"].get_string().get(signature_base64) != simdjson::SUCCESS ||
        (*root)["key_id"].get_string().get(key_id) != simdjson::SUCCESS) {
      return Unreachable("GET /api/v1/tree-head: not a tree head {tree_size, root_hash, timestamp, signature, key_id}");
    }
    // Copies: the parser's memory is reused for the proof below.
    const std::string root_text(root_hex);
    const std::string time_text(timestamp);
    const std::optional<Sha256Digest> root_hash = DigestFromHex(root_text);
    const std::optional<std::string> signature = Base64Decode(signature_base64);
    const SignedTreeHead head{.head = TreeHead{.tree_size = size, .root_hash = root_hash.value_or(Sha256Digest{})},
                              .timestamp = time_text,
                              .signature = signature.value_or(std::string()),
                              .key_id = std::string(key_id)};
    if (!root_hash || !signature || key_id != key_->KeyId() || !VerifyTreeHead(head, *key_)) {
      return MakeError(ErrorCode::kCorruption, "the primary's tree head of " + std::to_string(size) +
                                                   " events is not signed by its pinned key " + key_->KeyId() +
                                                   "; following stopped, this copy is left as it is");
    }
    primary_head_seq_.store(std::max(primary_head_seq_.load(), size));
    const TreeHead local = log_->tree_head();
    if (size <= local.tree_size) {
      if (size == 0) return {};
      Result<Sha256Digest> ours = log_->TreeRoot(size);
      if (!ours) return MakeError(ErrorCode::kIoError, "this copy's tree: " + ours.error().message);
      if (*ours != *root_hash) {
        return Divergence(size, size, "the primary's signed head of " + std::to_string(size) + " events (" +
                                          time_text + ") has root " + root_text +
                                          ", this copy's first " + std::to_string(size) + " events give " +
                                          HexEncode(*ours));
      }
    } else if (local.tree_size > 0) {
      const std::string target = "/api/v1/proofs/consistency?first=" + std::to_string(local.tree_size) +
                                 "&second=" + std::to_string(size);
      simdjson::dom::parser proof_parser;
      Result<simdjson::dom::element> proof = client_.GetJson(target, proof_parser);
      if (!proof) return proof.error();
      simdjson::dom::array path_json;
      if ((*proof)["consistency_path"].get_array().get(path_json) != simdjson::SUCCESS) {
        return Unreachable("GET " + target + ": no consistency_path");
      }
      std::vector<Sha256Digest> path;
      for (simdjson::dom::element step : path_json) {
        std::string_view text;
        std::optional<Sha256Digest> digest;
        if (step.get_string().get(text) == simdjson::SUCCESS) digest = DigestFromHex(text);
        if (!digest) return Unreachable("GET " + target + ": a step of the path is not 64 hex digits");
        path.push_back(*digest);
      }
      if (!merkle::VerifyConsistency(local.tree_size, size, local.root_hash, *root_hash, path)) {
        return Divergence(local.tree_size, local.tree_size,
                          "the primary's consistency proof from this copy's " + std::to_string(local.tree_size) +
                              " events (root " + HexEncode(local.root_hash) + ") to its signed head of " +
                              std::to_string(size) + " events does not verify");
      }
    }
    tree_heads_checked_.fetch_add(1);
    return {};
  }

  // One page of events after this copy's head, checked and appended. True
  // when this copy then holds every event the primary had.
  Result<bool> FetchAndImport() {
    const int64_t poll_started = SteadyMicros();
    const Head head = log_->head();
    simdjson::dom::parser parser;
    const std::string target =
        "/api/v1/events?after=" + std::to_string(head.seq) + "&limit=" + std::to_string(kFollowPageEvents);
    Result<simdjson::dom::element> page = client_.GetJson(target, parser);
    if (!page) return page.error();
    uint64_t primary_head = 0;
    simdjson::dom::array events;
    if ((*page)["head_seq"].get_uint64().get(primary_head) != simdjson::SUCCESS ||
        (*page)["events"].get_array().get(events) != simdjson::SUCCESS) {
      return Unreachable("GET /api/v1/events: not a page {head_seq, events}");
    }
    primary_head_seq_.store(primary_head);
    if (primary_head < head.seq) {
      return Divergence(primary_head, primary_head + 1,
                        "the primary holds " + std::to_string(primary_head) + " events, this copy " +
                            std::to_string(head.seq) + ": events it served before are gone from it");
    }
    std::vector<ImportedEvent> batch;
    Sha256Digest previous = head.hash;
    for (simdjson::dom::element event : events) {
      const uint64_t seq = head.seq + batch.size() + 1;
      Result<ImportedEvent> imported = ImportedEventFromJson(event, seq);
      if (!imported) {
        return Diverged(seq, "the primary's event " + std::to_string(seq) + " is not a sound event (" +
                                 imported.error().message + ")");
      }
      if (imported->prev_hash != previous) {
        if (seq == head.seq + 1) {
          return Divergence(head.seq, seq,
                            "the primary's event " + std::to_string(seq) + " does not follow this copy's event " +
                                std::to_string(head.seq) + " (its prev_hash " + HexEncode(imported->prev_hash) +
                                ", this copy's head hash " + HexEncode(head.hash) + ")");
        }
        return Diverged(seq, "the primary's event " + std::to_string(seq) +
                                 " does not follow its own event before it (its chain is broken there)");
      }
      previous = imported->hash;
      batch.push_back(std::move(*imported));
    }
    if (!batch.empty()) {
      const uint64_t first = head.seq + 1;
      const size_t count = batch.size();
      if (Status written = log_->ImportVerbatim(batch, projections::CounterOf); !written) {
        if (written.error().code == ErrorCode::kInvalidArgument) {
          return Diverged(first, "the primary's events from seq " + std::to_string(first) +
                                     " are refused by the import's checks: " + written.error().message);
        }
        return MakeError(written.error().code, "cannot write this copy: " + written.error().message);
      }
      events_imported_.fetch_add(count);
    }
    const bool caught_up = log_->head().seq >= primary_head;
    if (caught_up) caught_up_micros_.store(poll_started);
    return caught_up;
  }

  Ledger* log_;
  FollowOptions options_;
  PrimaryClient client_;
  std::optional<PublicKey> key_;
  int64_t started_micros_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;

  std::atomic<uint64_t> primary_head_seq_{0};
  std::atomic<int64_t> caught_up_micros_{0};
  std::atomic<uint64_t> events_imported_{0};
  std::atomic<uint64_t> fetch_failures_{0};
  std::atomic<uint64_t> tree_heads_checked_{0};
  std::atomic<uint64_t> diverged_seq_{0};
};

Follower::Follower(Ledger* log, FollowOptions options) : impl_(std::make_unique<Impl>(log, std::move(options))) {}
Follower::~Follower() = default;
Status Follower::Run() { return impl_->Run(); }
void Follower::RequestStop() { impl_->RequestStop(); }
http::FollowerStats Follower::stats() const { return impl_->stats(); }

int Follow(const std::string& data, const std::string& url, const std::string& token_file, const std::string& poll_ms) {
  Result<FollowOptions> options = ParseFollowOptions(url, token_file, poll_ms, data);
  if (!options) {
    LogPrintf("incident-ledger", "%s", options.error().message.c_str());
    return 2;
  }
  // SIGINT and SIGTERM stop the follower between two requests. The handler
  // only raises a flag (whichever thread the signal lands on); a watcher
  // thread passes it on.
  struct sigaction action {};
  action.sa_handler = [](int) { stop_signal_received.store(true); };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data});
  if (!opened) {
    LogPrintf("incident-ledger", "%s", opened.error().message.c_str());
    return 2;
  }
  Follower follower(opened->get(), *options);
  std::atomic<bool> finished{false};
  std::thread signal_watcher([&finished, &follower] {
    while (!finished.load() && !stop_signal_received.load()) std::this_thread::sleep_for(kSignalCheckInterval);
    follower.RequestStop();
  });
  LogPrintf("incident-ledger", "following %s into %s from seq %llu", options->primary_url.c_str(), data.c_str(),
            static_cast<unsigned long long>((*opened)->head().seq + 1));
  const Status followed = follower.Run();
  finished.store(true);
  signal_watcher.join();
  const http::FollowerStats stats = follower.stats();
  std::printf("{\"head_seq\":%llu,\"primary_head_seq\":%llu,\"events_imported\":%llu,\"diverged_seq\":%llu}\n",
              static_cast<unsigned long long>(stats.local_head_seq),
              static_cast<unsigned long long>(stats.primary_head_seq),
              static_cast<unsigned long long>(stats.events_imported),
              static_cast<unsigned long long>(stats.diverged_seq));
  std::fflush(stdout);
  if (!followed) return followed.error().code == ErrorCode::kCorruption ? 1 : 2;
  LogPrintf("incident-ledger", "follow: stopped at head seq %llu", static_cast<unsigned long long>(stats.local_head_seq));
  return 0;
}

}  // namespace ledger::app
