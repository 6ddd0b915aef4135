// load_client: an HTTP/1.1 load generator (Boost.Beast, keep-alive), the one
// client that drives both the service and nginx, and the start-up timer.
//
//   load_client load --port P --connections N --seconds S [--warmup W] [--label L]
//                    (--submit RUN_ID | --targets FILE | --path PATH)
//       N connections, each sending its next request as soon as the previous
//       answer is in. --submit POSTs create submissions (JSON, unique
//       submission_id per request, expects 201); --targets cycles through the
//       GET paths in FILE (one a line), --path GETs one path (expects 200).
//       Requests that start during the warm-up are not counted.
//   load_client pace --port P --connections N --submissions T [--window W]
//                    [--submit RUN_ID] [--label L] [--service-pid PID]
//       Sustained durable submissions: N connections POST create submissions
//       (as `load --submit`) into one service until T of them are answered
//       (no time limit, no warm-up). Prints a line on stderr as each window
//       of W answers (default 100000) completes, and at the end one JSON
//       line with every window's rate ("window_rates") and the last full
//       window's rate over the first's ("last_over_first"). With
//       --service-pid, also the CPU time the service (that process, every
//       thread) spent per submission in each window ("window_cpu_us"): on a
//       shared machine the rate follows the CPU others leave the service,
//       the cost per submission much less so.
//   load_client startup --port P [--label L] [--then "PATH PATH..."] -- COMMAND ARGS...
//       Starts COMMAND, polls GET /healthz every millisecond until it answers
//       200 and reports the time from spawn; with --then, GETs each PATH in
//       turn (each must answer 200) and reports when each answer came, also
//       from spawn (then_ms). Then reads the process's resident memory and
//       stops it with SIGTERM.
//   load_client get --port P --connections N --seconds S [--warmup W] [--timeout T]
//                   [--label L] [--bench B] (--targets FILE | --path PATH)
//       Like `load`, for answers that may be slow: one thread per connection,
//       each GET with a client-side time limit (--timeout, default 30 s; a
//       request over it is an error, counted in "timeouts", and the
//       connection is opened afresh). No request starts after the end; every
//       request not wholly inside the warm-up is counted when it is done,
//       also when that is after the end (so a run lasts at most W + S + T
//       seconds, and a request slower than the warm-up still counts); the
//       rate is over the time from the warm-up's end to the last answer.
//       Errors are counted in the warm-up too. Reports the answers' body
//       sizes ("bytes": the median).
//   load_client page --port P --connections N --seconds S [--warmup W] [--timeout T]
//                    [--timezone Z] [--label L] [--bench B]
//                    [--probe PATH --probe-label L [--probe-interval-ms I]]
//       The dashboard as a browser with an empty cache loads it: one
//       operation is the whole sequence of requests, in the browser's order,
//       on one keep-alive connection: GET /, the stylesheets and scripts the
//       HTML names (in document order), GET /healthz, the icon the HTML
//       names, every page of /api/v1/incidents for the default week (from
//       now - 7 d to now + 1 d, limit=1000, following next_cursor as
//       dashboard.js does) and /api/v1/availability?days=90&timezone=Z
//       (default UTC; then with UTC if that is refused, as dashboard.js
//       does). The event stream (/api/v1/events/stream) is not opened. A
//       page load counts as one operation when every answer is 200; it is an
//       error otherwise. Counting and time limits as in `get`. With --probe,
//       one more connection GETs PATH every I ms (default 5) while the
//       page loads run and reports its latencies as a second line.
//
// Prints one JSON line (bench_common.h). Binds nothing; talks to 127.0.0.1.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_common.h"

extern char** environ;

namespace ledger::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::chrono::seconds kStartupTimeout{180};
constexpr std::chrono::milliseconds kStartupPollInterval{1};
constexpr size_t kReadBufferBytes = 256 * 1024;
// `pace` stops after this many failed requests: a service that went away
// would otherwise be reconnected to for ever.
constexpr uint64_t kPaceErrorsMax = 1000;
constexpr uint64_t kPaceWindowDefault = 100000;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "load_client: %s\n", message.c_str());
  std::exit(2);
}

