#include "ingest/subscriptions.h"

#include "common/text.h"

#include <algorithm>
#include <future>
#include <set>

#include <simdjson.h>

#include "ingest/json_body.h"

#include "common/encoding.h"
#include "ingest/command.h"

namespace ledger::ingest {
namespace {

constexpr size_t kSubscriptionJsonDepthMax = 4;
constexpr size_t kShownFieldBytesMax = 64;  // of an unknown field's name, in its error
constexpr std::string_view kDefaultActor = "anonymous";
constexpr std::string_view kDomainLabelsMin = "two";

bool IsAtext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

Status CheckLocalPart(std::string_view local, const std::string& field) {
  const auto bad = [&field](const std::string& why) {
    return InvalidArgument(field, field + " must be an address like name@example.org: " + why);
  };
  if (local.empty()) return bad("nothing before the @");
  if (local.size() > kEmailLocalBytesMax) {
    return bad("the part before the @ is longer than " + std::to_string(kEmailLocalBytesMax) + " bytes");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return bad("dots must separate words before the @");
  }
  for (const char c : local) {
    if (c != '.' && !IsAtext(c)) return bad("character '" + std::string(1, c) + "' is not allowed before the @");
  }
  return {};
}

Status CheckDomain(std::string_view domain, const std::string& field) {
  const auto bad = [&field](const std::string& why) {
    return InvalidArgument(field, field + " must be an address like name@example.org: " + why);
  };
  size_t labels = 0;
  bool numeric_last_label = false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty()) return bad("the domain has an empty label");
    if (label.size() > kEmailLabelBytesMax) return bad("a domain label is longer than 63 bytes");
    if (label.front() == '-' || label.back() == '-') return bad("a domain label starts or ends with '-'");
    if (!std::all_of(label.begin(), label.end(), IsLabelChar)) {
      return bad("the domain may hold only letters, digits, '-' and '.'");
    }
    numeric_last_label = std::all_of(label.begin(), label.end(), [](char c) { return c >= '0' && c <= '9'; });
    labels += 1;
    start = end + 1;
  }
  if (labels < 2) return bad("the domain needs at least " + std::string(kDomainLabelsMin) + " labels");
  if (numeric_last_label) return bad("the domain must be a host name, not a number");
  return {};
}

Error JsonError(std::string_view field, std::string why) { return InvalidArgument(std::string(field), std::move(why)); }

std::vector<std::string> SortedSystems(const std::set<std::string>* systems) {
  if (systems == nullptr) return {};
  return std::vector<std::string>(systems->begin(), systems->end());
}

}  // namespace

Result<std::string> CheckSubscriptionSystem(std::string_view raw) {
  const std::string trimmed(Trim(raw));
  if (trimmed.empty()) return InvalidArgument("systems", "systems must not contain empty names");
  if (!IsValidUtf8(trimmed)) return InvalidArgument("systems", "systems must be valid UTF-8");
  if (trimmed.size() > kSystemBytesMax) {
    return InvalidArgument("systems", "each system must be at most " + std::to_string(kSystemBytesMax) + " bytes");
  }
  if (Status line = CheckLine("systems", trimmed, kSystemBytesMax); !line) return line.error();
  return projections::FoldSystem(trimmed);
}

Result<std::string> NormalizeEmail(std::string_view text, std::string_view field_name) {
  const std::string field(field_name);
  std::string email(Trim(text));
  if (email.empty()) return InvalidArgument(field, field + " is required: an address like name@example.org");
  if (email.size() > kEmailBytesMax) {
    return InvalidArgument(field, field + " must be at most " + std::to_string(kEmailBytesMax) + " bytes");
  }
  for (char& c : email) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      return InvalidArgument(field, field + " must be plain ASCII without control characters or spaces");
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const size_t at = email.find('@');
  if (at == std::string::npos || email.find('@', at + 1) != std::string::npos) {
    return InvalidArgument(field, field + " must be an address like name@example.org: exactly one @");
  }
  if (Status local = CheckLocalPart(std::string_view(email).substr(0, at), field); !local) return local.error();
  if (Status domain = CheckDomain(std::string_view(email).substr(at + 1), field); !domain) return domain.error();
  return email;
}

