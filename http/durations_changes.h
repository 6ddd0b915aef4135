#pragma once
// GET /api/v1/durations/changes?from&to&before&after: the restatement
// report. Analysts who published figures at one knowledge time ("before")
// see which of them the events recorded since (up to "after") changed, and
// by which events.
//
// Both sets of figures are computed over the same window [from, to) and for
// the same moment (`after`: an open period runs to min(after, to) in both),
// from the log as known at `before` and as known at `after` (as_of), so
// only what was learned in between makes a difference. Listed: each
// incident whose seconds or ongoing flag differ (or that is in one list
// only), each system whose downtime, planned or degraded seconds differ (or
// that is in one list only), and MTTR when its mean or its incidents
// differ; each with the incident events recorded in (before, after] of the
// incidents involved (for a system: those naming it at either time; for
// MTTR: those it averages at either time), and for each event the payload
// fields it set, with the value the incident had before it (null when
// none) and the new one.
//
// Pure apart from the ledger reads of the as_of folds and of the involved
// tickets' events; runs on the work pool (answers `stop`'s reason when it
// says to stop).

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/stop.h"
#include "http/visibility.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"

namespace ledger::http {

struct DurationChangesQuery {
  int64_t from_micros = 0;
  int64_t to_micros = 0;
  int64_t before_micros = 0;  // the earlier knowledge time
  int64_t after_micros = 0;   // the later one (> before_micros)
};

// The JSON answer:
//   {"from","to","before","after","head_seq","head_hash",
//    "incidents":[{"ticket","before":{"seconds","ongoing"}|null,"after":...,"events":[E]}],
//    "systems":[{"system","before":{"downtime_seconds","planned_seconds","degraded_seconds","availability"}|null,
//                "after":...,"events":[E]}],
//    "mttr":null | {"before":{"mttr_seconds","tickets"},"after":...,"events":[E]}}
// E = {"seq","recorded_at","actor","type","ticket","changes":[{"field","old","new"}]}
// head_seq and head_hash: the ledger's head when the answer was computed.
// `shown` (visibility.h) leaves hidden incidents out of the rows, the
// ticket lists and the events listed; the figures still count them.
Result<std::string> DurationChangesJson(const projections::ReadModel& model, const Ledger& ledger,
                                        const DurationChangesQuery& query, const TicketShown& shown,
                                        const StopToken& stop);

}  // namespace ledger::http
