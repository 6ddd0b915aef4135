#pragma once
// What the fuzz targets share: a property check that aborts (libFuzzer and
// random_driver.cc both report an abort as a failure, with the input), and
// the checks of text the service hands out (JSON, UTF-8). Header-only, so
// each target stays one translation unit plus its driver.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "common/encoding.h"

namespace ledger::fuzz {

[[noreturn]] inline void PropertyFailed(const char* property, std::string_view detail) {
  std::fprintf(stderr, "fuzz target: property failed: %s\n", property);
  if (!detail.empty()) {
    // Cut, so that a huge body does not bury the line above.
    constexpr size_t kDetailBytesMax = 2000;
    std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(std::min(detail.size(), kDetailBytesMax)), detail.data());
  }
  std::abort();
}

// Checks `condition`; on failure names the property and shows `detail`
// (the offending text, when there is one), then aborts.
#define LEDGER_FUZZ_CHECK(condition, property, detail)                            \
  do {                                                                          \
    if (!(condition)) ::ledger::fuzz::PropertyFailed(property, detail);        \
  } while (false)

// Parses `text` as one JSON document (simdjson copies it into a padded
// buffer first). `root` lives as long as `parser`.
inline bool ParsesAsJson(std::string_view text, simdjson::dom::parser* parser, simdjson::dom::element* root) {
  return parser->parse(text.data(), text.size()).get(*root) == simdjson::SUCCESS;
}

inline bool IsJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return ParsesAsJson(text, &parser, &root);
}

}  // namespace ledger::fuzz
