// incident-ledger: the service binary and its subcommands.
//
//   incident-ledger serve  --data DIR [--listen HOST:PORT] [--threads N] [--auth-file FILE | --allowed-host NAME...]
//                          [--anonymous viewer [--trusted-network CIDR...]]
//                          [--backup-dir DIR] [--read-only | --follow URL [--token-file F]]
//                          [--poll-csv PATH [--poll-interval 2m] [--mapping FILE] [--sheet-timezone ZONE]]
//   incident-ledger import-csv --data DIR FILE [--mapping FILE] [--sheet-timezone ZONE]
//   incident-ledger add-token --auth-file FILE --name NAME --roles ROLES
//   incident-ledger verify --data DIR
//   incident-ledger export --data DIR > log.ndjson
//   incident-ledger import --data NEWDIR < log.ndjson
//   incident-ledger backup --data DIR --to DEST
//   incident-ledger durations --data DIR [--from T] [--to T] [--by incident|system] [--as-of T] [--format json|csv]
//   incident-ledger availability --data DIR [--system S] [--days N] [--end-date D] [--timezone ZONE] [--as-of T]
//   incident-ledger verify-bundle FILE --public-key KEY
//   incident-ledger check-head --data DIR [--public-key KEY] HEADER
//   incident-ledger follow --from URL --data DIR [--token-file F] [--poll-ms N]
//
// Every subcommand takes --data DIR, the folder of the ledger's RocksDB
// database (created if missing, mode 0700). `incident-ledger COMMAND --help`
// lists a subcommand's options; each may also come from the environment
// (LEDGER_LISTEN for --listen) or a config file (--config FILE), read by
// app/command_line.h. Every subcommand runs with umask
// 077, so what it creates (RocksDB files, sessions, backups) is its user's
// alone.

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "app/analyst_commands.h"
#include "app/audit_commands.h"
#include "app/command_line.h"
#include "app/delivery_options.h"
#include "http/self_service.h"
#include "ingest/subscription_links.h"
#include "app/follow.h"
#include "app/projection_commands.h"
#include "app/proof_commands.h"
#include "app/notifications.h"
#include "app/sheet_commands.h"
#include "common/file.h"
#include "common/log.h"
#include "common/time_zone.h"
#include "http/api.h"
#include "http/auth.h"
#include "http/followups_api.h"
#include "http/imports_api.h"
#include "http/maintenance_api.h"
#include "common/encoding.h"
#include "http/systems_api.h"
#include "http/server.h"
#include "http/web.h"
#include "ingest/followups.h"
#include "ingest/maintenance.h"
#include "ingest/systems.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"
#include "ledger/tree_head.h"
#include "projections/read_model.h"

#if defined(LEDGER_JEMALLOC)
// jemalloc's settings, read once when it starts (its documented
// `malloc_conf` symbol; MALLOC_CONF in the environment still overrides).
// background_thread: freed pages go back to the system on a thread of
// jemalloc's own ~10 s after they were freed (its decay), also in a
// process that has gone quiet. Without it jemalloc returns them only while
// the process allocates, so a service at rest kept every page it had ever
// freed: the log's flushed memtable (ledger.h, idle_flush_after), the
// notification jobs once archived, a rebuilt read model's garbage. One
// such thread is plenty for this service's frees.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
const char* malloc_conf = "background_thread:true,max_background_threads:1";
}
#endif

namespace {

constexpr size_t kThreadsMax = 64;
// The one option that may be given more than once (its values joined with
// ',' in Arguments::options).
constexpr std::string_view kAllowedHostOption = "--allowed-host";
constexpr size_t kHostNameBytesMax = 253;
// The one switch (present, "on", when set).
constexpr std::string_view kReadOnlyOption = "--read-only";

int Fail(const std::string& message) {
  ledger::LogPrintf("incident-ledger", "%s", message.c_str());
  return 2;
}

// The subcommand and its options, "--name" -> value (app/command_line.h).
using Arguments = ledger::app::Invocation;

// Without --auth-file, the Host names served besides the listen address and
// localhost (--allowed-host, lower case); with it, nullopt: tokens guard
// every route, so any Host is served.
ledger::Result<std::optional<std::vector<std::string>>> ParseAllowedHosts(const Arguments& arguments) {
  const auto given = arguments.options.find(std::string(kAllowedHostOption));
  if (arguments.options.contains("--auth-file")) {
    if (given == arguments.options.end()) return std::optional<std::vector<std::string>>();
    return ledger::InvalidArgument("--allowed-host",
                                   "--allowed-host is for a service without --auth-file (which answers only to its "
                                   "listen address, localhost and these names); with --auth-file every Host is "
                                   "served and tokens guard each route");
  }
  std::vector<std::string> names;
  if (given == arguments.options.end()) return std::optional<std::vector<std::string>>(names);
  std::string_view rest = given->second;
  while (true) {
    const size_t comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const bool valid = !name.empty() && name.size() <= kHostNameBytesMax && name.front() != '.' &&
                       name.front() != '-' && std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                       });
    if (!valid) {
      return ledger::InvalidArgument("--allowed-host", "--allowed-host '" + name +
                                                           "' is not a host name: give a name such as "
                                                           "ledger.internal (letters, digits, '-' and '.'; no port)");
    }
    names.push_back(std::move(name));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return std::optional<std::vector<std::string>>(std::move(names));
}

