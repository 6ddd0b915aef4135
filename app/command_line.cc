#include "app/command_line.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include <boost/program_options.hpp>

#include "app/audit_commands.h"
#include "app/follow.h"
#include "common/file.h"
#include "common/log.h"
#include "common/text.h"
#include "http/server.h"
#include "http/work_pool.h"
#include "ingest/followups.h"
#include "ingest/sheet_poller.h"
#include "notify/worker.h"
#include "projections/durations.h"
#include "projections/review_report.h"

namespace ledger::app {
namespace {

namespace po = boost::program_options;

constexpr size_t kConfigFileBytesMax = 64 * 1024;
constexpr std::string_view kEnvironmentPrefix = "LEDGER_";
// The option that collects the arguments that are not options (FILE, HEADER).
constexpr const char* kArgumentsOption = "argument";
constexpr unsigned kHelpLineLength = 100;
constexpr unsigned kHelpDescriptionLengthMin = 60;
// Exact names only: an abbreviation (--lis for --listen) is not taken, so a
// new option never changes what an old command line means.
constexpr int kCommandLineStyle = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;

// Two paragraphs, wrapped when printed; EXAMPLE is replaced by an option of
// the command whose help it ends.
constexpr std::string_view kSources =
    "Every option may also be given in the environment, as LEDGER_ and its name in upper case with '_' "
    "for '-' (EXAMPLE), or in a config file named by --config FILE (or LEDGER_CONFIG): one `name = value` "
    "a line, the name without dashes ('#' starts a comment; a repeatable option on several lines; a switch "
    "as `read-only = true`). No config file is read unless one is named.\n"
    "Precedence: the command line, then the environment, then the config file, then the default. A "
    "repeatable option is taken whole from the first of these that gives it. Config keys and LEDGER_ "
    "variables of other commands' options are left to those commands.\n";

// --- the subcommands and their options ---------------------------------------

po::typed_value<std::string>* Value(const char* value_name) {
  return po::value<std::string>()->value_name(value_name);
}

po::typed_value<std::string>* Value(const char* value_name, const std::string& fallback) {
  return Value(value_name)->default_value(fallback);
}

po::typed_value<std::string>* Value(const char* value_name, uint64_t fallback) {
  return Value(value_name, std::to_string(fallback));
}

void AddData(po::options_description& options) {
  options.add_options()("data", Value("DIR"), "the ledger's folder (RocksDB; created if missing, mode 0700)");
}

void AddServeOptions(po::options_description& options) {
  const http::ServerOptions server;
  AddData(options);
  options.add_options()
      ("listen", Value("HOST:PORT", server.host + ":" + std::to_string(server.port)),
       "address to listen on (port 0 picks one)")
      ("threads", Value("N", server.threads), "HTTP worker threads")
      ("work-threads", Value("N", http::kWorkThreadsDefault),
       "threads for long requests: figures, as_of reads, verify, backup")
      ("work-queue", Value("N", http::kWorkQueueMaxDefault),
       "long requests waiting at most (beyond: 503, Retry-After)")
      ("work-budget-ms", Value("N", static_cast<uint64_t>(http::kWorkBudgetDefault.count())),
       "time one long request may take (then 503)")
      ("auth-file", Value("FILE"),
       "tokens and their roles (see README; read again on SIGHUP; signed-in browsers stay signed in across "
       "restarts, kept in DIR/sessions); without it every request may do everything, so the service listens on "
       "loopback addresses only")
      ("backup-dir", Value("DIR"),
       "the folder POST /api/v1/backup (and `backup` while serving) may write new backups below; without it the "
       "service writes none")
      ("anonymous", Value("viewer"),
       "with --auth-file: requests without credentials read as viewers (the principal `anonymous`); every write "
       "still needs a token. viewer is the only value")
      ("trusted-network", po::value<std::vector<std::string>>()->value_name("CIDR"),
       "with --anonymous: only clients in this network read without credentials (repeatable, or comma-separated; "
       "IPv4 or IPv6, e.g. 10.0.0.0/8, ::1/128); without it, clients from anywhere")
      ("allowed-host", po::value<std::vector<std::string>>()->value_name("NAME"),
       "without --auth-file, also answer requests whose Host is NAME (repeatable); otherwise only the listen "
       "address and localhost are served, any other Host gets 421 (DNS rebinding)")
      ("log-format", Value("F", "text"), "text, or json: one JSON object per line on stderr")
      ("access-log", Value("on|off", server.access_log ? "on" : "off"),
       "one line per answered request: method, path with secrets redacted, status, bytes, duration, principal, "
       "request id (also sent as the X-Request-Id header)")
      ("poll-csv", Value("PATH"), "import a form-responses CSV sheet whenever the file changes")
      ("poll-interval", Value("D", std::to_string(ingest::kSheetPollIntervalDefault.count() / 60'000) + "m"),
       "how often to look at it (e.g. 30s, 5m, 1h)")
      ("mapping", Value("FILE"), "JSON column mapping for the sheet (see README)")
      ("sheet-timezone", Value("ZONE"), "IANA zone of the sheet's M/D/YYYY H:MM:SS times")
      ("smtp-url", Value("URL"),
       "mail notifications through this SMTP server (smtp://host:port, smtps://host:port; no user:password@ in "
       "it); without it they wait in the queue")
      ("smtp-from", Value("ADDR"), "sender address (required with --smtp-url)")
      ("public-url", Value("URL"),
       "the service's address as readers reach it (e.g. https://incidents.example.org): mails link to it "
       "(one-click unsubscribe, incident pages) and self-service subscription (/subscribe) needs it; without it "
       "mails carry no links")
      ("smtp-starttls", Value("on|off", "off"), "require STARTTLS")
      ("smtp-user", Value("USER"), "log in to the SMTP server as USER")
      ("smtp-password-file", Value("FILE"), "with --smtp-user: the password, the first line of FILE")
      ("smtp-concurrency", Value("N", notify::DeliveryOptions{}.concurrency),
       "SMTP connections at once (see notify/README.md)")
      ("smtp-retry-initial-ms", Value("N", static_cast<uint64_t>(notify::DeliveryOptions{}.retry_delay_initial_ms)),
       "first pause before a failed mail is tried again; it doubles each time")
      ("smtp-retry-max-ms", Value("N", static_cast<uint64_t>(notify::DeliveryOptions{}.retry_delay_max_ms)),
       "the longest pause between two tries")
      ("smtp-attempts-max", Value("N", notify::DeliveryOptions{}.attempts_max),
       "temporary failures before a mail is given up")
      ("smtp-receipt-linger-ms", Value("N", static_cast<uint64_t>(notify::DeliveryOptions{}.receipt_linger_ms)),
       "how long a delivery receipt may wait, while other mails are being sent, to be recorded with theirs as one "
       "event (0: only while the previous receipt event is being written)")
      ("systems", Value("open|strict", "open"),
       "open: a system a submission names first enters the catalog by that use; strict: only systems an admin "
       "defined (POST /api/v1/systems, /systems) and has not retired may be named, anything else is a 400 naming it")
      ("timezone", Value("ZONE", "UTC"), "IANA zone whose days action items fall due in")
      ("overdue-check-ms", Value("N", static_cast<uint64_t>(ingest::OverdueWatcherOptions{}.interval.count())),
       "how often to look for action items that became overdue")
      ("read-only", po::bool_switch(),
       "serve DIR as a read-only copy (a mirror): every read, the dashboard and the event stream work; every write "
       "answers 503; nothing is written to DIR, no mail is sent")
      ("follow", Value("URL"),
       "a read-only copy that follows the ledger at URL as it grows (as `follow` does, in this process); its lag "
       "is in /metrics")
      ("token-file", Value("F"), "with --follow: a token of the primary (auditor role), the first line of F")
      ("poll-ms", Value("N", static_cast<uint64_t>(kPollIntervalDefault.count())),
       "with --follow: how often to ask the primary when caught up");
}

void AddFollowOptions(po::options_description& options) {
  AddData(options);
  options.add_options()
      ("from", Value("URL"), "the primary's address, http://HOST:PORT or https://HOST:PORT (required)")
      ("token-file", Value("F"), "a token of the primary (auditor role), the first line of F")
      ("poll-ms", Value("N", static_cast<uint64_t>(kPollIntervalDefault.count())),
       "how often to ask the primary when caught up");
}

void AddDataOnly(po::options_description& options) { AddData(options); }

void AddBackupOptions(po::options_description& options) {
  AddData(options);
  options.add_options()("to", Value("DEST"), "the new backup's folder (must not exist yet; required)");
}

void AddTokenOptions(po::options_description& options) {
  options.add_options()
      ("auth-file", Value("FILE"), "the auth file (created, mode 0600; required)")
      ("name", Value("NAME"), "whose token it is (required)")
      ("roles", Value("ROLES"), "viewer, helpdesk, auditor, admin, comma-separated (required)");
}

void AddDurationsOptions(po::options_description& options) {
  AddData(options);
  options.add_options()
      ("from", Value("T"), "window start, RFC 3339 (default: 7 days before --to)")
      ("to", Value("T"), "window end, RFC 3339 (default: now, or 7 days after --from)")
      ("by", Value("incident|system"), "one list only (default: both)")
      ("as-of", Value("T"), "as known at that moment")
      ("format", Value("json|csv", "json"), "csv needs --by");
}

void AddAvailabilityOptions(po::options_description& options) {
  AddData(options);
  options.add_options()
      ("system", Value("S"), "one system (default: all)")
      ("days", Value("N", static_cast<uint64_t>(projections::DailyQuery{}.days)),
       "how many days, ending with --end-date")
      ("end-date", Value("YYYY-MM-DD"), "the last day (default: today in --timezone)")
      ("timezone", Value("ZONE", "UTC"), "IANA zone of the days")
      ("as-of", Value("T"), "as known at that moment");
}

void AddReviewReportOptions(po::options_description& options) {
  AddData(options);
  options.add_options()
      ("from", Value("T"), "window start, RFC 3339 (default: 7 days before --to)")
      ("to", Value("T"), "window end, RFC 3339 (default: now, or 7 days after --from)")
      ("days", Value("N", static_cast<uint64_t>(projections::kRecurrenceDaysDefault)),
       "recurrence: incidents of the same systems within N days")
      ("as-of", Value("T"), "as known at that moment")
      ("timezone", Value("ZONE", "UTC"), "IANA zone of due dates")
      ("format", Value("json|csv", "json"), "csv needs --by")
      ("by", Value("incident|item|recurrence"), "one list only (default: all)");
}

void AddImportCsvOptions(po::options_description& options) {
  AddData(options);
  options.add_options()
      ("mapping", Value("FILE"), "JSON column mapping for the sheet (see README)")
      ("sheet-timezone", Value("ZONE"), "IANA zone of the sheet's M/D/YYYY H:MM:SS times");
}

void AddVerifyBundleOptions(po::options_description& options) {
  options.add_options()("public-key", Value("KEY"), "the ledger's public key, PEM (GET /api/v1/public-key; required)");
}

void AddCheckHeadOptions(po::options_description& options) {
  AddData(options);
  options.add_options()("public-key", Value("KEY"), "check the head's signature with this key (default: DIR's)");
}

struct CommandSpec {
  std::string_view name;
  std::string_view synopsis;    // what follows `incident-ledger NAME` in the usage line
  std::string_view summary;     // one line, for the list of commands
  std::string_view about;       // more, for its own help (may be empty)
  std::string_view argument;    // its one argument that is not an option (FILE), or empty: none
  bool needs_data;              // --data DIR is required
  void (*add_options)(po::options_description&);
};

constexpr CommandSpec kCommands[] = {
    {"serve", "--data DIR [options]", "run the HTTP service", "", "", true, AddServeOptions},
    {"import-csv", "--data DIR FILE [--mapping FILE] [--sheet-timezone ZONE]",
     "import a form-responses CSV sheet once (service stopped); JSON report on stdout", "", "FILE", true,
     AddImportCsvOptions},
    {"add-token", "--auth-file FILE --name NAME --roles ROLES", "make a new access token",
     "Appends the token's hash to FILE and prints the token once on stdout.", "", false, AddTokenOptions},
    {"follow", "--from URL --data DIR [--token-file F] [--poll-ms N]",
     "mirror the ledger at URL into DIR, checking every event and signed tree head",
     "DIR is new or an earlier copy; following resumes where it stops. On a divergence it stops with exit 1,\n"
     "naming the first bad seq, and leaves DIR as it was. Runs until SIGINT or SIGTERM (exit 0).",
     "", true, AddFollowOptions},
    {"verify", "--data DIR", "walk the whole hash chain and report the head or the first bad seq",
     "Works while the service runs: it opens the ledger read-only.", "", true, AddDataOnly},
    {"export", "--data DIR > log.ndjson", "write every event as NDJSON to stdout (the lines of GET /api/v1/events)",
     "", "", true, AddDataOnly},
    {"import", "--data NEWDIR < log.ndjson", "read an export from stdin into a new, empty folder, checking the chain",
     "", "", true, AddDataOnly},
    {"backup", "--data DIR --to DEST", "write a consistent, verified RocksDB checkpoint of the ledger to DEST",
     "While the service runs, it asks the service to make it (LEDGER_TOKEN: an admin token, with an auth file).",
     "", true, AddBackupOptions},
    {"durations", "--data DIR [options]", "outage durations per incident and per system over a window", "", "", true,
     AddDurationsOptions},
    {"availability", "--data DIR [options]", "per-day availability of one system or all", "", "", true,
     AddAvailabilityOptions},
    {"review-report", "--data DIR [options]",
     "reviews, action items and recurrence over a window (GET /api/v1/review-report)", "", "", true,
     AddReviewReportOptions},
    {"rebuild", "--data DIR", "drop the saved projections and fold the log again from seq 1", "", "", true,
     AddDataOnly},
    {"verify-bundle", "FILE --public-key KEY", "check a ticket's bundle offline",
     "FILE is GET /api/v1/incidents/{t}/bundle: the signed head, each event and its inclusion proof are\n"
     "checked; the first part that fails is named.",
     "FILE", false, AddVerifyBundleOptions},
    {"check-head", "--data DIR [--public-key KEY] HEADER",
     "is the ledger now consistent with a tree head seen in a mail? exit 0 yes, 1 no",
     "HEADER is the X-Ledger-Tree-Head of a mail; '-' reads it from stdin.", "HEADER", true, AddCheckHeadOptions},
};

const CommandSpec* FindCommand(std::string_view name) {
  for (const CommandSpec& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// The options of one command: those shown by its help (and taken on the
// command line), those the environment may set, and those a config file
// may set.
struct CommandOptions {
  po::options_description own;
  po::options_description visible;
  po::options_description command_line;
  po::options_description environment;
};

CommandOptions Describe(const CommandSpec& spec) {
  CommandOptions options{
      .own = po::options_description("options", kHelpLineLength, kHelpDescriptionLengthMin),
      .visible = po::options_description("", kHelpLineLength, kHelpDescriptionLengthMin),
      .command_line = po::options_description(),
      .environment = po::options_description(),
  };
  spec.add_options(options.own);
  po::options_description general("", kHelpLineLength, kHelpDescriptionLengthMin);
  general.add_options()
      ("config", Value("FILE"), "read options from FILE too (name = value lines; see below)")
      ("help,h", "print this help");
  options.visible.add(options.own).add(general);
  po::options_description hidden;
  hidden.add_options()(kArgumentsOption, po::value<std::vector<std::string>>());
  options.command_line.add(options.visible).add(hidden);
  po::options_description config;
  config.add_options()("config", Value("FILE"), "");
  options.environment.add(options.own).add(config);
  return options;
}

// Every option name of every command ("listen"), for telling a key meant
// for another command from a typo.
const std::set<std::string>& AllOptionNames() {
  static const std::set<std::string> kNames = [] {
    std::set<std::string> names;
    for (const CommandSpec& spec : kCommands) {
      po::options_description options;
      spec.add_options(options);
      for (const auto& option : options.options()) names.insert(option->long_name());
    }
    names.insert("config");
    return names;
  }();
  return kNames;
}

std::vector<std::string> OwnOptionNames(const CommandOptions& options) {
  std::vector<std::string> names;
  for (const auto& option : options.own.options()) names.push_back(option->long_name());
  return names;
}

// --- suggestions -------------------------------------------------------------

// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate closest to `typed`, when close enough to be what was meant:
// at most one edit for a name of up to four letters, two for longer ones,
// or the only candidate `typed` begins.
std::string Closest(std::string_view typed, const std::vector<std::string>& candidates) {
  const size_t allowed = typed.size() <= 4 ? 1 : 2;
  std::string best;
  size_t best_distance = allowed + 1;
  std::vector<std::string> extending;
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(typed, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
    if (typed.size() >= 2 && candidate.starts_with(typed)) extending.push_back(candidate);
  }
  if (best.empty() && extending.size() == 1) return extending.front();
  return best;
}

std::string StripDashes(std::string_view name) {
  while (name.starts_with('-')) name.remove_prefix(1);
  return std::string(name);
}

Error UnknownCommand(std::string_view name) {
  std::vector<std::string> names;
  for (const CommandSpec& command : kCommands) names.emplace_back(command.name);
  const std::string closest = Closest(name, names);
  std::string message = "unknown command " + std::string(name).substr(0, 100);
  if (!closest.empty()) return InvalidArgument("", message + "; did you mean " + closest + "?");
  return InvalidArgument("", message + " (`incident-ledger --help` lists them)");
}

Error UnknownOption(const CommandSpec& spec, const CommandOptions& options, const std::string& typed) {
  const std::string name = StripDashes(typed);
  // As typed ("-x", "--listn"); Program_options names an option without its dashes at times.
  const std::string shown = (typed.starts_with('-') ? typed : "--" + typed).substr(0, 100);
  if (AllOptionNames().contains(name)) {
    return InvalidArgument(shown, shown + " is not an option of " + std::string(spec.name) + " (`incident-ledger " +
                                      std::string(spec.name) + " --help` lists its options)");
  }
  std::vector<std::string> candidates = OwnOptionNames(options);
  candidates.push_back("config");
  candidates.push_back("help");
  const std::string closest = Closest(name, candidates);
  if (!closest.empty()) return InvalidArgument(shown, "unknown option " + shown + "; did you mean --" + closest + "?");
  return InvalidArgument(shown, "unknown option " + shown + " for " + std::string(spec.name) + " (`incident-ledger " +
                                    std::string(spec.name) + " --help` lists its options)");
}

// --- help --------------------------------------------------------------------

std::string EnvironmentName(std::string_view option) {
  std::string name(kEnvironmentPrefix);
  for (const char c : option) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// `text` with each paragraph (ended by '\n') broken into lines of at most
// kHelpLineLength characters, between words.
std::string Wrap(std::string_view text) {
  std::string wrapped;
  size_t line_length = 0;
  while (!text.empty()) {
    const size_t end = text.find_first_of(" \n");
    const std::string_view word = text.substr(0, end);
    if (line_length > 0 && line_length + 1 + word.size() > kHelpLineLength) {
      wrapped += '\n';
      line_length = 0;
    }
    if (line_length > 0) {
      wrapped += ' ';
      ++line_length;
    }
    wrapped += word;
    line_length += word.size();
    if (end == std::string_view::npos) break;
    if (text[end] == '\n') {
      wrapped += '\n';
      line_length = 0;
    }
    text.remove_prefix(end + 1);
  }
  return wrapped;
}

// The paragraphs on the sources of options, the example naming `option`.
void PrintSources(const std::string& option, std::FILE* out) {
  std::string text(kSources);
  const std::string_view placeholder = "EXAMPLE";
  text.replace(text.find(placeholder), placeholder.size(), EnvironmentName(option) + " for --" + option);
  std::fputs(Wrap(text).c_str(), out);
}

void PrintCommandHelp(const CommandSpec& spec, std::FILE* out) {
  const CommandOptions options = Describe(spec);
  std::fprintf(out, "usage: incident-ledger %s %s\n%s.\n", std::string(spec.name).c_str(),
               std::string(spec.synopsis).c_str(), std::string(spec.summary).c_str());
  if (!spec.about.empty()) std::fprintf(out, "%s\n", std::string(spec.about).c_str());
  std::ostringstream text;
  text << options.visible;
  std::fprintf(out, "%s\n", text.str().c_str());
  // The example names one of this command's own options.
  const std::vector<std::string> names = OwnOptionNames(options);
  const auto example = std::find_if(names.begin(), names.end(), [](const std::string& name) { return name != "data"; });
  PrintSources(example == names.end() ? names.front() : *example, out);
}

}  // namespace

void PrintCommands(std::FILE* out) {
  std::fprintf(out,
               "usage: incident-ledger COMMAND [options]\n"
               "       incident-ledger COMMAND --help    (the options of COMMAND, their defaults and sources)\n"
               "\n"
               "commands:\n");
  for (const CommandSpec& command : kCommands) {
    std::fprintf(out, "  %-14s %s\n", std::string(command.name).c_str(), std::string(command.summary).c_str());
  }
  std::fprintf(out,
               "  %-14s this text, or COMMAND's options\n"
               "  %-14s the version\n"
               "\n",
               "help [COMMAND]", "version");
  PrintSources("data", out);
}

namespace {

// A Program_options failure on the command line, in this program's words.
Error CommandLineError(const CommandSpec& spec, const CommandOptions& options, const po::error& failure) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&failure)) {
    return UnknownOption(spec, options, unknown->get_option_name());
  }
  if (const auto* twice = dynamic_cast<const po::multiple_occurrences*>(&failure)) {
    const std::string name = "--" + StripDashes(twice->get_option_name());
    return InvalidArgument(name, name + " is given more than once");
  }
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&failure)) {
    const std::string name = "--" + StripDashes(syntax->get_option_name());
    if (syntax->kind() == po::invalid_syntax::missing_parameter) {
      return InvalidArgument(name, name + " needs a value");
    }
    if (syntax->kind() == po::invalid_syntax::extra_parameter) return InvalidArgument(name, name + " takes no value");
  }
  return InvalidArgument("", failure.what());
}

// Maps LEDGER_NAME to this command's option "name", or to "" (not an
// option of this command). Variables that name no option of any command but
// come close to one are collected in `warnings`.
class EnvironmentNames {
 public:
  explicit EnvironmentNames(const CommandOptions& options) {
    for (const auto& option : options.environment.options()) own_[EnvironmentName(option->long_name())] = option->long_name();
    for (const std::string& name : AllOptionNames()) all_.push_back(EnvironmentName(name));
  }

