#include "http/self_service.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/json_writer.h"
#include "common/time.h"
#include "http/auth.h"
#include "http/html.h"
#include "http/query_params.h"
#include "http/router.h"
#include "http/web.h"
#include "projections/notifications.h"

namespace ledger::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::hours kLimitWindow(1);
constexpr std::string_view kAcceptedMessage =
    "If the address can receive mail, a confirmation link is on its way to it. Nothing is subscribed until the "
    "link is used; it works for 72 hours.";

std::string SystemsText(const std::vector<std::string>& systems) {
  std::string text;
  for (const std::string& system : systems) {
    if (!text.empty()) text += ", ";
    text += system == projections::kAllSystems ? std::string("all systems") : system;
  }
  return text;
}

// The page answer of a link that cannot be used: 400 (malformed, altered)
// or 410 (expired).
HttpResponse LinkRefused(const Principal& principal, unsigned status, std::string_view message) {
  const std::string main = "<h1>This link cannot be used</h1>\n<p class=\"notice notice-error\">" +
                           HtmlEscape(message) +
                           "</p>\n<p><a href=\"/subscribe\">Ask for a new link</a></p>\n";
  return FramedPage(principal, status, "Link refused", main, {});
}

// The token of ?token=; a refusal page when the query is malformed.
Result<std::string> TokenOf(std::string_view query) {
  Result<Query> parsed = ParseQuery(query, {"token"});
  if (!parsed) return parsed.error();
  const auto found = parsed->find("token");
  if (found == parsed->end() || found->second.empty()) {
    return InvalidArgument("token", "the link carries no token: copy the whole link from the mail");
  }
  return found->second;
}

// A page with one button that POSTs back to the same link.
std::string ButtonForm(std::string_view action_path, std::string_view token, std::string_view label) {
  return "<form method=\"post\" action=\"" + std::string(action_path) + "?token=" +
         HtmlEscape(UrlEncodeComponent(token)) + "\"><button type=\"submit\">" + HtmlEscape(label) +
         "</button></form>\n";
}

std::string AcceptedJson() {
  JsonWriter json;
  json.BeginObject();
  json.Key("status");
  json.String("accepted");
  json.Key("message");
  json.String(kAcceptedMessage);
  json.EndObject();
  return json.Take();
}

}  // namespace

std::optional<std::chrono::seconds> HourlyLimit::Take(const std::string& key, SteadyClock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto expire = [now](std::deque<SteadyClock::time_point>* uses) {
    while (!uses->empty() && now - uses->front() >= kLimitWindow) uses->pop_front();
  };
  auto found = uses_.find(key);
  if (found == uses_.end()) {
    if (uses_.size() >= keys_max_) {
      // Full: forget the keys whose uses have all expired.
      for (auto entry = uses_.begin(); entry != uses_.end();) {
        expire(&entry->second);
        entry = entry->second.empty() ? uses_.erase(entry) : std::next(entry);
      }
      if (uses_.size() >= keys_max_) return std::chrono::seconds(60);
    }
    found = uses_.emplace(key, std::deque<SteadyClock::time_point>()).first;
  }
  std::deque<SteadyClock::time_point>& uses = found->second;
  expire(&uses);
  if (uses.size() >= per_hour_) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(uses.front() + kLimitWindow - now);
    return std::max(left, std::chrono::seconds(1));
  }
  uses.push_back(now);
  return std::nullopt;
}

std::string UnsubscribeUrl(const ingest::SubscriptionLinkKey& key, std::string_view public_url, std::string_view email) {
  const ingest::SubscriptionLink link{.purpose = ingest::LinkPurpose::kUnsubscribe,
                                      .email = std::string(email),
                                      .systems = {std::string(projections::kAllSystems)},
                                      .expires_unix_seconds = 0};
  return std::string(public_url) + "/unsubscribe?token=" + key.Sign(link);
}

std::string IncidentPageUrl(std::string_view public_url, std::string_view ticket) {
  return std::string(public_url) + "/incidents/" + UrlEncodeComponent(ticket);
}

