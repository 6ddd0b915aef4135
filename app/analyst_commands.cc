#include "app/analyst_commands.h"

#include <memory>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/time.h"
#include "common/time_zone.h"
#include "http/api.h"
#include "http/followups_api.h"
#include "http/json_views.h"
#include "ledger/ledger.h"
#include "projections/as_of.h"
#include "projections/durations.h"
#include "projections/durations_csv.h"
#include "projections/review_report.h"

namespace ledger::app {
namespace {

constexpr int64_t kDefaultWindowMicros = http::kDefaultWindowMicros;

int Problem(const std::string& message) {
  ledger::LogPrintf("incident-ledger", "%s", message.c_str());
  return 2;
}

std::optional<std::string> Option(const std::map<std::string, std::string>& options, const std::string& name) {
  const auto found = options.find(name);
  if (found == options.end()) return std::nullopt;
  return found->second;
}

Result<std::optional<int64_t>> TimeOption(const std::map<std::string, std::string>& options, const std::string& name) {
  const std::optional<std::string> text = Option(options, name);
  if (!text) return std::optional<int64_t>();
  Result<Instant> instant = ParseRfc3339(*text, name);
  if (!instant) return instant.error();
  return std::optional<int64_t>(instant->unix_micros);
}

// What the figures are computed from: the tickets and the maintenance
// windows.
struct Stores {
  projections::TicketStore tickets;
  projections::MaintenanceStore maintenance;
  Head head;  // the ledger's head the stores were folded at
};

// The tickets as known at `as_of` (every event when nullopt) whose periods
// overlap [from, to), and the maintenance windows as known then: the whole
// log folded, then projections/as_of.h's "as known then", the same fold the
// HTTP API answers `as_of` with.
Result<Stores> LoadStores(const std::string& data, std::optional<int64_t> as_of_micros, int64_t from_micros,
                          int64_t to_micros) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data, .read_only = true});
  if (!opened) return opened.error();
  Stores stores;
  // The catalog of systems, so that figures resolve systems as the
  // service's do (projections/systems.h).
  auto catalog = std::make_shared<projections::SystemCatalog>();
  Status folded = (*opened)->ForEach(0, [&](const StoredEvent& stored) -> Result<Flow> {
    catalog->Apply(stored.event);
    (void)stores.tickets.Apply(stored.event);      // which ticket changed does not matter here
    (void)stores.maintenance.Apply(stored.event);  // nor which window
    return Flow::kContinue;
  });
  if (!folded) return folded.error();
  stores.tickets.set_names(projections::SystemNames(std::move(catalog)));
  stores.head = (*opened)->head();
  if (!as_of_micros) return stores;
  const projections::AsOfPoint point{.seq = std::nullopt, .micros = as_of_micros};
  Result<projections::TicketStore> tickets =
      projections::TicketsAsOf(stores.tickets, **opened, point, from_micros, to_micros, StopToken());
  if (!tickets) return tickets.error();
  Result<projections::MaintenanceStore> maintenance =
      projections::MaintenanceAsOf(stores.maintenance, **opened, point, StopToken());
  if (!maintenance) return maintenance.error();
  return Stores{.tickets = std::move(*tickets), .maintenance = std::move(*maintenance), .head = stores.head};
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
}

}  // namespace

int Durations(const std::map<std::string, std::string>& options) {
  Result<std::optional<int64_t>> from = TimeOption(options, "--from");
  Result<std::optional<int64_t>> to = TimeOption(options, "--to");
  Result<std::optional<int64_t>> as_of = TimeOption(options, "--as-of");
  for (const auto* parsed : {&from, &to, &as_of}) {
    if (!*parsed) return Problem(parsed->error().message);
  }
  const int64_t now = as_of->value_or(NowMicros());
  int64_t to_micros = to->value_or(from->has_value() ? **from + kDefaultWindowMicros : now);
  int64_t from_micros = from->value_or(to_micros - kDefaultWindowMicros);
  const std::string by = Option(options, "--by").value_or("");
  const std::string format = Option(options, "--format").value_or("json");
  if (!by.empty() && by != "incident" && by != "system") return Problem("--by must be incident or system");
  if (format != "json" && format != "csv") return Problem("--format must be json or csv");
  if (format == "csv" && by.empty()) return Problem("--format csv gives one list: add --by incident or --by system");

  // MTTR's closing instants lie in [from, to): the microsecond before
  // `from` keeps incidents that closed right at it (as the HTTP API asks).
  Result<Stores> stores = LoadStores(options.at("--data"), *as_of, from_micros - 1, to_micros);
  if (!stores) return Problem(stores.error().message);
  Result<projections::DurationReport> report = projections::ComputeDurations(
      stores->tickets, stores->maintenance,
      projections::DurationQuery{.from_micros = from_micros, .to_micros = to_micros, .now_micros = now});
  if (!report) return Problem(report.error().message);
  if (format == "csv") {
    Print(by == "incident" ? projections::IncidentDurationsCsv(*report) : projections::SystemDowntimeCsv(*report));
    return 0;
  }
  const http::DurationLists lists = by == "incident" ? http::DurationLists::kIncidents
                                    : by == "system" ? http::DurationLists::kSystems
                                                     : http::DurationLists::kBoth;
  Print(http::DurationReportJson(*report, *as_of, lists, stores->head));
  return 0;
}