Result<SubscriptionCommand> ParseSubscriptionJson(std::string_view body, SubscriptionAction action) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kSubscriptionJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  const simdjson::dom::object& object = parsed.object;

  SubscriptionCommand command;
  command.action = action;
  command.actor = std::string(kDefaultActor);
  std::set<std::string> seen_fields;
  bool systems_given = false;
  for (const auto [key, value] : object) {
    const std::string name(key);
    if (name != "email" && name != "systems" && name != "actor") {
      const std::string shown = QuotableText(name, kShownFieldBytesMax);
      return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: actor, email, systems");
    }
    if (!seen_fields.insert(name).second) return InvalidArgument(name, name + " is given more than once");
    if (value.is_null()) continue;
    if (name == "systems") {
      simdjson::dom::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) {
        return JsonError(name, "systems must be an array of strings, e.g. [\"mail\"] or [\"*\"]");
      }
      systems_given = true;
      for (const simdjson::dom::element item : array) {
        std::string_view text;
        if (item.get_string().get(text) != simdjson::SUCCESS) return JsonError(name, "systems must be an array of strings");
        Result<std::string> system = CheckSubscriptionSystem(text);
        if (!system) return system.error();
        if (std::find(command.systems.begin(), command.systems.end(), *system) != command.systems.end()) continue;
        if (command.systems.size() == kSubscriptionSystemsMax) {
          return InvalidArgument("systems", "systems may name at most " + std::to_string(kSubscriptionSystemsMax) +
                                                " systems; use [\"*\"] for all");
        }
        command.systems.push_back(std::move(*system));
      }
      continue;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return JsonError(name, name + " must be a string");
    if (name == "email") {
      Result<std::string> email = NormalizeEmail(text);
      if (!email) return email.error();
      command.email = std::move(*email);
    } else {
      const std::string actor(Trim(text));
      if (actor.empty() || actor.size() > kActorBytesMax || !IsValidUtf8(actor)) {
        return InvalidArgument("actor", "actor must be one line of at most " + std::to_string(kActorBytesMax) + " bytes");
      }
      if (Status line = CheckLine("actor", actor, kActorBytesMax); !line) return line.error();
      command.actor = actor;
    }
  }
  if (command.email.empty()) return InvalidArgument("email", "email is required: an address like name@example.org");
  if (action == SubscriptionAction::kAdd && command.systems.empty()) {
    return InvalidArgument("systems", "systems is required: name at least one system, or [\"*\"] for all");
  }
  if (action == SubscriptionAction::kRemove && systems_given && command.systems.empty()) {
    return InvalidArgument("systems", "systems must name at least one system, or be left out to remove all");
  }
  if (std::find(command.systems.begin(), command.systems.end(), projections::kAllSystems) != command.systems.end() &&
      action == SubscriptionAction::kRemove) {
    command.systems.clear();  // "*" in a removal: remove everything
  }
  return command;
}

Result<std::unique_ptr<SubscriptionProcessor>> SubscriptionProcessor::Create(Ledger* ledger) {
  std::unique_ptr<SubscriptionProcessor> processor(new SubscriptionProcessor(ledger));
  if (Status loaded = processor->Reload(); !loaded) return loaded.error();
  return processor;
}

Result<std::unique_ptr<SubscriptionProcessor>> SubscriptionProcessor::Create(Ledger* ledger,
                                                                             const projections::ReadModel* committed) {
  LEDGER_ASSERT(committed != nullptr);
  std::unique_ptr<SubscriptionProcessor> processor(new SubscriptionProcessor(ledger));
  processor->committed_ = committed;
  if (Status loaded = processor->Reload(); !loaded) return loaded.error();
  return processor;
}