// `pace`: a count of submissions instead of a time limit, and the time at
// which each window of answers completed. Touched by the one thread that
// runs the connections.
struct PaceState {
  uint64_t total = 0;   // submissions to send
  uint64_t window = 0;  // answers per window
  uint64_t claimed = 0;
  uint64_t answered = 0;
  uint64_t errors = 0;
  bool stopped = false;  // too many errors
  Clock::time_point start;
  pid_t service_pid = 0;  // 0: CPU time not read
  double service_cpu_seconds_at_start = 0;
  std::vector<Clock::time_point> window_ends;
  std::vector<double> window_cpu_seconds;  // the service's CPU time at each window's end
  std::vector<double> latencies_seconds;
};

// User plus system CPU time of a process, every thread (0 when unreadable).
double CpuSecondsOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t after_name = line.rfind(')');
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(line.substr(after_name + 2));
  std::string field;
  double ticks = 0;
  for (int index = 3; fields >> field && index <= 15; ++index) {
    if (index == 14 || index == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct LoadSpec {
  tcp::endpoint endpoint;
  std::string submit_run_id;       // non-empty: POST submissions
  std::vector<std::string> paths;  // else: GET these, in turn
  Clock::time_point counted_from;  // the end of the warm-up
  Clock::time_point end;
  PaceState* pace = nullptr;  // non-null: `pace` (end and counted_from unused)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, const LoadSpec& spec, size_t index)
      : socket_(io), spec_(spec), index_(index), next_path_(index) {
    // Room for 64 KiB reads (Beast reads at most what the buffer has spare,
    // up to 64 KiB): large answers then cost a few recv calls, not dozens.
    buffer_.reserve(kReadBufferBytes);
  }

  void Start() { Connect(); }
  const LoadResult& result() const { return result_; }

 private:
  void Connect() {
    socket_ = tcp::socket(socket_.get_executor());
    socket_.async_connect(spec_.endpoint, [self = shared_from_this()](beast::error_code error) {
      if (error) return self->Failed();
      self->socket_.set_option(tcp::no_delay(true));
      self->Send();
    });
  }

  void Send() {
    if (PaceState* pace = spec_.pace) {
      if (pace->stopped || pace->claimed >= pace->total) {
        beast::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      ++pace->claimed;
    } else if (Clock::now() >= spec_.end) {
      beast::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    request_ = {};
    request_.version(11);
    request_.set(http::field::host, "127.0.0.1");
    request_.keep_alive(true);
    if (!spec_.submit_run_id.empty()) {
      const std::string unique = spec_.submit_run_id + "-" + std::to_string(index_) + "-" + std::to_string(sent_);
      request_.method(http::verb::post);
      request_.target("/api/v1/submissions");
      request_.set(http::field::content_type, "application/json");
      request_.body() = CreateSubmissionJson(unique, sent_ * 31 + index_);
      expected_status_ = 201;
    } else {
      request_.method(http::verb::get);
      request_.target(spec_.paths[next_path_++ % spec_.paths.size()]);
      expected_status_ = 200;
    }
    request_.prepare_payload();
    ++sent_;
    started_ = Clock::now();
    http::async_write(socket_, request_, [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) return self->Failed();
      self->Receive();
    });
  }

  void Receive() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) return self->Failed();
      self->Received();
    });
  }

  void Received() {
    const Clock::time_point now = Clock::now();
    const http::response<http::string_body>& response = parser_->get();
    if (spec_.pace != nullptr) {
      CountPaced(response, now);
    } else if (started_ >= spec_.counted_from && now < spec_.end) {
      if (response.result_int() == expected_status_) {
        result_.operations += 1;
        result_.latencies_seconds.push_back(SecondsBetween(started_, now));
      } else {
        result_.errors += 1;
        if (result_.errors == 1) {
          std::fprintf(stderr, "load_client: status %u: %.200s\n", response.result_int(), response.body().c_str());
        }
      }
    }
    if (!response.keep_alive()) {
      beast::error_code ignored;
      socket_.close(ignored);
      buffer_.clear();
      if (spec_.pace != nullptr || Clock::now() < spec_.end) Connect();
      return;
    }
    Send();
  }

  void CountPaced(const http::response<http::string_body>& response, Clock::time_point now) {
    PaceState& pace = *spec_.pace;
    if (response.result_int() != expected_status_) {
      if (++pace.errors == 1) {
        std::fprintf(stderr, "load_client: status %u: %.200s\n", response.result_int(), response.body().c_str());
      }
      if (pace.errors >= kPaceErrorsMax) pace.stopped = true;
      return;
    }
    pace.latencies_seconds.push_back(SecondsBetween(started_, now));
    if (++pace.answered % pace.window != 0) return;
    const Clock::time_point window_start = pace.window_ends.empty() ? pace.start : pace.window_ends.back();
    pace.window_ends.push_back(now);
    if (pace.service_pid != 0) pace.window_cpu_seconds.push_back(CpuSecondsOf(pace.service_pid));
    std::fprintf(stderr, "load_client: pace: %llu answered, window %zu: %.0f/s\n",
                 static_cast<unsigned long long>(pace.answered), pace.window_ends.size(),
                 static_cast<double>(pace.window) / SecondsBetween(window_start, now));
  }

  void Failed() {
    if (PaceState* pace = spec_.pace) {
      if (++pace->errors >= kPaceErrorsMax) pace->stopped = true;
      // The claimed submission was not answered: send it again.
      if (pace->claimed > 0) --pace->claimed;
      if (pace->stopped) return;
      beast::error_code ignored;
      socket_.close(ignored);
      buffer_.clear();
      Connect();
      return;
    }
    if (Clock::now() >= spec_.end) return;
    if (started_ >= spec_.counted_from) result_.errors += 1;
    beast::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
    Connect();
  }

  tcp::socket socket_;
  const LoadSpec& spec_;
  size_t index_;
  size_t next_path_;
  uint64_t sent_ = 0;
  unsigned expected_status_ = 200;
  Clock::time_point started_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  LoadResult result_;
};