int ReviewReport(const std::map<std::string, std::string>& options) {
  Result<std::optional<int64_t>> from = TimeOption(options, "--from");
  Result<std::optional<int64_t>> to = TimeOption(options, "--to");
  Result<std::optional<int64_t>> as_of = TimeOption(options, "--as-of");
  for (const auto* parsed : {&from, &to, &as_of}) {
    if (!*parsed) return Problem(parsed->error().message);
  }
  const int64_t now = as_of->value_or(NowMicros());
  const int64_t to_micros = to->value_or(from->has_value() ? **from + kDefaultWindowMicros : now);
  const int64_t from_micros = from->value_or(to_micros - kDefaultWindowMicros);
  const std::string by = Option(options, "--by").value_or("");
  const std::string format = Option(options, "--format").value_or("json");
  if (!by.empty() && by != "incident" && by != "item" && by != "recurrence") {
    return Problem("--by must be incident, item or recurrence");
  }
  if (format != "json" && format != "csv") return Problem("--format must be json or csv");
  if (format == "csv" && by.empty()) return Problem("--format csv gives one list: add --by incident, item or recurrence");
  int64_t days = projections::kRecurrenceDaysDefault;
  if (const std::optional<std::string> text = Option(options, "--days")) {
    if (text->empty() || text->size() > 5 || !std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Problem("--days must be a whole number from 1 to " + std::to_string(projections::kRecurrenceDaysMax));
    }
    days = std::stoll(*text);
  }
  const std::string zone_name = Option(options, "--timezone").value_or("UTC");
  Result<const date::time_zone*> zone = LocateTimeZone(zone_name, "--timezone");
  if (!zone) return Problem("--timezone: " + zone.error().message);
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = options.at("--data"), .read_only = true});
  if (!opened) return Problem(opened.error().message);
  Result<projections::KnownThen> known = projections::FoldAsOf(
      **opened, projections::AsOfPoint{.seq = std::nullopt, .micros = *as_of}, StopToken());
  if (!known) return Problem(known.error().message);
  Result<projections::ReviewReport> report = projections::ComputeReviewReport(
      known->tickets, known->follow_ups,
      projections::ReviewReportQuery{
          .from_micros = from_micros, .to_micros = to_micros, .days = days, .now_micros = now, .zone = *zone},
      StopToken());
  if (!report) return Problem(report.error().message);
  if (format == "csv") {
    Print(by == "incident" ? projections::ReviewIncidentsCsv(*report)
          : by == "item"   ? projections::ReviewItemsCsv(*report)
                           : projections::RecurrenceCsv(*report));
    return 0;
  }
  Print(http::ReviewReportJson(*report, *as_of, zone_name, (*opened)->head()));
  return 0;
}

int Availability(const std::map<std::string, std::string>& options) {
  Result<std::optional<int64_t>> as_of = TimeOption(options, "--as-of");
  if (!as_of) return Problem(as_of.error().message);
  projections::DailyQuery query;
  query.system = Option(options, "--system").value_or("");
  query.timezone = Option(options, "--timezone").value_or("UTC");
  query.end_date = Option(options, "--end-date").value_or("");
  query.now_micros = as_of->value_or(NowMicros());
  if (const std::optional<std::string> days = Option(options, "--days")) {
    if (days->empty() || days->size() > 3 || days->find_first_not_of("0123456789") != std::string::npos) {
      return Problem("--days must be a number from 1 to " + std::to_string(projections::kDailyDaysMax));
    }
    query.days = std::stoi(*days);
  }
  // Every ticket as known then: the days' window is the zone's to work out.
  Result<Stores> stores = LoadStores(options.at("--data"), *as_of, INT64_MIN, INT64_MAX);
  if (!stores) return Problem(stores.error().message);
  Result<std::vector<projections::DayFigure>> days =
      projections::DailyAvailability(stores->tickets, stores->maintenance, query);
  if (!days) return Problem(days.error().message);
  JsonWriter json;
  json.BeginObject().Key("system").String(query.system).Key("timezone").String(query.timezone);
  json.Key("head_seq").Uint(stores->head.seq).Key("head_hash").String(HexEncode(stores->head.hash));
  json.Key("days").BeginArray();
  for (const projections::DayFigure& day : *days) {
    json.BeginObject().Key("date").String(day.date);
    json.Key("start").String(FormatRfc3339Utc(day.start_micros)).Key("end").String(FormatRfc3339Utc(day.end_micros));
    json.Key("downtime_seconds").Int(day.downtime_seconds).Key("availability").Double(day.availability);
    json.Key("tickets").BeginArray();
    for (const std::string& ticket : day.tickets) json.String(ticket);
    json.EndArray();
    json.Key("planned_seconds").Int(day.planned_seconds).Key("degraded_seconds").Int(day.degraded_seconds);
    json.Key("windows").BeginArray();
    for (const std::string& window : day.windows) json.String(window);
    json.EndArray().EndObject();
  }
  json.EndArray().EndObject();
  Print(json.Take());
  return 0;
}

}  // namespace ledger::app
