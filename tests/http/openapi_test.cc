// The API description (http/openapi.h): the service's route table walked
// row by row against the document served at GET /api/v1/openapi.json, the
// document's own consistency (every $ref resolves, every JSON answer has a
// schema), and the refusals that keep a row from going undescribed.

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <simdjson.h>

#include "http/api.h"
#include "http/auth.h"
#include "http/followups_api.h"
#include "http/imports_api.h"
#include "http/maintenance_api.h"
#include "http/systems_api.h"
#include "http/metrics.h"
#include "http/notifications_api.h"
#include "http/openapi.h"
#include "http/self_service.h"
#include "http/router.h"
#include "http/web.h"
#include "ingest/fields.h"
#include "tests/http_test_support.h"

namespace {

using ledger::http::HttpRequest;
using ledger::http::HttpResponse;
using ledger::http::OpenApiDocument;
using ledger::http::OpenApiPath;
using ledger::http::RequiredAccess;
using ledger::http::Role;
using ledger::http::Route;
using ledger::http::RouteCall;
using ledger::http::RouteKind;

// The service's table, as app/main.cc assembles it.
struct Service {
  ledger::http::Metrics metrics;
  ledger::http::Web web{ledger::http::WebDependencies{}};
  ledger::http::NotificationRoutes notifications{};
  ledger::http::FollowUpRoutes followups{};
  ledger::http::MaintenanceRoutes maintenance{};
  ledger::http::SelfService self_service{ledger::http::SelfServiceDependencies{}};
  ledger::http::ImportRoutes imports{};
  ledger::http::SystemRoutes systems{};
  ledger::http::Api api{ledger::http::ApiDependencies{.metrics = &metrics,
                                                      .web = &web,
                                                      .notifications = &notifications,
                                                      .followups = &followups,
                                                      .maintenance = &maintenance,
                                                      .self_service = &self_service,
                                                      .imports = &imports,
                                                      .systems = &systems}};
};

// The document the service serves, parsed.
struct Served {
  std::string text;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};

void Fetch(Service& service, Served* served) {
  std::optional<HttpResponse> answer;
  service.api.Handle(ledger::http::test_support::Request("GET", "/api/v1/openapi.json"),
                     [&](HttpResponse response) { answer = std::move(response); });
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200u) << answer->body;
  ASSERT_EQ(answer->content_type, "application/json");
  ASSERT_TRUE(answer->shared_body);
  served->text = *answer->shared_body;
  ASSERT_EQ(served->parser.parse(served->text).get(served->root), simdjson::SUCCESS);
}

