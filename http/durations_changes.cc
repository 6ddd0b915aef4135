#include "http/durations_changes.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "http/json_views.h"
#include "ingest/fields.h"
#include "projections/as_of.h"
#include "projections/durations.h"

namespace ledger::http {
namespace {

using projections::DurationReport;
using projections::IncidentDuration;
using projections::SystemDowntime;

struct FigureSet {
  DurationReport report;
  std::map<std::string, const IncidentDuration*> incidents;
  std::map<std::string, const SystemDowntime*> systems;
};

Result<DurationReport> FiguresAsKnownAt(const projections::ReadModel& model, const Ledger& ledger,
                                        const DurationChangesQuery& query, int64_t known_at, const StopToken& stop) {
  const projections::AsOfPoint point{.micros = known_at};
  // MTTR's closing instants lie in [from, to): the microsecond before
  // `from` keeps incidents that closed right at it (as GET /durations does).
  Result<projections::TicketStore> store =
      projections::TicketsAsOf(model, ledger, point, query.from_micros - 1, query.to_micros, stop);
  if (!store) return store.error();
  Result<projections::MaintenanceStore> maintenance = projections::MaintenanceAsOf(model, ledger, point, stop);
  if (!maintenance) return maintenance.error();
  return projections::ComputeDurations(
      *store, *maintenance,
      projections::DurationQuery{
          .from_micros = query.from_micros, .to_micros = query.to_micros, .now_micros = query.after_micros},
      stop);
}

void Index(FigureSet* set) {
  for (const IncidentDuration& incident : set->report.incidents) set->incidents[incident.ticket] = &incident;
  for (const SystemDowntime& system : set->report.systems) set->systems[system.system] = &system;
}

// The incident events of `tickets` recorded in (before, after], each with
// the fields it set, old and new. Folding a ticket's events from its first
// gives each field's value before the event.
Status WriteEvents(JsonWriter* json, const Ledger& ledger, const std::set<std::string>& tickets,
                   const DurationChangesQuery& query, const StopToken& stop) {
  std::vector<std::pair<uint64_t, std::string>> rendered;  // by seq
  simdjson::dom::parser parser;
  for (const std::string& ticket : tickets) {
    if (stop.ShouldStop()) return stop.Reason();
    Result<std::vector<StoredEvent>> events = ledger.ReadTicket(ticket);
    if (!events) return events.error();
    std::map<std::string, std::string> values;  // field -> its JSON value
    for (const StoredEvent& stored : *events) {
      const proto::Event& event = stored.event;
      if (!event.has_incident()) continue;
      if (event.recorded_at_micros() > query.after_micros) break;
      JsonWriter payload;
      ingest::WritePayloadJson(&payload, event.incident());
      simdjson::dom::element root;
      const std::string payload_text = payload.Take();
      if (parser.parse(payload_text).get(root) != simdjson::SUCCESS || !root.is_object()) continue;
      const bool in_range = event.recorded_at_micros() > query.before_micros;
      JsonWriter item;
      if (in_range) {
        item.BeginObject();
        item.Key("seq").Uint(stored.seq);
        item.Key("recorded_at").String(FormatRfc3339Utc(event.recorded_at_micros()));
        item.Key("actor").String(event.actor());
        item.Key("type").String(EventTypeName(event.type()));
        item.Key("ticket").String(event.ticket());
        item.Key("changes").BeginArray();
      }
      const simdjson::dom::object members = root.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair member : members) {
        const std::string field(member.key);
        const std::string value = simdjson::minify(member.value);
        const auto old = values.find(field);
        if (in_range) {
          item.BeginObject();
          item.Key("field").String(field);
          item.Key("old");
          if (old == values.end()) item.Null();
          else item.Raw(old->second);
          item.Key("new").Raw(value);
          item.EndObject();
        }
        values[field] = value;
      }
      if (in_range) {
        item.EndArray();
        item.EndObject();
        rendered.emplace_back(stored.seq, item.Take());
      }
    }
  }
  std::sort(rendered.begin(), rendered.end());
  json->Key("events").BeginArray();
  for (const auto& [seq, text] : rendered) json->Raw(text);
  json->EndArray();
  return {};
}

}  // namespace

