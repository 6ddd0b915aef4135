#pragma once
// The maintenance window routes (ingest/maintenance.h has the rules):
//
//   POST /api/v1/maintenance       (helpdesk) JSON or a form body: {action:
//        schedule|update|start|end|cancel, window, title, systems, starts_at,
//        ends_at, at, started_at, ended_at, description, link,
//        submission_id, expected_version, actor} -> 201 {"window","seq",
//        "version","event"} with Location /api/v1/maintenance/MNT-n (a
//        repeat of a submission_id with the same content: the original
//        answer and Idempotent-Replay: true)
//   GET  /api/v1/maintenance       (viewer) ?from&to&status&system&limit
//        &as_of|as_of_seq -> {"applied_seq" (current lists only),"count",
//        "windows":[window]}: the windows whose span (planned or as run,
//        whichever reaches further; a window in progress runs on) overlaps
//        [from, to) (either end may be left out: no bound there), by
//        planned start, then number; at most `limit` (1-1000, default 1000)
//   GET  /api/v1/maintenance/{id}  (viewer) ?as_of|as_of_seq -> the window,
//        404 when there is none (or was none then)
//   GET  /calendar.ics             (viewer) ?system&from&to: calendar.h
//   GET  /feed.atom                (viewer) ?system: the latest incident and
//        maintenance events as Atom (feed.h)
//
// `window` is http/json_views.h's WriteWindow.
//
// Thread safety: as Api::Handle; a POST answers from the ledger's writer
// thread.

#include <vector>

#include "http/message.h"
#include "ingest/maintenance.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"

namespace ledger::http {

constexpr size_t kMaintenanceListMax = 1'000;

struct Route;

struct MaintenanceRoutes {
  ingest::MaintenanceProcessor* processor;
  const projections::ReadModel* read_model;
  const Ledger* ledger;  // as_of reads fold windows changed since from their events
};

// The rows above (router.h); `routes` must outlive them.
std::vector<Route> MaintenanceRouteRows(const MaintenanceRoutes& routes);

}  // namespace ledger::http
