#pragma once
// Self-service subscriptions: a reader subscribes their own address, and any
// mail's one-click link unsubscribes it (DESIGN.md, second stage).
//
//   GET  /subscribe                          page: the form (address, systems)
//   POST /api/v1/subscriptions/requests      {"email","systems"} (JSON, or the
//        form's urlencoded body) -> 202, the same answer for every address;
//        a confirmation mail with a link is sent (ConfirmationSender); a
//        form body is answered with a page (202, or 400 naming the problem)
//   GET  /subscribe/confirm?token=           page: what the link would
//        subscribe, and a button that POSTs; a mail scanner's GET appends
//        nothing
//   POST /subscribe/confirm?token=           appends SUBSCRIPTION_ADDED (actor
//        "self") through ingest::SubscriptionProcessor; twice: nothing more
//   GET  /unsubscribe?token=                 page with a button that POSTs
//   POST /unsubscribe?token=                 RFC 8058 one-click: appends
//        SUBSCRIPTION_REMOVED of every system of the address (actor "self");
//        200 also when nothing is left to remove
//
// Tokens are ingest/subscription_links.h's. A tampered or malformed one is a
// 400 page, an expired one 410; neither appends anything.
//
// Limits (in memory, since the start; a restart forgets them): a client
// address may make kRequestsPerClientPerHour requests an hour (beyond: 429
// with Retry-After); an address is sent at most kMailsPerAddressPerHour
// confirmation mails an hour, beyond which requests still answer the same
// 202 and send nothing, so the answer never tells whether an address is
// known. Each limit tracks at most kLimitKeysMax keys; when full and none
// has expired, further requests count as over the limit.
//
// Without a public URL (serve --public-url), a link key or a mail sender, no
// link can be made or mailed: the request route answers 503 saying which,
// and the page says so.
//
// Thread safety: the routes may be called from many threads at once; POST
// answers of confirm and unsubscribe come from the ledger's writer thread.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"
#include "ingest/subscription_links.h"
#include "ingest/subscriptions.h"

namespace ledger::http {

struct Route;
struct Principal;

constexpr size_t kRequestsPerClientPerHour = 20;
constexpr size_t kMailsPerAddressPerHour = 3;
constexpr size_t kLimitKeysMax = 100'000;
constexpr std::string_view kSelfActor = "self";

// What the confirmation mail says: to whom, about what, and its two links.
struct ConfirmationRequest {
  std::string email;
  std::vector<std::string> systems;
  std::string confirm_url;
  std::string unsubscribe_url;
};

// Queues the confirmation mail (app/ wires notify::ConfirmationMailer);
// false when it cannot be queued now (the request answers 503).
using ConfirmationSender = std::function<bool(const ConfirmationRequest&)>;

struct SelfServiceDependencies {
  ingest::SubscriptionProcessor* subscriptions = nullptr;
  const ingest::SubscriptionLinkKey* key = nullptr;  // none: no links (503)
  ConfirmationSender send_confirmation;               // none: no mail (503)
  // serve --public-url without a trailing "/": where the links point.
  // Empty: no links.
  std::string public_url;
};

// Uses per key within a sliding hour. Thread-safe.
class HourlyLimit {
 public:
  explicit HourlyLimit(size_t per_hour, size_t keys_max = kLimitKeysMax) : per_hour_(per_hour), keys_max_(keys_max) {}
  // Counts one use by `key` at `now` when allowed and answers nullopt;
  // otherwise counts nothing and answers how long until one is allowed.
  std::optional<std::chrono::seconds> Take(const std::string& key, std::chrono::steady_clock::time_point now);

 private:
  const size_t per_hour_;
  const size_t keys_max_;
  std::mutex mutex_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> uses_;  // guarded by mutex_
};

// The one-click unsubscribe URL for `email` (every system), for the mails.
std::string UnsubscribeUrl(const ingest::SubscriptionLinkKey& key, std::string_view public_url, std::string_view email);
// The page of an incident, for the mails.
std::string IncidentPageUrl(std::string_view public_url, std::string_view ticket);

class SelfService {
 public:
  explicit SelfService(SelfServiceDependencies dependencies);
  // The rows above (router.h); they refer to this object, which must
  // outlive them.
  std::vector<Route> Routes();

 private:
  void Request(const HttpRequest& request, const Principal& principal, Respond respond);
  void Confirm(const HttpRequest& request, std::string_view query, const Principal& principal, Respond respond);
  void Unsubscribe(const HttpRequest& request, std::string_view query, const Principal& principal, Respond respond);
  // Why links cannot be mailed; empty when they can.
  std::string MissingPart() const;

  SelfServiceDependencies deps_;
  HourlyLimit per_client_{kRequestsPerClientPerHour};
  HourlyLimit per_address_{kMailsPerAddressPerHour};
};

}  // namespace ledger::http