ledger::Result<ledger::http::ServerOptions> ParseServeOptions(const Arguments& arguments) {
  ledger::http::ServerOptions options;
  if (const auto listen = arguments.options.find("--listen"); listen != arguments.options.end()) {
    const std::string& text = listen->second;
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
      return ledger::InvalidArgument("--listen", "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = text.substr(colon + 1);
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(port) > 65535) {
      return ledger::InvalidArgument("--listen", "--listen port must be a number from 0 to 65535");
    }
    options.host = host;
    options.port = static_cast<uint16_t>(std::stoul(port));
  }
  if (const auto threads = arguments.options.find("--threads"); threads != arguments.options.end()) {
    const std::string& text = threads->second;
    if (text.empty() || text.size() > 2 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(text) == 0 || std::stoul(text) > kThreadsMax) {
      return ledger::InvalidArgument("--threads", "--threads must be a number from 1 to " + std::to_string(kThreadsMax));
    }
    options.threads = std::stoul(text);
  }
  ledger::Result<std::optional<std::vector<std::string>>> allowed_hosts = ParseAllowedHosts(arguments);
  if (!allowed_hosts) return allowed_hosts.error();
  options.allowed_hosts = std::move(*allowed_hosts);
  if (const auto access_log = arguments.options.find("--access-log"); access_log != arguments.options.end()) {
    if (access_log->second != "on" && access_log->second != "off") {
      return ledger::InvalidArgument("--access-log", "--access-log must be on or off, not '" + access_log->second + "'");
    }
    options.access_log = access_log->second == "on";
  }
  return options;
}

