#include "http/router.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/metrics.h"
#include "http/query_params.h"

namespace ledger::http {
namespace {

using Clock = std::chrono::steady_clock;

// The next "/"-separated segment of `*rest` (which starts after a "/"), and
// `*rest` moved past it; nullopt when nothing is left.
std::optional<std::string_view> NextSegment(std::string_view* rest, bool* done) {
  if (*done) return std::nullopt;
  const size_t slash = rest->find('/');
  if (slash == std::string_view::npos) {
    *done = true;
    return *rest;
  }
  std::string_view segment = rest->substr(0, slash);
  rest->remove_prefix(slash + 1);
  return segment;
}

bool Matches(std::string_view pattern, std::string_view path, std::string_view* segment) {
  if (pattern == path) {
    *segment = {};
    return true;
  }
  if (!pattern.starts_with('/') || !path.starts_with('/')) return false;
  pattern.remove_prefix(1);
  path.remove_prefix(1);
  bool pattern_done = false;
  bool path_done = false;
  std::string_view matched;
  while (std::optional<std::string_view> want = NextSegment(&pattern, &pattern_done)) {
    if (*want == "**") {
      // "**" only ends a pattern, and needs the "/" before it: "/static/**"
      // matches "/static/" and below, not "/static".
      if (!pattern_done || path_done) return false;
      *segment = path;
      return true;
    }
    std::optional<std::string_view> have = NextSegment(&path, &path_done);
    if (!have) return false;
    if (*want == "*") {
      matched = *have;
    } else if (*want != *have) {
      return false;
    }
  }
  if (!path_done) return false;
  *segment = matched;
  return true;
}

// The methods a row takes: those its Allow text lists, HEAD wherever GET is.
std::vector<std::string> MethodsOf(std::string_view allow) {
  std::vector<std::string> methods;
  for (const std::string_view listed : ListedMethods(allow)) {
    methods.emplace_back(listed);
    if (listed == "GET") methods.emplace_back("HEAD");
  }
  return methods;
}

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view QueryOf(std::string_view target) {
  const size_t mark = target.find('?');
  return mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
}

Router::Router(std::vector<Route> routes, const AccessControl* access, Metrics* metrics, PageAnswers pages,
               RouterOptions options)
    : routes_(std::move(routes)), access_(access), metrics_(metrics), pages_(std::move(pages)), options_(options) {
  // (pattern, method) pairs: a pattern may repeat with other methods only.
  std::set<std::pair<std::string_view, std::string>> taken;
  for (const Route& route : routes_) {
    bool repeated = false;
    const std::vector<std::string> listed = MethodsOf(route.allow);
    for (const std::string& method : std::set<std::string>(listed.begin(), listed.end())) {
      repeated = repeated || !taken.emplace(route.pattern, method).second;
    }
    if (repeated || !route.handler || route.allow.empty() || route.label.empty() || route.doc.empty()) {
      std::fprintf(stderr, "incident-ledger: the route table has a bad or repeated row for %.*s\n",
                   static_cast<int>(route.pattern.size()), route.pattern.data());
      std::abort();
    }
  }
}

std::string Router::AllowOf(const Route& route) const {
  std::string allow;
  for (const Route& other : routes_) {
    if (other.pattern != route.pattern) continue;
    allow += (allow.empty() ? "" : ", ") + std::string(other.allow);
  }
  return allow;
}

const Route* Router::Match(std::string_view path, std::string_view* segment) const {
  return Match(path, std::string_view(), segment);
}

const Route* Router::Match(std::string_view path, std::string_view method, std::string_view* segment) const {
  // The rows sharing the first matching pattern: the one taking `method`,
  // else the first.
  const auto pick = [&](const Route& first) {
    if (method.empty() || Allows(first.allow, method)) return &first;
    for (const Route& other : routes_) {
      if (other.pattern == first.pattern && Allows(other.allow, method)) return &other;
    }
    return &first;
  };
  // Literal rows first: "/api/v1/events/stream" is not "/api/v1/events/*".
  for (const Route& route : routes_) {
    if (route.pattern == path) {
      *segment = {};
      return pick(route);
    }
  }
  for (const Route& route : routes_) {
    if (route.pattern.find('*') != std::string_view::npos && Matches(route.pattern, path, segment)) return pick(route);
  }
  return nullptr;
}

bool Router::Allows(std::string_view allow, std::string_view method) {
  if (method.empty()) return false;
  while (!allow.empty()) {
    const size_t comma = allow.find(',');
    std::string_view listed = allow.substr(0, comma);
    while (listed.starts_with(' ')) listed.remove_prefix(1);
    if (listed == method || (method == "HEAD" && listed == "GET")) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 1);
  }
  return false;
}

void Router::Handle(const HttpRequest& request, Respond respond) const {
  const Clock::time_point start = Clock::now();
  const std::string_view path = PathOf(request.target);
  std::string_view segment;
  const Route* route = Match(path, request.method, &segment);
  Metrics* metrics = metrics_;
  std::string principal_name;  // set once access admits someone
  const auto counted = [metrics, start, respond, &principal_name](std::string_view label) {
    return [metrics, start, respond, label, name = principal_name](HttpResponse response) {
      metrics->CountRequest(label, response.status, SecondsSince(start));
      response.principal = name;
      respond(std::move(response));
    };
  };
  const bool page = route != nullptr && route->kind == RouteKind::kPage;

  Principal principal{.roles = kAllRoles, .open_mode = true};
  if (access_ != nullptr) {
    // A path without a route answers 404 to whoever may read (see the top).
    const RequiredAccess needed = route != nullptr ? route->access : RequiredAccess::Needs(Role::kViewer);
    Result<Principal> checked = access_->Check(request, needed);
    if (!checked) {
      HttpResponse response = page && pages_.refusal ? pages_.refusal(request, checked.error())
                                                     : ErrorResponse(checked.error());
      if (checked.error().code == ErrorCode::kUnauthenticated) {
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"incident-ledger\"");
      }
      if (checked.error().field == kLockedOutField) {
        // Too many refused credentials from this address (auth.h).
        response.status = 429;
        const std::chrono::seconds left = access_->LockedOutFor(request.client_address).value_or(std::chrono::seconds(1));
        response.headers.emplace_back("Retry-After", std::to_string(left.count()));
      }
      return counted("refused")(std::move(response));
    }
    principal = std::move(*checked);
    principal_name = principal.name;
  }
  if (route == nullptr) {
    return counted("not_found")(
        ErrorResponse(MakeError(ErrorCode::kNotFound, "no route for this path")));
  }
  if (options_.read_only && request.method != "GET" && request.method != "HEAD" &&
      std::find(std::begin(kReadOnlyWritesAllowed), std::end(kReadOnlyWritesAllowed), route->pattern) ==
          std::end(kReadOnlyWritesAllowed)) {
    return counted(route->label)(ErrorResponse(
        MakeError(ErrorCode::kUnavailable,
                  "this service is a read-only copy of the ledger (a mirror): it takes no writes; send " +
                      std::string(request.method) + " " + std::string(path) + " to the primary ledger",
                  "read_only")));
  }
  if (!Allows(route->allow, request.method)) {
    const std::string allow = AllowOf(*route);
    return counted(route->label)(page && pages_.method_not_allowed ? pages_.method_not_allowed(principal, allow)
                                                                   : MethodNotAllowed(allow));
  }
  route->handler(RouteCall{.request = request,
                           .principal = principal,
                           .path = path,
                           .query = QueryOf(request.target),
                           .segment = segment,
                           .respond = counted(route->label)});
}

std::vector<std::string_view> ListedMethods(std::string_view allow) {
  std::vector<std::string_view> methods;
  while (!allow.empty()) {
    const size_t comma = allow.find(',');
    std::string_view listed = allow.substr(0, comma);
    while (listed.starts_with(' ')) listed.remove_prefix(1);
    if (!listed.empty()) methods.push_back(listed);
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 1);
  }
  return methods;
}

}  // namespace ledger::http
