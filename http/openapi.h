#pragma once
// The service's API described: an OpenAPI 3.1 document, served at
// GET /api/v1/openapi.json, written from the route table (router.h) and
// the description table below. Every row of the table names its entry
// here (Route::doc); the entry says what the row's pattern wildcard is
// called ("/api/v1/incidents/*" -> "/api/v1/incidents/{ticket}"), and per
// method: its query parameters, the request bodies it takes and the
// answers it gives (status, content type, schema). What the document takes
// from the row itself: the path, the methods, the role (as the extension
// `x-required-role` and as a security requirement naming the role), the
// kind (`x-route-kind`), the metrics label (`x-metrics-label`) and the
// original pattern (`x-route-pattern`, so a client matches paths the way
// the router does: literal patterns first, then the rest in table order,
// "**" taking the rest of the path).
//
// Every operation also lists a `default` answer: for JSON rows, streams
// and assets the shared error {"error":{"code","message","field"}}
// (message.h), for pages an HTML page. Schemas are JSON Schema 2020-12
// (OpenAPI 3.1's dialect); answers' main fields are required and typed,
// objects stay open to new members unless their shape is fixed.
//
// HEAD is answered wherever GET is (router.h) and is not listed apart.
//
// Failures: OpenApiDocument refuses (kInvalidArgument, naming the row or
// schema) a row whose entry is missing, an entry without one of the row's
// methods or with a method the row does not take, a wildcard without a
// name (or a name without a wildcard), a schema name that is not in the
// schema table, and a fragment of JSON that does not parse. Api (api.h)
// aborts at start on any of these: a programming error any test finds.
//
// Thread safety: the tables are constants; the functions are pure.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/router.h"

namespace ledger::http {

// A query parameter.
struct ParameterDoc {
  std::string_view name;
  std::string_view description;
  std::string_view schema;  // inline JSON Schema text: R"({"type":"string"})"
  bool required = false;
};

// A request body of one content type. `schema`: a name in SchemaDocs(), or
// inline JSON Schema text (starts with '{').
struct BodyDoc {
  std::string_view content_type;
  std::string_view schema;
};

// One answer. `schema` as in BodyDoc; empty: the body is not described
// (pages, scripts, text formats). `content_type` empty: no body at all;
// several are separated by '|' ("application/json|text/csv; charset=utf-8"),
// and the schema then describes the application/json one.
struct AnswerDoc {
  std::string_view status;  // "200", "201", "303"
  std::string_view description;
  std::string_view content_type;
  std::string_view schema;
};

// One method of a route.
struct OperationDoc {
  std::string_view method;  // "GET", "POST", "DELETE" (as the row's Allow text says it)
  std::string_view summary;
  std::vector<ParameterDoc> query;
  std::vector<BodyDoc> body;  // empty: takes no body
  std::vector<AnswerDoc> answers;
};

// What Route::doc names.
struct RouteDoc {
  std::string_view name;
  // The name of the pattern's "*" or "**" as a path parameter ("ticket");
  // empty when the pattern has none.
  std::string_view segment;
  std::string_view segment_description;
  std::vector<OperationDoc> operations;
};

// A named schema: components/schemas/<name> of the document.
struct SchemaDoc {
  std::string_view name;
  std::string_view schema;  // JSON Schema text
};

const std::vector<RouteDoc>& RouteDocs();
const std::vector<SchemaDoc>& SchemaDocs();
// The entry named `name`, or nullptr.
const RouteDoc* FindRouteDoc(std::string_view name);

// The document for `routes` (a router's table, in its order), as JSON text.
Result<std::string> OpenApiDocument(const std::vector<Route>& routes);

// "/api/v1/incidents/*/events" with segment "ticket" ->
// "/api/v1/incidents/{ticket}/events"; "**" likewise.
std::string OpenApiPath(std::string_view pattern, std::string_view segment);

}  // namespace ledger::http