using Options = std::map<std::string, std::string>;

std::string Need(const Options& options, const std::string& name) {
  const auto found = options.find(name);
  if (found == options.end()) Die("missing " + name);
  return found->second;
}

tcp::endpoint Endpoint(const Options& options) {
  return tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoul(Need(options, "--port"))));
}

int Load(const Options& options) {
  const size_t connections = std::stoul(Need(options, "--connections"));
  const double seconds = std::stod(Need(options, "--seconds"));
  const double warmup = options.contains("--warmup") ? std::stod(options.at("--warmup")) : 0.5;
  const size_t threads = options.contains("--threads") ? std::stoul(options.at("--threads")) : 1;
  LoadSpec spec;
  spec.endpoint = Endpoint(options);
  if (options.contains("--submit")) {
    spec.submit_run_id = options.at("--submit");
  } else if (options.contains("--targets")) {
    std::ifstream file(options.at("--targets"));
    for (std::string line; std::getline(file, line);) {
      if (!line.empty()) spec.paths.push_back(line);
    }
    if (spec.paths.empty()) Die("no paths in " + options.at("--targets"));
  } else {
    spec.paths.push_back(Need(options, "--path"));
  }
  const Clock::time_point start = Clock::now();
  spec.counted_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  spec.end = spec.counted_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

  asio::io_context io;
  std::vector<std::shared_ptr<Connection>> all;
  for (size_t i = 0; i < connections; ++i) {
    all.push_back(std::make_shared<Connection>(io, spec, i));
    all.back()->Start();
  }
  std::vector<std::thread> runners;
  for (size_t i = 1; i < threads; ++i) runners.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& runner : runners) runner.join();

  LoadResult total;
  total.seconds = seconds;
  for (const std::shared_ptr<Connection>& connection : all) {
    const LoadResult& one = connection->result();
    total.operations += one.operations;
    total.errors += one.errors;
    total.latencies_seconds.insert(total.latencies_seconds.end(), one.latencies_seconds.begin(),
                                   one.latencies_seconds.end());
  }
  const std::string label = options.contains("--label") ? options.at("--label") : "http";
  PrintResult(options.contains("--bench") ? options.at("--bench") : "http", label, std::move(total),
              "\"connections\":" + std::to_string(connections));
  return 0;
}

