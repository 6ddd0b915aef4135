#include "ingest/processor.h"

#include <future>

namespace ledger::ingest {
namespace {

proto::EventType EventTypeFor(Action action) {
  switch (action) {
    case Action::kCreate: return proto::INCIDENT_OPENED;
    case Action::kUpdate: return proto::INCIDENT_UPDATED;
    case Action::kClose: return proto::INCIDENT_CLOSED;
    case Action::kReopen: return proto::INCIDENT_REOPENED;
  }
  return proto::EVENT_TYPE_UNSPECIFIED;
}

std::string Time(int64_t unix_micros) { return FormatRfc3339Utc(unix_micros); }

// Checks the times a command would leave on the ticket's latest period.
Status CheckPeriodTimes(const Command& command, const projections::TicketState& state, int64_t recorded_at) {
  const proto::IncidentPayload& payload = command.payload;
  const std::vector<projections::Period>& periods = state.periods;
  LEDGER_ASSERT(!periods.empty());
  const projections::Period& latest = periods.back();

  if (command.action == Action::kReopen) {
    const int64_t start = payload.has_started_at() ? payload.started_at().unix_micros() : recorded_at;
    if (latest.end && start < latest.end->unix_micros) {
      return InvalidArgument("started_at", "started_at must not be before the previous outage ended (" +
                                               Time(latest.end->unix_micros) + ")");
    }
    return {};
  }

  const int64_t start = payload.has_started_at() ? payload.started_at().unix_micros() : latest.start.unix_micros;
  std::optional<int64_t> end;
  if (command.action == Action::kClose) {
    end = payload.has_ended_at() ? payload.ended_at().unix_micros() : recorded_at;
  } else if (payload.has_ended_at()) {
    end = payload.ended_at().unix_micros();
  } else if (latest.end) {
    end = latest.end->unix_micros;
  }
  if (end && *end < start) {
    if (payload.has_ended_at() || command.action == Action::kClose) {
      return InvalidArgument(payload.has_ended_at() ? "ended_at" : "started_at",
                             "ended_at (" + Time(*end) + ") must not be before started_at (" + Time(start) + ")");
    }
    return InvalidArgument("started_at",
                           "started_at (" + Time(start) + ") must not be after the outage ended (" + Time(*end) + ")");
  }
  if (periods.size() > 1 && payload.has_started_at()) {
    const projections::Period& previous = periods[periods.size() - 2];
    if (previous.end && start < previous.end->unix_micros) {
      return InvalidArgument("started_at", "started_at must not be before the previous outage ended (" +
                                               Time(previous.end->unix_micros) + ")");
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<CommandProcessor>> CommandProcessor::Create(Ledger* ledger) { return Create(ledger, {}); }

Result<std::unique_ptr<CommandProcessor>> CommandProcessor::Create(
    Ledger* ledger, std::function<projections::TicketStore()> committed_state) {
  std::unique_ptr<CommandProcessor> processor(new CommandProcessor(ledger));
  processor->committed_state_ = std::move(committed_state);
  if (Status loaded = processor->Reload(); !loaded) return loaded.error();
  CommandProcessor* raw = processor.get();
  ledger->SetBatchFailedListener([raw] {
    // The state may hold events that never reached the disk; fold it again.
    if (Status reloaded = raw->Reload(); !reloaded) {
      std::fprintf(stderr, "cannot reload ticket state after a failed append: %s\n", reloaded.error().message.c_str());
    }
  });
  return processor;
}

Status CommandProcessor::Reload() {
  if (committed_state_) {
    state_ = committed_state_();
    return {};
  }
  projections::TicketStore fresh;
  Status folded = ledger_->ForEach(0, [&fresh](const StoredEvent& stored) -> Status {
    fresh.Apply(stored.event);
    return {};
  });
  if (!folded) return folded;
  state_ = std::move(fresh);
  return {};
}

Result<Decision> CommandProcessor::Decide(const Command& command, const std::string& digest, AppendContext& context) {
  if (!command.submission_id.empty()) {
    Result<std::optional<StoredEvent>> previous = context.FindSubmission(command.submission_id);
    if (!previous) return previous.error();
    if (previous->has_value()) {
      const StoredEvent& original = **previous;
      if (original.event.request_digest() == digest) return Decision{.event = {}, .repeat_of_seq = original.seq};
      return MakeError(ErrorCode::kConflict,
                       "submission_id '" + command.submission_id + "' was already used for a different submission (event " +
                           std::to_string(original.seq) + ")",
                       "submission_id");
    }
  }

  proto::Event event;
  event.set_submission_id(command.submission_id);
  event.set_actor(command.actor);
  event.set_type(EventTypeFor(command.action));
  event.set_request_digest(digest);
  *event.mutable_incident() = command.payload;

  if (command.action == Action::kCreate) {
    event.set_ticket(context.AllocateTicket());
    event.set_version(1);
  } else {
    const projections::TicketState* state = state_.Find(command.ticket);
    if (state == nullptr) {
      return MakeError(ErrorCode::kNotFound, "ticket " + command.ticket + " does not exist", "ticket");
    }
    if (command.expected_version && *command.expected_version != state->version) {
      return MakeError(ErrorCode::kConflict,
                       "expected_version is " + std::to_string(*command.expected_version) + " but " + command.ticket +
                           " is at version " + std::to_string(state->version),
                       "expected_version");
    }
    if (command.action == Action::kClose && state->status == projections::TicketStatus::kClosed) {
      return MakeError(ErrorCode::kConflict, command.ticket + " is already closed", "action");
    }
    if (command.action == Action::kReopen && state->status == projections::TicketStatus::kOpen) {
      return MakeError(ErrorCode::kConflict, command.ticket + " is open; only a closed incident can be reopened", "action");
    }
    if (command.action == Action::kUpdate && command.payload.has_ended_at() &&
        state->status == projections::TicketStatus::kOpen) {
      return InvalidArgument("ended_at", "ended_at can only be corrected once the incident is closed; "
                                         "use action close to end the outage");
    }
    if (Status times = CheckPeriodTimes(command, *state, context.recorded_at_micros()); !times) return times.error();
    event.set_ticket(command.ticket);
    event.set_version(state->version + 1);
  }

  // Fold it now, with the seq and time the ledger will give it, so that the
  // next decision in this batch sees it.
  proto::Event applied = event;
  applied.set_seq(context.next_seq());
  applied.set_recorded_at_micros(context.recorded_at_micros());
  state_.Apply(applied);
  return Decision{.event = std::move(event), .repeat_of_seq = {}};
}

void CommandProcessor::SubmitAsync(Command command, SubmitCallback done) {
  std::string digest = command.Digest();
  auto shared_command = std::make_shared<Command>(std::move(command));
  ledger_->AppendAsync(
      [this, shared_command, digest = std::move(digest)](AppendContext& context) {
        return Decide(*shared_command, digest, context);
      },
      [done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          done(appended.error());
          return;
        }
        SubmissionResult result;
        result.ticket = appended->stored.event.ticket();
        result.seq = appended->stored.seq;
        result.version = appended->stored.event.version();
        result.repeated = appended->repeated;
        result.stored = std::move(appended->stored);
        done(std::move(result));
      });
}

Result<SubmissionResult> CommandProcessor::Submit(Command command) {
  std::promise<Result<SubmissionResult>> promise;
  std::future<Result<SubmissionResult>> future = promise.get_future();
  SubmitAsync(std::move(command), [&promise](Result<SubmissionResult> result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace ledger::ingest
