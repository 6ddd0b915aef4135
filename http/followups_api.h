#pragma once
// The routes of the follow-through after an incident (reviews and action
// items; ingest/followups.h decides, projections/followups.h folds), and
// their JSON:
//
//   POST /api/v1/incidents/{t}/review        helpdesk; JSON or form
//        201 {"ticket","seq","version","event"} (version: the review's)
//   POST /api/v1/incidents/{t}/action-items  helpdesk; JSON or form
//        201 {"ticket","item","seq","version","event"}
//   POST /api/v1/action-items/{item}         helpdesk; JSON or form
//        201 {"ticket","item","seq","version","event"}
//   GET  /api/v1/action-items?owner&status&overdue&system&ticket&limit
//        viewer; {"count","overdue","timezone","items":[item]}, overdue
//        items first, then by due date (none last), ticket and number
//
//   GET  /api/v1/review-report?from&to&days=90&as_of&format&by
//        viewer; long work (the pool); ReviewReportJson, or with
//        format=csv one list (by=incident, item or recurrence)
//
// An item: {"item","ticket","title","owner","due","link","status",
// "overdue","note","version","added_seq","added_at","added_by","last_seq",
// "updated_at","done_at"}; "due" and "done_at" are null when unset.
// Overdue: open, and its due date has ended in the service's --timezone.
//
// GET /api/v1/incidents/{t} adds "review" and "action_items"
// (WriteFollowUpMembers): see there.
//
// Thread safety: as Api::Handle.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "http/auth.h"
#include "http/message.h"
#include "http/work_pool.h"
#include "ingest/followups.h"
#include "projections/followups.h"
#include "projections/read_model.h"
#include "projections/review_report.h"
#include "projections/tickets.h"

namespace date {
class time_zone;
}

namespace ledger::http {

constexpr size_t kActionItemsPageMax = 10'000;
constexpr size_t kActionItemsPageDefault = 1'000;

struct Route;

struct FollowUpRoutes {
  ingest::FollowUpProcessor* processor;
  const projections::ReadModel* read_model;
  const date::time_zone* zone;  // the service's --timezone
  std::string zone_name;        // its name
  Ledger* ledger = nullptr;     // for as_of reports
  WorkPool* pool = nullptr;     // where reports run; none: on the calling thread
};

// The rows above; `routes` must outlive them. A post answers from the
// ledger's writer thread; the admitted principal is recorded as its actor.
std::vector<Route> FollowUpRouteRows(const FollowUpRoutes& routes);

// The "payload" of a review or action item event as JSON; false (nothing
// written) for other events.
bool WriteFollowUpPayload(JsonWriter* json, const proto::Event& event);

// The members "review" and "action_items" of a ticket's JSON, into an object
// the caller has begun:
//   "review": null when there is no version the reader may see (drafts only
//   with `show_drafts`), else {"status" (of the newest version shown:
//   "draft" or "published"), "version", "current" (that version),
//   "published" (the newest published version, or null), "versions" (every
//   version shown, oldest first), "recorded_after_review" (incident events
//   were recorded after the newest published version's head),
//   "events_after_review":[{"seq","type","recorded_at","fields"}],
//   "events_after_review_not_listed"}; a version is {"version","seq",
//   "status","actor","recorded_at","summary","impact_summary","root_cause",
//   "contributing_factors","lessons","reviewed_through_seq",
//   "reviewed_head_hash"} (the last two null for drafts).
//   "action_items": [item], in number order.
void WriteFollowUpMembers(JsonWriter* json, const projections::TicketState& ticket,
                          const projections::FollowUpState& state, bool show_drafts, int64_t now_micros,
                          const date::time_zone& zone);
void WriteActionItem(JsonWriter* json, const projections::ActionItem& item, bool overdue);

// {"from","to","as_of","computed_for","head_seq","head_hash","timezone","days","closed","reviewed",
//  "review_coverage","median_seconds_to_review","closed_tickets",
//  "reviewed_tickets","median_tickets","major_and_critical":{"closed",
//  "reviewed","review_coverage","closed_tickets","reviewed_tickets"},
//  "incidents":[{"ticket","severity","closed_at","published_at",
//  "seconds_to_review"}],"action_items":{"open","overdue","done",
//  "done_on_time","dropped","open_items","overdue_items","done_items",
//  "done_on_time_items","dropped_items"},"recurrence":[{"item","ticket",
//  "systems","done_at","incidents_before","incidents_after",
//  "tickets_before","tickets_after"}]} (projections/review_report.h);
//  head_seq/head_hash: the point of the log it was computed at.
std::string ReviewReportJson(const projections::ReviewReport& report, std::optional<int64_t> as_of_micros,
                             std::string_view zone_name, const Head& head);

// GET /api/v1/action-items' answer before it is written: the items the
// query asks for, overdue first (see the top). Fails on a bad query.
struct ListedItems {
  std::vector<projections::ActionItem> items;
  std::vector<bool> overdue;  // per item
  size_t overdue_count = 0;   // before the limit
  int64_t now_micros = 0;
};
// Items of incidents `principal` may not see (visibility.h) are left out.
Result<ListedItems> ListActionItems(const FollowUpRoutes& routes, std::string_view query, const Principal& principal);

// What the dashboard marks on an incident: a published review, open items.
// In every incident's JSON (lists too) as "reviewed" and "open_action_items".
struct FollowUpMark {
  bool reviewed = false;
  uint32_t open_items = 0;
};
using FollowUpMarks = std::map<std::string, FollowUpMark, std::less<>>;
FollowUpMarks MarksOf(const projections::FollowUpState& state);
void WriteFollowUpMark(JsonWriter* json, const FollowUpMark& mark);

// Whether `principal` may see review drafts (helpdesk and above).
bool SeesDrafts(const Principal& principal);

}  // namespace ledger::http