int Pace(const Options& options) {
  const size_t connections = std::stoul(Need(options, "--connections"));
  PaceState pace;
  pace.total = std::stoull(Need(options, "--submissions"));
  pace.window = options.contains("--window") ? std::stoull(options.at("--window")) : kPaceWindowDefault;
  if (connections == 0 || pace.total == 0 || pace.window == 0) Die("--connections, --submissions and --window must be > 0");
  if (pace.total < pace.window) Die("--submissions must be at least one --window");
  pace.latencies_seconds.reserve(pace.total);
  LoadSpec spec;
  spec.endpoint = Endpoint(options);
  spec.submit_run_id = options.contains("--submit") ? options.at("--submit") : "pace";
  spec.pace = &pace;
  if (options.contains("--service-pid")) {
    pace.service_pid = static_cast<pid_t>(std::stol(options.at("--service-pid")));
    pace.service_cpu_seconds_at_start = CpuSecondsOf(pace.service_pid);
  }
  pace.start = Clock::now();

  asio::io_context io;
  for (size_t i = 0; i < connections; ++i) std::make_shared<Connection>(io, spec, i)->Start();
  io.run();
  const Clock::time_point end = Clock::now();

  std::string rates;
  std::vector<double> window_rates;
  Clock::time_point window_start = pace.start;
  for (const Clock::time_point window_end : pace.window_ends) {
    window_rates.push_back(static_cast<double>(pace.window) / SecondsBetween(window_start, window_end));
    window_start = window_end;
    char one[32];
    std::snprintf(one, sizeof one, "%s%.0f", rates.empty() ? "" : ",", window_rates.back());
    rates += one;
  }
  const double last_over_first = window_rates.empty() ? 0 : window_rates.back() / window_rates.front();
  std::string cpu;
  double cpu_before = pace.service_cpu_seconds_at_start;
  for (const double cpu_at_end : pace.window_cpu_seconds) {
    char one[32];
    std::snprintf(one, sizeof one, "%s%.0f", cpu.empty() ? "" : ",",
                  (cpu_at_end - cpu_before) * 1e6 / static_cast<double>(pace.window));
    cpu += one;
    cpu_before = cpu_at_end;
  }
  std::fprintf(stderr, "load_client: pace: %llu answered in %.1f s, %llu errors; last window over first: %.3f\n",
               static_cast<unsigned long long>(pace.answered), SecondsBetween(pace.start, end),
               static_cast<unsigned long long>(pace.errors), last_over_first);
  LoadResult total{.operations = pace.answered,
                   .errors = pace.errors,
                   .seconds = SecondsBetween(pace.start, end),
                   .latencies_seconds = std::move(pace.latencies_seconds)};
  char extra[160];
  std::snprintf(extra, sizeof extra, "\"connections\":%zu,\"submissions\":%llu,\"window\":%llu,\"last_over_first\":%.4f,",
                connections, static_cast<unsigned long long>(pace.total), static_cast<unsigned long long>(pace.window),
                last_over_first);
  PrintResult(options.contains("--bench") ? options.at("--bench") : "pace",
              options.contains("--label") ? options.at("--label") : "pace", std::move(total),
              std::string(extra) + "\"window_rates\":[" + rates + "]" +
                  (cpu.empty() ? "" : ",\"window_cpu_us\":[" + cpu + "]"));
  return 0;  // errors, and a run stopped by them, are in the line printed
}

// One GET on a fresh connection; the status, or 0 when there was no answer.
unsigned Get(const tcp::endpoint& endpoint, const std::string& path) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code error;
  socket.connect(endpoint, error);
  if (error) return 0;
  http::request<http::empty_body> request(http::verb::get, path, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, error);
  if (error) return 0;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read(socket, buffer, parser, error);
  return error ? 0 : parser.get().result_int();
}

bool Healthy(const tcp::endpoint& endpoint) { return Get(endpoint, "/healthz") == 200; }

double ResidentBytesOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;  // kB
  }
  return 0;
}

int Startup(const Options& options, std::vector<char*> command) {
  if (command.empty()) Die("startup needs -- COMMAND ARGS...");
  const tcp::endpoint endpoint = Endpoint(options);
  if (Healthy(endpoint)) Die("something already answers on the port");
  command.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const std::string log = options.contains("--log") ? options.at("--log") : "/dev/null";
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const Clock::time_point start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, command[0], &actions, nullptr, command.data(), environ) != 0) Die("cannot start the command");
  posix_spawn_file_actions_destroy(&actions);
  bool healthy = false;
  while (Clock::now() - start < kStartupTimeout) {
    if (Healthy(endpoint)) {
      healthy = true;
      break;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) Die("the command exited before answering");
    std::this_thread::sleep_for(kStartupPollInterval);
  }
  const double seconds = SecondsBetween(start, Clock::now());
  // Then the first answers that need the service's state, each timed from
  // the spawn too: a start that only answers /healthz early is not ready.
  std::string then_ms;
  if (healthy && options.contains("--then")) {
    std::string paths = options.at("--then");
    for (size_t begin = 0; begin <= paths.size();) {
      const size_t end = std::min(paths.find(' ', begin), paths.size());
      const std::string path = paths.substr(begin, end - begin);
      begin = end + 1;
      if (path.empty()) continue;
      const unsigned answered = Get(Endpoint(options), path);
      if (answered != 200) {
        kill(pid, SIGTERM);
        Die(path + " answered " + std::to_string(answered));
      }
      then_ms += (then_ms.empty() ? "" : ",") + std::to_string(SecondsBetween(start, Clock::now()) * 1e3);
    }
  }
  const double resident = ResidentBytesOf(pid);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!healthy) Die("no answer from /healthz within the time limit");
  LoadResult result{.operations = 1, .errors = 0, .seconds = seconds, .latencies_seconds = {seconds}};
  char extra[128];
  std::snprintf(extra, sizeof extra, "\"rss_bytes\":%.0f", resident);
  std::string extra_json = extra;
  if (!then_ms.empty()) extra_json += ",\"then_ms\":[" + then_ms + "]";
  PrintResult("startup", options.contains("--label") ? options.at("--label") : "startup", std::move(result), extra_json);
  return 0;
}

