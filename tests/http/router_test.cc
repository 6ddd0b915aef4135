// The route table (http/router.h): pattern matching, the order of decisions
// (route, access, method, handler), and the service's own table walked row
// by row against the roles the README documents.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "http/api.h"
#include "http/followups_api.h"
#include "http/imports_api.h"
#include "http/auth.h"
#include "http/maintenance_api.h"
#include "http/metrics.h"
#include "http/notifications_api.h"
#include "http/router.h"
#include "http/systems_api.h"
#include "http/self_service.h"
#include "http/web.h"
#include "tests/http_test_support.h"

namespace {

using ledger::http::AccessControl;
using ledger::http::AuthFile;
using ledger::http::HttpRequest;
using ledger::http::HttpResponse;
using ledger::http::RequiredAccess;
using ledger::http::Role;
using ledger::http::Route;
using ledger::http::RouteCall;
using ledger::http::RouteKind;
using ledger::http::Router;

using ledger::http::test_support::HashLine;

HttpRequest Request(std::string method, std::string target, const std::string& token = {}) {
  HttpRequest request = ledger::http::test_support::Request(std::move(method), std::move(target));
  if (!token.empty()) request.authorization = "Bearer " + token;
  return request;
}

HttpResponse Call(const Router& router, const HttpRequest& request) {
  std::optional<HttpResponse> answer;
  router.Handle(request, [&](HttpResponse response) {
    ASSERT_FALSE(answer) << "respond called twice";
    answer = std::move(response);
  });
  EXPECT_TRUE(answer) << "respond never called";
  return answer.value_or(HttpResponse{});
}

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

// A handler that answers 200 with what it was given.
ledger::http::RouteHandler Echo(std::string name) {
  return [name](RouteCall call) {
    HttpResponse response;
    response.body = name + "|" + std::string(call.segment) + "|" + std::string(call.query) + "|" + call.principal.name;
    call.respond(std::move(response));
  };
}

std::vector<Route> SampleRows() {
  return {
      {"/items", "GET", RequiredAccess::Needs(Role::kViewer), "items", RouteKind::kJson, "sample", Echo("items")},
      {"/items/*", "GET, DELETE", RequiredAccess::Needs(Role::kAdmin), "item", RouteKind::kJson, "sample",
       Echo("item")},
      {"/items/*/events", "GET", RequiredAccess::Needs(Role::kViewer), "item_events", RouteKind::kJson, "sample",
       Echo("item_events")},
      {"/items/special", "POST", RequiredAccess::Needs(Role::kHelpdesk), "special", RouteKind::kJson, "sample",
       Echo("special")},
      {"/files/**", "GET, HEAD", RequiredAccess::Public(), "files", RouteKind::kAsset, "sample", Echo("files")},
  };
}

TEST(Router, MatchesLiteralsBeforeWildcardsAndOneSegmentPerStar) {
  ledger::http::Metrics metrics;
  Router router(SampleRows(), nullptr, &metrics, {});
  const auto matched = [&](std::string_view path) -> std::string {
    std::string_view segment;
    const Route* route = router.Match(path, &segment);
    return route == nullptr ? "none" : std::string(route->label) + ":" + std::string(segment);
  };
  EXPECT_EQ(matched("/items"), "items:");
  EXPECT_EQ(matched("/items/42"), "item:42");
  EXPECT_EQ(matched("/items/"), "item:");  // the handler decides what an empty name means
  EXPECT_EQ(matched("/items/special"), "special:");
  EXPECT_EQ(matched("/items/42/events"), "item_events:42");
  EXPECT_EQ(matched("/items/42/other"), "none");
  EXPECT_EQ(matched("/items/42/events/x"), "none");
  EXPECT_EQ(matched("/files/a/b.css"), "files:a/b.css");
  EXPECT_EQ(matched("/files"), "none");
  EXPECT_EQ(matched("/files/"), "files:");
  EXPECT_EQ(matched("/itemsx"), "none");
  EXPECT_EQ(matched(""), "none");
}

TEST(Router, ReadOnlyAnswers503ToEveryWriteBeforeItsHandlerAndServesReads) {
  ledger::http::Metrics metrics;
  std::vector<Route> rows = SampleRows();
  rows.push_back(
      {"/signin", "GET, HEAD, POST", RequiredAccess::Public(), "signin", RouteKind::kPage, "sample", Echo("signin")});
  Router router(std::move(rows), nullptr, &metrics, {}, ledger::http::RouterOptions{.read_only = true});
  EXPECT_EQ(Call(router, Request("GET", "/items")).status, 200u);
  EXPECT_EQ(Call(router, Request("HEAD", "/files/a.css")).status, 200u);
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/items/special"}, {"DELETE", "/items/42"}, {"PUT", "/items/42"}, {"POST", "/items"}}) {
    SCOPED_TRACE(method + " " + target);
    const HttpResponse refused = Call(router, Request(method, target));
    EXPECT_EQ(refused.status, 503u);
    EXPECT_NE(refused.body.find("read-only copy"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("\"field\":\"read_only\""), std::string::npos) << refused.body;
  }
  // Signing in changes a browser's session, never the ledger.
  EXPECT_EQ(Call(router, Request("POST", "/signin")).status, 200u);
  // An unknown path is still 404, not 503.
  EXPECT_EQ(Call(router, Request("POST", "/nowhere")).status, 404u);
}

TEST(Router, AllowsTheListedMethodsAndHeadWhereverGetIs) {
  EXPECT_TRUE(Router::Allows("GET", "GET"));
  EXPECT_TRUE(Router::Allows("GET", "HEAD"));
  EXPECT_FALSE(Router::Allows("GET", "POST"));
  EXPECT_TRUE(Router::Allows("GET, POST, DELETE", "DELETE"));
  EXPECT_FALSE(Router::Allows("POST", "HEAD"));
  EXPECT_FALSE(Router::Allows("GET, POST", "get"));
  EXPECT_FALSE(Router::Allows("GET, POST", ""));
  EXPECT_FALSE(Router::Allows("GET, POST", "GET, POST"));
}

TEST(Router, DecidesRouteThenAccessThenMethodThenCallsTheHandler) {
  ledger::Result<AuthFile> file = AuthFile::Parse(HashLine("wall", "viewer", "token-wall") + "\n" +
                                                  HashLine("root", "admin", "token-root"));
  ASSERT_TRUE(file);
  AccessControl access(std::move(*file));
  ledger::http::Metrics metrics;
  Router router(SampleRows(), &access, &metrics, {});

  // No route: who may not read learns nothing; who may read hears 404.
  HttpResponse response = Call(router, Request("GET", "/nothing"));
  EXPECT_EQ(response.status, 401u);
  EXPECT_NE(Header(response, "WWW-Authenticate").find("Bearer"), std::string::npos);
  response = Call(router, Request("GET", "/nothing", "token-wall"));
  EXPECT_EQ(response.status, 404u);
  EXPECT_NE(response.body.find("no route for this path"), std::string::npos) << response.body;

  // Access before the method: a viewer hears 403 even with a wrong method.
  EXPECT_EQ(Call(router, Request("PUT", "/items/7", "token-wall")).status, 403u);
  response = Call(router, Request("PUT", "/items/7", "token-root"));
  EXPECT_EQ(response.status, 405u);
  EXPECT_EQ(Header(response, "Allow"), "GET, DELETE");
  EXPECT_NE(response.body.find("method not allowed"), std::string::npos) << response.body;

  // The handler: segment, query and principal.
  response = Call(router, Request("DELETE", "/items/7?x=1", "token-root"));
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.body, "item|7|x=1|root");
  EXPECT_EQ(Call(router, Request("HEAD", "/items", "token-wall")).body, "items|||wall");