  std::string operator()(const std::string& variable) {
    if (!variable.starts_with(kEnvironmentPrefix)) return "";
    if (const auto found = own_.find(variable); found != own_.end()) return found->second;
    if (std::find(all_.begin(), all_.end(), variable) != all_.end()) return "";
    if (variable == kBackupTokenVariable) return "";  // read by `backup` itself
    std::vector<std::string> suffixes;
    for (const std::string& name : all_) suffixes.push_back(name.substr(kEnvironmentPrefix.size()));
    const std::string closest = Closest(variable.substr(kEnvironmentPrefix.size()), suffixes);
    if (!closest.empty()) {
      warnings_.push_back(variable.substr(0, 100) + " is not an option's variable (did you mean " +
                          std::string(kEnvironmentPrefix) + closest + "?); it is ignored");
    }
    return "";
  }

  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::map<std::string, std::string> own_;
  std::vector<std::string> all_;
  std::vector<std::string> warnings_;
};

// The options of a config file, each line read by Program_options' config
// parser on its own so that a failure names its line. `lines` gets the line
// of each option returned.
Result<po::parsed_options> ParseConfigFile(const std::string& path, const CommandOptions& options,
                                           std::vector<size_t>* lines) {
  Result<std::string> text = ReadWholeFile(path, kConfigFileBytesMax, "config file");
  if (!text) return MakeError(ErrorCode::kInvalidArgument, "--config: " + text.error().message, "--config");
  po::parsed_options all(&options.own);
  std::istringstream stream(*text);
  std::string line;
  size_t number = 0;
  while (std::getline(stream, line)) {
    ++number;
    if (line.ends_with('\r')) line.pop_back();
    const std::string where = "config file " + path + ", line " + std::to_string(number) + ": ";
    std::istringstream one(line);
    std::optional<po::parsed_options> read;
    try {
      read.emplace(po::parse_config_file(one, options.own, /*allow_unregistered=*/true));
    } catch (const po::error&) {
      return InvalidArgument("--config", where + "'" + std::string(Trim(line)).substr(0, 100) +
                                             "' is not `name = value` (the option's name without dashes)");
    }
    po::parsed_options& parsed = *read;
    const std::string_view content = Trim(line);
    if (parsed.options.empty() && !content.empty() && !content.starts_with('#')) {
      return InvalidArgument("--config", where + "sections ([name]) are not used here; write `name = value` lines");
    }
    for (po::option& option : parsed.options) {
      if (option.unregistered) {
        const std::string& key = option.string_key;
        if (key == "LEDGER_SERVE_OPTIONS") {
          return InvalidArgument("--config", where + "LEDGER_SERVE_OPTIONS is the earlier form of this file; write "
                                                     "each option on a line of its own, e.g. `listen = 127.0.0.1:8080`");
        }
        if (key == "config") return InvalidArgument("--config", where + "a config file cannot name another");
        if (AllOptionNames().contains(key)) continue;  // another command's option
        const std::string closest = Closest(key, OwnOptionNames(options));
        return InvalidArgument("--config", where + "unknown option '" + key.substr(0, 100) + "'" +
                                               (closest.empty() ? std::string() : "; did you mean '" + closest + "'?"));
      }
      all.options.push_back(std::move(option));
      lines->push_back(number);
    }
  }
  return all;
}

// Stores the config file's options (those no earlier source gave).
Status StoreConfigFile(const std::string& path, const CommandOptions& options, po::variables_map* values) {
  std::vector<size_t> lines;
  Result<po::parsed_options> parsed = ParseConfigFile(path, options, &lines);
  if (!parsed) return parsed.error();
  try {
    po::store(*parsed, *values);
  } catch (const po::error& failure) {
    // Which line: the last one of the option the failure names.
    std::string name;
    if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&failure)) {
      name = StripDashes(named->get_option_name());
    }
    size_t line = 0;
    for (size_t i = 0; i < parsed->options.size(); ++i) {
      if (parsed->options[i].string_key == name) line = lines[i];
    }
    const std::string where = "config file " + path + (line > 0 ? ", line " + std::to_string(line) : "") + ": ";
    if (dynamic_cast<const po::multiple_occurrences*>(&failure)) {
      return InvalidArgument("--config", where + name + " is given more than once");
    }
    if (dynamic_cast<const po::invalid_bool_value*>(&failure)) {
      return InvalidArgument("--config", where + name + " must be true or false");
    }
    return InvalidArgument("--config", where + failure.what());
  }
  return {};
}