// ---------------------------------------------------------------------------
// `get` and `page`: one thread per connection, every request with a time
// limit, so that one slow answer cannot hold a run longer than the limit.

constexpr double kRequestTimeoutSecondsDefault = 30;
constexpr uint64_t kBodyLimitBytes = 1024ULL * 1024 * 1024;
constexpr size_t kIncidentPagesMax = 20;  // dashboard.js: PAGES_MAX
constexpr int64_t kDayMillis = 24LL * 3600 * 1000;
constexpr std::chrono::milliseconds kRetryPause{10};
// What Chromium sends with each kind of request (the server answers assets
// gzip-compressed to clients that accept it).
constexpr const char* kAcceptHtml =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
constexpr const char* kAcceptJson = "application/json";
constexpr const char* kAcceptAny = "*/*";
constexpr const char* kBrowserEncodings = "gzip, deflate, br, zstd";

struct Fetched {
  unsigned status = 0;  // 0: no answer
  bool timed_out = false;
  std::string body;
  std::string error;  // why there was no answer
};

// One keep-alive connection; each Get (connect when needed, write, read)
// gets an answer within the time limit or fails, and a connection that
// failed is opened afresh by the next Get.
class Session {
 public:
  // The buffer starts at the size Connection's does: flat_buffer reads at
  // most its free capacity at a time (512 bytes when empty), and the body
  // bytes leave it as they come, so it never grows by itself. Unreserved,
  // a 14 MB answer took 27,000 reads (each with a timer reset) and was
  // read at ~67 MB/s.
  Session(tcp::endpoint endpoint, std::chrono::milliseconds timeout, std::string accept_encoding)
      : endpoint_(endpoint), timeout_(timeout), accept_encoding_(std::move(accept_encoding)) {
    buffer_.reserve(kReadBufferBytes);
  }

  Fetched Get(const std::string& target, const char* accept) {
    Fetched fetched;
    beast::error_code error;
    const Clock::time_point deadline = Clock::now() + timeout_;
    if (!stream_) {
      stream_.emplace(io_);
      stream_->expires_at(deadline);
      stream_->async_connect(endpoint_, [&error](beast::error_code e) { error = e; });
      Run();
      if (error) return Fail(&fetched, error);
      stream_->socket().set_option(tcp::no_delay(true));
    }
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::accept, accept);
    if (!accept_encoding_.empty()) request.set(http::field::accept_encoding, accept_encoding_);
    request.keep_alive(true);
    stream_->expires_at(deadline);
    http::async_write(*stream_, request, [&error](beast::error_code e, size_t) { error = e; });
    Run();
    if (error) return Fail(&fetched, error);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimitBytes);
    http::async_read(*stream_, buffer_, parser, [&error](beast::error_code e, size_t) { error = e; });
    Run();
    if (error) return Fail(&fetched, error);
    stream_->expires_never();
    fetched.status = parser.get().result_int();
    const bool keep_alive = parser.get().keep_alive();
    fetched.body = std::move(parser.get().body());
    if (!keep_alive) Close();
    return fetched;
  }

 private:
  void Run() {
    io_.restart();
    io_.run();
  }

  Fetched Fail(Fetched* fetched, const beast::error_code& error) {
    fetched->timed_out = error == beast::error::timeout;
    fetched->error = fetched->timed_out ? "no answer within the time limit" : error.message();
    Close();
    return std::move(*fetched);
  }

  void Close() {
    if (stream_) {
      beast::error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_->close();
    }
    stream_.reset();
    buffer_.clear();
  }

  asio::io_context io_;
  tcp::endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::string accept_encoding_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// One operation: a GET, or a whole page load.
