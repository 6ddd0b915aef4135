#pragma once
// The catalog of systems (ingest/systems.h has the rules, projections/
// systems.h the fold and how names resolve):
//
//   GET  /api/v1/systems  (viewer) ?retired=true|false -> {"applied_seq",
//        "count", "systems":[{"name","group","owner","description",
//        "aliases":[spelling],"retired","declared","defined_seq",
//        "last_seq"}], "groups":[group]}: every system of the catalog by
//        name (a name merged into another by an alias is listed among that
//        system's aliases, not as a system); `retired` keeps only retired
//        (true) or only systems in use (false). `groups`: every group a
//        listed system names, sorted, each once (the first spelling).
//   POST /api/v1/systems  (admin) JSON or a form body: {action:
//        define|update|alias|retire, name, group, owner, description, alias,
//        submission_id, actor} -> 201 {"system","seq","event"} (a repeat of
//        a submission_id with the same content: the original answer and
//        Idempotent-Replay: true)
//
// Thread safety: as Api::Handle; a POST answers from the ledger's writer
// thread.

#include <vector>

#include "http/message.h"
#include "ingest/systems.h"
#include "projections/read_model.h"

namespace ledger::http {

struct Route;

struct SystemRoutes {
  ingest::SystemProcessor* processor;
  const projections::ReadModel* read_model;
};

// The rows above (router.h); `routes` must outlive them.
std::vector<Route> SystemRouteRows(const SystemRoutes& routes);

}  // namespace ledger::http
