#include "ingest/processor.h"

#include "ingest/form_body.h"
#include "ingest/systems.h"

#include <cstdio>
#include <future>

#include "common/log.h"
#include "projections/ticket_name.h"

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

Result<std::unique_ptr<CommandProcessor>> CommandProcessor::Create(Ledger* ledger) {
  std::unique_ptr<CommandProcessor> processor(new CommandProcessor(ledger));
  if (Status loaded = processor->Reload(); !loaded) return loaded.error();
  processor->ListenForFailedBatches();
  return processor;
}

Result<std::unique_ptr<CommandProcessor>> CommandProcessor::Create(Ledger* ledger,
                                                                   const projections::ReadModel* committed) {
  LEDGER_ASSERT(committed != nullptr);
  std::unique_ptr<CommandProcessor> processor(new CommandProcessor(ledger));
  processor->shared_ = committed;
  processor->ListenForFailedBatches();
  return processor;
}

void CommandProcessor::ListenForFailedBatches() {
  ledger_->SetBatchFailedListener([this] {
    // The state may hold events that never reached the disk: forget them.
    if (Status reloaded = Reload(); !reloaded) {
      Log("ingest", "cannot reload ticket state after a failed append: " + reloaded.error().message);
    }
  });
}

Status CommandProcessor::Reload() {
  if (shared_ != nullptr) {
    // What is left is in the read model, which holds exactly the committed events.
    pending_.clear();
    pending_through_seq_ = 0;
    return {};
  }
  projections::TicketStore fresh;
  Status folded = ledger_->ForEach(0, ScanOptions{.read_ahead = true}, [&fresh](const StoredEvent& stored) -> Result<Flow> {
    (void)fresh.Apply(stored.event);  // the changed ticket's number is not needed here
    return Flow::kContinue;
  });
  if (!folded) return folded;
  state_ = std::move(fresh);
  return {};
}

Result<Decision> CommandProcessor::Decide(const Command& command, const std::string& digest, AppendContext& context) {
  Result<std::optional<Decision>> repeated = RepeatedSubmission(command.submission_id, digest, context);
  if (!repeated) return repeated.error();
  if (*repeated) return std::move(**repeated);
  if (strict_systems_ && shared_ != nullptr && command.payload.has_systems()) {
    Status catalogued;
    shared_->ReadProjection<projections::SystemProjection>([&](const projections::SystemProjection& systems, uint64_t) {
      catalogued = CheckCatalogued(systems.catalog(), command.payload.systems().names());
    });
    if (!catalogued) return catalogued.error();
  }

  proto::Event event;
  event.set_submission_id(command.submission_id);
  event.set_actor(command.actor);
  event.set_type(EventTypeFor(command.action));
  event.set_request_digest(digest);
  *event.mutable_incident() = command.payload;

  Status checked;
  const projections::TicketStore* committed_store = nullptr;
  const auto decide_and_fold = [&](const TicketLookup& find) {
    checked = CheckAgainst(command, context, find, &event);
    if (!checked) return;
    // Fold it now, with the seq and time the ledger will give it, so that
    // the next decision in this batch sees it.
    proto::Event applied = event;
    applied.set_seq(context.next_seq());
    applied.set_recorded_at_micros(context.recorded_at_micros());
    FoldDecided(applied, committed_store);
  };
  if (shared_ == nullptr) {
    decide_and_fold([this](std::string_view ticket) { return state_.Find(ticket); });
  } else {
    shared_->Read([&](const projections::TicketStore& committed, uint64_t applied_seq) {
      // Once the read model has applied every event kept aside, it holds them.
      if (!pending_.empty() && pending_through_seq_ <= applied_seq) pending_.clear();
      committed_store = &committed;
      decide_and_fold([&](std::string_view ticket) -> const projections::TicketState* {
        const std::optional<uint64_t> number = projections::ParseTicketNumber(ticket);
        if (!number) return nullptr;
        if (const auto found = pending_.find(*number); found != pending_.end()) return &found->second;
        return committed.FindNumber(*number);
      });
    });
  }
  if (!checked) return checked.error();
  return Decision{.event = std::move(event), .repeat_of_seq = {}};
}

Status CommandProcessor::CheckAgainst(const Command& command, AppendContext& context, const TicketLookup& find,
                                      proto::Event* event) {
  if (command.action == Action::kCreate) {
    event->set_ticket(projections::TicketName::Format(context.AllocateTicketNumber()));
    event->set_version(1);
    return {};
  }
  const projections::TicketState* state = find(command.ticket);
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
  if (command.action == Action::kUpdate && command.payload.phase() != proto::PHASE_UNSPECIFIED &&
      state->status == projections::TicketStatus::kClosed) {
    return InvalidArgument("phase", "phase applies only while the incident is open: closing resolved " +
                                        command.ticket + " (reopen it to set a phase)");
  }
  if (Status times = CheckPeriodTimes(command, *state, context.recorded_at_micros()); !times) return times;
  event->set_ticket(command.ticket);
  event->set_version(state->version + 1);
  return {};
}

void CommandProcessor::FoldDecided(const proto::Event& applied, const projections::TicketStore* committed) {
  if (shared_ == nullptr) {
    (void)state_.Apply(applied);  // the number is the event's own
    return;
  }
  const std::optional<uint64_t> number = projections::ParseTicketNumber(applied.ticket());
  LEDGER_ASSERT(number.has_value());  // decided events name a ticket the ledger handed out
  auto [found, inserted] = pending_.try_emplace(*number);
  if (inserted && applied.type() != proto::INCIDENT_OPENED) {
    const projections::TicketState* current = committed->FindNumber(*number);
    LEDGER_ASSERT(current != nullptr);  // CheckAgainst found it
    found->second = *current;
  }
  projections::ApplyIncidentEvent(&found->second, applied);
  pending_through_seq_ = applied.seq();
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
  return WaitFor<SubmissionResult>([&](SubmitCallback done) { SubmitAsync(std::move(command), std::move(done)); });
}

}  // namespace ledger::ingest