Status SubscriptionProcessor::Reload() {
  if (committed_ != nullptr) {
    committed_->ReadNotifications([this](const projections::NotificationQueue& queue, uint64_t) {
      state_ = queue.subscriptions();
    });
    reload_needed_ = false;
    return {};
  }
  projections::SubscriptionSet fresh;
  Status folded = ledger_->ForEach(0, [&fresh](const StoredEvent& stored) -> Result<Flow> {
    fresh.Apply(stored.event);
    return Flow::kContinue;
  });
  if (!folded) return folded;
  state_ = std::move(fresh);
  reload_needed_ = false;
  return {};
}

Result<Decision> SubscriptionProcessor::Decide(const SubscriptionCommand& command, AppendContext& context,
                                               std::vector<std::string>* systems_now) {
  if (reload_needed_) {
    if (Status reloaded = Reload(); !reloaded) return reloaded.error();
  }
  const std::set<std::string>* current = state_.Find(command.email);
  std::vector<std::string> changed;
  if (command.action == SubscriptionAction::kAdd) {
    for (const std::string& system : command.systems) {
      if (current == nullptr || !current->contains(system)) changed.push_back(system);
    }
    if (changed.empty()) {
      *systems_now = SortedSystems(current);
      return Decision{.event = {}, .repeat_of_seq = state_.LastChangeSeq(command.email)};
    }
  } else {
    if (current != nullptr) {
      for (const std::string& system : *current) {
        if (command.systems.empty() ||
            std::find(command.systems.begin(), command.systems.end(), system) != command.systems.end()) {
          changed.push_back(system);
        }
      }
    }
    if (changed.empty()) {
      std::string what = command.systems.empty() ? std::string("anything") : std::string();
      for (const std::string& system : command.systems) what += (what.empty() ? "" : ", ") + system;
      return MakeError(ErrorCode::kNotFound, command.email + " is not subscribed to " + what, "systems");
    }
  }

  proto::Event event;
  event.set_type(command.action == SubscriptionAction::kAdd ? proto::SUBSCRIPTION_ADDED : proto::SUBSCRIPTION_REMOVED);
  event.set_actor(command.actor);
  proto::SubscriptionPayload* payload = event.mutable_subscription();
  payload->set_email(command.email);
  for (const std::string& system : changed) payload->add_systems(system);

  // Fold it now so that the next decision of this batch sees it; if the
  // batch fails, the callback asks for a reload.
  proto::Event applied = event;
  applied.set_seq(context.next_seq());
  applied.set_recorded_at_micros(context.recorded_at_micros());
  state_.Apply(applied);
  *systems_now = SortedSystems(state_.Find(command.email));
  return Decision{.event = std::move(event), .repeat_of_seq = {}};
}

void SubscriptionProcessor::SubmitAsync(SubscriptionCommand command, SubscriptionCallback done) {
  // Written by Decide and read by the callback, both on the writer thread.
  struct Shared {
    SubscriptionCommand command;
    std::vector<std::string> systems_now;
    bool decided_event = false;
  };
  auto shared = std::make_shared<Shared>();
  shared->command = std::move(command);
  ledger_->AppendAsync(
      [this, shared](AppendContext& context) -> Result<Decision> {
        Result<Decision> decision = Decide(shared->command, context, &shared->systems_now);
        shared->decided_event = decision && decision->event.has_value();
        return decision;
      },
      [this, shared, done = std::move(done)](Result<Appended> appended) {
        if (!appended) {
          if (shared->decided_event) reload_needed_ = true;
          done(appended.error());
          return;
        }
        SubscriptionResult result;
        result.seq = appended->stored.seq;
        result.repeated = appended->repeated;
        result.systems_now = std::move(shared->systems_now);
        result.stored = std::move(appended->stored);
        done(std::move(result));
      });
}

Result<SubscriptionResult> SubscriptionProcessor::Submit(SubscriptionCommand command) {
  std::promise<Result<SubscriptionResult>> promise;
  std::future<Result<SubscriptionResult>> future = promise.get_future();
  SubmitAsync(std::move(command), [&promise](Result<SubscriptionResult> result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace ledger::ingest