SelfService::SelfService(SelfServiceDependencies dependencies) : deps_(std::move(dependencies)) {}

std::string SelfService::MissingPart() const {
  if (deps_.public_url.empty()) return "the service has no public URL (serve --public-url) to make links with";
  if (deps_.key == nullptr) return "the service has no key to sign links with";
  if (!deps_.send_confirmation) return "the service sends no mail (serve --smtp-url)";
  return {};
}

std::vector<Route> SelfService::Routes() {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  return {
      {"/subscribe", "GET, HEAD", viewer, "page_subscribe", RouteKind::kPage, "page_subscribe",
       [this](RouteCall call) {
         std::string main =
             "<h1>Subscribe to incident notices</h1>\n"
             "<p>Get a mail when an incident on one of your systems opens, changes or closes, and when "
             "maintenance on them is scheduled, starts or ends. Every mail has a link to stop them.</p>\n";
         const std::string missing = MissingPart();
         if (!missing.empty()) {
           main += "<p class=\"notice notice-error\">Subscribing here is not available: " + HtmlEscape(missing) +
                   ". Ask an administrator to subscribe you.</p>\n";
           return call.respond(FramedPage(call.principal, 200, "Subscribe", main, {}));
         }
         main += "<form id=\"subscribe-form\" method=\"post\" action=\"/api/v1/subscriptions/requests\">\n";
         if (call.principal.signed_in()) {
           main += "<input type=\"hidden\" name=\"csrf_token\" value=\"" + HtmlEscape(call.principal.csrf_token) +
                   "\">\n";
         }
         main += "<div class=\"field\"><label for=\"subscribe-email\">Your mail address</label>"
                 "<input id=\"subscribe-email\" name=\"email\" type=\"email\" required maxlength=\"" +
                 std::to_string(ingest::kEmailBytesMax) + "\" autocomplete=\"email\"></div>\n"
                 "<div class=\"field\"><label for=\"subscribe-systems\">Systems</label>"
                 "<input id=\"subscribe-systems\" name=\"systems\" type=\"text\" required "
                 "placeholder=\"mail, vpn\"><p class=\"hint\">Comma-separated, at most " +
                 std::to_string(ingest::kSelfServiceSystemsMax) +
                 "; letter case does not matter; a group (a site, a team) covers every system in it; * for every "
                 "system.</p></div>\n"
                 "<p class=\"notice notice-error\" id=\"subscribe-error\" role=\"alert\" hidden></p>\n"
                 "<button type=\"submit\">Send me a confirmation link</button>\n"
                 "</form>\n"
                 "<p class=\"notice\" id=\"subscribe-result\" role=\"status\" hidden></p>\n";
         call.respond(FramedPage(call.principal, 200, "Subscribe", main, {"/static/subscribe.js"}));
       }},
      {"/api/v1/subscriptions/requests", "POST", viewer, "subscription_requests", RouteKind::kJson,
       "subscription_requests",
       [this](RouteCall call) { Request(call.request, call.principal, std::move(call.respond)); }},
      {"/subscribe/confirm", "GET, HEAD, POST", RequiredAccess::Public(), "page_subscribe_confirm", RouteKind::kPage,
       "page_subscribe_confirm",
       [this](RouteCall call) { Confirm(call.request, call.query, call.principal, std::move(call.respond)); }},
      {"/unsubscribe", "GET, HEAD, POST", RequiredAccess::Public(), "page_unsubscribe", RouteKind::kPage,
       "page_unsubscribe",
       [this](RouteCall call) { Unsubscribe(call.request, call.query, call.principal, std::move(call.respond)); }},
  };
}

