#pragma once
// JSON renderings of events and ticket state, as the /api/v1 contract
// defines them. Pure functions.

#include <functional>
#include <string>

#include "common/json_writer.h"
#include "ledger/ledger.h"
#include "ledger/tree_head.h"
#include "projections/durations.h"
#include "projections/maintenance.h"
#include "projections/tickets.h"

namespace ledger::http {

// {"seq","recorded_at","submission_id","actor","ticket","type","version",
//  "payload":{...only the fields the event carries},"request_digest",
//  "prev_hash","hash","record"}
void WriteEvent(JsonWriter* json, const StoredEvent& stored);
std::string EventJson(const StoredEvent& stored);

// {"ticket","status","title","description","systems","engineer","severity",
//  "impact","phase" (resolved once closed),
//  "started_at","ended_at","link","note", then each other payload field the
//  ticket state keeps (TicketState::other_fields) under its name when given,
//  "visibility" (everyone or internal, always), "version","opened_seq","last_seq","opened_at","updated_at",
//  "periods":[{"started_at","ended_at"}]}
void WriteTicket(JsonWriter* json, const projections::TicketState& state);
// The same with more members, written by `more` before the object ends.
void WriteTicket(JsonWriter* json, const projections::TicketState& state,
                 const std::function<void(JsonWriter*)>& more);

// The payload of a MAINTENANCE_* event: {"title","systems","description",
// "link","starts_at","ends_at","started_at","ended_at"}, only those it carries.
void WriteMaintenancePayload(JsonWriter* json, const proto::MaintenancePayload& payload);

// A maintenance window: {"window","title","systems","status","starts_at",
// "ends_at","started_at","ended_at" (null until it has them),"description",
// "link","version","scheduled_seq","last_seq","scheduled_at","updated_at"}.
void WriteWindow(JsonWriter* json, const projections::MaintenanceWindow& window);

// {"ok","events","head_seq","head_hash"} plus "bad_seq","problem" when not ok.
std::string VerifyReportJson(const VerifyReport& report);
// {"tree_size","root_hash","timestamp","signature","key_id"} (tree_head.h).
void WriteSignedTreeHead(JsonWriter* json, const SignedTreeHead& signed_head);

// Which lists of a duration report to write.
enum class DurationLists { kBoth, kIncidents, kSystems };

// {"from","to","as_of","computed_for","head_seq","head_hash","incidents":[{"ticket","seconds","ongoing"}],
//  "systems":[{"system","downtime_seconds","availability","tickets",
//  "planned_seconds","degraded_seconds","windows"}],
//  "mttr_seconds","mttr_tickets","closed_count","mtta_seconds","mtta_tickets",
//  "mttm_seconds","mttm_tickets"}; as_of is null unless given, a mean null
//  when no incident counts for it; head_seq/head_hash name the point of the
//  log the figures were computed at (ReadModel::ReadFiguresAt, or the ledger's head for an as_of fold).
std::string DurationReportJson(const projections::DurationReport& report, std::optional<int64_t> as_of_micros,
                               DurationLists lists, const Head& head);
// The head a figures answer names, for its CSV form (a response header,
// "seq=N; hash=HEX").
std::string AppliedHeadHeader(const Head& head);

// {"error":{"code","message","field"}}
std::string ErrorJson(const Error& error);

const char* EventTypeName(proto::EventType type);

}  // namespace ledger::http
