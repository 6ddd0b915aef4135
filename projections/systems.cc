#include "projections/systems.h"

#include <algorithm>

#include "projections/checkpoint.h"
#include "projections/system_matcher.h"
#include "projections/ticket_codec.h"

namespace ledger::projections {
namespace {

constexpr char kSystemPrefix = 'y';
constexpr char kAliasPrefix = 'z';
constexpr std::string_view kVersionKey = "msystems_version";
constexpr uint8_t kDeclaredFlag = 1;
constexpr uint8_t kRetiredFlag = 2;

std::string SystemKey(std::string_view key) { return std::string(1, kSystemPrefix) + std::string(key); }
std::string AliasKey(std::string_view folded) { return std::string(1, kAliasPrefix) + std::string(folded); }

// The systems an incident or maintenance event names (none for others).
const google::protobuf::RepeatedPtrField<std::string>* UsedSystems(const proto::Event& event) {
  if (event.has_incident() && event.incident().has_systems()) return &event.incident().systems().names();
  if (event.has_maintenance() && event.maintenance().has_systems()) return &event.maintenance().systems().names();
  return nullptr;
}

bool IsSystemEvent(const proto::Event& event) {
  switch (event.type()) {
    case proto::SYSTEM_DEFINED:
    case proto::SYSTEM_UPDATED:
    case proto::SYSTEM_ALIASED:
    case proto::SYSTEM_RETIRED: return event.has_system() && !event.system().name().empty();
    default: return false;
  }
}

}  // namespace

std::string FoldSystem(std::string_view system) {
  std::string folded(system);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return folded;
}

// -- the catalog ---------------------------------------------------------------

const SystemEntry* SystemCatalog::FindKey(std::string_view key) const {
  const auto found = systems_.find(key);
  return found == systems_.end() ? nullptr : &found->second;
}

const SystemAlias* SystemCatalog::FindAlias(std::string_view folded) const {
  const auto found = aliases_.find(folded);
  return found == aliases_.end() ? nullptr : &found->second;
}

bool SystemCatalog::Knows(std::string_view spelling) const {
  // Asked for every system of every incident event: a spelling already in
  // lower case (the usual one) is looked up as it is, without a folded copy.
  const bool folded_already = std::none_of(spelling.begin(), spelling.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (folded_already) return systems_.contains(spelling) || aliases_.contains(spelling);
  const std::string folded = FoldSystem(spelling);
  return systems_.contains(folded) || aliases_.contains(folded);
}

bool SystemCatalog::Changes(const proto::Event& event) const {
  if (IsSystemEvent(event)) return true;
  const auto* used = UsedSystems(event);
  if (used == nullptr) return false;
  return std::any_of(used->begin(), used->end(),
                     [&](const std::string& system) { return !system.empty() && !Knows(system); });
}

void SystemCatalog::Use(const std::string& spelling, const proto::Event& event, std::set<std::string>* changed) {
  if (spelling.empty() || Knows(spelling)) return;
  std::string key = FoldSystem(spelling);
  if (changed != nullptr) changed->insert(key);
  systems_.emplace(std::move(key), SystemEntry{.name = spelling,
                                               .defined_seq = event.seq(),
                                               .defined_at_micros = event.recorded_at_micros(),
                                               .last_seq = event.seq()});
}

void SystemCatalog::Apply(const proto::Event& event, std::set<std::string>* changed_systems,
                          std::set<std::string>* changed_aliases) {
  if (const auto* used = UsedSystems(event)) {
    for (const std::string& system : *used) Use(system, event, changed_systems);
    return;
  }
  if (!IsSystemEvent(event)) return;
  const proto::SystemPayload& payload = event.system();
  const std::string key = FoldSystem(payload.name());
  const auto note = [&](const std::string& changed_key) {
    if (changed_systems != nullptr) changed_systems->insert(changed_key);
  };
  switch (event.type()) {
    case proto::SYSTEM_DEFINED: {
      // A name first used by an incident and then declared keeps its
      // spelling and seq; the declaration gives it its details.
      if (aliases_.contains(key)) return;
      auto [entry, added] = systems_.try_emplace(key, SystemEntry{.name = payload.name(),
                                                                  .defined_seq = event.seq(),
                                                                  .defined_at_micros = event.recorded_at_micros()});
      SystemEntry& system = entry->second;
      system.declared = true;
      system.retired = false;
      system.group = payload.group();
      system.owner = payload.owner();
      system.description = payload.description();
      system.last_seq = event.seq();
      note(key);
      return;
    }
    case proto::SYSTEM_UPDATED:
    case proto::SYSTEM_RETIRED: {
      const auto found = systems_.find(key);
      if (found == systems_.end()) return;
      SystemEntry& system = found->second;
      if (event.type() == proto::SYSTEM_RETIRED) {
        system.retired = true;
      } else {
        if (payload.has_group()) system.group = payload.group();
        if (payload.has_owner()) system.owner = payload.owner();
        if (payload.has_description()) system.description = payload.description();
      }
      system.last_seq = event.seq();
      note(key);
      return;
    }
    case proto::SYSTEM_ALIASED: {
      const std::string alias = FoldSystem(payload.alias());
      if (alias.empty() || alias == key || !systems_.contains(key)) return;
      aliases_.insert_or_assign(alias, SystemAlias{.spelling = payload.alias(),
                                                   .target = key,
                                                   .seq = event.seq(),
                                                   .recorded_at_micros = event.recorded_at_micros()});
      if (changed_aliases != nullptr) changed_aliases->insert(alias);
      return;
    }
    default: return;
  }
}

// -- resolution ----------------------------------------------------------------

bool SystemNames::Follows(const SystemAlias& alias) const {
  if (limit_.seq && alias.seq > *limit_.seq) return false;
  if (limit_.micros && alias.recorded_at_micros > *limit_.micros) return false;
  return true;
}

std::string SystemNames::Key(std::string_view spelling) const {
  std::string key = FoldSystem(spelling);
  if (catalog_ == nullptr) return key;
  for (int step = 0; step < kAliasDepthMax; ++step) {
    const SystemAlias* alias = catalog_->FindAlias(key);
    if (alias == nullptr || !Follows(*alias) || alias->target == key) break;
    key = alias->target;
  }
  return key;
}

const SystemEntry* SystemNames::Find(std::string_view spelling) const {
  return catalog_ == nullptr ? nullptr : catalog_->FindKey(Key(spelling));
}

std::string SystemNames::Display(std::string_view spelling) const {
  const SystemEntry* entry = Find(spelling);
  return entry == nullptr ? std::string(spelling) : entry->name;
}

bool SystemNames::IsGroup(std::string_view entry) const {
  if (catalog_ == nullptr || Find(entry) != nullptr) return false;
  const std::string folded = FoldSystem(entry);
  if (folded.empty()) return false;
  for (const auto& [key, system] : catalog_->systems()) {
    if (!system.group.empty() && FoldSystem(system.group) == folded) return true;
  }
  return false;
}

bool SystemNames::Covers(std::string_view entry, std::string_view system) const {
  if (entry == "*") return true;
  const std::string entry_key = Key(entry);
  const std::string system_key = Key(system);
  if (entry_key == system_key) return true;
  if (catalog_ == nullptr || catalog_->FindKey(entry_key) != nullptr) return false;
  const SystemEntry* found = catalog_->FindKey(system_key);
  return found != nullptr && !found->group.empty() && FoldSystem(found->group) == FoldSystem(entry);
}

bool SystemNames::CoversAny(std::string_view entry, const std::vector<std::string>& systems) const {
  return std::any_of(systems.begin(), systems.end(), [&](const std::string& system) { return Covers(entry, system); });
}

SystemMatcher::SystemMatcher(const SystemNames& names, std::string_view entry) : names_(&names), entry_(entry) {}

bool SystemMatcher::Matches(const std::string& system) const {
  const auto found = seen_.find(system);
  if (found != seen_.end()) return found->second;
  const bool covered = names_->Covers(entry_, system);
  seen_.emplace(system, covered);
  return covered;
}

bool SystemMatcher::MatchesAny(const std::vector<std::string>& systems) const {
  return std::any_of(systems.begin(), systems.end(), [this](const std::string& system) { return Matches(system); });
}

std::vector<std::string> DistinctSystems(const SystemNames& names, const std::vector<std::string>& spellings) {
  std::map<std::string, std::string> by_key;
  for (const std::string& spelling : spellings) by_key.try_emplace(names.Key(spelling), names.Display(spelling));
  std::vector<std::string> distinct;
  distinct.reserve(by_key.size());
  for (auto& [key, name] : by_key) distinct.push_back(std::move(name));
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  return distinct;
}

std::vector<const SystemEntry*> OfferedSystems(const SystemCatalog& catalog) {
  std::vector<const SystemEntry*> offered;
  for (const auto& [key, entry] : catalog.systems()) {
    if (!entry.retired && catalog.FindAlias(key) == nullptr) offered.push_back(&entry);
  }
  std::sort(offered.begin(), offered.end(), [](const SystemEntry* a, const SystemEntry* b) {
    if (a->group.empty() != b->group.empty()) return b->group.empty();
    const std::string group_a = FoldSystem(a->group);
    const std::string group_b = FoldSystem(b->group);
    if (group_a != group_b) return group_a < group_b;
    return a->name < b->name;
  });
  return offered;
}

// -- the saved form ------------------------------------------------------------

std::string EncodeSystemEntry(const SystemEntry& entry) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(entry.defined_seq);
  writer.Signed(entry.defined_at_micros);
  writer.Varint(entry.last_seq);
  writer.Byte(static_cast<uint8_t>((entry.declared ? kDeclaredFlag : 0) | (entry.retired ? kRetiredFlag : 0)));
  writer.String(entry.name);
  writer.String(entry.group);
  writer.String(entry.owner);
  writer.String(entry.description);
  return value;
}

bool DecodeSystemEntry(std::string_view bytes, SystemEntry* entry) {
  ByteReader reader(bytes);
  uint8_t flags = 0;
  if (!reader.Varint(&entry->defined_seq) || !ReadMicros(&reader, &entry->defined_at_micros) ||
      !reader.Varint(&entry->last_seq) || !reader.Byte(&flags) || (flags & ~(kDeclaredFlag | kRetiredFlag)) != 0 ||
      !reader.String(&entry->name) || !reader.String(&entry->group) || !reader.String(&entry->owner) ||
      !reader.String(&entry->description) || !reader.done()) {
    return false;
  }
  entry->declared = (flags & kDeclaredFlag) != 0;
  entry->retired = (flags & kRetiredFlag) != 0;
  return entry->defined_seq != 0 && entry->last_seq >= entry->defined_seq && !entry->name.empty();
}

std::string EncodeSystemAlias(const SystemAlias& alias) {
  std::string value;
  ByteWriter writer(&value);
  writer.Varint(alias.seq);
  writer.Signed(alias.recorded_at_micros);
  writer.String(alias.spelling);
  writer.String(alias.target);
  return value;
}

bool DecodeSystemAlias(std::string_view bytes, SystemAlias* alias) {
  ByteReader reader(bytes);
  if (!reader.Varint(&alias->seq) || !ReadMicros(&reader, &alias->recorded_at_micros) ||
      !reader.String(&alias->spelling) || !reader.String(&alias->target) || !reader.done()) {
    return false;
  }
  return alias->seq != 0 && !alias->spelling.empty() && !alias->target.empty();
}

// -- the projection ------------------------------------------------------------

CheckpointKeys SystemProjection::checkpoint_keys() const {
  return CheckpointKeys{.version_key = kVersionKey,
                        .prefixes = {std::string_view(&kSystemPrefix, 1), std::string_view(&kAliasPrefix, 1)}};
}

void SystemProjection::Apply(const proto::Event& event, const Sha256Digest& /*hash*/) {
  if (!catalog_->Changes(event)) return;
  // Copy-on-write: names handed out keep the catalog they were given.
  if (catalog_.use_count() > 1) catalog_ = std::make_shared<SystemCatalog>(*catalog_);
  catalog_->Apply(event, tracking_ ? &changed_systems_ : nullptr, tracking_ ? &changed_aliases_ : nullptr);
  ++generation_;
}

void SystemProjection::Clear() {
  catalog_ = std::make_shared<SystemCatalog>();
  changed_systems_.clear();
  changed_aliases_.clear();
  ++generation_;
}

void SystemProjection::TrackChanges(bool on) {
  tracking_ = on;
  if (!on) {
    changed_systems_.clear();
    changed_aliases_.clear();
  }
}

void SystemProjection::SaveChanges(CheckpointWriter* batch) {
  for (const std::string& key : changed_systems_) {
    if (const SystemEntry* entry = catalog_->FindKey(key)) batch->Put(SystemKey(key), EncodeSystemEntry(*entry));
  }
  for (const std::string& folded : changed_aliases_) {
    if (const SystemAlias* alias = catalog_->FindAlias(folded)) batch->Put(AliasKey(folded), EncodeSystemAlias(*alias));
  }
  changed_systems_.clear();
  changed_aliases_.clear();
}

void SystemProjection::SaveWhole(CheckpointTables* tables) const {
  // The maps' order is the keys' bytewise order (one prefix byte, then the
  // key); 'y' sorts before 'z', so one table takes both in order.
  if (catalog_->systems().empty() && catalog_->aliases().empty()) return;
  CheckpointWriter* table = tables->NewTable();
  for (const auto& [key, entry] : catalog_->systems()) table->Put(SystemKey(key), EncodeSystemEntry(entry));
  for (const auto& [folded, alias] : catalog_->aliases()) table->Put(AliasKey(folded), EncodeSystemAlias(alias));
}

Result<LoadOutcome> SystemProjection::Load(const CheckpointReader& reader) {
  Clear();
  auto loaded = std::make_shared<SystemCatalog>();
  std::string problem;
  Status systems = reader.Scan(std::string_view(&kSystemPrefix, 1), [&](std::string_view key, std::string_view value) {
    SystemEntry entry;
    if (!DecodeSystemEntry(value, &entry) || SystemKey(FoldSystem(entry.name)) != key ||
        entry.last_seq > reader.applied_seq()) {
      problem = "a saved system does not decode";
      return false;
    }
    loaded->PutSystem(std::string(key.substr(1)), std::move(entry));
    return true;
  });
  if (!systems) return systems.error();
  if (problem.empty()) {
    Status aliases = reader.Scan(std::string_view(&kAliasPrefix, 1), [&](std::string_view key, std::string_view value) {
      SystemAlias alias;
      if (!DecodeSystemAlias(value, &alias) || AliasKey(FoldSystem(alias.spelling)) != key ||
          alias.seq > reader.applied_seq() || loaded->FindKey(alias.target) == nullptr) {
        problem = "a saved system alias does not decode";
        return false;
      }
      loaded->PutAlias(std::string(key.substr(1)), std::move(alias));
      return true;
    });
    if (!aliases) return aliases.error();
  }
  if (!problem.empty()) return LoadOutcome::Unusable(problem);
  catalog_ = std::move(loaded);
  ++generation_;
  return LoadOutcome{};
}

}  // namespace ledger::projections