void SelfService::Request(const HttpRequest& request, const Principal& principal, Respond respond) {
  const std::string media_type = MediaType(request.content_type);
  const bool form = media_type == "application/x-www-form-urlencoded";
  if (!form && media_type != "application/json") {
    return respond(UnsupportedMediaType("application/json or application/x-www-form-urlencoded"));
  }
  if (const std::string missing = MissingPart(); !missing.empty()) {
    return respond(ErrorResponse(MakeError(ErrorCode::kUnavailable, "self-service subscription is off: " + missing)));
  }
  const SteadyClock::time_point now = SteadyClock::now();
  if (std::optional<std::chrono::seconds> wait = per_client_.Take(request.client_address, now)) {
    HttpResponse response = ErrorResponse(MakeError(
        ErrorCode::kUnavailable,
        "too many subscription requests from this address: at most " + std::to_string(kRequestsPerClientPerHour) +
            " an hour; try again in " + std::to_string(wait->count()) + " seconds",
        "rate_limit"));
    response.status = 429;
    response.headers.emplace_back("Retry-After", std::to_string(wait->count()));
    return respond(std::move(response));
  }
  Result<ingest::SelfServiceRequest> parsed = ingest::ParseSelfServiceRequest(request.body, form);
  if (!parsed && form) {
    // The page's form without its script: the error as a page.
    const std::string main = "<h1>Not sent</h1>\n<p class=\"notice notice-error\" id=\"subscribe-error\">" +
                             HtmlEscape(parsed.error().message) +
                             "</p>\n<p><a href=\"/subscribe\">Back to the form</a></p>\n";
    return respond(FramedPage(principal, 400, "Not sent", main, {}));
  }
  if (!parsed) return respond(ErrorResponse(parsed.error()));

  const int64_t now_seconds = NowMicros() / 1'000'000;
  const ingest::SubscriptionLink confirm{
      .purpose = ingest::LinkPurpose::kConfirm,
      .email = parsed->email,
      .systems = parsed->systems,
      .expires_unix_seconds = now_seconds + std::chrono::seconds(ingest::kConfirmLinkLifetime).count()};
  const std::string confirm_token = deps_.key->Sign(confirm);
  if (confirm_token.size() > ingest::kLinkTokenBytesMax) {
    return respond(ErrorResponse(InvalidArgument(
        "systems", "the systems named are too long together for a link; name fewer of them, or * for all")));
  }
  // Over the address's limit: the same answer, no mail (see the top).
  if (!per_address_.Take(parsed->email, now)) {
    const ConfirmationRequest mail{.email = parsed->email,
                                   .systems = parsed->systems,
                                   .confirm_url = deps_.public_url + "/subscribe/confirm?token=" + confirm_token,
                                   .unsubscribe_url = UnsubscribeUrl(*deps_.key, deps_.public_url, parsed->email)};
    if (!deps_.send_confirmation(mail)) {
      HttpResponse busy = ErrorResponse(
          MakeError(ErrorCode::kUnavailable, "too many confirmation mails are waiting to be sent; try again later"));
      busy.headers.emplace_back("Retry-After", "60");
      return respond(std::move(busy));
    }
  }
  if (form) {
    // The page's form without its script: a page rather than JSON.
    const std::string main = "<h1>Check your mail</h1>\n<p class=\"notice\" id=\"subscribe-result\">" +
                             HtmlEscape(kAcceptedMessage) + "</p>\n";
    return respond(FramedPage(principal, 202, "Check your mail", main, {}));
  }
  HttpResponse response;
  response.status = 202;
  response.body = AcceptedJson();
  respond(std::move(response));
}