struct Outcome {
  bool ok = false;
  bool timed_out = false;
  size_t requests = 0;
  size_t bytes = 0;      // body bytes received
  std::string failure;  // the first thing that went wrong
};

// Adds one answer to `outcome`; false (and the outcome failed) unless it is a 200.
bool Take(Outcome* outcome, const std::string& target, const Fetched& fetched) {
  outcome->requests += 1;
  outcome->bytes += fetched.body.size();
  if (fetched.status == 200) return true;
  outcome->ok = false;
  outcome->timed_out = fetched.timed_out;
  outcome->failure = target + ": " +
                     (fetched.status == 0 ? fetched.error
                                          : "status " + std::to_string(fetched.status) + " " + fetched.body.substr(0, 200));
  return false;
}

std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Date.prototype.toISOString: "2026-11-24T07:40:00.000Z".
std::string IsoMillis(int64_t unix_millis) {
  const std::time_t seconds = static_cast<std::time_t>(unix_millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(unix_millis % 1000));
  return text;
}

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of `name="..."` inside one tag; empty when absent.
std::string AttributeOf(std::string_view tag, std::string_view name) {
  const std::string key = " " + std::string(name) + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string_view::npos) return {};
  const size_t begin = at + key.size();
  const size_t end = tag.find('"', begin);
  return end == std::string_view::npos ? std::string() : std::string(tag.substr(begin, end - begin));
}

// What a browser fetches for the page's HTML: the stylesheets and scripts
// with src, in document order (`assets`), and the icon (`icons`: Chromium
// asks for it once the scripts have run).
void SubresourcesOf(const std::string& html, std::vector<std::string>* assets, std::vector<std::string>* icons) {
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    const size_t end = html.find('>', at);
    if (end == std::string::npos) break;
    const std::string_view tag(html.data() + at, end - at);
    if (tag.starts_with("<script")) {
      if (std::string src = AttributeOf(tag, "src"); !src.empty()) assets->push_back(std::move(src));
    } else if (tag.starts_with("<link")) {
      const std::string rel = AttributeOf(tag, "rel");
      std::string href = AttributeOf(tag, "href");
      if (href.empty()) continue;
      if (rel == "stylesheet") assets->push_back(std::move(href));
      if (rel == "icon" || rel == "shortcut icon") icons->push_back(std::move(href));
    }
  }
}

// "next_cursor":"123" -> 123; null or absent -> empty.
std::string NextCursorOf(const std::string& body) {
  static constexpr std::string_view kKey = "\"next_cursor\":\"";
  const size_t at = body.rfind(kKey);
  if (at == std::string::npos) return {};
  const size_t begin = at + kKey.size();
  const size_t end = body.find('"', begin);
  return end == std::string::npos ? std::string() : body.substr(begin, end - begin);
}

// One page load of the dashboard (see the `page` mode above).
Outcome LoadDashboardPage(Session* session, const std::string& timezone) {
  Outcome outcome;
  outcome.ok = true;
  const Fetched html = session->Get("/", kAcceptHtml);
  if (!Take(&outcome, "/", html)) return outcome;
  std::vector<std::string> assets;
  std::vector<std::string> icons;
  SubresourcesOf(html.body, &assets, &icons);
  for (const std::string& asset : assets) {
    if (!Take(&outcome, asset, session->Get(asset, kAcceptAny))) return outcome;
  }
  if (!Take(&outcome, "/healthz", session->Get("/healthz", kAcceptJson))) return outcome;
  for (const std::string& icon : icons) {
    if (!Take(&outcome, icon, session->Get(icon, kAcceptAny))) return outcome;
  }
  // dashboard.js loadIncidents(): the sliding 7-day range, to a day ahead.
  const int64_t now = NowUnixMillis();
  const std::string window = "from=" + PercentEncode(IsoMillis(now - 7 * kDayMillis)) +
                             "&to=" + PercentEncode(IsoMillis(now + kDayMillis)) + "&limit=1000";
  std::string cursor;
  for (size_t page = 0; page < kIncidentPagesMax; ++page) {
    const std::string target = "/api/v1/incidents?" + window + (cursor.empty() ? "" : "&cursor=" + cursor);
    const Fetched answer = session->Get(target, kAcceptJson);
    if (!Take(&outcome, target, answer)) return outcome;
    cursor = NextCursorOf(answer.body);
    if (cursor.empty()) break;
  }
  // dashboard.js loadAvailability(): the browser's zone, then UTC if refused.
  std::string target = "/api/v1/availability?days=90&timezone=" + PercentEncode(timezone);
  Fetched availability = session->Get(target, kAcceptJson);
  if (availability.status != 200 && availability.status != 0 && timezone != "UTC") {
    outcome.requests += 1;
    outcome.bytes += availability.body.size();
    target = "/api/v1/availability?days=90&timezone=UTC";
    availability = session->Get(target, kAcceptJson);
  }
  Take(&outcome, target, availability);
  return outcome;
}

