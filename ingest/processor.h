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
//   400             times that would put an end before its start
// A repeated submission_id with the same content answers the original event
// and appends nothing.
//
// Thread safety: SubmitAsync may be called from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ingest/command.h"
#include "ledger/ledger.h"
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
  // The same, but the state comes from `committed_state` (a copy of a read
  // model that holds exactly the committed events), at start and after a
  // failed append, instead of a fold of the whole log.
  static Result<std::unique_ptr<CommandProcessor>> Create(Ledger* ledger,
                                                          std::function<projections::TicketStore()> committed_state);

  // Queues the command; `done` runs on the ledger's writer thread.
  void SubmitAsync(Command command, SubmitCallback done);
  Result<SubmissionResult> Submit(Command command);

 private:
  explicit CommandProcessor(Ledger* ledger) : ledger_(ledger) {}
  Result<Decision> Decide(const Command& command, const std::string& digest, AppendContext& context);
  Status Reload();

  Ledger* ledger_;
  std::function<projections::TicketStore()> committed_state_;  // may be empty: fold the log
  projections::TicketStore state_;  // ledger writer thread only, after Create
};

}  // namespace ledger::ingest
