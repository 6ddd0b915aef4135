#pragma once
// The route table: every path the service answers, in one list of rows, and
// the one dispatch that uses it. A row says its path pattern, the methods it
// takes (the exact Allow text of its 405), who may call it, its metrics
// label, what kind of answer it gives, and its handler. Adding a route is
// adding a row where its module lists its rows (Api::Routes, Web::Routes,
// NotificationRouteRows); the router is the only place that decides, in this
// order:
//
//   1. the row for the path; none: access as a viewer, then 404 JSON
//      "no route for this path" (so a path without a route tells nobody
//      without credentials whether it exists);
//   2. access with the row's RequiredAccess (auth.h); a refused page answers
//      the sign-in form or an HTML 403, anything else JSON, with
//      WWW-Authenticate on 401, and 429 with Retry-After (seconds) when the
//      client's address is locked out for refused credentials;
//   3. the method: one the row lists (HEAD wherever GET is), else 405 with
//      the row's Allow text (an HTML page for pages, JSON otherwise);
//   4. the handler, whose answer is counted under the row's label.
//
// A read-only router (RouterOptions::read_only: `serve --read-only` and
// `serve --follow`, a mirror of another ledger) answers every request whose
// method is not GET or HEAD with 503 and a JSON error saying it is a
// read-only copy, after access and before the method check, without calling
// the handler; the only exceptions are the rows in kReadOnlyWritesAllowed,
// which change a browser's sign-in and never the ledger.
//
// A row cannot be written without its access: RequiredAccess has no default
// (auth.h), so a forgotten role does not compile, and nothing defaults to
// "viewer" any more. Nor without its description: `doc` names the row's
// entry in the OpenAPI document's table (openapi.h), which says its
// parameters, request bodies and answers; the document served at
// GET /api/v1/openapi.json is written from these rows, and Api refuses to
// start with a row whose entry is missing or does not cover its methods.
//
// Patterns are matched segment by segment ("/"-separated): a literal segment
// matches itself, "*" any one segment (empty too), and a final "**" the rest
// of the path (any number of segments). The text "*" or "**" matched is the
// call's `segment`. Two rows may share a pattern only when they take
// different methods (GET /api/v1/maintenance for viewers, POST for the help
// desk): the row that takes the request's method is the one that decides;
// for a method neither takes, the first of them decides access and the 405
// lists every method of the pattern. The router's constructor refuses a
// pattern repeated with a method in common (tests/http/router_test.cc walks
// the table).
//
// Thread safety: the table is built once and then only read; Handle may be
// called from many threads at once. `respond` is called exactly once, on
// whatever thread the handler answers from.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "http/auth.h"

namespace ledger::http {

class Metrics;

enum class RouteKind {
  kPage,    // an HTML page: refusals and 405 answer HTML
  kJson,    // a JSON answer
  kStream,  // a stream of events (Server-Sent Events)
  kAsset,   // a file of the pages (scripts, styles)
};

// What a handler is given.
struct RouteCall {
  const HttpRequest& request;
  const Principal& principal;  // who AccessControl admitted
  std::string_view path;
  std::string_view query;
  std::string_view segment;  // what the pattern's "*" or "**" matched; empty when it has none
  Respond respond;           // counts the answer under the row's label, then answers
};

using RouteHandler = std::function<void(RouteCall call)>;

struct Route {
  std::string_view pattern;  // "/api/v1/incidents/*/events"
  std::string_view allow;    // the methods, as the Allow header says them: "GET", "GET, HEAD, POST"
  RequiredAccess access;     // no default: every row says who may call it
  std::string_view label;    // the metrics label
  RouteKind kind;
  // Its entry in the API description (openapi.h: parameters, request
  // bodies, answers and their schemas), by name. No default either: a row
  // without one does not compile, and the router refuses an empty one.
  std::string_view doc;
  RouteHandler handler;
};

// Rows that take POST in a read-only router too: signing in and out.
inline constexpr std::string_view kReadOnlyWritesAllowed[] = {"/signin", "/signout"};

struct RouterOptions {
  bool read_only = false;  // a mirror: writes answer 503 (see the top)
};

// How the router answers refusals on pages (Web::Refusal, PageMethodNotAllowed).
struct PageAnswers {
  std::function<HttpResponse(const HttpRequest& request, const Error& error)> refusal;
  std::function<HttpResponse(const Principal& principal, std::string_view allow)> method_not_allowed;
};

class Router {
 public:
  // `access` null: every request has every role (tests). `pages` may be
  // empty (API only): refusals then answer JSON everywhere. Aborts on two
  // rows with the same pattern and a method in common, or a row without a
  // handler, methods, label or doc: programming errors found by any test.
  Router(std::vector<Route> routes, const AccessControl* access, Metrics* metrics, PageAnswers pages,
         RouterOptions options = {});

  void Handle(const HttpRequest& request, Respond respond) const;

  // The row for `path` and what its wildcard matched; null when none. Of
  // rows sharing the pattern, the one that takes `method` (the first when
  // none does or no method is given).
  const Route* Match(std::string_view path, std::string_view* segment) const;
  const Route* Match(std::string_view path, std::string_view method, std::string_view* segment) const;
  // Every method the rows of `route`'s pattern take, as an Allow header says
  // them.
  std::string AllowOf(const Route& route) const;
  const std::vector<Route>& routes() const { return routes_; }

  // True when a row's `allow` text admits `method` (HEAD wherever GET is).
  static bool Allows(std::string_view allow, std::string_view method);

 private:
  std::vector<Route> routes_;
  const AccessControl* access_;
  Metrics* metrics_;
  PageAnswers pages_;
  RouterOptions options_;
};

// The path of a request target (before '?'), and its query (after it).
std::string_view PathOf(std::string_view target);
std::string_view QueryOf(std::string_view target);

// The methods an Allow text lists, in its order ("GET, HEAD, POST" -> GET,
// HEAD, POST); views of `allow`.
std::vector<std::string_view> ListedMethods(std::string_view allow);

}  // namespace ledger::http
