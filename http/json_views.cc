#include "http/json_views.h"

#include "common/encoding.h"
#include "common/time.h"
#include "http/followups_api.h"
#include "http/notifications_api.h"
#include "ingest/fields.h"

namespace ledger::http {
namespace {

// The payload of an incident event: only the fields it carries, as the
// field table (ingest/fields.h) writes them.
void WritePayload(JsonWriter* json, const proto::IncidentPayload& payload) { ingest::WritePayloadJson(json, payload); }

// A refused sheet row, every field (ingest/sheet_refusals.h).
void WriteSheetRowRefusedPayload(JsonWriter* json, const proto::SheetRowRefusal& refusal) {
  json->BeginObject();
  json->Key("content_id").String(refusal.content_id());
  json->Key("row").Uint(refusal.row());
  json->Key("column").String(refusal.column());
  json->Key("column_letters").String(refusal.column_letters());
  json->Key("field").String(refusal.field());
  json->Key("rule").String(refusal.rule());
  json->Key("submitter").String(refusal.submitter());
  json->Key("file").String(refusal.file());
  json->Key("cells").BeginArray();
  for (const proto::SheetCell& cell : refusal.cells()) {
    json->BeginObject().Key("column").String(cell.column()).Key("text").String(cell.text()).EndObject();
  }
  json->EndArray();
  json->EndObject();
}

}  // namespace

const char* EventTypeName(proto::EventType type) {
  switch (type) {
    case proto::INCIDENT_OPENED: return "INCIDENT_OPENED";
    case proto::INCIDENT_UPDATED: return "INCIDENT_UPDATED";
    case proto::INCIDENT_CLOSED: return "INCIDENT_CLOSED";
    case proto::INCIDENT_REOPENED: return "INCIDENT_REOPENED";
    case proto::SUBSCRIPTION_ADDED: return "SUBSCRIPTION_ADDED";
    case proto::SUBSCRIPTION_REMOVED: return "SUBSCRIPTION_REMOVED";
    case proto::NOTIFICATION_DELIVERED: return "NOTIFICATION_DELIVERED";
    case proto::NOTIFICATION_FAILED: return "NOTIFICATION_FAILED";
    case proto::NOTIFICATION_RETRY_REQUESTED: return "NOTIFICATION_RETRY_REQUESTED";
    case proto::NOTIFICATION_RECEIPTS: return "NOTIFICATION_RECEIPTS";
    case proto::REVIEW_DRAFTED: return "REVIEW_DRAFTED";
    case proto::REVIEW_PUBLISHED: return "REVIEW_PUBLISHED";
    case proto::ACTION_ITEM_ADDED: return "ACTION_ITEM_ADDED";
    case proto::ACTION_ITEM_UPDATED: return "ACTION_ITEM_UPDATED";
    case proto::ACTION_ITEM_OVERDUE: return "ACTION_ITEM_OVERDUE";
    case proto::MAINTENANCE_SCHEDULED: return "MAINTENANCE_SCHEDULED";
    case proto::MAINTENANCE_UPDATED: return "MAINTENANCE_UPDATED";
    case proto::MAINTENANCE_STARTED: return "MAINTENANCE_STARTED";
    case proto::MAINTENANCE_ENDED: return "MAINTENANCE_ENDED";
    case proto::MAINTENANCE_CANCELLED: return "MAINTENANCE_CANCELLED";
    case proto::SHEET_ROW_REFUSED: return "SHEET_ROW_REFUSED";
    case proto::SYSTEM_DEFINED: return "SYSTEM_DEFINED";
    case proto::SYSTEM_UPDATED: return "SYSTEM_UPDATED";
    case proto::SYSTEM_ALIASED: return "SYSTEM_ALIASED";
    case proto::SYSTEM_RETIRED: return "SYSTEM_RETIRED";
    default: return "UNKNOWN";
  }
}

void WriteEvent(JsonWriter* json, const StoredEvent& stored) {
  const proto::Event& event = stored.event;
  json->BeginObject();
  json->Key("seq").Uint(stored.seq);
  json->Key("recorded_at").String(FormatRfc3339Utc(event.recorded_at_micros()));
  json->Key("submission_id").String(event.submission_id());
  json->Key("actor").String(event.actor());
  json->Key("ticket").String(event.ticket());
  json->Key("type").String(EventTypeName(event.type()));
  json->Key("version").Uint(event.version());
  json->Key("payload");
  if (event.has_incident()) {
    WritePayload(json, event.incident());
  } else if (event.has_maintenance()) {
    WriteMaintenancePayload(json, event.maintenance());
  } else if (WriteNotificationPayload(json, event)) {
    // a subscription change, a delivery receipt or a retry
  } else if (WriteFollowUpPayload(json, event)) {
    // a review version or an action item change
  } else if (event.has_sheet_row_refused()) {
    WriteSheetRowRefusedPayload(json, event.sheet_row_refused());
  } else if (event.has_system()) {
    const proto::SystemPayload& system = event.system();
    json->BeginObject();
    json->Key("name").String(system.name());
    if (system.has_group()) json->Key("group").String(system.group());
    if (system.has_owner()) json->Key("owner").String(system.owner());
    if (system.has_description()) json->Key("description").String(system.description());
    if (!system.alias().empty()) json->Key("alias").String(system.alias());
    json->EndObject();
  } else {
    json->BeginObject().EndObject();
  }
  json->Key("request_digest").String(HexEncode(event.request_digest()));
  json->Key("prev_hash").String(HexEncode(stored.prev_hash));
  json->Key("hash").String(HexEncode(stored.hash));
  json->Key("record").String(Base64Encode(stored.record));
  json->EndObject();
}

std::string EventJson(const StoredEvent& stored) {
  JsonWriter json;
  WriteEvent(&json, stored);
  return json.Take();
}

void WriteTicket(JsonWriter* json, const projections::TicketState& state) { WriteTicket(json, state, nullptr); }

void WriteTicket(JsonWriter* json, const projections::TicketState& state,
                 const std::function<void(JsonWriter*)>& more) {
  json->BeginObject();
  json->Key("ticket").String(state.ticket);
  json->Key("status").String(projections::StatusName(state.status));
  json->Key("title").String(state.title);
  json->Key("description").String(state.description);
  json->Key("systems").BeginArray();
  for (const std::string& system : state.systems) json->String(system);
  json->EndArray();
  json->Key("engineer").String(state.engineer);
  json->Key("severity").String(projections::SeverityName(state.severity));
  json->Key("impact").String(projections::ImpactName(state.impact));
  json->Key("phase").String(projections::PhaseName(state));
  const projections::Period& latest = state.periods.back();
  json->Key("started_at").String(FormatRfc3339(latest.start));
  json->Key("ended_at");
  if (latest.end) {
    json->String(FormatRfc3339(*latest.end));
  } else {
    json->Null();
  }
  json->Key("link").String(state.link);
  json->Key("note").String(state.last_note);
  // Fields without rules of their own in the ticket state, each under its
  // payload name, only when given; visibility always (everyone when never
  // given), so a reader never has to guess it.
  proto::IncidentPayload others = projections::OtherFields(state);
  others.clear_visibility();
  ingest::WritePayloadMembers(json, others);
  json->Key("visibility").String(projections::IsInternal(state) ? "internal" : "everyone");
  json->Key("version").Uint(state.version);
  json->Key("opened_seq").Uint(state.opened_seq);
  json->Key("last_seq").Uint(state.last_seq);
  json->Key("opened_at").String(FormatRfc3339Utc(state.opened_at_micros));
  json->Key("updated_at").String(FormatRfc3339Utc(state.updated_at_micros));
  json->Key("periods").BeginArray();
  for (const projections::Period& period : state.periods) {
    json->BeginObject();
    json->Key("started_at").String(FormatRfc3339(period.start));
    json->Key("ended_at");
    if (period.end) {
      json->String(FormatRfc3339(*period.end));
    } else {
      json->Null();
    }
    json->EndObject();
  }
  json->EndArray();
  if (more) more(json);
  json->EndObject();
}

void WriteSignedTreeHead(JsonWriter* json, const SignedTreeHead& signed_head) {
  json->BeginObject();
  json->Key("tree_size").Uint(signed_head.head.tree_size);
  json->Key("root_hash").String(HexEncode(signed_head.head.root_hash));
  json->Key("timestamp").String(signed_head.timestamp);
  json->Key("signature").String(Base64Encode(signed_head.signature));
  json->Key("key_id").String(signed_head.key_id);
  json->EndObject();
}

namespace {

void WriteTime(JsonWriter* json, std::string_view key, const proto::Timestamp& time) {
  json->Key(key).String(FormatRfc3339(Instant{time.unix_micros(), time.offset_minutes()}));
}

void WriteOptionalTime(JsonWriter* json, std::string_view key, const std::optional<Instant>& time) {
  json->Key(key);
  if (time) {
    json->String(FormatRfc3339(*time));
  } else {
    json->Null();
  }
}

}  // namespace

void WriteMaintenancePayload(JsonWriter* json, const proto::MaintenancePayload& payload) {
  json->BeginObject();
  if (payload.has_title()) json->Key("title").String(payload.title());
  if (payload.has_systems()) {
    json->Key("systems").BeginArray();
    for (const std::string& system : payload.systems().names()) json->String(system);
    json->EndArray();
  }
  if (payload.has_description()) json->Key("description").String(payload.description());
  if (payload.has_link()) json->Key("link").String(payload.link());
  if (payload.has_starts_at()) WriteTime(json, "starts_at", payload.starts_at());
  if (payload.has_ends_at()) WriteTime(json, "ends_at", payload.ends_at());
  if (payload.has_started_at()) WriteTime(json, "started_at", payload.started_at());
  if (payload.has_ended_at()) WriteTime(json, "ended_at", payload.ended_at());
  json->EndObject();
}

void WriteWindow(JsonWriter* json, const projections::MaintenanceWindow& window) {
  json->BeginObject();
  json->Key("window").String(window.window);
  json->Key("title").String(window.title);
  json->Key("systems").BeginArray();
  for (const std::string& system : window.systems) json->String(system);
  json->EndArray();
  json->Key("status").String(projections::MaintenanceStatusName(window.status));
  json->Key("starts_at").String(FormatRfc3339(window.starts_at));
  json->Key("ends_at").String(FormatRfc3339(window.ends_at));
  WriteOptionalTime(json, "started_at", window.started_at);
  WriteOptionalTime(json, "ended_at", window.ended_at);
  json->Key("description").String(window.description);
  json->Key("link").String(window.link);
  json->Key("version").Uint(window.version);
  json->Key("scheduled_seq").Uint(window.scheduled_seq);
  json->Key("last_seq").Uint(window.last_seq);
  json->Key("scheduled_at").String(FormatRfc3339Utc(window.scheduled_at_micros));
  json->Key("updated_at").String(FormatRfc3339Utc(window.updated_at_micros));
  json->EndObject();
}

std::string VerifyReportJson(const VerifyReport& report) {
  JsonWriter json;
  json.BeginObject();
  json.Key("ok").Bool(report.ok);
  json.Key("events").Uint(report.events_checked);
  json.Key("head_seq").Uint(report.head_seq);
  json.Key("head_hash").String(HexEncode(report.head_hash));
  // The Merkle root of the events checked (of the tree of head_seq events
  // when ok), computed from their hashes; whether the stored tree matched it.
  json.Key("tree_root").String(HexEncode(report.tree_root));
  json.Key("tree_checked").Bool(report.tree_checked);
  if (!report.ok) {
    json.Key("bad_seq").Uint(report.bad_seq);
    json.Key("problem").String(report.problem);
  }
  json.EndObject();
  return json.Take();
}

std::string AppliedHeadHeader(const Head& head) {
  return "seq=" + std::to_string(head.seq) + "; hash=" + HexEncode(head.hash);
}

std::string DurationReportJson(const projections::DurationReport& report, std::optional<int64_t> as_of_micros,
                               DurationLists lists, const Head& head) {
  JsonWriter json;
  json.BeginObject();
  json.Key("from").String(FormatRfc3339Utc(report.query.from_micros));
  json.Key("to").String(FormatRfc3339Utc(report.query.to_micros));
  json.Key("as_of");
  if (as_of_micros) {
    json.String(FormatRfc3339Utc(*as_of_micros));
  } else {
    json.Null();
  }
  json.Key("computed_for").String(FormatRfc3339Utc(report.query.now_micros));
  json.Key("head_seq").Uint(head.seq);
  json.Key("head_hash").String(HexEncode(head.hash));
  if (lists != DurationLists::kSystems) {
    json.Key("incidents").BeginArray();
    for (const projections::IncidentDuration& incident : report.incidents) {
      json.BeginObject().Key("ticket").String(incident.ticket).Key("seconds").Int(incident.seconds);
      json.Key("ongoing").Bool(incident.ongoing).EndObject();
    }
    json.EndArray();
  }
  if (lists != DurationLists::kIncidents) {
    json.Key("systems").BeginArray();
    for (const projections::SystemDowntime& system : report.systems) {
      json.BeginObject().Key("system").String(system.system).Key("downtime_seconds").Int(system.downtime_seconds);
      json.Key("availability").Double(system.availability).Key("tickets").BeginArray();
      for (const std::string& ticket : system.tickets) json.String(ticket);
      json.EndArray();
      json.Key("planned_seconds").Int(system.planned_seconds);
      json.Key("degraded_seconds").Int(system.degraded_seconds);
      json.Key("windows").BeginArray();
      for (const std::string& window : system.windows) json.String(window);
      json.EndArray().EndObject();
    }
    json.EndArray();
  }
  json.Key("mttr_seconds");
  if (report.mttr_seconds) {
    json.Int(*report.mttr_seconds);
  } else {
    json.Null();
  }
  json.Key("mttr_tickets").BeginArray();
  for (const std::string& ticket : report.mttr_tickets) json.String(ticket);
  json.EndArray();
  json.Key("closed_count").Uint(report.closed_count);
  const auto mean = [&json](std::string_view key, const std::optional<int64_t>& seconds,
                            std::string_view tickets_key, const std::vector<std::string>& tickets) {
    json.Key(key);
    if (seconds) {
      json.Int(*seconds);
    } else {
      json.Null();
    }
    json.Key(tickets_key).BeginArray();
    for (const std::string& ticket : tickets) json.String(ticket);
    json.EndArray();
  };
  mean("mtta_seconds", report.mtta_seconds, "mtta_tickets", report.mtta_tickets);
  mean("mttm_seconds", report.mttm_seconds, "mttm_tickets", report.mttm_tickets);
  json.EndObject();
  return json.Take();
}

std::string ErrorJson(const Error& error) {
  JsonWriter json;
  json.BeginObject().Key("error").BeginObject();
  json.Key("code").String(ErrorCodeName(error.code));
  json.Key("message").String(error.message);
  json.Key("field").String(error.field);
  json.EndObject().EndObject();
  return json.Take();
}

}  // namespace ledger::http
