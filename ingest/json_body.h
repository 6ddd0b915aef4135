#pragma once
// Parses a request body that must be one JSON object, with simdjson, under a
// nesting limit. The parser and the padded copy live in the struct because
// the object points into them.

#include <cstddef>
#include <string_view>

#include <simdjson.h>

#include "common/result.h"

namespace ledger::ingest {

struct JsonObjectBody {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  simdjson::dom::object object;
};

// kInvalidArgument naming the problem (not JSON, too deep, not UTF-8, not an
// object), or kTooLarge when the parser cannot be sized for the body.
Status ParseJsonObjectBody(std::string_view body, size_t depth_max, JsonObjectBody* out);

}  // namespace ledger::ingest