  // A public row needs nothing, and a page-less router answers JSON.
  EXPECT_EQ(Call(router, Request("GET", "/files/app.css")).body, "files|app.css||");
  EXPECT_EQ(Call(router, Request("POST", "/files/app.css")).status, 405u);

  // Every answer was counted under its row's label (or refused/not_found).
  const std::string text = metrics.Render(ledger::LedgerStats{}, 0, 0);
  for (const char* label : {"route=\"refused\"", "route=\"not_found\"", "route=\"item\"", "route=\"files\""}) {
    EXPECT_NE(text.find(label), std::string::npos) << label << "\n" << text;
  }
}

// Two rows may share a pattern with other methods: each method goes to its
// row (and its role); a method neither takes is refused with every method of
// the pattern, after the first row's access check.
TEST(Router, RowsSharingAPatternSplitItsMethods) {
  ledger::Result<AuthFile> file = AuthFile::Parse(HashLine("wall", "viewer", "token-wall") + "\n" +
                                                  HashLine("desk", "helpdesk", "token-desk"));
  ASSERT_TRUE(file);
  AccessControl access(std::move(*file));
  ledger::http::Metrics metrics;
  std::vector<Route> rows = {
      {"/windows", "GET", RequiredAccess::Needs(Role::kViewer), "windows", RouteKind::kJson, "sample", Echo("list")},
      {"/windows", "POST", RequiredAccess::Needs(Role::kHelpdesk), "windows_submit", RouteKind::kJson, "sample",
       Echo("post")},
  };
  Router router(std::move(rows), &access, &metrics, {});
  EXPECT_EQ(Call(router, Request("GET", "/windows", "token-wall")).body, "list|||wall");
  EXPECT_EQ(Call(router, Request("HEAD", "/windows", "token-wall")).body, "list|||wall");
  EXPECT_EQ(Call(router, Request("POST", "/windows", "token-wall")).status, 403u);
  EXPECT_EQ(Call(router, Request("POST", "/windows", "token-desk")).body, "post|||desk");
  EXPECT_EQ(Call(router, Request("POST", "/windows")).status, 401u);
  HttpResponse refused = Call(router, Request("DELETE", "/windows", "token-wall"));
  EXPECT_EQ(refused.status, 405u);
  EXPECT_EQ(Header(refused, "Allow"), "GET, POST");
  std::string_view segment;
  EXPECT_EQ(router.Match("/windows", "POST", &segment)->label, "windows_submit");
  EXPECT_EQ(router.Match("/windows", &segment)->label, "windows");
}

