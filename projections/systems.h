#pragma once
// The catalog of systems, and the one resolution of a system's spelling
// that every figure, filter, row and subscription uses (DESIGN.md: "Systems
// match case-insensitively and through aliases everywhere").
//
// The catalog (SystemCatalog) is a fold of
//   SYSTEM_DEFINED   a name enters, with its group, owner and description;
//   SYSTEM_UPDATED   the fields it carries replace the system's;
//   SYSTEM_ALIASED   from that seq on, `alias` stands for `name`;
//   SYSTEM_RETIRED   the name is no longer offered for new incidents;
// and of every incident or maintenance event: a system such an event names
// that the catalog does not know (under any case, or as an alias) is
// defined by that use, spelled as that event spells it. So the catalog is
// never empty of a name the log uses, and `DNS` and `dns` are one system,
// named as first written.
//
// Resolution (SystemNames). A spelling's key is its ASCII lower case,
// followed through the aliases recorded up to the resolution's limit (each
// alias maps one folded spelling to one key; chains are followed, at most
// kAliasDepthMax steps, so a malformed log cannot loop). Two spellings are
// the same system when their keys are equal. A system is shown under the
// catalog's name for its key (its spelling when the catalog does not know
// it). The live read model resolves with every alias ("as corrected"); a
// fold "as known then" (as_of.h) resolves with the aliases recorded by its
// point, so an alias recorded later changes only the first. Names, groups,
// owners and retirement are shown as they are now in both.
//
// Groups. A system's group is free text (a site, a team), compared ignoring
// ASCII case. A subscription entry covers a system when it is "*", when it
// resolves to the system's key, or when it names no system and equals the
// system's group (Covers).
//
// Key layout (the checkpoint database, checkpoint.h):
//   'y' | key     -> varint defined_seq | zigzag defined_at | varint last_seq |
//                    byte flags (1 declared, 2 retired) | string name |
//                    string group | string owner | string description
//   'z' | folded  -> varint seq | zigzag recorded_at | string spelling |
//                    string target key
//   'm' "systems_version" -> kSystemProjectionVersion, decimal
//
// Failures: none in the fold (events that do not make sense, such as an
// update of an unknown name, change nothing; the processor never appends
// them). Load makes the checkpoint unusable (a rebuild) when a record does
// not decode or its key is not its own; a read error fails Load.
//
// Thread safety: a SystemCatalog is a plain value. The projection changes
// its catalog copy-on-write: a SystemNames handed out holds the catalog as
// it was, immutable, so it may be read on any thread without a lock after
// the read model's lock is released.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

// 1: first saved.
constexpr uint32_t kSystemProjectionVersion = 1;
constexpr int kAliasDepthMax = 16;

// ASCII lower case: how system names are compared.
std::string FoldSystem(std::string_view system);

struct SystemEntry {
  std::string name;  // as defined, or as first used
  std::string group;
  std::string owner;
  std::string description;
  bool declared = false;  // by SYSTEM_DEFINED (false: by its first use)
  bool retired = false;
  uint64_t defined_seq = 0;
  int64_t defined_at_micros = 0;
  uint64_t last_seq = 0;  // the last event that changed it
};

struct SystemAlias {
  std::string spelling;  // as recorded
  std::string target;    // the key it stands for
  uint64_t seq = 0;
  int64_t recorded_at_micros = 0;
};

class SystemCatalog {
 public:
  // Whether Apply would change the catalog (cheap for the events that do
  // not: most incident events name known systems).
  bool Changes(const proto::Event& event) const;
  // Folds one event; returns the keys of the systems and aliases it wrote.
  void Apply(const proto::Event& event, std::set<std::string>* changed_systems = nullptr,
             std::set<std::string>* changed_aliases = nullptr);

  // key -> system (merged ones included: a system aliased into another
  // stays, for folds as known before the alias).
  const std::map<std::string, SystemEntry, std::less<>>& systems() const { return systems_; }
  // folded spelling -> alias.
  const std::map<std::string, SystemAlias, std::less<>>& aliases() const { return aliases_; }
  const SystemEntry* FindKey(std::string_view key) const;
  // The alias recorded for a folded spelling, or nullptr.
  const SystemAlias* FindAlias(std::string_view folded) const;
  // Whether a spelling names a system or an alias, under any case.
  bool Knows(std::string_view spelling) const;