std::vector<std::string> MethodsOf(std::string_view allow) {
  std::vector<std::string> methods;
  for (const char* method : {"GET", "POST", "DELETE", "PUT", "PATCH"}) {
    if (ledger::http::Router::Allows(allow, method)) methods.emplace_back(method);
  }
  return methods;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string_view StringAt(simdjson::dom::element element, std::string_view pointer) {
  std::string_view text;
  if (element.at_pointer(pointer).get_string().get(text) != simdjson::SUCCESS) return "(missing)";
  return text;
}

// Every "$ref" below `element`.
void CollectRefs(simdjson::dom::element element, std::set<std::string>* refs) {
  if (simdjson::dom::object object; element.get_object().get(object) == simdjson::SUCCESS) {
    for (const auto [key, value] : object) {
      std::string_view text;
      if (key == "$ref" && value.get_string().get(text) == simdjson::SUCCESS) refs->emplace(text);
      CollectRefs(value, refs);
    }
  } else if (simdjson::dom::array array; element.get_array().get(array) == simdjson::SUCCESS) {
    for (simdjson::dom::element value : array) CollectRefs(value, refs);
  }
}

// A JSON Pointer's escaping of one reference token ("/" -> "~1").
std::string PointerToken(std::string_view text) {
  std::string token;
  for (const char c : text) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

TEST(OpenApi, EveryRowOfTheServiceTableIsAnOperationWithItsRoleAndNothingElseIs) {
  Service service;
  Served served;
  ASSERT_NO_FATAL_FAILURE(Fetch(service, &served));
  EXPECT_EQ(StringAt(served.root, "/openapi"), "3.1.0");
  size_t row_operations = 0;
  for (const Route& route : service.api.router().routes()) {
    SCOPED_TRACE(std::string(route.pattern) + " " + std::string(route.allow));
    const ledger::http::RouteDoc* doc = ledger::http::FindRouteDoc(route.doc);
    ASSERT_NE(doc, nullptr);
    const std::string path = "/paths/" + PointerToken(OpenApiPath(route.pattern, doc->segment));
    EXPECT_EQ(StringAt(served.root, path + "/x-route-pattern"), route.pattern);
    // A wildcard is a named path parameter: "/api/v1/incidents/{ticket}".
    if (route.pattern.find('*') != std::string_view::npos) {
      EXPECT_EQ(OpenApiPath(route.pattern, doc->segment).find('*'), std::string::npos);
      EXPECT_FALSE(doc->segment.empty());
    }
    const std::optional<Role> role = route.access.role();
    const std::string role_name = role ? std::string(ledger::http::RoleName(*role)) : "public";
    for (const std::string& method : MethodsOf(route.allow)) {
      SCOPED_TRACE(method);
      row_operations += 1;
      const std::string operation = path + "/" + Lower(method);
      simdjson::dom::element element;
      ASSERT_EQ(served.root.at_pointer(operation).get(element), simdjson::SUCCESS) << "no operation " << operation;
      EXPECT_EQ(StringAt(element, "/x-required-role"), role_name);
      EXPECT_EQ(StringAt(element, "/x-metrics-label"), route.label);
      simdjson::dom::array security;
      ASSERT_EQ(element.at_pointer("/security").get_array().get(security), simdjson::SUCCESS);
      if (role) {
        EXPECT_EQ(security.size(), 2u);
        EXPECT_EQ(StringAt(element, "/security/0/bearerToken/0"), role_name);
        EXPECT_EQ(StringAt(element, "/security/1/sessionCookie/0"), role_name);
      } else {
        EXPECT_EQ(security.size(), 0u) << "a public row needs no credentials";
      }
      // Every answer's JSON has a schema; a JSON row answers something.
      simdjson::dom::object responses;
      ASSERT_EQ(element.at_pointer("/responses").get_object().get(responses), simdjson::SUCCESS);
      bool described_success = false;
      for (const auto [status, response] : responses) {
        simdjson::dom::object content;
        if (response.at_pointer("/content").get_object().get(content) != simdjson::SUCCESS) continue;
        if (status.starts_with('2')) described_success = true;
        simdjson::dom::element schema;
        if (content.at_pointer("/application~1json").get(schema) == simdjson::SUCCESS) {
          EXPECT_EQ(schema.at_pointer("/schema").error(), simdjson::SUCCESS)
              << "JSON answer " << status << " without a schema";
        }
      }
      if (route.kind != RouteKind::kPage) {
        EXPECT_TRUE(described_success) << "no successful answer with a content type";
        EXPECT_EQ(StringAt(element, "/responses/default/$ref"), "#/components/responses/Error");
      }
    }
  }
  // Nothing but the rows: as many operations as the rows take methods.
  size_t document_operations = 0;
  simdjson::dom::object paths;
  ASSERT_EQ(served.root.at_pointer("/paths").get_object().get(paths), simdjson::SUCCESS);
  for (const auto [path, item] : paths) {
    simdjson::dom::object operations;
    ASSERT_EQ(item.get_object().get(operations), simdjson::SUCCESS);
    for (const auto [key, ignored] : operations) {
      if (!key.starts_with("x-")) document_operations += 1;
    }
  }
  EXPECT_EQ(document_operations, row_operations);
  EXPECT_TRUE(served.root.at_pointer("/paths/~1api~1v1~1incidents~1{ticket}/get").error() == simdjson::SUCCESS);
}

TEST(OpenApi, EveryReferenceResolvesAndEveryDescribedRouteIsUsed) {
  Service service;
  Served served;
  ASSERT_NO_FATAL_FAILURE(Fetch(service, &served));
  std::set<std::string> refs;
  CollectRefs(served.root, &refs);
  EXPECT_GT(refs.size(), 20u);
  for (const std::string& ref : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << ref;
    EXPECT_EQ(served.root.at_pointer(ref.substr(1)).error(), simdjson::SUCCESS) << "unresolved " << ref;
  }
  // Every schema is used somewhere, and every entry by some row.
  for (const ledger::http::SchemaDoc& schema : ledger::http::SchemaDocs()) {
    EXPECT_TRUE(refs.contains("#/components/schemas/" + std::string(schema.name))) << schema.name << " is unused";
  }
  std::set<std::string_view> named;
  for (const Route& route : service.api.router().routes()) named.insert(route.doc);
  for (const ledger::http::RouteDoc& doc : ledger::http::RouteDocs()) {
    EXPECT_TRUE(named.contains(doc.name)) << doc.name << " describes no row";
  }
}

// The incident schemas (payload, request, state) name every field of the field table
// (ingest/fields.h): a new field fails here until it is described.
TEST(OpenApi, TheIncidentSchemasNameEveryPayloadField) {
  Service service;
  Served served;
  ASSERT_NO_FATAL_FAILURE(Fetch(service, &served));
  for (const ledger::ingest::PayloadField& field : ledger::ingest::PayloadFieldTable()) {
    for (const char* schema : {"IncidentPayload", "SubmissionRequest", "IncidentState"}) {
      EXPECT_EQ(served.root.at_pointer("/components/schemas/" + std::string(schema) + "/properties/" +
                                       std::string(field.name))
                    .error(),
                simdjson::SUCCESS)
          << schema << " lacks " << field.name;
    }
  }
}

ledger::http::RouteHandler Nothing() {
  return [](RouteCall call) { call.respond(HttpResponse{}); };
}

TEST(OpenApi, RefusesARowWithoutItsDescriptionOrWithMethodsItDoesNotDescribe) {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  const auto refused = [](std::vector<Route> rows) {
    ledger::Result<std::string> document = OpenApiDocument(rows);
    return document ? std::string("(accepted)") : document.error().message;
  };
  // A described row is fine.
  EXPECT_TRUE(OpenApiDocument({{"/healthz", "GET", RequiredAccess::Public(), "healthz", RouteKind::kJson, "healthz",
                                Nothing()}}));
  EXPECT_NE(refused({{"/x", "GET", viewer, "x", RouteKind::kJson, "no_such_entry", Nothing()}})
                .find("names no described route: no_such_entry"),
            std::string::npos);
  // The entry of GET /healthz has no POST.
  EXPECT_NE(refused({{"/healthz", "GET, POST", viewer, "x", RouteKind::kJson, "healthz", Nothing()}})
                .find("has no POST"),
            std::string::npos);
  // The entry of subscriptions describes GET, POST and DELETE.
  EXPECT_NE(refused({{"/api/v1/subscriptions", "GET", viewer, "x", RouteKind::kJson, "subscriptions", Nothing()}})
                .find("which the row does not take"),
            std::string::npos);
  // A wildcard needs a name, and a name a wildcard.
  EXPECT_NE(refused({{"/healthz/*", "GET", viewer, "x", RouteKind::kJson, "healthz", Nothing()}})
                .find("does not name the pattern's wildcard"),
            std::string::npos);
  EXPECT_NE(refused({{"/incident", "GET", viewer, "x", RouteKind::kJson, "incident", Nothing()}})
                .find("names a wildcard the pattern lacks"),
            std::string::npos);
}

TEST(OpenApi, PathsNameTheirWildcards) {
  EXPECT_EQ(OpenApiPath("/api/v1/incidents/*/events", "ticket"), "/api/v1/incidents/{ticket}/events");
  EXPECT_EQ(OpenApiPath("/static/**", "asset"), "/static/{asset}");
  EXPECT_EQ(OpenApiPath("/healthz", ""), "/healthz");
}

TEST(OpenApi, TheDocumentRouteTakesNoQuery) {
  Service service;
  std::optional<HttpResponse> answer;
  service.api.Handle(ledger::http::test_support::Request("GET", "/api/v1/openapi.json?x=1"),
                     [&](HttpResponse response) { answer = std::move(response); });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400u) << answer->body;
}

}  // namespace