// The service's table as app/main.cc assembles it (Api, Web and the
// notification rows), walked against the roles the README's access table
// documents. A new row fails here until it is added to this list: its role
// is then a decision someone wrote down twice.
TEST(Router, TheServiceTableGivesEachRouteItsDocumentedRole) {
  ledger::http::Metrics metrics;
  ledger::http::Web web(ledger::http::WebDependencies{});
  ledger::http::NotificationRoutes notifications{};
  ledger::http::FollowUpRoutes followups{};
  ledger::http::MaintenanceRoutes maintenance{};
  ledger::http::SelfService self_service(ledger::http::SelfServiceDependencies{});
  ledger::http::ImportRoutes imports{};
  ledger::http::SystemRoutes systems{};
  ledger::http::Api api(ledger::http::ApiDependencies{
      .metrics = &metrics, .web = &web, .notifications = &notifications, .followups = &followups,
      .maintenance = &maintenance, .self_service = &self_service, .imports = &imports,
      .systems = &systems});
  const std::optional<Role> kPublic;
  // By pattern and Allow text: rows may share a pattern with other methods.
  const std::map<std::pair<std::string, std::string>, std::optional<Role>> expected = {
      {{"/healthz", "GET"}, kPublic},
      {{"/signin", "GET, HEAD, POST"}, kPublic},
      {{"/subscribe/confirm", "GET, HEAD, POST"}, kPublic},
      {{"/unsubscribe", "GET, HEAD, POST"}, kPublic},
      {{"/subscribe", "GET, HEAD"}, Role::kViewer},
      {{"/api/v1/subscriptions/requests", "POST"}, Role::kViewer},
      {{"/static/**", "GET, HEAD"}, kPublic},
      {{"/submit", "GET, HEAD, POST"}, Role::kHelpdesk},
      {{"/api/v1/submissions", "POST"}, Role::kHelpdesk},
      {{"/api/v1/events", "GET"}, Role::kAuditor},
      {{"/api/v1/verify", "GET"}, Role::kAuditor},
      {{"/api/v1/subscriptions", "GET, POST, DELETE"}, Role::kAdmin},
      {{"/api/v1/notifications", "GET"}, Role::kAdmin},
      {{"/api/v1/notifications/retry", "POST"}, Role::kAdmin},
      {{"/api/v1/backup", "POST"}, Role::kAdmin},
      {{"/", "GET, HEAD"}, Role::kViewer},
      {{"/incidents/**", "GET, HEAD"}, Role::kViewer},
      {{"/signout", "POST"}, Role::kViewer},
      {{"/api/v1/incidents", "GET"}, Role::kViewer},
      {{"/api/v1/incidents/*", "GET"}, Role::kViewer},
      {{"/api/v1/incidents/*/events", "GET"}, Role::kViewer},
      {{"/api/v1/durations", "GET"}, Role::kViewer},
      {{"/api/v1/durations/changes", "GET"}, Role::kViewer},
      {{"/api/v1/availability", "GET, HEAD"}, Role::kViewer},
      {{"/api/v1/events/stream", "GET, HEAD"}, Role::kViewer},
      {{"/metrics", "GET"}, Role::kViewer},
      {{"/api/v1/openapi.json", "GET"}, Role::kViewer},
      {{"/api/v1/maintenance", "POST"}, Role::kHelpdesk},
      {{"/api/v1/maintenance", "GET"}, Role::kViewer},
      {{"/api/v1/maintenance/*", "GET"}, Role::kViewer},
      {{"/calendar.ics", "GET"}, Role::kViewer},
      {{"/feed.atom", "GET"}, Role::kViewer},
      {{"/maintenance", "GET, HEAD, POST"}, Role::kHelpdesk},
      {{"/api/v1/incidents/*/review", "POST"}, Role::kHelpdesk},
      {{"/api/v1/incidents/*/action-items", "POST"}, Role::kHelpdesk},
      {{"/api/v1/action-items/*", "POST"}, Role::kHelpdesk},
      {{"/api/v1/action-items", "GET"}, Role::kViewer},
      {{"/api/v1/review-report", "GET"}, Role::kViewer},
      {{"/actions", "GET, HEAD"}, Role::kViewer},
      {{"/actions/*", "POST"}, Role::kHelpdesk},
      {{"/actions/new/*", "POST"}, Role::kHelpdesk},
      {{"/reviews/*", "POST"}, Role::kHelpdesk},
      {{"/api/v1/public-key", "GET"}, Role::kViewer},
      {{"/api/v1/tree-head", "GET"}, Role::kViewer},
      {{"/api/v1/proofs/inclusion", "GET"}, Role::kViewer},
      {{"/api/v1/proofs/consistency", "GET"}, Role::kViewer},
      {{"/api/v1/incidents/*/bundle", "GET"}, Role::kViewer},
      {{"/api/v1/imports", "GET"}, Role::kHelpdesk},
      {{"/imports", "GET, HEAD"}, Role::kHelpdesk},
      {{"/systems", "GET, HEAD"}, Role::kViewer},
      {{"/api/v1/systems", "GET"}, Role::kViewer},
      {{"/api/v1/systems", "POST"}, Role::kAdmin},
  };
  std::set<std::pair<std::string, std::string>> seen;
  std::set<std::string> labels;
  for (const Route& route : api.router().routes()) {
    const std::string pattern(route.pattern);
    const std::pair<std::string, std::string> row{pattern, std::string(route.allow)};
    SCOPED_TRACE(pattern + " " + row.second);
    seen.insert(row);
    EXPECT_TRUE(labels.insert(std::string(route.label)).second) << "two rows count under " << route.label;
    auto found = expected.find(row);
    ASSERT_NE(found, expected.end()) << "a route nobody wrote down here";
    EXPECT_EQ(route.access.role(), found->second);
    // Writes are never public (but signing in, and the mailed links whose
    // signed token is the credential), and a page is a page.
    if (Router::Allows(route.allow, "POST") && pattern != "/signin" && pattern != "/subscribe/confirm" &&
        pattern != "/unsubscribe") {
      EXPECT_TRUE(route.access.role().has_value());
    }
    EXPECT_EQ(route.kind == RouteKind::kPage,
              pattern == "/" || pattern == "/submit" || pattern == "/signin" || pattern == "/signout" ||
                  pattern == "/incidents/**" || pattern == "/actions" || pattern == "/actions/*" ||
                  pattern == "/actions/new/*" || pattern == "/reviews/*" || pattern == "/maintenance" ||
                  pattern == "/subscribe" || pattern == "/subscribe/confirm" || pattern == "/unsubscribe" ||
                  pattern == "/imports" || pattern == "/systems");
  }
  for (const auto& [row, ignored] : expected) EXPECT_TRUE(seen.contains(row)) << row.first << " " << row.second << " has no row";
}

}  // namespace
