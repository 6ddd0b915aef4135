#include "projections/review_report.h"

#include <algorithm>
#include <set>

#include "common/text.h"
#include "common/time.h"
#include "projections/durations_csv.h"
#include "projections/notifications.h"

namespace ledger::projections {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// `keys`: systems by their key (systems.h), through the store's names.
bool SharesSystem(const SystemNames& names, const TicketState& ticket, const std::set<std::string>& keys) {
  return std::any_of(ticket.systems.begin(), ticket.systems.end(),
                     [&](const std::string& system) { return keys.contains(names.Key(system)); });
}

// Other tickets on any of `folded` whose first period started in the range
// [low, high] (inclusive ends; callers shift by a microsecond for open ends).
std::vector<std::string> StartedBetween(const TicketStore& tickets, const std::string& self,
                                        const std::set<std::string>& folded, int64_t low, int64_t high) {
  std::vector<std::string> found;
  if (high < low) return found;
  // A ticket whose first period starts in [low, high] has that period
  // overlapping [low, high + 1).
  for (const TicketState* ticket : tickets.Overlapping(low, high + 1)) {
    if (ticket->ticket == self || ticket->periods.empty()) continue;
    const int64_t start = ticket->periods.front().start.unix_micros;
    if (start < low || start > high || !SharesSystem(tickets.names(), *ticket, folded)) continue;
    found.push_back(ticket->ticket);
  }
  return found;
}

std::optional<double> Ratio(size_t part, size_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

std::string Time(int64_t micros) { return micros == 0 ? std::string() : FormatRfc3339Utc(micros); }

std::string Field(std::string_view text) { return CsvTextField(text); }
std::string Number(int64_t value) { return "\"" + std::to_string(value) + "\""; }
std::string Flag(bool value) { return value ? "\"true\"" : "\"false\""; }

}  // namespace

Result<ReviewReport> ComputeReviewReport(const TicketStore& tickets, const FollowUpState& follow_ups,
                                         const ReviewReportQuery& query, const StopToken& stop) {
  if (query.to_micros <= query.from_micros) return InvalidArgument("to", "to must be after from");
  if (query.days < 1 || query.days > kRecurrenceDaysMax) {
    return InvalidArgument("days", "days must be a whole number from 1 to " + std::to_string(kRecurrenceDaysMax));
  }
  LEDGER_ASSERT(query.zone != nullptr);
  ReviewReport report;
  report.query = query;
  StopCheck check(stop);
  std::vector<int64_t> seconds;
  std::vector<std::pair<int64_t, std::string>> timed;
  // A microsecond before `from` keeps the incidents that ended right at it.
  for (const TicketState* ticket : tickets.Overlapping(query.from_micros - 1, query.to_micros)) {
    if (check.Tick()) return stop.Reason();
    if (ticket->status != TicketStatus::kClosed || ticket->periods.empty() || !ticket->periods.back().end) continue;
    const int64_t ended = ticket->periods.back().end->unix_micros;
    if (ended < query.from_micros || ended >= query.to_micros) continue;
    ReviewedIncident incident{.ticket = ticket->ticket, .severity = ticket->severity, .closed_at_micros = ended};
    const TicketFollowUp* follow_up = follow_ups.FindTicket(ticket->ticket);
    const ReviewVersion* first = follow_up == nullptr ? nullptr : follow_up->FirstPublished();
    const bool severe = ticket->severity == proto::MAJOR || ticket->severity == proto::CRITICAL;
    report.all.closed.push_back(ticket->ticket);
    if (severe) report.major_and_critical.closed.push_back(ticket->ticket);
    if (first != nullptr) {
      incident.published_at_micros = first->recorded_at_micros;
      incident.seconds_to_review = std::max<int64_t>(0, first->recorded_at_micros - ended) / kMicrosPerSecond;
      seconds.push_back(*incident.seconds_to_review);
      report.median_tickets.push_back(ticket->ticket);
      report.all.reviewed.push_back(ticket->ticket);
      if (severe) report.major_and_critical.reviewed.push_back(ticket->ticket);
    }
    for (const ActionItem* item : follow_ups.ItemsOf(ticket->ticket)) {
      report.item_rows.push_back(*item);
      const bool overdue = IsOverdue(*item, query.now_micros, *query.zone);
      bool on_time = false;
      switch (item->status) {
        case ItemStatus::kOpen:
          report.items.open.push_back(item->item);
          if (overdue) report.items.overdue.push_back(item->item);
          break;
        case ItemStatus::kDone: {
          report.items.done.push_back(item->item);
          on_time = item->due.empty();
          if (!on_time) {
            const Result<int64_t> due_end = DueEndMicros(item->due, *query.zone);
            on_time = due_end && item->done_at_micros < *due_end;
          }
          if (on_time) report.items.done_on_time.push_back(item->item);
          std::set<std::string> folded;
          for (const std::string& system : ticket->systems) folded.insert(tickets.names().Key(system));
          const int64_t start = ticket->periods.front().start.unix_micros;
          const int64_t window = query.days * kMicrosPerDay;
          Recurrence recurrence{.item = item->item,
                                .ticket = ticket->ticket,
                                .systems = ticket->systems,
                                .done_at_micros = item->done_at_micros};
          recurrence.tickets_before = StartedBetween(tickets, ticket->ticket, folded, start - window, start - 1);
          recurrence.tickets_after = StartedBetween(tickets, ticket->ticket, folded, item->done_at_micros + 1,
                                                    item->done_at_micros + window);
          report.recurrence.push_back(std::move(recurrence));
          break;
        }
        case ItemStatus::kDropped: report.items.dropped.push_back(item->item); break;
      }
      report.item_overdue.push_back(overdue);
      report.item_done_on_time.push_back(on_time);
    }
    report.incidents.push_back(std::move(incident));
  }
  report.all.coverage = Ratio(report.all.reviewed.size(), report.all.closed.size());
  report.major_and_critical.coverage =
      Ratio(report.major_and_critical.reviewed.size(), report.major_and_critical.closed.size());
  if (!seconds.empty()) {
    std::sort(seconds.begin(), seconds.end());
    const size_t middle = seconds.size() / 2;
    report.median_seconds_to_review =
        seconds.size() % 2 == 1 ? seconds[middle] : (seconds[middle - 1] + seconds[middle]) / 2;
  }
  return report;
}

Result<KnownThen> FoldAsOf(const Ledger& ledger, const AsOfPoint& point, const StopToken& stop) {
  KnownThen known;
  StopCheck check(stop);
  Status folded = ledger.ForEach(0, [&](const StoredEvent& stored) -> Result<Flow> {
    if (check.Tick()) return stop.Reason();
    if (point.seq && stored.seq > *point.seq) return Flow::kStop;
    if (!point.Includes(stored.seq, stored.event.recorded_at_micros())) return Flow::kContinue;
    (void)known.tickets.Apply(stored.event);  // the number of the ticket it changed is not needed
    (void)known.follow_ups.Apply(stored.event);
    return Flow::kContinue;
  });
  if (!folded) return folded.error();
  return known;
}

std::string ReviewIncidentsCsv(const ReviewReport& report) {
  std::string csv = "\"ticket\",\"severity\",\"closed_at\",\"reviewed\",\"published_at\",\"seconds_to_review\"\r\n";
  for (const ReviewedIncident& incident : report.incidents) {
    csv += Field(incident.ticket) + ",\"" + SeverityName(incident.severity) + "\",\"" +
           Time(incident.closed_at_micros) + "\"," + Flag(incident.published_at_micros != 0) + ",\"" +
           Time(incident.published_at_micros) + "\"," +
           (incident.seconds_to_review ? Number(*incident.seconds_to_review) : std::string("\"\"")) + "\r\n";
  }
  return csv;
}

std::string ReviewItemsCsv(const ReviewReport& report) {
  std::string csv = "\"item\",\"ticket\",\"status\",\"owner\",\"due\",\"done_at\",\"overdue\",\"done_on_time\"\r\n";
  for (size_t i = 0; i < report.item_rows.size(); ++i) {
    const ActionItem& item = report.item_rows[i];
    csv += Field(item.item) + "," + Field(item.ticket) + ",\"" + ItemStatusName(item.status) + "\"," +
           Field(item.owner) + "," + Field(item.due) + ",\"" + Time(item.done_at_micros) + "\"," +
           Flag(report.item_overdue[i]) + "," + Flag(report.item_done_on_time[i]) + "\r\n";
  }
  return csv;
}

std::string RecurrenceCsv(const ReviewReport& report) {
  std::string csv =
      "\"item\",\"ticket\",\"systems\",\"done_at\",\"incidents_before\",\"incidents_after\",\"tickets_before\","
      "\"tickets_after\"\r\n";
  for (const Recurrence& row : report.recurrence) {
    csv += Field(row.item) + "," + Field(row.ticket) + "," + Field(Join(row.systems, " ")) + ",\"" +
           Time(row.done_at_micros) + "\"," + Number(static_cast<int64_t>(row.tickets_before.size())) + "," +
           Number(static_cast<int64_t>(row.tickets_after.size())) + "," + Field(Join(row.tickets_before, " ")) +
           "," + Field(Join(row.tickets_after, " ")) + "\r\n";
  }
  return csv;
}

}  // namespace ledger::projections
