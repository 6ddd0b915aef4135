#pragma once
// Subscription commands: parsing and validation of
//   POST   /api/v1/subscriptions {"email", "systems": [...] or ["*"], "actor"?}
//   DELETE /api/v1/subscriptions {"email", "systems"?, "actor"?}
// and the rules that turn them into SUBSCRIPTION_ADDED/REMOVED events.
//
// Addresses are validated as plain ASCII addr-specs (dot-atom local part,
// hostname domain with at least two labels; no display names, comments,
// quoted local parts, IP literals or non-ASCII, so nothing in an address can
// break a mail header) and normalised to lower case, trimmed. Systems are
// trimmed and folded to ASCII lower case; "*" means every system. A DELETE
// without systems, or with "*" among them, removes every subscription of the
// address.
//
// An event records only what changed: an add of systems the address already
// has appends nothing and answers the event that last changed that address
// (repeated = true); a removal of nothing is kNotFound.
//
// Thread safety: SubmitAsync may be called from any thread; the processor's
// state is touched only on the ledger's writer thread (Decide and the
// callbacks both run there).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ledger/ledger.h"
#include "projections/notifications.h"
#include "projections/read_model.h"

namespace ledger::ingest {

constexpr size_t kEmailBytesMax = 254;
constexpr size_t kEmailLocalBytesMax = 64;
constexpr size_t kEmailLabelBytesMax = 63;
constexpr size_t kSubscriptionSystemsMax = 50;

// Validates and normalises one address; the error names `field`.
Result<std::string> NormalizeEmail(std::string_view text, std::string_view field = "email");
// Checks one system name of a subscription (one line, at most
// kSystemBytesMax bytes, UTF-8) and folds it; the error names "systems".
Result<std::string> CheckSubscriptionSystem(std::string_view raw);

enum class SubscriptionAction { kAdd, kRemove };

struct SubscriptionCommand {
  SubscriptionAction action = SubscriptionAction::kAdd;
  std::string email;                 // normalised
  std::vector<std::string> systems;  // folded, unique, in the order given; empty: all (remove only)
  std::string actor;                 // "anonymous" when not given
};

// Parses a JSON object body (the only body these routes take).
Result<SubscriptionCommand> ParseSubscriptionJson(std::string_view body, SubscriptionAction action);

struct SubscriptionResult {
  uint64_t seq = 0;
  bool repeated = false;                    // nothing changed; `seq` is the last change
  std::vector<std::string> systems_now;     // the address's subscriptions afterwards
  StoredEvent stored;
};

using SubscriptionCallback = std::function<void(Result<SubscriptionResult>)>;

class SubscriptionProcessor {
 public:
  // Folds the ledger's subscription events. `ledger` must outlive this.
  static Result<std::unique_ptr<SubscriptionProcessor>> Create(Ledger* ledger);
  // Takes the subscriptions from `committed` instead (a copy, at start and
  // after a failed batch): no fold of the log. The ledger's commit listener
  // must apply every committed batch to `committed`, which must outlive this.
  static Result<std::unique_ptr<SubscriptionProcessor>> Create(Ledger* ledger, const projections::ReadModel* committed);

  // Queues the command; `done` runs on the ledger's writer thread.
  void SubmitAsync(SubscriptionCommand command, SubscriptionCallback done);
  Result<SubscriptionResult> Submit(SubscriptionCommand command);

 private:
  explicit SubscriptionProcessor(Ledger* ledger) : ledger_(ledger) {}
  Result<Decision> Decide(const SubscriptionCommand& command, AppendContext& context,
                          std::vector<std::string>* systems_now);
  Status Reload();

  Ledger* ledger_;
  const projections::ReadModel* committed_ = nullptr;  // set: Reload copies from there
  projections::SubscriptionSet state_;  // ledger writer thread only, after Create
  // Set when an event this processor decided (and folded) did not reach the
  // log; the next decision folds the log again first.
  bool reload_needed_ = false;
};

}  // namespace ledger::ingest