// 127.0.0.0/8 and ::1 (a host name is not an address; Server refuses it).
bool IsLoopback(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// --anonymous viewer [--trusted-network CIDR ...]: who reads without
// credentials (http/auth.h); nullopt when nobody does. Needs --auth-file:
// without one every request may do everything anyway.
ledger::Result<std::optional<ledger::http::AnonymousReaders>> ParseAnonymousReaders(const Arguments& arguments) {
  const auto anonymous = arguments.options.find("--anonymous");
  const auto networks = arguments.options.find("--trusted-network");
  if (anonymous == arguments.options.end()) {
    if (networks != arguments.options.end()) {
      return ledger::InvalidArgument("--trusted-network",
                                     "--trusted-network goes with --anonymous viewer: it says which clients may "
                                     "read without credentials");
    }
    return std::optional<ledger::http::AnonymousReaders>();
  }
  if (anonymous->second != "viewer") {
    return ledger::InvalidArgument("--anonymous", "--anonymous must be viewer (the one role anonymous readers may "
                                                  "have), not '" + anonymous->second.substr(0, 64) + "'");
  }
  if (!arguments.options.contains("--auth-file")) {
    return ledger::InvalidArgument("--anonymous",
                                   "--anonymous needs --auth-file: without an auth file every request may already "
                                   "read, submit and administer, so there is nothing to open to anonymous readers");
  }
  ledger::http::AnonymousReaders readers;
  if (networks == arguments.options.end()) return std::optional<ledger::http::AnonymousReaders>(readers);
  // Several --trusted-network values (or one comma-separated list) arrive
  // joined with ',' (app/command_line.h).
  std::string_view rest = networks->second;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view text = rest.substr(0, comma);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    ledger::Result<ledger::http::Network> network = ledger::http::Network::Parse(text);
    if (!network) return ledger::InvalidArgument("--trusted-network", "--trusted-network: " + network.error().message);
    readers.trusted_networks.push_back(*network);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return std::optional<ledger::http::AnonymousReaders>(std::move(readers));
}

// Without an auth file every request may do everything, so only this machine
// may reach the service.
ledger::Result<std::unique_ptr<ledger::http::AccessControl>> LoadAccessControl(
    const Arguments& arguments, const ledger::http::ServerOptions& server_options) {
  ledger::Result<std::optional<ledger::http::AnonymousReaders>> anonymous = ParseAnonymousReaders(arguments);
  if (!anonymous) return anonymous.error();
  const auto path = arguments.options.find("--auth-file");
  if (path == arguments.options.end()) {
    if (!IsLoopback(server_options.host)) {
      return ledger::InvalidArgument(
          "--auth-file", "refusing to listen on " + server_options.host +
                             " without --auth-file: anyone who reaches it could write to the ledger. Listen on "
                             "127.0.0.1, or give --auth-file FILE (make tokens with `incident-ledger add-token`)");
    }
    std::string names = server_options.host + ", localhost";
    for (const std::string& name : server_options.allowed_hosts.value_or(std::vector<std::string>())) names += ", " + name;
    ledger::LogPrintf("incident-ledger",
                 "no --auth-file: every request may read, submit, audit and administer; "
                 "listening on loopback only, and answering only requests whose Host is %s",
                 names.c_str());
    return std::make_unique<ledger::http::AccessControl>(std::nullopt);
  }
  ledger::Result<ledger::http::AuthFile> file = ledger::http::AuthFile::Load(path->second);
  if (!file) return file.error();
  ledger::LogPrintf("incident-ledger", "%zu access tokens from %s", file->entries().size(), path->second.c_str());
  if (*anonymous) {
    std::string from = "from anywhere";
    if (!(*anonymous)->trusted_networks.empty()) {
      from = "from";
      for (const ledger::http::Network& network : (*anonymous)->trusted_networks) from += " " + network.Text();
    }
    ledger::LogPrintf("incident-ledger",
                      "anonymous readers: requests without credentials %s read as viewers; every other route "
                      "needs a token",
                      from.c_str());
  }
  return std::make_unique<ledger::http::AccessControl>(std::move(*file), nullptr,
                                                       ledger::http::AccessOptions{.anonymous = std::move(*anonymous)});
}

// SIGHUP: reads the auth file again (see http/auth.h). A file that cannot be
// read or parsed changes nothing, and the log says why.
void ReloadAccessControl(const Arguments& arguments, ledger::http::AccessControl* access) {
  const auto path = arguments.options.find("--auth-file");
  if (path == arguments.options.end()) {
    ledger::LogPrintf("incident-ledger", "SIGHUP: no --auth-file to read again; every request still may do everything");
    return;
  }
  ledger::Result<ledger::http::AuthFile> file = ledger::http::AuthFile::Load(path->second);
  if (!file) {
    ledger::LogPrintf("incident-ledger", "SIGHUP: keeping the tokens in use: %s", file.error().message.c_str());
    return;
  }
  const size_t tokens = file->entries().size();
  ledger::Result<ledger::http::SessionsRetained> retained = access->Reload(std::move(*file));
  if (!retained) {
    ledger::LogPrintf("incident-ledger", "SIGHUP: %s", retained.error().message.c_str());
    return;
  }
  ledger::LogPrintf("incident-ledger",
               "SIGHUP: %zu access tokens from %s; %zu signed-in sessions kept, %zu ended (their "
               "token is gone)",
               tokens, path->second.c_str(), retained->kept, retained->ended);
}

int AddToken(const Arguments& arguments) {
  for (const char* name : {"--auth-file", "--name", "--roles"}) {
    if (!arguments.options.contains(name)) return Fail(std::string(name) + " is required");
  }
  ledger::Result<ledger::http::NewToken> made =
      ledger::http::MakeToken(arguments.options.at("--name"), arguments.options.at("--roles"));
  if (!made) return Fail(made.error().message);
  const std::string& path = arguments.options.at("--auth-file");
  // The new file is private to its owner; an existing one must still parse
  // with the new line, so that a typo never locks everyone out at restart.
  std::string existing;
  if (std::FILE* in = std::fopen(path.c_str(), "rb")) {
    char buffer[4096];
    size_t read = 0;
    while ((read = std::fread(buffer, 1, sizeof buffer, in)) > 0 && existing.size() <= ledger::http::kAuthFileBytesMax) {
      existing.append(buffer, read);
    }
    std::fclose(in);
  }
  // An existing last line without its newline gets one first.
  const std::string bytes = (!existing.empty() && existing.back() != '\n' ? "\n" : "") + made->line + "\n";
  if (ledger::Result<ledger::http::AuthFile> parsed = ledger::http::AuthFile::Parse(existing + bytes); !parsed) {
    return Fail(path + ": " + parsed.error().message);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return Fail("cannot write " + path + ": " + std::strerror(errno));
  const bool written = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Fail("cannot write " + path + ": " + std::strerror(errno));
  std::printf("%s\n", made->token.c_str());
  ledger::LogPrintf("incident-ledger", "added '%s' to %s; the token above is shown only this once",
               arguments.options.at("--name").c_str(), path.c_str());
  return 0;
}

// glibc's defaults give memory back to the kernel as soon as 128 KiB at the
// top of the heap are free, and serve blocks over 128 KiB (a page of
// incidents is ~100 KB) with mmap and munmap each time. Under load that is a
// page fault for nearly every request (bench/analysis.md); a service that
// will allocate the same sizes again keeps them instead. A build linked
// with jemalloc (LEDGER_JEMALLOC, app/CMakeLists.txt) does not use glibc's
// malloc at all: jemalloc keeps freed pages for a while by itself (its
// decay) and hands them back on its background thread (malloc_conf above),
// so there is nothing to tune.
void TuneAllocator() {
#if !defined(LEDGER_JEMALLOC)
  constexpr int kTrimThresholdBytes = 64 * 1024 * 1024;
  constexpr int kTopPadBytes = 16 * 1024 * 1024;
  constexpr int kMmapThresholdBytes = 16 * 1024 * 1024;
  (void)mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
  (void)mallopt(M_TOP_PAD, kTopPadBytes);
  (void)mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
#endif
}

// A whole number option in [min, max], or `fallback` when not given.
ledger::Result<uint64_t> NumberOption(const Arguments& arguments, const std::string& name, uint64_t fallback,
                                      uint64_t min, uint64_t max) {
  const auto found = arguments.options.find(name);
  if (found == arguments.options.end()) return fallback;
  const std::string& text = found->second;
  const auto refuse = [&] {
    return ledger::InvalidArgument(name, name + " must be a whole number from " + std::to_string(min) + " to " +
                                             std::to_string(max));
  };
  if (text.empty() || text.size() > 9 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return refuse();
  }
  const uint64_t value = std::stoull(text);
  if (value < min || value > max) return refuse();
  return value;
}

ledger::Result<ledger::http::WorkPoolOptions> ParseWorkPoolOptions(const Arguments& arguments) {
  constexpr uint64_t kWorkThreadsMax = 64;
  constexpr uint64_t kWorkQueueMax = 10'000;
  constexpr uint64_t kWorkBudgetMsMax = 3'600'000;
  ledger::Result<uint64_t> threads =
      NumberOption(arguments, "--work-threads", ledger::http::kWorkThreadsDefault, 1, kWorkThreadsMax);
  if (!threads) return threads.error();
  ledger::Result<uint64_t> queue =
      NumberOption(arguments, "--work-queue", ledger::http::kWorkQueueMaxDefault, 1, kWorkQueueMax);
  if (!queue) return queue.error();
  ledger::Result<uint64_t> budget = NumberOption(arguments, "--work-budget-ms",
                                                 static_cast<uint64_t>(ledger::http::kWorkBudgetDefault.count()), 1,
                                                 kWorkBudgetMsMax);
  if (!budget) return budget.error();
  return ledger::http::WorkPoolOptions{.threads = *threads,
                                       .queue_max = *queue,
                                       .budget = std::chrono::milliseconds(static_cast<int64_t>(*budget))};
}

// serve --backup-dir: the one folder backups through the API may be written
// below; without it the API writes none. It must be an existing folder
// outside the data folder.
ledger::Result<ledger::http::BackupOptions> ParseBackupOptions(const Arguments& arguments) {
  ledger::http::BackupOptions backup{.data_folder = arguments.options.at("--data")};
  const auto given = arguments.options.find("--backup-dir");
  if (given == arguments.options.end()) return backup;
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::canonical(given->second, error);
  if (error || !std::filesystem::is_directory(folder, error)) {
    return ledger::InvalidArgument("--backup-dir", "--backup-dir must name an existing folder: " + given->second);
  }
  const std::filesystem::path data =
      std::filesystem::weakly_canonical(std::filesystem::absolute(backup.data_folder, error), error);
  if (ledger::IsSameOrBelow(folder, data)) {
    return ledger::InvalidArgument("--backup-dir", "--backup-dir must be outside the data folder " + data.string());
  }
  backup.allowed_parent = folder.string();
  return backup;
}

// The data folder holds subscribers' addresses. One the service did not make
// (it makes its own 0700) may be open to others on purpose, say to a backup
// agent's group, so it is not changed, but the start says so.
void WarnAboutOpenDataFolder(const std::string& data) {
  const unsigned beyond_owner = ledger::FolderAccessBeyondOwner(data);
  if (beyond_owner == 0) return;
  ledger::LogPrintf("incident-ledger",
               "warning: the data folder %s lets others in (mode bits %03o beyond its owner); it "
               "holds subscribers' addresses. `chmod 700 %s` makes it private",
               data.c_str(), beyond_owner, data.c_str());
}

// --log-format, first of all: every later line takes its shape.
ledger::Status ApplyLogFormat(const Arguments& arguments) {
  const auto format = arguments.options.find("--log-format");
  if (format == arguments.options.end()) return {};
  const std::optional<ledger::LogFormat> parsed = ledger::ParseLogFormat(format->second);
  if (!parsed) {
    return ledger::InvalidArgument("--log-format", "--log-format must be text or json, not '" + format->second + "'");
  }
  ledger::SetLogFormat(*parsed);
  return {};
}

// --read-only and --follow: a mirror takes no writes, so it polls no sheet
// and sends no mail (the primary does both).
ledger::Result<std::optional<ledger::app::FollowOptions>> ParseMirrorOptions(const Arguments& arguments) {
  const auto& options = arguments.options;
  const bool follow = options.contains("--follow");
  if (!follow && (options.contains("--token-file") || options.contains("--poll-ms"))) {
    return ledger::InvalidArgument("--token-file", "--token-file and --poll-ms go with --follow URL");
  }
  if (!follow && !options.contains(std::string(kReadOnlyOption))) return std::optional<ledger::app::FollowOptions>();
  for (const char* writer : {"--poll-csv", "--smtp-url", "--backup-dir"}) {
    if (options.contains(writer)) {
      return ledger::InvalidArgument(writer, std::string(writer) +
                                                 " does not go with --read-only or --follow: a read-only copy "
                                                 "imports no sheet, sends no mail and makes no backups (its "
                                                 "primary does)");
    }
  }
  if (!follow) return std::optional<ledger::app::FollowOptions>(ledger::app::FollowOptions{});
  const auto value = [&options](const char* name) {
    const auto found = options.find(name);
    return found == options.end() ? std::string() : found->second;
  };
  ledger::Result<ledger::app::FollowOptions> parsed = ledger::app::ParseFollowOptions(
      options.at("--follow"), value("--token-file"), value("--poll-ms"), options.at("--data"));
  if (!parsed) return parsed.error();
  return std::optional<ledger::app::FollowOptions>(std::move(*parsed));
}

int Serve(const Arguments& arguments) {
  if (ledger::Status format = ApplyLogFormat(arguments); !format) return Fail(format.error().message);
  if (!arguments.config_file.empty()) {
    ledger::LogPrintf("incident-ledger", "options from the command line, LEDGER_* variables and %s, in that order",
                      arguments.config_file.c_str());
  }
  ledger::Result<std::optional<ledger::app::FollowOptions>> mirror = ParseMirrorOptions(arguments);
  if (!mirror) return Fail(mirror.error().message);
  const bool read_only = mirror->has_value();
  const bool following = arguments.options.contains("--follow");
  TuneAllocator();
  ledger::Result<ledger::http::ServerOptions> server_options = ParseServeOptions(arguments);
  if (!server_options) return Fail(server_options.error().message);
  ledger::Result<ledger::http::WorkPoolOptions> pool_options = ParseWorkPoolOptions(arguments);
  if (!pool_options) return Fail(pool_options.error().message);
  ledger::Result<ledger::http::BackupOptions> backup_options = ParseBackupOptions(arguments);
  if (!backup_options) return Fail(backup_options.error().message);
  // The --smtp-* options are read for real once the ledger is open; checked
  // here first, so that a refused option (credentials in --smtp-url) leaves
  // no data folder behind.
  if (ledger::Result<std::optional<ledger::notify::DeliveryOptions>> delivery =
          ledger::app::ParseDeliveryOptions(arguments.options);
      !delivery) {
    return Fail(delivery.error().message);
  }
  ledger::Result<std::optional<std::string>> public_url = ledger::app::ParsePublicUrl(arguments.options);
  if (!public_url) return Fail(public_url.error().message);
  ledger::Result<std::unique_ptr<ledger::http::AccessControl>> access = LoadAccessControl(arguments, *server_options);
  if (!access) return Fail(access.error().message);
  server_options->on_reload = [&arguments, control = access->get()] { ReloadAccessControl(arguments, control); };
  if (!(*access)->open_mode()) {
    // Browser sessions outlive a restart (DIR/sessions); a file that cannot
    // be used signs everyone out, which the log says.
    const std::string sessions_path = (std::filesystem::path(arguments.options.at("--data")) / "sessions").string();
    ledger::Result<ledger::http::SessionsRestored> restored = (*access)->PersistSessions(sessions_path);
    if (!restored) {
      ledger::LogPrintf("incident-ledger", "%s", restored.error().message.c_str());
    } else if (restored->restored + restored->expired + restored->ended > 0) {
      ledger::LogPrintf("incident-ledger",
                   "%zu signed-in sessions kept from before the start (%zu expired, %zu whose token "
                   "is gone)",
                   restored->restored, restored->expired, restored->ended);
    }
    if (restored && restored->torn_line) {
      ledger::LogPrintf("incident-ledger",
                   "the last line of %s was cut short (a crash while it was written) and is left "
                   "out; the file is rewritten without it",
                   sessions_path.c_str());
    }
  }

  // A read-only copy that does not follow opens the ledger read-only: it
  // writes nothing to DIR (and another process, `follow`, may write it).
  ledger::Result<std::unique_ptr<ledger::Ledger>> opened = ledger::Ledger::Open(
      ledger::LedgerOptions{.path = arguments.options.at("--data"), .read_only = read_only && !following});
  if (!opened) return Fail(opened.error().message);
  std::unique_ptr<ledger::Ledger> log = std::move(*opened);
  WarnAboutOpenDataFolder(arguments.options.at("--data"));
  // The tree heads' signing key, made (mode 0600) at the first start; the
  // ledger is open, so this process holds its lock and makes it alone. A
  // following copy signs its own heads (with its own key, at /public-key);
  // a read-only one makes no key, and without one its signing routes
  // answer 503.
  ledger::Result<std::unique_ptr<ledger::TreeHeadSigner>> signer =
      ledger::TreeHeadSigner::Open(arguments.options.at("--data"), /*create=*/!read_only || following);
  if (!signer) {
    if (!read_only || following) return Fail("tree head signing key: " + signer.error().message);
    ledger::LogPrintf("incident-ledger", "read-only copy without a signing key of its own (%s): tree heads and bundles "
                      "answer 503; proofs work", signer.error().message.c_str());
    signer = std::unique_ptr<ledger::TreeHeadSigner>();
  }

  // The key that signs the links of mails (one-click unsubscribe,
  // self-service confirmation), made (mode 0600) at the first start like the
  // tree heads' key. A read-only copy makes none; without one it answers
  // links with 503 (it takes no writes anyway).
  ledger::Result<std::unique_ptr<ledger::ingest::SubscriptionLinkKey>> link_key =
      ledger::ingest::SubscriptionLinkKey::Open(arguments.options.at("--data"), /*create=*/!read_only || following);
  if (!link_key) {
    if (!read_only || following) return Fail("subscription link key: " + link_key.error().message);
    link_key = std::unique_ptr<ledger::ingest::SubscriptionLinkKey>();
  }

  // The read model resumes from its checkpoint (DIR/projections) and folds
  // only the events after it; a missing, outdated or mismatched checkpoint is
  // rebuilt from seq 1. Every event folded is checked on the way in.
  const std::string data = arguments.options.at("--data");
  // A read-only copy that does not follow keeps no checkpoint (it writes
  // nothing to DIR): it folds the whole log at start.
  const bool keep_checkpoints = !read_only || following;
  ledger::Result<std::unique_ptr<ledger::projections::ProjectionCheckpoints>> checkpoints =
      keep_checkpoints ? ledger::projections::ProjectionCheckpoints::Open(ledger::app::ProjectionFolder(data))
                       : std::unique_ptr<ledger::projections::ProjectionCheckpoints>();
  if (!checkpoints) return Fail(checkpoints.error().message);
  ledger::projections::ReadModel read_model;
  ledger::Result<ledger::projections::OpenReport> projected = read_model.Open(*log, checkpoints->get());
  if (!projected) {
    if (projected.error().code == ledger::ErrorCode::kCorruption) {
      return Fail("the ledger fails verification (" + projected.error().message +
                  "); refusing to serve it. `incident-ledger verify --data DIR` names the first bad event; "
                  "restore from a backup or an export");
    }
    return Fail("cannot build the read model: " + projected.error().message);
  }
  ledger::app::ReportProjectionOpen(*projected);
  ledger::Result<std::unique_ptr<ledger::ingest::CommandProcessor>> processor =
      ledger::ingest::CommandProcessor::Create(log.get(), &read_model);
  if (!processor) return Fail("cannot load ticket state: " + processor.error().message);
  const std::unique_ptr<ledger::ingest::MaintenanceProcessor> maintenance_processor =
      ledger::ingest::MaintenanceProcessor::Create(log.get(), &read_model);
  // The catalog of systems, and whether submissions must keep to it.
  const std::unique_ptr<ledger::ingest::SystemProcessor> system_processor =
      ledger::ingest::SystemProcessor::Create(log.get(), &read_model);
  const std::string systems_mode =
      arguments.options.contains("--systems") ? arguments.options.at("--systems") : std::string("open");
  if (systems_mode == "strict") {
    (*processor)->RequireCataloguedSystems();
    maintenance_processor->RequireCataloguedSystems();
  } else if (systems_mode != "open") {
    return Fail("--systems must be open or strict, not '" + ledger::QuotableText(systems_mode, 32) + "'");
  }
  ledger::Result<std::unique_ptr<ledger::app::Notifications>> notifications =
      ledger::app::Notifications::Create(arguments.options, log.get(), &read_model, signer->get());
  if (!notifications) return Fail("notifications: " + notifications.error().message);
  if (*public_url && *link_key) (*notifications)->SetLinks(**public_url, link_key->get());

  // Reviews and action items; overdue items are found in the service's zone.
  const std::string zone_name =
      arguments.options.contains("--timezone") ? arguments.options.at("--timezone") : std::string("UTC");
  ledger::Result<const date::time_zone*> zone = ledger::LocateTimeZone(zone_name, "--timezone");
  if (!zone) return Fail("--timezone: " + zone.error().message);
  ledger::Result<uint64_t> overdue_check_ms = NumberOption(arguments, "--overdue-check-ms",
                   static_cast<uint64_t>(ledger::ingest::OverdueWatcherOptions{}.interval.count()), 10, 86'400'000);
  if (!overdue_check_ms) return Fail(overdue_check_ms.error().message);
  ledger::ingest::FollowUpProcessor follow_ups(log.get(), &read_model);
  ledger::http::FollowUpRoutes follow_up_routes{.processor = &follow_ups,
                                                .read_model = &read_model,
                                                .zone = *zone,
                                                .zone_name = zone_name,
                                                .ledger = log.get(),
                                                .pool = nullptr};  // set once the pool exists

  ledger::http::Metrics metrics;
  // Committed events go to the read model first, then to the browsers' event
  // streams, so that a page reacting to an event reads state that includes it.
  ledger::http::EventHub event_hub(log.get(), {});
  log->SetCommitListener([&read_model, &event_hub, notify = notifications->get()](
                              const std::vector<ledger::StoredEvent>& events) {
    read_model.Apply(events);
    notify->OnCommit();
    event_hub.Publish(events);
  });
  log->SetBatchSizeObserver([&metrics](size_t events) { metrics.ObserveBatchSize(events); });
  ledger::Result<std::unique_ptr<ledger::app::SheetPolling>> sheet_polling =
      ledger::app::StartSheetPolling(arguments.options, log.get(), processor->get());
  if (!sheet_polling) return Fail(sheet_polling.error().message);
  // A read-only copy appends nothing of its own: no receipts, no overdue
  // records (its primary makes them, and it copies them).
  if (!read_only) {
    if (ledger::Status started = (*notifications)->StartDelivery(); !started) return Fail(started.error().message);
  }
  ledger::ingest::OverdueWatcher overdue_watcher(
      &follow_ups, &read_model,
      ledger::ingest::OverdueWatcherOptions{.interval = std::chrono::milliseconds(*overdue_check_ms), .zone = *zone});
  if (!read_only) overdue_watcher.Start();

  // Self-service subscriptions: links need the public URL and the key, and
  // the confirmation mail a sender (StartDelivery made it, with --smtp-url).
  ledger::http::SelfService self_service(
      ledger::http::SelfServiceDependencies{.subscriptions = (*notifications)->subscriptions(),
                                            .key = link_key->get(),
                                            .send_confirmation = (*notifications)->confirmation_sender(),
                                            .public_url = public_url->value_or(std::string())});
  // The sheet's imports for /api/v1/imports and /imports (none polled: no runs).
  ledger::http::ImportRoutes import_routes{.runs = {}, .read_model = &read_model};
  if (*sheet_polling) import_routes.runs = [polling = sheet_polling->get()] { return polling->runs(); };

  // Long requests run here, never on the server's socket threads.
  ledger::http::WorkPool pool(*pool_options);
  follow_up_routes.pool = &pool;
  ledger::http::Web web(ledger::http::WebDependencies{.ledger = log.get(),
                                                      .processor = processor->get(),
                                                      .read_model = &read_model,
                                                      .event_hub = &event_hub,
                                                      .access = access->get(),
                                                      .pool = &pool,
                                                      .followups = &follow_ups,
                                                      .zone = *zone,
                                                      .maintenance = maintenance_processor.get(),
                                                      .imports = &import_routes});
  const ledger::http::MaintenanceRoutes maintenance_routes{
      .processor = maintenance_processor.get(), .read_model = &read_model, .ledger = log.get()};
  const ledger::http::SystemRoutes system_routes{.processor = system_processor.get(), .read_model = &read_model};
  ledger::http::Api api(ledger::http::ApiDependencies{.ledger = log.get(),
                                                      .processor = processor->get(),
                                                      .read_model = &read_model,
                                                      .metrics = &metrics,
                                                      .web = &web,
                                                      .notifications = (*notifications)->routes(),
                                                      .followups = &follow_up_routes,
                                                      .maintenance = &maintenance_routes,
                                                      .self_service = &self_service,
                                                      .imports = &import_routes,
                                                      .systems = &system_routes,
                                                      .access = access->get(),
                                                      .pool = &pool,
                                                      .backup = *backup_options,
                                                      .signer = signer->get(),
                                                      .read_only = read_only});
  // /metrics renders every part's figures (http/metrics.h); these callbacks
  // hand it the figures of the parts wired here.
  ledger::http::MetricsSources metric_sources{
      .notifications = [notify = notifications->get()] { return notify->stats(); },
      .sheet_poller = {},
      .work_pool = [&pool] { return pool.stats(); }};
  if (*sheet_polling) metric_sources.sheet_poller = [polling = sheet_polling->get()] { return polling->stats(); };
  // serve --follow: the follower appends on a thread of its own; the commit
  // listener above folds and streams what it imports.
  std::unique_ptr<ledger::app::Follower> follower;
  if (following) {
    follower = std::make_unique<ledger::app::Follower>(log.get(), **mirror);
    metric_sources.follower = [copy = follower.get()] { return copy->stats(); };
  }
  metrics.SetSources(std::move(metric_sources));
  ledger::Result<std::unique_ptr<ledger::http::Server>> server =
      ledger::http::Server::Start(*server_options, &api, &metrics);
  if (!server) return Fail(server.error().message);

  const std::string url_file = ledger::app::ServiceUrlFile(arguments.options.at("--data"));
  if (!read_only) ledger::app::WriteServiceUrl(url_file, (*server)->url());
  std::printf("listening on %s\n", (*server)->url().c_str());
  std::fflush(stdout);
  ledger::LogPrintf("incident-ledger", "serving %s from %s (head seq %llu)", (*server)->url().c_str(),
               arguments.options.at("--data").c_str(), static_cast<unsigned long long>(log->head().seq));
  // The whole chain is verified in the background, so that a start does not
  // wait for it; a ledger that fails is not served on: the service stops and
  // exits with status 2, naming the event.
  ledger::app::ChainCheck chain_check(*log, [&server] { (*server)->RequestStop(); });
  std::thread follow_thread;
  if (follower) {
    ledger::LogPrintf("incident-ledger", "following %s (read-only copy; writes answer 503)",
                      (*mirror)->primary_url.c_str());
    follow_thread = std::thread([copy = follower.get()] {
      // A divergence stops the following, not the serving: the copy keeps
      // answering with what it holds, and /metrics names the seq.
      (void)copy->Run();
    });
  } else if (read_only) {
    ledger::LogPrintf("incident-ledger", "read-only copy: writes answer 503");
  }
  (*server)->Run();
  if (follower) {
    follower->RequestStop();
    follow_thread.join();
  }
  // Long requests still running are told to stop and answer before the
  // server's event loop goes away.
  pool.Stop();
  chain_check.Join();
  overdue_watcher.Stop();
  if (*sheet_polling) (*sheet_polling)->Stop();  // its submissions go before the ledger stops taking any
  (*notifications)->Stop();  // its last receipts go before the ledger stops taking any
  // Finish every queued append before the server's event loop goes away: an
  // answer may be lost, an acknowledged event never is.
  log->Shutdown();
  server->reset();
  if (!read_only) std::remove(url_file.c_str());
  ledger::LogPrintf("incident-ledger", "stopped at head seq %llu", static_cast<unsigned long long>(log->head().seq));
  return chain_check.failed() ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever this process creates (the data folder's RocksDB files, the
  // sessions file, backups) is for its own user only.
  ::umask(077);
  ledger::Result<Arguments> arguments = ledger::app::ParseInvocation(argc, argv, stdout);
  if (!arguments) return Fail(arguments.error().message);
  if (arguments->help_printed) return 0;
  const std::string& command = arguments->command;
  const auto value = [&arguments](const char* name) {
    const auto found = arguments->options.find(name);
    return found == arguments->options.end() ? std::string() : found->second;
  };
  if (command == "serve") return Serve(*arguments);
  if (command == "add-token") return AddToken(*arguments);
  if (command == "import-csv") return ledger::app::ImportCsv(arguments->options, arguments->positional.front());
  if (command == "verify-bundle") return ledger::app::VerifyBundle(value("--public-key"), arguments->positional.front());
  if (command == "check-head") {
    return ledger::app::CheckHead(value("--data"), value("--public-key"), arguments->positional.front());
  }
  if (command == "verify") return ledger::app::Verify(value("--data"));
  if (command == "export") return ledger::app::Export(value("--data"));
  if (command == "import") return ledger::app::Import(value("--data"));
  if (command == "durations") return ledger::app::Durations(arguments->options);
  if (command == "follow") {
    if (!arguments->options.contains("--from")) return Fail("--from URL is required");
    return ledger::app::Follow(value("--data"), value("--from"), value("--token-file"), value("--poll-ms"));
  }
  if (command == "rebuild") return ledger::app::Rebuild(value("--data"));
  if (command == "availability") return ledger::app::Availability(arguments->options);
  if (command == "review-report") return ledger::app::ReviewReport(arguments->options);
  if (command == "backup") {
    if (!arguments->options.contains("--to")) return Fail("--to DEST is required");
    return ledger::app::Backup(value("--data"), value("--to"));
  }
  return Fail("unknown command " + command);
}
