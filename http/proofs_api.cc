#include "http/proofs_api.h"

#include "common/json_writer.h"
#include "common/time.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/visibility.h"
#include "ingest/command.h"

namespace ledger::http {
namespace {

constexpr uint64_t kSeqMax = UINT64_MAX / 2;

HttpResponse Json(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  return response;
}

HttpResponse NoSigner() {
  return ErrorResponse(MakeError(ErrorCode::kUnavailable, "this service has no tree head signing key"));
}

void WriteHashes(JsonWriter* json, const std::vector<Sha256Digest>& hashes) {
  json->BeginArray();
  for (const Sha256Digest& hash : hashes) json->String(HexEncode(hash));
  json->EndArray();
}

// A required whole-number parameter in [minimum, kSeqMax].
Result<uint64_t> RequiredNumber(const Query& query, const std::string& name, uint64_t minimum) {
  if (!query.contains(name)) return InvalidArgument(name, name + " is required");
  return ParseCount(query, name, 0, minimum, kSeqMax);
}

HttpResponse PublicKeyPem(const ProofRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {});
  if (!query) return ErrorResponse(query.error());
  if (routes.signer == nullptr) return NoSigner();
  HttpResponse response;
  response.content_type = "application/x-pem-file";
  response.body = routes.signer->public_key().Pem();
  return response;
}

HttpResponse TreeHeadJson(const ProofRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {});
  if (!query) return ErrorResponse(query.error());
  if (routes.signer == nullptr) return NoSigner();
  JsonWriter json;
  WriteSignedTreeHead(&json, routes.signer->Sign(routes.ledger->tree_head(), NowMicros()));
  return Json(json.Take());
}

HttpResponse Inclusion(const ProofRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"seq", "tree_size"});
  if (!query) return ErrorResponse(query.error());
  Result<uint64_t> seq = RequiredNumber(*query, "seq", 1);
  if (!seq) return ErrorResponse(seq.error());
  const uint64_t current = routes.ledger->tree_head().tree_size;
  Result<uint64_t> tree_size = ParseCount(*query, "tree_size", current, 1, kSeqMax);
  if (!tree_size) return ErrorResponse(tree_size.error());
  Result<std::vector<Sha256Digest>> path = routes.ledger->InclusionProof(*seq, *tree_size);
  if (!path) return ErrorResponse(path.error());
  JsonWriter json;
  json.BeginObject();
  json.Key("seq").Uint(*seq);
  json.Key("leaf_index").Uint(*seq - 1);
  json.Key("tree_size").Uint(*tree_size);
  json.Key("audit_path");
  WriteHashes(&json, *path);
  json.EndObject();
  return Json(json.Take());
}

HttpResponse Consistency(const ProofRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"first", "second"});
  if (!query) return ErrorResponse(query.error());
  Result<uint64_t> first = RequiredNumber(*query, "first", 1);
  if (!first) return ErrorResponse(first.error());
  const uint64_t current = routes.ledger->tree_head().tree_size;
  Result<uint64_t> second = ParseCount(*query, "second", current, 1, kSeqMax);
  if (!second) return ErrorResponse(second.error());
  Result<std::vector<Sha256Digest>> path = routes.ledger->ConsistencyProof(*first, *second);
  if (!path) return ErrorResponse(path.error());
  JsonWriter json;
  json.BeginObject();
  json.Key("first").Uint(*first);
  json.Key("second").Uint(*second);
  json.Key("consistency_path");
  WriteHashes(&json, *path);
  json.EndObject();
  return Json(json.Take());
}

HttpResponse Bundle(const ProofRoutes& routes, std::string_view ticket_text, std::string_view query_text,
                    const Principal& principal) {
  Result<Query> query = ParseQuery(query_text, {});
  if (!query) return ErrorResponse(query.error());
  Result<std::string> ticket = ingest::NormalizeTicket(ticket_text);
  if (!ticket) {
    return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such ticket: ticket numbers look like INC-42", "ticket"));
  }
  // An internal incident answers as an unknown one (visibility.h).
  if (routes.read_model != nullptr && !MaySeeTicket(principal, *routes.read_model, *ticket)) {
    return ErrorResponse(MakeError(ErrorCode::kNotFound, "ticket " + *ticket + " does not exist", "ticket"));
  }
  if (routes.signer == nullptr) return NoSigner();
  Result<std::vector<StoredEvent>> events = routes.ledger->ReadTicket(*ticket);
  if (!events) return ErrorResponse(events.error());
  if (events->empty()) {
    return ErrorResponse(MakeError(ErrorCode::kNotFound, "ticket " + *ticket + " does not exist", "ticket"));
  }
  // Taken after the events were read, so the tree holds every one of them.
  const TreeHead head = routes.ledger->tree_head();
  JsonWriter json;
  json.BeginObject();
  json.Key("ticket").String(*ticket);
  json.Key("events").BeginArray();
  for (const StoredEvent& stored : *events) WriteEvent(&json, stored);
  json.EndArray();
  json.Key("proofs").BeginArray();
  for (const StoredEvent& stored : *events) {
    Result<std::vector<Sha256Digest>> path = routes.ledger->InclusionProof(stored.seq, head.tree_size);
    if (!path) return ErrorResponse(path.error());
    json.BeginObject();
    json.Key("seq").Uint(stored.seq);
    json.Key("leaf_index").Uint(stored.seq - 1);
    json.Key("audit_path");
    WriteHashes(&json, *path);
    json.EndObject();
  }
  json.EndArray();
  json.Key("tree_head");
  WriteSignedTreeHead(&json, routes.signer->Sign(head, NowMicros()));
  json.EndObject();
  HttpResponse response = Json(json.Take());
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + *ticket + "-bundle.json\"");
  return response;
}

}  // namespace

std::vector<Route> ProofRouteRows(const ProofRoutes& routes) {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  const ProofRoutes* r = &routes;
  return {
      {"/api/v1/public-key", "GET", viewer, "public_key", RouteKind::kJson, "public_key",
       [r](RouteCall call) { call.respond(PublicKeyPem(*r, call.query)); }},
      {"/api/v1/tree-head", "GET", viewer, "tree_head", RouteKind::kJson, "tree_head",
       [r](RouteCall call) { call.respond(TreeHeadJson(*r, call.query)); }},
      {"/api/v1/proofs/inclusion", "GET", viewer, "proof_inclusion", RouteKind::kJson, "proof_inclusion",
       [r](RouteCall call) { call.respond(Inclusion(*r, call.query)); }},
      {"/api/v1/proofs/consistency", "GET", viewer, "proof_consistency", RouteKind::kJson, "proof_consistency",
       [r](RouteCall call) { call.respond(Consistency(*r, call.query)); }},
      {"/api/v1/incidents/*/bundle", "GET", viewer, "incident_bundle", RouteKind::kJson, "incident_bundle",
       [r](RouteCall call) { call.respond(Bundle(*r, call.segment, call.query, call.principal)); }},
  };
}

}  // namespace ledger::http
