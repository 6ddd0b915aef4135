#pragma once
// The review report ("did we learn, and did the fix hold"): figures over the
// incidents closed in a window, from the ticket store and the follow-up
// state (followups.h) as known at one moment. Pure: no I/O, no clock (the
// caller passes `now`: the present, or the as_of moment).
//
// Definitions (README, "Review report"):
//   closed      incidents whose status is closed and whose final ended_at
//               (the end of their latest period) lies in [from, to)
//   reviewed    those of them with a published review; coverage =
//               reviewed / closed (null when none closed), also for major and
//               critical incidents together
//   seconds to review  first publication's recorded time minus the final
//               ended_at (0 when negative); the median over the reviewed
//               ones (the mean of the two middle values, rounded down, for an
//               even count; null when none)
//   action items  the items of the closed incidents, by status now: open
//               (overdue among them: due date ended in `zone` by `now`),
//               done (done on time: done_at before the due date ended, or no
//               due date), dropped
//   recurrence  for each done item of those: its incident's systems S (as
//               now), d = done_at, start = the incident's first period start;
//               incidents_before counts the other incidents on any of S
//               (ASCII case-insensitive) whose first period started in
//               [start - days, start), incidents_after those that started in
//               (d, d + days]
// Every list is in ticket (then item) number order.
//
// Cost: the incidents overlapping the window and the recurrence windows
// (TicketStore::Overlapping), never the whole history.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/stop.h"
#include "ledger/ledger.h"
#include "projections/as_of.h"
#include "projections/followups.h"
#include "projections/tickets.h"

namespace date {
class time_zone;
}

namespace ledger::projections {

constexpr int64_t kRecurrenceDaysDefault = 90;
constexpr int64_t kRecurrenceDaysMax = 3650;

struct ReviewReportQuery {
  int64_t from_micros = 0;  // [from, to)
  int64_t to_micros = 0;
  int64_t days = kRecurrenceDaysDefault;
  int64_t now_micros = 0;   // the present, or the as_of moment
  const date::time_zone* zone = nullptr;  // for due dates; required
};

struct ReviewedIncident {
  std::string ticket;
  proto::Severity severity = proto::MINOR;
  int64_t closed_at_micros = 0;      // final ended_at
  int64_t published_at_micros = 0;   // first publication; 0: none
  std::optional<int64_t> seconds_to_review;
};

struct Coverage {
  std::vector<std::string> closed;    // tickets
  std::vector<std::string> reviewed;  // tickets
  std::optional<double> coverage;
};

struct ItemFigures {
  std::vector<std::string> open;  // item ids
  std::vector<std::string> overdue;
  std::vector<std::string> done;
  std::vector<std::string> done_on_time;
  std::vector<std::string> dropped;
};

struct Recurrence {
  std::string item;
  std::string ticket;
  std::vector<std::string> systems;
  int64_t done_at_micros = 0;
  std::vector<std::string> tickets_before;
  std::vector<std::string> tickets_after;
};

struct ReviewReport {
  ReviewReportQuery query;
  std::vector<ReviewedIncident> incidents;  // the closed ones
  Coverage all;
  Coverage major_and_critical;
  std::optional<int64_t> median_seconds_to_review;
  std::vector<std::string> median_tickets;  // the reviewed incidents it is over
  ItemFigures items;
  std::vector<ActionItem> item_rows;        // the items above, for CSV
  std::vector<bool> item_overdue;           // per item_rows entry
  std::vector<bool> item_done_on_time;      // per item_rows entry
  std::vector<Recurrence> recurrence;
};

// Checks the query (window, days, zone) and computes the report. Fails on a
// bad query (kInvalidArgument naming from, to or days) or `stop`.
Result<ReviewReport> ComputeReviewReport(const TicketStore& tickets, const FollowUpState& follow_ups,
                                         const ReviewReportQuery& query, const StopToken& stop);

// Tickets and follow-up state as known at `point`: a fold of the log's
// events up to it (the whole log is read: as_of reports cost a scan).
struct KnownThen {
  TicketStore tickets;
  FollowUpState follow_ups;
};
Result<KnownThen> FoldAsOf(const Ledger& ledger, const AsOfPoint& point, const StopToken& stop);

// CSV (as durations_csv.h writes it) of one list of the report:
// "ticket,severity,closed_at,reviewed,published_at,seconds_to_review",
// "item,ticket,status,owner,due,done_at,overdue,done_on_time", or
// "item,ticket,systems,done_at,incidents_before,incidents_after,tickets_before,tickets_after".
std::string ReviewIncidentsCsv(const ReviewReport& report);
std::string ReviewItemsCsv(const ReviewReport& report);
std::string RecurrenceCsv(const ReviewReport& report);

}  // namespace ledger::projections