struct Window {
  Clock::time_point counted_from;  // the end of the warm-up
  Clock::time_point end;           // no operation starts after it
};

struct Tally {
  LoadResult result;
  uint64_t timeouts = 0;
  uint64_t requests = 0;  // in counted operations
  std::vector<double> bytes;  // per counted operation
  Clock::time_point last_done{};
  std::string first_failure;
};

// Runs `operation` back to back until `window.end` (at most every `interval`).
Tally RunLoop(Session* session, const Window& window, std::chrono::milliseconds interval,
              const std::function<Outcome(Session*, uint64_t)>& operation) {
  Tally tally;
  for (uint64_t n = 0;; ++n) {
    const Clock::time_point started = Clock::now();
    if (started >= window.end) break;
    const Outcome outcome = operation(session, n);
    const Clock::time_point done = Clock::now();
    if (outcome.timed_out) tally.timeouts += 1;
    if (!outcome.ok) {
      tally.result.errors += 1;
      if (tally.first_failure.empty()) tally.first_failure = outcome.failure;
      if (!outcome.timed_out) std::this_thread::sleep_for(kRetryPause);  // no busy loop against a refusing port
    } else if (done > window.counted_from) {  // not wholly in the warm-up
      tally.result.operations += 1;
      tally.result.latencies_seconds.push_back(SecondsBetween(started, done));
      tally.requests += outcome.requests;
      tally.bytes.push_back(static_cast<double>(outcome.bytes));
      tally.last_done = std::max(tally.last_done, done);
    }
    if (interval.count() > 0) std::this_thread::sleep_until(started + interval);
  }
  return tally;
}

void Merge(Tally* total, Tally&& one) {
  total->result.operations += one.result.operations;
  total->result.errors += one.result.errors;
  total->result.latencies_seconds.insert(total->result.latencies_seconds.end(), one.result.latencies_seconds.begin(),
                                         one.result.latencies_seconds.end());
  total->timeouts += one.timeouts;
  total->requests += one.requests;
  total->bytes.insert(total->bytes.end(), one.bytes.begin(), one.bytes.end());
  total->last_done = std::max(total->last_done, one.last_done);
  if (total->first_failure.empty()) total->first_failure = std::move(one.first_failure);
}

void PrintTally(const std::string& bench, const std::string& label, Tally tally, const Window& window,
                std::string extra) {
  if (!tally.first_failure.empty()) std::fprintf(stderr, "load_client: %s: %s\n", label.c_str(), tally.first_failure.c_str());
  // Operations still going at the end count when they are done: the rate
  // is over the time from the warm-up's end until the last of them.
  tally.result.seconds = SecondsBetween(window.counted_from, std::max(window.end, tally.last_done));
  const double operations = static_cast<double>(std::max<uint64_t>(tally.result.operations, 1));
  char figures[256];
  std::snprintf(figures, sizeof figures, "\"timeouts\":%llu,\"requests_per_operation\":%.2f,\"bytes\":%.0f",
                static_cast<unsigned long long>(tally.timeouts), static_cast<double>(tally.requests) / operations,
                Quantile(&tally.bytes, 0.5));
  extra += (extra.empty() ? "" : ",") + std::string(figures);
  PrintResult(bench, label, std::move(tally.result), extra);
}

Window WindowFrom(const Options& options) {
  const double seconds = std::stod(Need(options, "--seconds"));
  const double warmup = options.contains("--warmup") ? std::stod(options.at("--warmup")) : 0.5;
  Window window;
  window.counted_from =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  window.end = window.counted_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  return window;
}

std::chrono::milliseconds TimeoutFrom(const Options& options) {
  const double seconds = options.contains("--timeout") ? std::stod(options.at("--timeout")) : kRequestTimeoutSecondsDefault;
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1e3));
}

