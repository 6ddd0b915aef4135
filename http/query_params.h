#pragma once
// Request parsing shared by every route family (the API, the notification
// routes, the pages): query strings and form bodies, counts, media types,
// and the 405 answer. Pure functions.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "http/message.h"
#include "projections/as_of.h"

namespace ledger::http {

using Query = std::map<std::string, std::string>;

constexpr size_t kQueryParametersMax = 32;

// "a=1&b=2" -> pairs, percent-decoded ('+' is a space); nullopt when an
// escape is malformed or there are more than `pairs_max`.
std::optional<std::vector<std::pair<std::string, std::string>>> DecodePairs(std::string_view text, size_t pairs_max);

// A query string as a map. Refuses, naming the parameter: names not in
// `allowed` (listing those that are), repeats, malformed escapes, and more
// than kQueryParametersMax parameters.
Result<Query> ParseQuery(std::string_view text, const std::set<std::string>& allowed);

// A whole number parameter within [minimum, maximum]; `default_value` when absent.
Result<uint64_t> ParseCount(const Query& query, const std::string& name, uint64_t default_value, uint64_t minimum,
                            uint64_t maximum);

// A request target fit for the access log: the path as sent, the query with
// the value of every parameter that can carry a secret or a person's address
// (kRedactedQueryParameters) replaced by "redacted" (a query that does not
// decode: replaced whole), and any URL's userinfo as "***". Control bytes are
// left to the log writer (common/log.h), which escapes them.
std::string RedactedTarget(std::string_view target);
// An RFC 3339 time parameter (refused naming it when malformed); nullopt when
// absent.
Result<std::optional<Instant>> ParseTimeParameter(const Query& query, const std::string& name);

// The point of the log a read asks for: ?as_of_seq=N or ?as_of=TIME (not
// both); neither: not given.
Result<projections::AsOfPoint> ParseAsOf(const Query& query);

// "Application/JSON; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type);

// 405 with the JSON error body and an Allow header.
HttpResponse MethodNotAllowed(const std::string& allowed);

}  // namespace ledger::http
