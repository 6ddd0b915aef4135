#pragma once
// Commands on the catalog of systems (projections/systems.h):
//   POST /api/v1/systems {action, name, group, owner, description, alias,
//                         submission_id, actor}
// (JSON, or a form body), and the rules that turn them into SYSTEM_* events.
//
// Actions and what each takes (anything else given is refused by name):
//   define   name; group, owner, description optional. A name only used so
//            far (by an incident or maintenance window) becomes declared
//            with these details, keeping its first spelling.
//   update   name, and at least one of group, owner, description (an empty
//            value clears it).
//   alias    name, alias: from this event on `alias` (any case) is `name`.
//            Figures as corrected merge the alias's incidents into `name`;
//            figures as known before this event do not.
//   retire   name. No longer offered for new incidents (and refused in
//            them under `serve --systems strict`); its history stays.
// `name` may be given in any case or as an alias: the event names the
// system as the catalog spells it.
//
// Values: name, alias and group are one line of at most kSystemBytesMax
// bytes, without commas (forms list systems comma-separated) and not "*";
// owner is an e-mail address (normalised) or empty; description is text of
// at most kDescriptionBytesMax.
//
// Errors: 400 kInvalidArgument naming the field and the rule; 404 for a name
// the catalog does not know (update, alias, retire); 409 for a define of a
// declared system or of an alias, an alias already standing for a system,
// an alias that is already the same system as `name`, a retire of a retired
// system, or a submission_id reused with other content. No failed command
// appends anything.
//
// Strict catalog (`serve --systems strict`): CheckCatalogued refuses, for
// every way an incident or a maintenance window comes in, a system the
// catalog does not know or has retired (400 naming it). The processors call
// it against the read model's catalog; a system defined in the same group
// commit as a submission that names it is not seen by that submission.
//
// Thread safety: SubmitAsync may be called from any thread; decisions run on
// the ledger's writer thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "event.pb.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"
#include "projections/systems.h"

namespace ledger::ingest {

enum class SystemAction { kDefine, kUpdate, kAlias, kRetire };
const char* SystemActionName(SystemAction action);

struct SystemCommand {
  SystemAction action = SystemAction::kDefine;
  std::string submission_id;
  std::string actor;  // "anonymous" when not given
  proto::SystemPayload payload;

  // SHA-256 over the command's canonical content.
  std::string Digest() const;
};

Result<SystemCommand> ParseSystemJson(std::string_view body);
Result<SystemCommand> ParseSystemForm(std::string_view body);

// Under a strict catalog: every one of `systems` must be known to `catalog`
// (any case, or an alias) and not retired. kInvalidArgument naming
// `field` and the first system that is not.
Status CheckCatalogued(const projections::SystemCatalog& catalog,
                       const google::protobuf::RepeatedPtrField<std::string>& systems, std::string_view field = "systems");

struct SystemResult {
  std::string system;  // as the catalog spells it
  uint64_t seq = 0;
  bool repeated = false;
  StoredEvent stored;
};

using SystemCallback = std::function<void(Result<SystemResult>)>;

class SystemProcessor {
 public:
  // Decides against the read model's catalog (plus what earlier decisions
  // of the same group commit changed). The ledger's commit listener must
  // apply every committed batch to `committed`, which, like `ledger`, must
  // outlive this.
  static std::unique_ptr<SystemProcessor> Create(Ledger* ledger, const projections::ReadModel* committed);

  // Queues the command; `done` runs on the ledger's writer thread.
  void SubmitAsync(SystemCommand command, SystemCallback done);
  Result<SystemResult> Submit(SystemCommand command);

 private:
  SystemProcessor(Ledger* ledger, const projections::ReadModel* committed) : ledger_(ledger), committed_(committed) {}
  Result<Decision> Decide(const SystemCommand& command, const std::string& digest, AppendContext& context);

  Ledger* ledger_;
  const projections::ReadModel* committed_;
  // Ledger writer thread only: the catalog with the events decided but not
  // yet applied by the read model, and the highest seq among them.
  std::optional<projections::SystemCatalog> pending_;
  uint64_t pending_through_seq_ = 0;
};

}  // namespace ledger::ingest