void SelfService::Confirm(const HttpRequest& request, std::string_view query, const Principal& principal,
                          Respond respond) {
  Result<std::string> token = TokenOf(query);
  if (!token) return respond(LinkRefused(principal, 400, token.error().message));
  if (deps_.key == nullptr) return respond(LinkRefused(principal, 503, MissingPart()));
  Result<ingest::SubscriptionLink> link = deps_.key->Verify(*token, ingest::LinkPurpose::kConfirm);
  if (!link) return respond(LinkRefused(principal, 400, link.error().message));
  if (link->ExpiredAt(NowMicros() / 1'000'000)) {
    return respond(LinkRefused(principal, 410,
                               "this confirmation link has expired; ask for a new one (nothing was subscribed)"));
  }
  const std::string what = HtmlEscape(link->email) + "</strong> to notices about <strong>" +
                           HtmlEscape(SystemsText(link->systems));
  if (request.method != "POST") {
    // A GET only shows the button: mail scanners open links.
    const std::string main = "<h1>Confirm your subscription</h1>\n<p>Subscribe <strong>" + what +
                             "</strong>?</p>\n" + ButtonForm("/subscribe/confirm", *token, "Confirm subscription");
    return respond(FramedPage(principal, 200, "Confirm your subscription", main, {}));
  }
  ingest::SubscriptionCommand command{.action = ingest::SubscriptionAction::kAdd,
                                      .email = link->email,
                                      .systems = link->systems,
                                      .actor = std::string(kSelfActor)};
  deps_.subscriptions->SubmitAsync(
      std::move(command), [respond = std::move(respond), principal, what](Result<ingest::SubscriptionResult> result) {
        if (!result) {
          return respond(FramedPage(principal, StatusFor(result.error().code), "Not subscribed",
                                    "<h1>Not subscribed</h1>\n<p class=\"notice notice-error\">" +
                                        HtmlEscape(result.error().message) + "</p>\n",
                                    {}));
        }
        const std::string main = "<h1>Subscribed</h1>\n<p class=\"notice\" id=\"confirm-result\">" +
                                 std::string(result->repeated ? "Already subscribed: <strong>" : "Subscribed <strong>") +
                                 what + "</strong>.</p>\n<p>Every mail has a link to stop them.</p>\n";
        respond(FramedPage(principal, 200, "Subscribed", main, {}));
      });
}

void SelfService::Unsubscribe(const HttpRequest& request, std::string_view query, const Principal& principal,
                              Respond respond) {
  Result<std::string> token = TokenOf(query);
  if (!token) return respond(LinkRefused(principal, 400, token.error().message));
  if (deps_.key == nullptr) return respond(LinkRefused(principal, 503, MissingPart()));
  Result<ingest::SubscriptionLink> link = deps_.key->Verify(*token, ingest::LinkPurpose::kUnsubscribe);
  if (!link) return respond(LinkRefused(principal, 400, link.error().message));
  const std::string address = HtmlEscape(link->email);
  if (request.method != "POST") {
    const std::string main = "<h1>Unsubscribe</h1>\n<p>Stop every incident and maintenance mail to <strong>" +
                             address + "</strong>?</p>\n" + ButtonForm("/unsubscribe", *token, "Unsubscribe");
    return respond(FramedPage(principal, 200, "Unsubscribe", main, {}));
  }
  // RFC 8058: the body ("List-Unsubscribe=One-Click") says nothing the
  // token does not; it is not read.
  ingest::SubscriptionCommand command{.action = ingest::SubscriptionAction::kRemove,
                                      .email = link->email,
                                      .systems = {},
                                      .actor = std::string(kSelfActor)};
  deps_.subscriptions->SubmitAsync(
      std::move(command), [respond = std::move(respond), principal, address](Result<ingest::SubscriptionResult> result) {
        // Nothing left to remove is the answer wanted: unsubscribed.
        if (!result && result.error().code != ErrorCode::kNotFound) {
          return respond(FramedPage(principal, StatusFor(result.error().code), "Not unsubscribed",
                                    "<h1>Not unsubscribed</h1>\n<p class=\"notice notice-error\">" +
                                        HtmlEscape(result.error().message) + "</p>\n",
                                    {}));
        }
        const std::string main = "<h1>Unsubscribed</h1>\n<p class=\"notice\" id=\"unsubscribe-result\"><strong>" +
                                 address + "</strong> gets no more incident or maintenance mail.</p>\n"
                                 "<p><a href=\"/subscribe\">Subscribe again</a></p>\n";
        respond(FramedPage(principal, 200, "Unsubscribed", main, {}));
      });
}

}  // namespace ledger::http
