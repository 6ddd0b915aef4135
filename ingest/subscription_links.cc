#include "ingest/subscription_links.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/file.h"
#include "common/text.h"
#include "ingest/command.h"
#include "ingest/json_body.h"
#include "ingest/subscriptions.h"
#include "projections/notifications.h"

namespace ledger::ingest {
namespace {

constexpr size_t kKeyFileBytesMax = 256;
constexpr size_t kRequestJsonDepthMax = 4;
constexpr size_t kRequestFormPairsMax = 8;
constexpr size_t kShownFieldBytesMax = 64;
constexpr std::string_view kAcceptedFields = "email, systems";

Error BadToken(const std::string& why) { return InvalidArgument("token", "the link is not valid: " + why); }

// Adds one system (raw text) to `systems`, folded and unique.
Status AddSystem(std::string_view raw, std::vector<std::string>* systems) {
  Result<std::string> system = CheckSubscriptionSystem(raw);
  if (!system) return system.error();
  if (std::find(systems->begin(), systems->end(), *system) != systems->end()) return {};
  if (systems->size() == kSelfServiceSystemsMax) {
    return InvalidArgument("systems", "systems may name at most " + std::to_string(kSelfServiceSystemsMax) +
                                          " systems; use * for all");
  }
  systems->push_back(std::move(*system));
  return {};
}

// "a, b,c" -> each trimmed name; empty names between commas are refused.
Status AddSystemList(std::string_view text, std::vector<std::string>* systems) {
  if (Trim(text).empty()) return {};
  while (true) {
    const size_t comma = text.find(',');
    if (Status added = AddSystem(text.substr(0, comma), systems); !added) return added;
    if (comma == std::string_view::npos) return {};
    text.remove_prefix(comma + 1);
  }
}

Status CheckComplete(const SelfServiceRequest& request) {
  if (request.email.empty()) return InvalidArgument("email", "email is required: an address like name@example.org");
  if (request.systems.empty()) {
    return InvalidArgument("systems", "systems is required: name at least one system, or * for all");
  }
  return {};
}

Result<SelfServiceRequest> ParseJson(std::string_view body) {
  JsonObjectBody parsed;
  if (Status body_ok = ParseJsonObjectBody(body, kRequestJsonDepthMax, &parsed); !body_ok) return body_ok.error();
  SelfServiceRequest request;
  std::set<std::string> seen;
  for (const auto [key, value] : parsed.object) {
    const std::string name(key);
    if (name != "email" && name != "systems") {
      const std::string shown = QuotableText(name, kShownFieldBytesMax);
      return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: " + std::string(kAcceptedFields));
    }
    if (!seen.insert(name).second) return InvalidArgument(name, name + " is given more than once");
    if (name == "systems") {
      std::string_view text;
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        if (Status added = AddSystemList(text, &request.systems); !added) return added.error();
        continue;
      }
      simdjson::dom::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) {
        return InvalidArgument("systems", "systems must be an array of strings, e.g. [\"mail\"] or [\"*\"]");
      }
      for (const simdjson::dom::element item : array) {
        if (item.get_string().get(text) != simdjson::SUCCESS) {
          return InvalidArgument("systems", "systems must be an array of strings");
        }
        if (Status added = AddSystem(text, &request.systems); !added) return added.error();
      }
      continue;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument("email", "email must be a string");
    Result<std::string> email = NormalizeEmail(text);
    if (!email) return email.error();
    request.email = std::move(*email);
  }
  if (Status complete = CheckComplete(request); !complete) return complete.error();
  return request;
}

Result<SelfServiceRequest> ParseForm(std::string_view body) {
  SelfServiceRequest request;
  std::set<std::string> seen;
  size_t pairs = 0;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (++pairs > kRequestFormPairsMax) {
      return InvalidArgument("body", "the form has more than " + std::to_string(kRequestFormPairsMax) + " fields");
    }
    const size_t equals = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, equals));
    std::optional<std::string> value =
        PercentDecode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!name || !value) return InvalidArgument("body", "the form body has a malformed percent escape");
    if (*name == "csrf_token") continue;  // the access check's (http/auth.h)
    if (*name != "email" && *name != "systems") {
      const std::string shown = QuotableText(*name, kShownFieldBytesMax);
      return InvalidArgument(shown, "unknown field '" + shown + "'; accepted fields: " + std::string(kAcceptedFields));
    }
    if (!seen.insert(*name).second) return InvalidArgument(*name, *name + " is given more than once");
    if (*name == "systems") {
      if (Status added = AddSystemList(*value, &request.systems); !added) return added.error();
      continue;
    }
    Result<std::string> email = NormalizeEmail(*value);
    if (!email) return email.error();
    request.email = std::move(*email);
  }
  if (Status complete = CheckComplete(request); !complete) return complete.error();
  return request;
}