// Runs `operation` on N connections, one thread each; the tally of them all.
Tally RunConnections(const Options& options, size_t connections, const Window& window, const std::string& encodings,
                     const std::function<Outcome(Session*, uint64_t)>& operation) {
  const tcp::endpoint endpoint = Endpoint(options);
  const std::chrono::milliseconds timeout = TimeoutFrom(options);
  std::mutex merge_mutex;
  Tally total;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      Session session(endpoint, timeout, encodings);
      Tally mine = RunLoop(&session, window, std::chrono::milliseconds(0),
                           [&](Session* s, uint64_t n) { return operation(s, n * connections + i); });
      std::lock_guard lock(merge_mutex);
      Merge(&total, std::move(mine));
    });
  }
  for (std::thread& thread : threads) thread.join();
  return total;
}

int GetMode(const Options& options) {
  const size_t connections = std::stoul(Need(options, "--connections"));
  std::vector<std::string> paths;
  if (options.contains("--targets")) {
    std::ifstream file(options.at("--targets"));
    for (std::string line; std::getline(file, line);) {
      if (!line.empty()) paths.push_back(line);
    }
    if (paths.empty()) Die("no paths in " + options.at("--targets"));
  } else {
    paths.push_back(Need(options, "--path"));
  }
  const Window window = WindowFrom(options);
  Tally total = RunConnections(options, connections, window, "", [&paths](Session* session, uint64_t n) {
    Outcome outcome;
    outcome.ok = true;
    const std::string& target = paths[n % paths.size()];
    Take(&outcome, target, session->Get(target, kAcceptJson));
    return outcome;
  });
  PrintTally(options.contains("--bench") ? options.at("--bench") : "http",
             options.contains("--label") ? options.at("--label") : "http", std::move(total), window,
             "\"connections\":" + std::to_string(connections));
  return 0;
}

int PageMode(const Options& options) {
  const size_t connections = std::stoul(Need(options, "--connections"));
  const std::string timezone = options.contains("--timezone") ? options.at("--timezone") : "UTC";
  const std::string bench = options.contains("--bench") ? options.at("--bench") : "page";
  const Window window = WindowFrom(options);
  // The probe: one more connection, a GET every interval, for the same window.
  Tally probe;
  std::thread prober;
  if (options.contains("--probe")) {
    const std::string path = options.at("--probe");
    const std::chrono::milliseconds interval(
        options.contains("--probe-interval-ms") ? std::stol(options.at("--probe-interval-ms")) : 5);
    prober = std::thread([&, path, interval] {
      Session session(Endpoint(options), TimeoutFrom(options), "");
      std::this_thread::sleep_until(window.counted_from);  // every page loader is busy by then
      probe = RunLoop(&session, window, interval, [&path](Session* s, uint64_t) {
        Outcome outcome;
        outcome.ok = true;
        Take(&outcome, path, s->Get(path, kAcceptJson));
        return outcome;
      });
    });
  }
  Tally total = RunConnections(options, connections, window, kBrowserEncodings,
                               [&timezone](Session* session, uint64_t) { return LoadDashboardPage(session, timezone); });
  if (prober.joinable()) prober.join();
  PrintTally(bench, options.contains("--label") ? options.at("--label") : "dashboard page", std::move(total), window,
             "\"connections\":" + std::to_string(connections));
  if (options.contains("--probe")) {
    PrintTally(bench, options.contains("--probe-label") ? options.at("--probe-label") : "probe " + options.at("--probe"),
               std::move(probe), window, "\"connections\":1,\"beside_connections\":" + std::to_string(connections));
  }
  return 0;
}

}  // namespace
}  // namespace ledger::bench

int main(int argc, char** argv) {
  using namespace ledger::bench;
  if (argc < 2) Die("usage: load_client load|pace|get|page|startup --port P ...");
  const std::string mode = argv[1];
  Options options;
  std::vector<char*> command;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      for (int k = i + 1; k < argc; ++k) command.push_back(argv[k]);
      break;
    }
    if (i + 1 >= argc) Die(std::string(argv[i]) + " needs a value");
    options[argv[i]] = argv[i + 1];
    ++i;
  }
  try {
    if (mode == "load") return Load(options);
    if (mode == "pace") return Pace(options);
    if (mode == "startup") return Startup(options, command);
    if (mode == "get") return GetMode(options);
    if (mode == "page") return PageMode(options);
  } catch (const std::exception& exception) {
    Die(exception.what());
  }
  Die("unknown mode " + mode);
}