// "--name" -> value for every option some source gave.
std::map<std::string, std::string> GivenOptions(const po::variables_map& values) {
  std::map<std::string, std::string> given;
  for (const auto& [name, value] : values) {
    if (value.defaulted() || value.empty() || name == "help" || name == "config" || name == kArgumentsOption) continue;
    if (const auto* text = boost::any_cast<std::string>(&value.value())) {
      given["--" + name] = *text;
    } else if (const auto* list = boost::any_cast<std::vector<std::string>>(&value.value())) {
      std::string joined;
      for (size_t i = 0; i < list->size(); ++i) joined += (i == 0 ? "" : ",") + (*list)[i];
      given["--" + name] = joined;
    } else if (const auto* on = boost::any_cast<bool>(&value.value()); on != nullptr && *on) {
      given["--" + name] = "on";
    }
  }
  return given;
}

}  // namespace

Result<Invocation> ParseInvocation(int argc, char** argv, std::FILE* out) {
  if (argc < 2) return InvalidArgument("", "missing command (`incident-ledger --help` lists them)");
  const std::string first = argv[1];
  if (first == "help" || first == "--help" || first == "-h") {
    if (first == "help" && argc >= 3) {
      const CommandSpec* spec = FindCommand(argv[2]);
      if (spec == nullptr) return UnknownCommand(argv[2]);
      PrintCommandHelp(*spec, out);
    } else {
      PrintCommands(out);
    }
    return Invocation{.help_printed = true};
  }
  if (first == "version" || first == "--version") {
    std::fprintf(out, "incident-ledger %s\n", LEDGER_VERSION);
    return Invocation{.help_printed = true};
  }
  const CommandSpec* spec = FindCommand(first);
  if (spec == nullptr) return UnknownCommand(first);
  const CommandOptions options = Describe(*spec);
  po::positional_options_description arguments;
  arguments.add(kArgumentsOption, -1);

  po::variables_map values;
  try {
    po::store(po::command_line_parser(std::vector<std::string>(argv + 2, argv + argc))
                  .options(options.command_line)
                  .positional(arguments)
                  .style(kCommandLineStyle)
                  .run(),
              values);
  } catch (const po::error& failure) {
    return CommandLineError(*spec, options, failure);
  }
  if (values.contains("help")) {
    PrintCommandHelp(*spec, out);
    return Invocation{.help_printed = true};
  }

  EnvironmentNames environment(options);
  std::optional<Error> refused;
  try {
    po::store(po::parse_environment(options.environment,
                                    [&environment](const std::string& variable) { return environment(variable); }),
              values);
  } catch (const po::error& failure) {
    std::string name;
    if (const auto* named = dynamic_cast<const po::error_with_option_name*>(&failure)) {
      name = StripDashes(named->get_option_name());
    }
    const std::string variable = EnvironmentName(name);
    refused = InvalidArgument("--" + name, dynamic_cast<const po::invalid_bool_value*>(&failure)
                                               ? variable + " must be true or false (it sets --" + name + ")"
                                               : variable + ": " + failure.what());
  }
  for (const std::string& warning : environment.warnings()) {
    LogPrintf("incident-ledger", "warning: %s", warning.c_str());
  }
  if (refused) return *refused;

  if (values.contains("config")) {
    const std::string path = values["config"].as<std::string>();
    if (path.empty()) return InvalidArgument("--config", "--config needs a file name");
    if (Status stored = StoreConfigFile(path, options, &values); !stored) return stored.error();
  }

  Invocation invocation{.command = std::string(spec->name), .options = GivenOptions(values)};
  if (values.contains("config")) invocation.config_file = values["config"].as<std::string>();
  if (values.contains(kArgumentsOption)) invocation.positional = values[kArgumentsOption].as<std::vector<std::string>>();
  if (spec->argument.empty() && !invocation.positional.empty()) {
    return InvalidArgument("", invocation.command + " takes no argument '" + invocation.positional.front().substr(0, 100) +
                                   "' (its options start with --; `incident-ledger " + invocation.command +
                                   " --help` lists them)");
  }
  if (!spec->argument.empty() && invocation.positional.size() != 1) {
    return InvalidArgument("", invocation.command + " takes exactly one " + std::string(spec->argument));
  }
  if (spec->needs_data) {
    const auto data = invocation.options.find("--data");
    if (data == invocation.options.end() || data->second.empty()) {
      return InvalidArgument("--data", "--data DIR is required");
    }
  }
  return invocation;
}

}  // namespace ledger::app
