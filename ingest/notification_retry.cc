#include "ingest/notification_retry.h"

#include <memory>
#include <set>

#include <simdjson.h>

#include "common/encoding.h"
#include "ingest/command.h"
#include "ingest/json_body.h"
#include "ingest/subscriptions.h"

namespace ledger::ingest {
namespace {

// Deep enough that a field given an object or array is told it must be a
// string or number.
constexpr size_t kRetryJsonDepthMax = 3;
constexpr size_t kShownFieldBytesMax = 64;  // of an unknown field's name, in its error
// Seqs are positive and never reach this; a larger number is a typo.
constexpr uint64_t kSeqMax = UINT64_MAX / 2;

}  // namespace

Result<RetryCommand> ParseRetryJson(std::string_view body) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kRetryJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  RetryCommand command;
  command.actor = std::string(kAnonymousActor);
  std::set<std::string> seen;
  for (const auto [key, value] : parsed.object) {
    const std::string name(key);
    if (name != "ticket" && name != "seq" && name != "recipient" && name != "actor") {
      const std::string shown = QuotableText(name, kShownFieldBytesMax);
      return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: actor, recipient, seq, ticket");
    }
    if (!seen.insert(name).second) return InvalidArgument(name, name + " is given more than once");
    if (value.is_null()) continue;
    if (name == "seq") {
      uint64_t seq = 0;
      if (value.get_uint64().get(seq) != simdjson::SUCCESS || seq == 0 || seq > kSeqMax) {
        return InvalidArgument("seq", "seq must be a positive whole number: the seq of an incident event");
      }
      command.seq = seq;
      continue;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument(name, name + " must be a string");
    if (name == "ticket") {
      Result<std::string> ticket = NormalizeTicket(text);
      if (!ticket) return ticket.error();
      command.ticket = std::move(*ticket);
    } else if (name == "recipient") {
      Result<std::string> recipient = NormalizeEmail(text, "recipient");
      if (!recipient) return recipient.error();
      command.recipient = std::move(*recipient);
    } else {
      Result<std::string> actor = CheckedActor(text);
      if (!actor) return actor.error();
      command.actor = std::move(*actor);
    }
  }
  return command;
}

RetryPlan PlanRetry(const projections::NotificationQueue& queue, const RetryCommand& command) {
  RetryPlan plan;
  plan.event.set_type(proto::NOTIFICATION_RETRY_REQUESTED);
  plan.event.set_actor(command.actor);
  proto::NotificationRetry* retry = plan.event.mutable_retry();
  const std::set<projections::JobKey>& failed = queue.failed();
  auto it = command.seq ? failed.lower_bound(projections::JobKey{*command.seq, ""}) : failed.begin();
  for (; it != failed.end(); ++it) {
    if (command.seq && it->seq > *command.seq) break;
    const projections::Job* found = queue.Find(*it);
    if (found == nullptr) continue;
    const projections::Job& job = *found;
    if (command.ticket && job.ticket != *command.ticket) continue;
    if (command.recipient && job.key.recipient != *command.recipient) continue;
    if (static_cast<size_t>(retry->jobs_size()) == kRetryJobsMax) {
      plan.remaining += 1;
      continue;
    }
    proto::RetriedJob* retried = retry->add_jobs();
    retried->set_incident_seq(job.key.seq);
    retried->set_recipient(job.key.recipient);
    retried->set_ticket(job.ticket);
  }
  return plan;
}

void SubmitRetryAsync(Ledger* ledger, const projections::NotificationModel& model, RetryCommand command,
                      RetryCallback done) {
  auto outcome = std::make_shared<RetryOutcome>();
  model.Read([&](const projections::NotificationQueue& queue, uint64_t) { outcome->plan = PlanRetry(queue, command); });
  if (outcome->plan.event.retry().jobs_size() == 0) {
    done(std::move(*outcome));  // nothing failed matches: nothing to append
    return;
  }
  ledger->AppendAsync(
      [outcome](AppendContext&) -> Result<Decision> { return Decision{.event = outcome->plan.event, .repeat_of_seq = {}}; },
      [outcome, done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          done(appended.error());
          return;
        }
        outcome->stored = std::move(appended->stored);
        done(std::move(*outcome));
      });
}

}  // namespace ledger::ingest
