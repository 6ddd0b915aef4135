#include "ingest/json_body.h"

#include <algorithm>
#include <string>

namespace ledger::ingest {

Status ParseJsonObjectBody(std::string_view body, size_t depth_max, JsonObjectBody* out) {
  constexpr size_t kParserBytesMin = 64;
  if (out->parser.allocate(std::max(body.size(), kParserBytesMin), depth_max) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kTooLarge, "the body is too large to parse");
  }
  out->padded = simdjson::padded_string(body);
  simdjson::dom::element root;
  if (const auto error = out->parser.parse(out->padded).get(root); error) {
    if (error == simdjson::DEPTH_ERROR) return InvalidArgument("", "the JSON body is nested too deeply");
    if (error == simdjson::UTF8_ERROR) return InvalidArgument("", "the JSON body is not valid UTF-8");
    return InvalidArgument("", std::string("the body is not valid JSON: ") + simdjson::error_message(error));
  }
  if (root.get_object().get(out->object) != simdjson::SUCCESS) {
    return InvalidArgument("", "the JSON body must be an object");
  }
  return {};
}

}  // namespace ledger::ingest
