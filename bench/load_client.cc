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
//   load_client startup --port P [--label L] [--then "PATH PATH..."] -- COMMAND ARGS...
//       Starts COMMAND, polls GET /healthz every millisecond until it answers
//       200 and reports the time from spawn; with --then, GETs each PATH in
//       turn (each must answer 200) and reports when each answer came, also
//       from spawn (then_ms). Then reads the process's resident memory and
//       stops it with SIGTERM.
//
// Prints one JSON line (bench_common.h). Binds nothing; talks to 127.0.0.1.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
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

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "load_client: %s\n", message.c_str());
  std::exit(2);
}

struct LoadSpec {
  tcp::endpoint endpoint;
  std::string submit_run_id;       // non-empty: POST submissions
  std::vector<std::string> paths;  // else: GET these, in turn
  Clock::time_point counted_from;  // the end of the warm-up
  Clock::time_point end;
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
    if (Clock::now() >= spec_.end) {
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
    if (started_ >= spec_.counted_from && now < spec_.end) {
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
      if (Clock::now() < spec_.end) Connect();
      return;
    }
    Send();
  }

  void Failed() {
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

}  // namespace
}  // namespace ledger::bench

int main(int argc, char** argv) {
  using namespace ledger::bench;
  if (argc < 2) Die("usage: load_client load|startup --port P ...");
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
    if (mode == "startup") return Startup(options, command);
  } catch (const std::exception& exception) {
    Die(exception.what());
  }
  Die("unknown mode " + mode);
}