Result<std::string> DurationChangesJson(const projections::ReadModel& model, const Ledger& ledger,
                                        const DurationChangesQuery& query, const TicketShown& shown,
                                        const StopToken& stop) {
  const Head head = ledger.head();
  FigureSet before;
  FigureSet after;
  Result<DurationReport> computed = FiguresAsKnownAt(model, ledger, query, query.before_micros, stop);
  if (!computed) return computed.error();
  before.report = std::move(*computed);
  computed = FiguresAsKnownAt(model, ledger, query, query.after_micros, stop);
  if (!computed) return computed.error();
  after.report = std::move(*computed);
  LeaveOutHidden(&before.report, shown);
  LeaveOutHidden(&after.report, shown);
  Index(&before);
  Index(&after);

  JsonWriter json;
  json.BeginObject();
  json.Key("from").String(FormatRfc3339Utc(query.from_micros));
  json.Key("to").String(FormatRfc3339Utc(query.to_micros));
  json.Key("before").String(FormatRfc3339Utc(query.before_micros));
  json.Key("after").String(FormatRfc3339Utc(query.after_micros));
  json.Key("head_seq").Uint(head.seq);
  json.Key("head_hash").String(HexEncode(head.hash));

  std::set<std::string> tickets;
  for (const auto& [ticket, figure] : before.incidents) tickets.insert(ticket);
  for (const auto& [ticket, figure] : after.incidents) tickets.insert(ticket);
  json.Key("incidents").BeginArray();
  for (const std::string& ticket : tickets) {
    const auto then = before.incidents.find(ticket);
    const auto now = after.incidents.find(ticket);
    const IncidentDuration* old_figure = then == before.incidents.end() ? nullptr : then->second;
    const IncidentDuration* new_figure = now == after.incidents.end() ? nullptr : now->second;
    if (old_figure != nullptr && new_figure != nullptr && old_figure->seconds == new_figure->seconds &&
        old_figure->ongoing == new_figure->ongoing) {
      continue;
    }
    json.BeginObject();
    json.Key("ticket").String(ticket);
    for (const auto& [name, figure] : {std::pair{"before", old_figure}, std::pair{"after", new_figure}}) {
      json.Key(name);
      if (figure == nullptr) {
        json.Null();
        continue;
      }
      json.BeginObject().Key("seconds").Int(figure->seconds).Key("ongoing").Bool(figure->ongoing).EndObject();
    }
    if (Status written = WriteEvents(&json, ledger, {ticket}, query, stop); !written) return written.error();
    json.EndObject();
  }
  json.EndArray();

  std::set<std::string> systems;
  for (const auto& [system, figure] : before.systems) systems.insert(system);
  for (const auto& [system, figure] : after.systems) systems.insert(system);
  json.Key("systems").BeginArray();
  for (const std::string& system : systems) {
    const auto then = before.systems.find(system);
    const auto now = after.systems.find(system);
    const SystemDowntime* old_figure = then == before.systems.end() ? nullptr : then->second;
    const SystemDowntime* new_figure = now == after.systems.end() ? nullptr : now->second;
    if (old_figure != nullptr && new_figure != nullptr &&
        old_figure->downtime_seconds == new_figure->downtime_seconds &&
        old_figure->planned_seconds == new_figure->planned_seconds &&
        old_figure->degraded_seconds == new_figure->degraded_seconds) {
      continue;
    }
    json.BeginObject();
    json.Key("system").String(system);
    std::set<std::string> involved;
    for (const auto& [name, figure] : {std::pair{"before", old_figure}, std::pair{"after", new_figure}}) {
      json.Key(name);
      if (figure == nullptr) {
        json.Null();
        continue;
      }
      involved.insert(figure->tickets.begin(), figure->tickets.end());
      json.BeginObject()
          .Key("downtime_seconds").Int(figure->downtime_seconds)
          .Key("planned_seconds").Int(figure->planned_seconds)
          .Key("degraded_seconds").Int(figure->degraded_seconds)
          .Key("availability").Double(figure->availability)
          .EndObject();
    }
    if (Status written = WriteEvents(&json, ledger, involved, query, stop); !written) return written.error();
    json.EndObject();
  }
  json.EndArray();

  json.Key("mttr");
  if (before.report.mttr_seconds == after.report.mttr_seconds &&
      before.report.mttr_tickets == after.report.mttr_tickets) {
    json.Null();
  } else {
    json.BeginObject();
    std::set<std::string> involved;
    for (const auto& [name, report] : {std::pair{"before", &before.report}, std::pair{"after", &after.report}}) {
      json.Key(name).BeginObject().Key("mttr_seconds");
      if (report->mttr_seconds) json.Int(*report->mttr_seconds);
      else json.Null();
      json.Key("tickets").BeginArray();
      for (const std::string& ticket : report->mttr_tickets) {
        json.String(ticket);
        involved.insert(ticket);
      }
      json.EndArray().EndObject();
    }
    if (Status written = WriteEvents(&json, ledger, involved, query, stop); !written) return written.error();
    json.EndObject();
  }
  json.EndObject();
  return json.Take();
}

}  // namespace ledger::http
