#pragma once
// Decides whether a Command may become an event, and appends it.
//
// The processor keeps its own ticket state, folded from the log, and consults
// it from inside the ledger's Decide step (on the ledger's writer thread), so
// every decision sees every earlier event, including those in the same group
// commit. Rules checked there:
//   404 kNotFound   update/close/reopen of an unknown ticket
//   409 kConflict   close of a closed ticket, reopen of an open one, a stale
//                   expected_version, a submission_id reused with other content
//   400             times that would put an end before its start; a phase
//                   for a closed incident (closing resolved it)
// A repeated submission_id with the same content answers the original event
// and appends nothing.
//
// Ticket state. Created with a ReadModel, the processor keeps no ticket
// store of its own: a decision reads the read model's tickets (under its
// read lock; Decide runs on the ledger's writer thread, the only thread that
// writes them, so they cannot change meanwhile) plus the few tickets that
// earlier decisions of the same group commit changed, kept aside until the
// read model has applied their events (or the batch failed). Created
// without one, it folds the whole log into a store of its own (tools and
// tests).
//
// Thread safety: SubmitAsync may be called from any thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ingest/command.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"
#include "projections/tickets.h"

namespace ledger::ingest {

struct SubmissionResult {
  std::string ticket;
  uint64_t seq = 0;
  uint32_t version = 0;
  bool repeated = false;  // an idempotent repeat; nothing was appended
  StoredEvent stored;
};

using SubmitCallback = std::function<void(Result<SubmissionResult>)>;

class CommandProcessor {
 public:
  // Folds the ledger's events into the processor's state and registers as the
  // ledger's batch-failed listener. `ledger` must outlive the processor.
  static Result<std::unique_ptr<CommandProcessor>> Create(Ledger* ledger);
  // Shares the tickets of `committed` (see "Ticket state" above). The
  // ledger's commit listener must apply every committed batch to it, in
  // order, before the next batch is decided (as app/main.cc wires it);
  // `committed` must outlive the processor. Costs nothing at start.
  static Result<std::unique_ptr<CommandProcessor>> Create(Ledger* ledger, const projections::ReadModel* committed);

  // `serve --systems strict`: every system a submission names must be in
  // the read model's catalog and not retired (ingest/systems.h,
  // CheckCatalogued), else 400 naming it. Call before the first submission;
  // without a read model (Create(ledger)) there is no catalog to check.
  void RequireCataloguedSystems() { strict_systems_ = true; }

  // Queues the command; `done` runs on the ledger's writer thread.
  void SubmitAsync(Command command, SubmitCallback done);
  Result<SubmissionResult> Submit(Command command);

 private:
  using TicketLookup = std::function<const projections::TicketState*(std::string_view ticket)>;

  explicit CommandProcessor(Ledger* ledger) : ledger_(ledger) {}
  void ListenForFailedBatches();
  Result<Decision> Decide(const Command& command, const std::string& digest, AppendContext& context);
  // The rules, against the ticket state `find` answers; fills in `event`.
  Status CheckAgainst(const Command& command, AppendContext& context, const TicketLookup& find, proto::Event* event);
  // Folds an event this processor decided into what its next decisions see.
  void FoldDecided(const proto::Event& applied, const projections::TicketStore* committed);
  Status Reload();

  Ledger* ledger_;
  const projections::ReadModel* shared_ = nullptr;  // set: tickets come from there (plus pending_)
  // Ledger writer thread only, after Create. Without shared_: every ticket.
  projections::TicketStore state_;
  // With shared_: tickets changed by decided events the read model has not
  // applied yet, by number, and the highest seq among those events.
  std::map<uint64_t, projections::TicketState> pending_;
  uint64_t pending_through_seq_ = 0;
  bool strict_systems_ = false;
};

}  // namespace ledger::ingest