  // For Load: puts back one saved record.
  void PutSystem(std::string key, SystemEntry entry) { systems_.insert_or_assign(std::move(key), std::move(entry)); }
  void PutAlias(std::string folded, SystemAlias alias) { aliases_.insert_or_assign(std::move(folded), std::move(alias)); }

 private:
  void Use(const std::string& spelling, const proto::Event& event, std::set<std::string>* changed);

  std::map<std::string, SystemEntry, std::less<>> systems_;
  std::map<std::string, SystemAlias, std::less<>> aliases_;
};

// Which aliases a resolution follows: those recorded at or before `seq`
// and `micros` (unset: no limit), like an as_of point.
struct SystemsLimit {
  std::optional<uint64_t> seq;
  std::optional<int64_t> micros;
};

class SystemNames {
 public:
  // No catalog: spellings are folded only, and shown as written.
  SystemNames() = default;
  explicit SystemNames(std::shared_ptr<const SystemCatalog> catalog, SystemsLimit limit = {})
      : catalog_(std::move(catalog)), limit_(limit) {}
  // Resolution through `catalog` without sharing it: for use while the
  // caller keeps `catalog` alive and unchanged (a decision on the ledger's
  // writer thread).
  static SystemNames Borrowing(const SystemCatalog& catalog) {
    return SystemNames(std::shared_ptr<const SystemCatalog>(std::shared_ptr<const SystemCatalog>(), &catalog));
  }
  // The same catalog, following only the aliases recorded by `limit`.
  SystemNames Limited(SystemsLimit limit) const { return SystemNames(catalog_, limit); }

  // The key a spelling stands for: its lower case through the aliases.
  std::string Key(std::string_view spelling) const;
  // The name to show for a spelling: the catalog's name for its key, else
  // the spelling.
  std::string Display(std::string_view spelling) const;
  // The catalog's entry for a spelling's key, or nullptr.
  const SystemEntry* Find(std::string_view spelling) const;
  bool Same(std::string_view a, std::string_view b) const { return Key(a) == Key(b); }
  // Whether a subscription or filter entry covers `system`: "*", the same
  // key, or a group name (one that is no system's key) equal to the
  // system's group ignoring case.
  bool Covers(std::string_view entry, std::string_view system) const;
  // Whether any of `systems` is covered by `entry`.
  bool CoversAny(std::string_view entry, const std::vector<std::string>& systems) const;
  // Whether `entry` names a group (some system's group, ignoring case) and
  // no system.
  bool IsGroup(std::string_view entry) const;

  const SystemCatalog* catalog() const { return catalog_.get(); }
  const std::shared_ptr<const SystemCatalog>& shared() const { return catalog_; }

 private:
  bool Follows(const SystemAlias& alias) const;

  std::shared_ptr<const SystemCatalog> catalog_;
  SystemsLimit limit_;
};

// One name per system among `spellings`: each shown as `names` shows it,
// once whatever case or alias it came under, sorted (bytewise).
std::vector<std::string> DistinctSystems(const SystemNames& names, const std::vector<std::string>& spellings);

// The systems to offer for new incidents: every system of the catalog that
// is neither retired nor merged into another by an alias, sorted by group
// (those without one last) and then by name.
std::vector<const SystemEntry*> OfferedSystems(const SystemCatalog& catalog);

// The catalog as one record per name and per alias (see the key layout).
std::string EncodeSystemEntry(const SystemEntry& entry);
[[nodiscard]] bool DecodeSystemEntry(std::string_view bytes, SystemEntry* entry);
std::string EncodeSystemAlias(const SystemAlias& alias);
[[nodiscard]] bool DecodeSystemAlias(std::string_view bytes, SystemAlias* alias);

class SystemProjection : public Projection {
 public:
  SystemProjection() : catalog_(std::make_shared<SystemCatalog>()) {}

  // The catalog as it stands, for resolution with every alias.
  SystemNames names() const { return SystemNames(catalog_); }
  const SystemCatalog& catalog() const { return *catalog_; }
  // Bumped by every change: the read model hands the ticket store new
  // names when it moves.
  uint64_t generation() const { return generation_; }

  std::string_view name() const override { return "system"; }
  uint32_t version() const override { return kSystemProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return !changed_systems_.empty() || !changed_aliases_.empty(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;

 private:
  std::shared_ptr<SystemCatalog> catalog_;
  uint64_t generation_ = 0;
  bool tracking_ = false;
  std::set<std::string> changed_systems_;
  std::set<std::string> changed_aliases_;
};

}  // namespace ledger::projections
