#include "http/visibility.h"

#include <algorithm>
#include <string>
#include <vector>

namespace ledger::http {
namespace {

void EraseHidden(std::vector<std::string>* names, const TicketShown& shown) {
  std::erase_if(*names, [&](const std::string& name) { return !shown(name); });
}

// Hidden names become the placeholder; `ticket_of` maps a name to its ticket.
template <class TicketOf>
void MaskHidden(std::vector<std::string>* names, const TicketShown& shown, TicketOf ticket_of) {
  for (std::string& name : *names) {
    if (!shown(ticket_of(name))) name = std::string(kHiddenTicketName);
  }
}

std::string_view Itself(std::string_view name) { return name; }

}  // namespace

bool SeesInternal(const Principal& principal) {
  return principal.Has(Role::kHelpdesk) || principal.Has(Role::kAuditor);
}

bool MaySee(const Principal& principal, const projections::TicketState& state) {
  return SeesInternal(principal) || !projections::IsInternal(state);
}

bool MaySeeTicket(const Principal& principal, const projections::ReadModel& read_model, std::string_view ticket) {
  if (SeesInternal(principal)) return true;
  bool visible = true;
  read_model.Read([&](const projections::TicketStore& tickets, uint64_t) {
    const projections::TicketState* state = tickets.Find(ticket);
    visible = state == nullptr || !projections::IsInternal(*state);
  });
  return visible;
}

TicketShown TicketShownTo(const Principal& principal, const projections::ReadModel& read_model) {
  if (SeesInternal(principal)) return [](std::string_view) { return true; };
  return [principal, &read_model](std::string_view ticket) { return MaySeeTicket(principal, read_model, ticket); };
}

std::string_view TicketOfItem(std::string_view item) {
  const size_t dash = item.rfind("-A");
  return dash == std::string_view::npos ? item : item.substr(0, dash);
}

void LeaveOutHidden(projections::DurationReport* report, const TicketShown& shown) {
  std::erase_if(report->incidents,
                [&](const projections::IncidentDuration& incident) { return !shown(incident.ticket); });
  for (projections::SystemDowntime& system : report->systems) EraseHidden(&system.tickets, shown);
  EraseHidden(&report->mttr_tickets, shown);
  EraseHidden(&report->mtta_tickets, shown);
  EraseHidden(&report->mttm_tickets, shown);
}

void LeaveOutHidden(projections::ReviewReport* report, const TicketShown& shown) {
  std::erase_if(report->incidents,
                [&](const projections::ReviewedIncident& incident) { return !shown(incident.ticket); });
  for (projections::Coverage* coverage : {&report->all, &report->major_and_critical}) {
    MaskHidden(&coverage->closed, shown, Itself);
    MaskHidden(&coverage->reviewed, shown, Itself);
  }
  MaskHidden(&report->median_tickets, shown, Itself);
  projections::ItemFigures& items = report->items;
  for (std::vector<std::string>* list : {&items.open, &items.overdue, &items.done, &items.done_on_time, &items.dropped}) {
    MaskHidden(list, shown, TicketOfItem);
  }
  // The CSV's item rows and their parallel flags, together.
  size_t kept = 0;
  for (size_t i = 0; i < report->item_rows.size(); ++i) {
    if (!shown(report->item_rows[i].ticket)) continue;
    if (kept != i) {  // never a self-move: it would empty the row
      report->item_rows[kept] = std::move(report->item_rows[i]);
      if (i < report->item_overdue.size()) report->item_overdue[kept] = report->item_overdue[i];
      if (i < report->item_done_on_time.size()) report->item_done_on_time[kept] = report->item_done_on_time[i];
    }
    ++kept;
  }
  report->item_rows.resize(kept);
  if (report->item_overdue.size() > kept) report->item_overdue.resize(kept);
  if (report->item_done_on_time.size() > kept) report->item_done_on_time.resize(kept);
  std::erase_if(report->recurrence, [&](const projections::Recurrence& row) { return !shown(row.ticket); });
  for (projections::Recurrence& row : report->recurrence) {
    MaskHidden(&row.tickets_before, shown, Itself);
    MaskHidden(&row.tickets_after, shown, Itself);
  }
}

}  // namespace ledger::http
