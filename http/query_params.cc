#include "http/query_params.h"

#include <algorithm>
#include <cctype>

#include "common/encoding.h"
#include "ingest/command.h"

namespace ledger::http {
namespace {

constexpr size_t kShownNameBytesMax = 64;

// A parameter name as it may be echoed in an error: cut, no control bytes,
// valid UTF-8.
std::string Printable(std::string_view name) { return QuotableText(name, kShownNameBytesMax); }

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> DecodePairs(std::string_view text, size_t pairs_max) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    if (pairs.size() >= pairs_max) return std::nullopt;
    const size_t equals = pair.find('=');
    std::optional<std::string> name = ingest::PercentDecode(pair.substr(0, equals));
    std::optional<std::string> value =
        ingest::PercentDecode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!name || !value) return std::nullopt;
    pairs.emplace_back(std::move(*name), std::move(*value));
  }
  return pairs;
}

Result<Query> ParseQuery(std::string_view text, const std::set<std::string>& allowed) {
  std::optional<std::vector<std::pair<std::string, std::string>>> pairs = DecodePairs(text, kQueryParametersMax);
  if (!pairs) {
    return InvalidArgument("", "malformed query string: a bad %-escape or more than " +
                                   std::to_string(kQueryParametersMax) + " parameters");
  }
  Query query;
  for (auto& [name, value] : *pairs) {
    if (!allowed.contains(name)) {
      std::string names;
      for (const std::string& known : allowed) names += (names.empty() ? "" : ", ") + known;
      const std::string shown = Printable(name);
      return InvalidArgument(shown, "unknown query parameter '" + shown + "'" +
                                        (names.empty() ? std::string() : "; accepted: " + names));
    }
    if (query.contains(name)) return InvalidArgument(name, name + " is given more than once");
    query.emplace(std::move(name), std::move(value));
  }
  return query;
}

Result<uint64_t> ParseCount(const Query& query, const std::string& name, uint64_t default_value, uint64_t minimum,
                            uint64_t maximum) {
  const auto found = query.find(name);
  if (found == query.end()) return default_value;
  const std::string& text = found->second;
  const std::string rule =
      name + " must be a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgument(name, rule);
  }
  const uint64_t value = std::stoull(text);
  if (value < minimum || value > maximum) return InvalidArgument(name, rule);
  return value;
}

Result<std::optional<Instant>> ParseTimeParameter(const Query& query, const std::string& name) {
  const auto found = query.find(name);
  if (found == query.end()) return std::optional<Instant>();
  Result<Instant> instant = ParseRfc3339(found->second, name);
  if (!instant) return instant.error();
  return std::optional<Instant>(*instant);
}

Result<projections::AsOfPoint> ParseAsOf(const Query& query) {
  projections::AsOfPoint as_of;
  if (query.contains("as_of_seq") && query.contains("as_of")) {
    return InvalidArgument("as_of", "give either as_of_seq or as_of, not both");
  }
  if (query.contains("as_of_seq")) {
    Result<uint64_t> seq = ParseCount(query, "as_of_seq", 0, 0, UINT64_MAX / 2);
    if (!seq) return seq.error();
    as_of.seq = *seq;
  }
  Result<std::optional<Instant>> time = ParseTimeParameter(query, "as_of");
  if (!time) return time.error();
  if (*time) as_of.micros = (*time)->unix_micros;
  return as_of;
}

std::string MediaType(std::string_view content_type) {
  std::string media(content_type.substr(0, content_type.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  std::transform(media.begin(), media.end(), media.begin(), [](unsigned char c) { return std::tolower(c); });
  return media;
}

HttpResponse MethodNotAllowed(const std::string& allowed) {
  HttpResponse response = ErrorResponse(
      MakeError(ErrorCode::kInvalidArgument, "method not allowed; this path takes " + allowed, "method"));
  response.status = 405;
  response.headers.emplace_back("Allow", allowed);
  return response;
}

namespace {

// Parameters whose values never reach the log: signed links' tokens and
// signatures, credentials, one-time codes, and e-mail addresses.
constexpr std::string_view kRedactedQueryParameters[] = {"token", "access_token", "sig",  "signature",
                                                          "secret", "password",     "key", "code", "email"};

// Finds `needle` in `text` from `from` on, ignoring ASCII case.
size_t FindIgnoringCase(std::string_view text, std::string_view needle, size_t from) {
  for (size_t i = from; i + needle.size() <= text.size(); ++i) {
    bool same = true;
    for (size_t k = 0; k < needle.size() && same; ++k) {
      same = std::tolower(static_cast<unsigned char>(text[i + k])) ==
             std::tolower(static_cast<unsigned char>(needle[k]));
    }
    if (same) return i;
  }
  return std::string_view::npos;
}

// `text` with the userinfo of every URL in it ("smtp://user:password@host",
// also percent-encoded as "smtp%3A%2F%2Fuser%3Apw%40host", as an absolute
// request target or a query value) replaced by "***": a log line never shows
// a URL's user name or password. The authority ends at '/', '?', '#', '&' or
// "%2F"; its userinfo runs up to its last '@' (or "%40").
std::string WithoutUserinfo(std::string text) {
  size_t from = 0;
  while (true) {
    const size_t plain = text.find("://", from);
    const size_t encoded = FindIgnoringCase(text, "%3A%2F%2F", from);
    const size_t scheme_end = std::min(plain, encoded);
    if (scheme_end == std::string::npos) return text;
    const size_t begin = scheme_end + (scheme_end == plain ? 3 : 9);
    size_t end = text.find_first_of("/?#&", begin);
    end = std::min(end == std::string::npos ? text.size() : end, FindIgnoringCase(text, "%2F", begin));
    // Where the userinfo ends: the last '@' or "%40" in the authority.
    size_t last_at = std::string::npos;
    for (size_t i = begin; i < end; ++i) {
      if (text[i] == '@' || FindIgnoringCase(std::string_view(text).substr(i, 3), "%40", 0) == 0) last_at = i;
    }
    if (last_at == std::string::npos) {
      from = begin;
      continue;
    }
    text.replace(begin, last_at - begin, "***");
    from = begin + 3;
  }
}

}  // namespace

std::string RedactedTarget(std::string_view target) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return WithoutUserinfo(std::string(target));
  std::string out(target.substr(0, question + 1));
  std::string_view query = target.substr(question + 1);
  bool first = true;
  while (true) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t equals = pair.find('=');
    const std::string_view raw_name = pair.substr(0, equals);
    const std::optional<std::string> name = ingest::PercentDecode(raw_name);
    if (!name) return WithoutUserinfo(out + "(query not decodable: redacted)");
    bool secret = false;
    for (const std::string_view redacted : kRedactedQueryParameters) {
      if (*name == redacted) secret = true;
    }
    if (!first) out.push_back('&');
    first = false;
    if (secret && equals != std::string_view::npos) {
      out.append(raw_name).append("=redacted");
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return WithoutUserinfo(std::move(out));
}

}  // namespace ledger::http