// Splits the payload into its lines (each ended by "\n").
std::optional<std::vector<std::string_view>> PayloadLines(std::string_view payload) {
  std::vector<std::string_view> lines;
  while (!payload.empty()) {
    const size_t end = payload.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    lines.push_back(payload.substr(0, end));
    payload.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

std::string_view LinkPurposeName(LinkPurpose purpose) {
  return purpose == LinkPurpose::kConfirm ? "confirm" : "unsubscribe";
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;  // not base64url
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (standard.size() % 4 != 0) standard.push_back('=');
  std::optional<std::string> bytes = Base64Decode(standard);
  // Only the canonical spelling: a token has one text.
  if (!bytes || Base64UrlEncode(*bytes) != text) return std::nullopt;
  return bytes;
}

Result<std::unique_ptr<SubscriptionLinkKey>> SubscriptionLinkKey::Open(const std::string& data_folder, bool create) {
  const std::string path = (std::filesystem::path(data_folder) / kLinkKeyFile).string();
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (!exists) {
    if (!create) return MakeError(ErrorCode::kNotFound, "no subscription link key at " + path);
    std::string raw(kLinkKeyBytes, '\0');
    // RAND_bytes fails only when the system has no entropy source at all.
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1) {
      return MakeError(ErrorCode::kIoError, "cannot make a subscription link key: no randomness");
    }
    if (Status written = WriteFileAtomically(path, HexEncode(raw) + "\n"); !written) return written.error();
  }
  // Anyone who can read the key can make links for any address.
  Result<std::string> text = ReadPrivateFile(path, kKeyFileBytesMax, "subscription link key");
  if (!text) return text.error();
  std::optional<std::string> key = HexDecode(Trim(*text));
  if (!key || key->size() != kLinkKeyBytes) {
    return MakeError(ErrorCode::kCorruption, "the subscription link key " + path + " is not " +
                                                 std::to_string(kLinkKeyBytes * 2) + " hex digits");
  }
  return std::make_unique<SubscriptionLinkKey>(std::move(*key));
}

SubscriptionLinkKey::SubscriptionLinkKey(std::string key_bytes) : key_(std::move(key_bytes)) {
  LEDGER_ASSERT(key_.size() == kLinkKeyBytes);
}

std::string SubscriptionLinkKey::Tag(std::string_view payload) const {
  const std::string message = std::string(kLinkTokenDomain) + std::string(payload);
  unsigned char tag[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  LEDGER_ASSERT(HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
                     reinterpret_cast<const unsigned char*>(message.data()), message.size(), tag, &length) != nullptr);
  return std::string(reinterpret_cast<const char*>(tag), length);
}

std::string SubscriptionLinkKey::Sign(const SubscriptionLink& link) const {
  LEDGER_ASSERT(!link.systems.empty());
  std::string payload = std::string(LinkPurposeName(link.purpose)) + "\n" + link.email + "\n" +
                        std::to_string(link.expires_unix_seconds) + "\n";
  for (const std::string& system : link.systems) {
    LEDGER_ASSERT(system.find('\n') == std::string::npos);
    payload += system + "\n";
  }
  return Base64UrlEncode(payload) + "." + Base64UrlEncode(Tag(payload));
}

Result<SubscriptionLink> SubscriptionLinkKey::Verify(std::string_view token, LinkPurpose purpose) const {
  if (token.empty()) return BadToken("it carries no token");
  if (token.size() > kLinkTokenBytesMax) {
    return BadToken("the token is longer than " + std::to_string(kLinkTokenBytesMax) + " characters");
  }
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return BadToken("the token is not two parts joined by a dot (was the link cut short?)");
  }
  std::optional<std::string> payload = Base64UrlDecode(token.substr(0, dot));
  std::optional<std::string> tag = Base64UrlDecode(token.substr(dot + 1));
  if (!payload || !tag) return BadToken("the token is not base64url text (was the link cut short?)");
  const std::string expected = Tag(*payload);
  if (tag->size() != expected.size() || CRYPTO_memcmp(tag->data(), expected.data(), expected.size()) != 0) {
    return BadToken("its signature does not match: the link was altered or was not made by this service");
  }
  // Signed by this service: what follows fails only if the signing code
  // changed its format, which a version bump of kLinkTokenDomain would say.
  std::optional<std::vector<std::string_view>> lines = PayloadLines(*payload);
  if (!lines || lines->size() < 4) return BadToken("its content is malformed");
  SubscriptionLink link;
  if ((*lines)[0] == "confirm") {
    link.purpose = LinkPurpose::kConfirm;
  } else if ((*lines)[0] == "unsubscribe") {
    link.purpose = LinkPurpose::kUnsubscribe;
  } else {
    return BadToken("its content is malformed");
  }
  if (link.purpose != purpose) {
    const auto named = [](LinkPurpose which) {
      return std::string(which == LinkPurpose::kConfirm ? "a confirmation link" : "an unsubscribe link");
    };
    return BadToken("it is " + named(link.purpose) + ", not " + named(purpose));
  }
  Result<std::string> email = NormalizeEmail((*lines)[1]);
  if (!email) return BadToken("its address is malformed");
  link.email = std::move(*email);
  const std::string_view expires = (*lines)[2];
  if (expires.empty() || expires.size() > 18 ||
      !std::all_of(expires.begin(), expires.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return BadToken("its expiry is malformed");
  }
  link.expires_unix_seconds = std::stoll(std::string(expires));
  for (size_t i = 3; i < lines->size(); ++i) link.systems.emplace_back((*lines)[i]);
  return link;
}

Result<SelfServiceRequest> ParseSelfServiceRequest(std::string_view body, bool form) {
  return form ? ParseForm(body) : ParseJson(body);
}

}  // namespace ledger::ingest
