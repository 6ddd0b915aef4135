#pragma once
// Self-service subscription links: the request a reader makes
// (POST /api/v1/subscriptions/requests) and the signed tokens in the links
// the service mails back (confirm a subscription, unsubscribe in one click).
//
// A token is the link's own proof: no table of issued tokens is kept. It is
//
//   base64url(payload) "." base64url(HMAC-SHA256(key, kLinkTokenDomain || payload))
//
// (base64url without padding), where the payload is lines ending in "\n":
//
//   purpose            "confirm" or "unsubscribe"
//   address            normalised (NormalizeEmail)
//   expires            Unix seconds; 0: never (unsubscribe links)
//   system...          one line each, folded (subscriptions.h); "*": all
//
// The key is 32 random bytes kept in the data folder (kLinkKeyFile, mode
// 0600, 64 hex digits), made at the first start, like the tree-head key.
// Tags are compared in constant time. An unsubscribe token never expires, so
// that the same mail job always gives the same bytes (notify/message.h) and
// an old mail's link still works; a confirm token expires after
// kConfirmLinkLifetime.
//
// Thread safety: a SubscriptionLinkKey is immutable after Open; its methods
// may be called from many threads. Everything else here is pure.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ledger::ingest {

constexpr std::string_view kLinkKeyFile = "subscription-link-key";
constexpr size_t kLinkKeyBytes = 32;
constexpr std::string_view kLinkTokenDomain = "incident-ledger subscription link v1\n";
// A token longer than this is refused before it is decoded (a link in a
// mail stays well below the 2,000 characters mail clients handle).
constexpr size_t kLinkTokenBytesMax = 2048;
// Systems one self-service request may name (the token carries them all).
constexpr size_t kSelfServiceSystemsMax = 20;
constexpr std::chrono::seconds kConfirmLinkLifetime = std::chrono::hours(72);

enum class LinkPurpose { kConfirm, kUnsubscribe };
std::string_view LinkPurposeName(LinkPurpose purpose);

struct SubscriptionLink {
  LinkPurpose purpose = LinkPurpose::kConfirm;
  std::string email;                 // normalised
  std::vector<std::string> systems;  // folded; {"*"}: all
  int64_t expires_unix_seconds = 0;  // 0: never
  bool ExpiredAt(int64_t now_unix_seconds) const {
    return expires_unix_seconds != 0 && now_unix_seconds >= expires_unix_seconds;
  }
};

class SubscriptionLinkKey {
 public:
  // The key of the ledger in `data_folder` (kLinkKeyFile): read, or made
  // (mode 0600) when absent and `create`. kNotFound when absent and not
  // `create`; kPermissionDenied when group or others may use the file (it
  // would let them make links for any address); kCorruption when it is not
  // 64 hex digits; kIoError when it cannot be read or written.
  static Result<std::unique_ptr<SubscriptionLinkKey>> Open(const std::string& data_folder, bool create);
  // A key from its raw bytes (kLinkKeyBytes of them): tests.
  explicit SubscriptionLinkKey(std::string key_bytes);

  // The token for `link` (see the top). `link` must hold a normalised
  // address and at least one system, none holding a line break.
  std::string Sign(const SubscriptionLink& link) const;
  // The link a token stands for, when its tag is this key's and its purpose
  // is `purpose`. Refused as kInvalidArgument (field "token") saying why:
  // too long, not two base64url parts, a tag that does not match (altered,
  // or made with another key), a malformed payload, another purpose. Expiry
  // is the caller's to check (SubscriptionLink::ExpiredAt), so that it can
  // answer an expired link apart (410).
  Result<SubscriptionLink> Verify(std::string_view token, LinkPurpose purpose) const;

 private:
  std::string Tag(std::string_view payload) const;
  std::string key_;
};

// A self-service request: JSON {"email", "systems": [..] or "a, b"} or a form
// body (email=..&systems=a,b); `form` says which. Systems are checked and
// folded as for POST /api/v1/subscriptions, at most kSelfServiceSystemsMax,
// "*" for all. kInvalidArgument naming the field and the rule; unknown
// fields are refused (a form's csrf_token aside).
struct SelfServiceRequest {
  std::string email;
  std::vector<std::string> systems;
};
Result<SelfServiceRequest> ParseSelfServiceRequest(std::string_view body, bool form);

// base64url without padding (RFC 4648 section 5), and its strict inverse.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace ledger::ingest
