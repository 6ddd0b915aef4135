#pragma once
// Retrying failed notification jobs by hand:
//   POST /api/v1/notifications/retry {"ticket"?, "seq"?, "recipient"?, "actor"?}
// A job is failed when the mail server refused it for good (a 5xx reply, or
// too many 4xx replies); once the cause is fixed (a relay that refused our
// sender, a mailbox that was full), an operator asks for those jobs to be
// tried again. The request names the failed jobs to retry by the filters of
// GET /api/v1/notifications (every one given must match; none given: every
// failed job), and becomes one NOTIFICATION_RETRY_REQUESTED event that lists
// the jobs it chose, so the log says exactly which mails were sent again,
// when, and at whose request. The fold (projections/notifications.h) makes
// each of them pending with a fresh retry limit, and the delivery worker
// sends them like any pending job.
//
// At most kRetryJobsMax jobs go into one event; the rest of the matching
// ones are counted (`remaining`) and a repeat of the request takes them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ledger/ledger.h"
#include "projections/notifications.h"
#include "event.pb.h"

namespace ledger::ingest {

constexpr size_t kRetryJobsMax = 10'000;

struct RetryCommand {
  std::optional<std::string> ticket;     // normalised, "INC-7"
  std::optional<uint64_t> seq;           // the incident event
  std::optional<std::string> recipient;  // normalised address
  std::string actor;                     // "anonymous" when not given
};

// Parses a JSON object body: every field optional, unknown ones refused.
Result<RetryCommand> ParseRetryJson(std::string_view body);

struct RetryPlan {
  proto::Event event;      // NOTIFICATION_RETRY_REQUESTED; no jobs when none matched
  uint64_t remaining = 0;  // matching failed jobs beyond kRetryJobsMax, left for another request
};

// The failed jobs of `queue` that `command` names, in (event seq, recipient)
// order, as the event to append (without seq and time: the ledger sets them).
RetryPlan PlanRetry(const projections::NotificationQueue& queue, const RetryCommand& command);

struct RetryOutcome {
  RetryPlan plan;
  std::optional<StoredEvent> stored;  // the appended event; none when no job matched
};
using RetryCallback = std::function<void(Result<RetryOutcome>)>;

// Plans the retry against `model` and appends its event, unless no job
// matched; `done` runs once, on the ledger's writer thread after an append,
// else on this one. Two retries of one job at once both list it; the fold
// retries it once.
void SubmitRetryAsync(Ledger* ledger, const projections::NotificationModel& model, RetryCommand command,
                      RetryCallback done);

}  // namespace ledger::ingest
