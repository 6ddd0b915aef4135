#pragma once
// The `serve` options of mail delivery (--smtp-*), read into the worker's
// DeliveryOptions (notify/worker.h). Every flag is parsed in app/; the
// modules below take plain option structs.
//
// Failures: an option that breaks its rule is an kInvalidArgument naming it
// (field = the flag) and the rule; an unreadable --smtp-password-file says
// so. Reads --smtp-password-file; otherwise no I/O. Callable from any thread.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "notify/worker.h"

namespace ledger::app {

// The options read here, e.g. "--smtp-url".
const std::vector<std::string>& DeliveryOptionNames();

// Reads them from parsed command-line options; nullopt when --smtp-url is
// absent (no worker: jobs stay pending).
Result<std::optional<notify::DeliveryOptions>> ParseDeliveryOptions(const std::map<std::string, std::string>& options);

}  // namespace ledger::app
