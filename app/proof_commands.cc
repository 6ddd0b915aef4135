#include "app/proof_commands.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json_writer.h"
#include "common/signing.h"
#include "http/json_views.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/tree_head.h"

namespace ledger::app {
namespace {

constexpr size_t kBundleBytesMax = 256 << 20;
constexpr std::string_view kVerifyBundleUsage = "usage: incident-ledger verify-bundle FILE --public-key KEY";

int Problem(const std::string& message) {
  std::fprintf(stderr, "incident-ledger: %s\n", message.c_str());
  return 2;
}

Result<PublicKey> ReadPublicKey(const std::string& path) {
  Result<std::string> pem = ReadWholeFile(path, kKeyFileBytesMax, "public key");
  if (!pem) return pem.error();
  Result<PublicKey> key = PublicKey::FromPem(*pem);
  if (!key) return MakeError(key.error().code, path + ": " + key.error().message);
  return key;
}

// ---------------------------------------------------------------------------
// verify-bundle

// A failed check: where in the bundle, and why.
struct Failure {
  std::string where;
  std::string why;
};

// Structural equality, members in order (the bundle is written by the same
// JSON writer that renders the record here, so a faithful copy has them in
// the same order).
bool SameJson(simdjson::dom::element a, simdjson::dom::element b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array left = a.get_array().value_unsafe();
      simdjson::dom::array right = b.get_array().value_unsafe();
      if (left.size() != right.size()) return false;
      auto r = right.begin();
      for (simdjson::dom::element item : left) {
        if (!SameJson(item, *r)) return false;
        ++r;
      }
      return true;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object left = a.get_object().value_unsafe();
      simdjson::dom::object right = b.get_object().value_unsafe();
      if (left.size() != right.size()) return false;
      auto r = right.begin();
      for (simdjson::dom::key_value_pair member : left) {
        if (member.key != r.key() || !SameJson(member.value, r.value())) return false;
        ++r;
      }
      return true;
    }
    case simdjson::dom::element_type::STRING: return a.get_string().value_unsafe() == b.get_string().value_unsafe();
    case simdjson::dom::element_type::INT64: return a.get_int64().value_unsafe() == b.get_int64().value_unsafe();
    case simdjson::dom::element_type::UINT64: return a.get_uint64().value_unsafe() == b.get_uint64().value_unsafe();
    case simdjson::dom::element_type::DOUBLE: return a.get_double().value_unsafe() == b.get_double().value_unsafe();
    case simdjson::dom::element_type::BOOL: return a.get_bool().value_unsafe() == b.get_bool().value_unsafe();
    case simdjson::dom::element_type::NULL_VALUE: return true;
  }
  return false;
}

std::optional<std::string> StringAt(simdjson::dom::element parent, const char* key) {
  std::string_view text;
  if (parent[key].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return std::string(text);
}

std::optional<uint64_t> NumberAt(simdjson::dom::element parent, const char* key) {
  uint64_t number = 0;
  if (parent[key].get_uint64().get(number) != simdjson::SUCCESS) return std::nullopt;
  return number;
}

// 64 lower-case hex digits, exactly as the service writes them.
std::optional<Sha256Digest> StrictHash(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const std::optional<std::string> bytes = HexDecode(*text);
  if (!bytes || bytes->size() != kSha256Bytes || HexEncode(*bytes) != *text) return std::nullopt;
  Sha256Digest digest;
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

// Base64 exactly as the service writes it (no other spelling of the bytes).
std::optional<std::string> StrictBase64(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::optional<std::string> bytes = Base64Decode(*text);
  if (!bytes || Base64Encode(*bytes) != *text) return std::nullopt;
  return bytes;
}

struct CheckedHead {
  TreeHead head;
  std::string timestamp;
};

Result<CheckedHead> CheckTreeHead(simdjson::dom::element root, const PublicKey& key, Failure* failure) {
  const auto fail = [failure](std::string why) {
    *failure = Failure{"tree_head", std::move(why)};
    return MakeError(ErrorCode::kInvalidArgument, failure->why);
  };
  simdjson::dom::element head;
  if (root["tree_head"].get(head) != simdjson::SUCCESS || !head.is_object()) return fail("missing");
  CheckedHead checked;
  const std::optional<uint64_t> size = NumberAt(head, "tree_size");
  if (!size) return fail("tree_size is not a whole number");
  checked.head.tree_size = *size;
  const std::optional<std::string> root_hex = StringAt(head, "root_hash");
  const std::optional<Sha256Digest> root_hash = StrictHash(root_hex);
  if (!root_hash) return fail("root_hash is not 64 lower-case hex digits");
  checked.head.root_hash = *root_hash;
  const std::optional<std::string> timestamp = StringAt(head, "timestamp");
  if (!timestamp) return fail("timestamp is missing");
  checked.timestamp = *timestamp;
  const std::optional<std::string> signature = StrictBase64(StringAt(head, "signature"));
  if (!signature) return fail("signature is not base64");
  const std::optional<std::string> key_id = StringAt(head, "key_id");
  if (!key_id || *key_id != key.KeyId()) return fail("key_id is not the id of this public key (" + key.KeyId() + ")");
  if (head.get_object().value_unsafe().size() != 5) return fail("has members besides the five a head has");
  const SignedTreeHead signed_head{.head = checked.head, .timestamp = checked.timestamp, .signature = *signature};
  if (!VerifyTreeHead(signed_head, key)) return fail("the signature does not verify with this public key");
  return checked;
}

// Checks event `index` of the bundle and its proof; the event's seq on success.
Result<uint64_t> CheckEvent(size_t index, simdjson::dom::element event, simdjson::dom::element proof,
                            const std::string& ticket, const CheckedHead& head, Failure* failure) {
  std::string where = "events[" + std::to_string(index) + "]";
  const auto fail = [&](std::string why) {
    *failure = Failure{where, std::move(why)};
    return MakeError(ErrorCode::kInvalidArgument, failure->why);
  };
  if (!event.is_object()) return fail("is not an object");
  const std::optional<uint64_t> seq = NumberAt(event, "seq");
  if (!seq || *seq == 0) return fail("seq is not a number from 1");
  where += " (seq " + std::to_string(*seq) + ")";
  const std::optional<std::string> record = StrictBase64(StringAt(event, "record"));
  if (!record) return fail("record is not base64");
  const std::optional<Sha256Digest> prev_hash = StrictHash(StringAt(event, "prev_hash"));
  if (!prev_hash) return fail("prev_hash is not 64 lower-case hex digits");
  const std::optional<Sha256Digest> hash = StrictHash(StringAt(event, "hash"));
  if (!hash) return fail("hash is not 64 lower-case hex digits");
  if (Sha256(AsBytes(*prev_hash), *record) != *hash) return fail("hash is not SHA-256(prev_hash || record)");
  Result<StoredEvent> stored = DecodeStoredEvent(*seq, record::EncodeStoredValue(*prev_hash, *hash, *record));
  if (!stored) return fail("the record does not decode: " + stored.error().message);
  // The event's JSON must say exactly what its record holds.
  const std::string rendered = http::EventJson(*stored);
  simdjson::dom::parser parser;
  simdjson::dom::element expected;
  LEDGER_ASSERT(parser.parse(rendered).get(expected) == simdjson::SUCCESS);
  if (!SameJson(event, expected)) return fail("its fields differ from what its record holds: " + rendered);
  if (stored->event.ticket() != ticket) return fail("belongs to ticket " + stored->event.ticket() + ", not " + ticket);

  where = "proofs[" + std::to_string(index) + "]";
  if (!proof.is_object()) return fail("is not an object");
  if (NumberAt(proof, "seq") != seq) return fail("seq is not the seq of events[" + std::to_string(index) + "]");
  if (NumberAt(proof, "leaf_index") != *seq - 1) return fail("leaf_index is not seq - 1");
  if (proof.get_object().value_unsafe().size() != 3) return fail("has members besides seq, leaf_index and audit_path");
  simdjson::dom::array path_json;
  if (proof["audit_path"].get_array().get(path_json) != simdjson::SUCCESS) return fail("audit_path is not a list");
  std::vector<Sha256Digest> path;
  for (simdjson::dom::element step : path_json) {
    std::string_view text;
    const std::optional<Sha256Digest> digest =
        step.get_string().get(text) == simdjson::SUCCESS ? StrictHash(std::string(text)) : std::nullopt;
    if (!digest) return fail("audit_path[" + std::to_string(path.size()) + "] is not 64 lower-case hex digits");
    path.push_back(*digest);
  }
  if (!merkle::VerifyInclusion(merkle::LeafHash(*hash), *seq - 1, head.head.tree_size, path, head.head.root_hash)) {
    return fail("the audit path does not lead from the event's hash to the signed root of the tree of " +
                std::to_string(head.head.tree_size) + " events");
  }
  return *seq;
}

// The whole bundle; the failure names the first part that fails.
Result<std::string> CheckBundle(const std::string& text, const PublicKey& key, Failure* failure) {
  const auto fail = [failure](std::string where, std::string why) {
    *failure = Failure{std::move(where), std::move(why)};
    return MakeError(ErrorCode::kInvalidArgument, failure->why);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(text).get(root); error != simdjson::SUCCESS) {
    return fail("the file", std::string("is not JSON: ") + simdjson::error_message(error));
  }
  if (!root.is_object() || root.get_object().value_unsafe().size() != 4) {
    return fail("the file", "is not a bundle {ticket, events, proofs, tree_head}");
  }
  Result<CheckedHead> head = CheckTreeHead(root, key, failure);
  if (!head) return head.error();
  const std::optional<std::string> ticket = StringAt(root, "ticket");
  if (!ticket) return fail("ticket", "missing");
  simdjson::dom::array events;
  simdjson::dom::array proofs;
  if (root["events"].get_array().get(events) != simdjson::SUCCESS) return fail("events", "not a list");
  if (root["proofs"].get_array().get(proofs) != simdjson::SUCCESS) return fail("proofs", "not a list");
  if (events.size() == 0) return fail("events", "empty");
  if (events.size() != proofs.size()) return fail("proofs", "not one per event");
  auto proof = proofs.begin();
  uint64_t last_seq = 0;
  size_t index = 0;
  for (simdjson::dom::element event : events) {
    Result<uint64_t> seq = CheckEvent(index, event, *proof, *ticket, *head, failure);
    if (!seq) return seq.error();
    if (*seq <= last_seq) return fail("events[" + std::to_string(index) + "]", "not after the event before it");
    last_seq = *seq;
    ++proof;
    ++index;
  }
  return "ok: " + *ticket + ": " + std::to_string(index) + " events (seq " +
         std::to_string(events.at(0).value_unsafe()["seq"].get_uint64().value_unsafe()) + " to " +
         std::to_string(last_seq) + "), each included in the tree of " + std::to_string(head->head.tree_size) +
         " events whose head (root " + HexEncode(head->head.root_hash) + ", " + head->timestamp +
         ") is signed by key " + key.KeyId();
}

// ---------------------------------------------------------------------------
// check-head

// The root of the ledger's first `size` events, from their hashes (not the
// stored tree), and the root of all of them.
struct ChainRoots {
  Sha256Digest at_size{};
  Sha256Digest at_head{};
  uint64_t head = 0;
};

Result<ChainRoots> RootsFromChain(const Ledger& log, uint64_t size) {
  ChainRoots roots;
  merkle::Frontier frontier;
  if (size == 0) roots.at_size = frontier.Root();
  Status walked = log.ForEach(0, ScanOptions{.read_ahead = true}, [&](const StoredEvent& stored) -> Result<Flow> {
    frontier.Append(merkle::LeafHash(stored.hash), [](const merkle::NodeId&, const Sha256Digest&) {});
    if (stored.seq == size) roots.at_size = frontier.Root();
    return Flow::kContinue;
  });
  if (!walked) return walked.error();
  roots.at_head = frontier.Root();
  roots.head = frontier.size();
  return roots;
}

}  // namespace

int VerifyBundle(const std::string& public_key, const std::string& file) {
  if (public_key.empty()) return Problem("--public-key KEY is required\n" + std::string(kVerifyBundleUsage));
  Result<PublicKey> key = ReadPublicKey(public_key);
  if (!key) return Problem(key.error().message);
  Result<std::string> text = ReadWholeFile(file, kBundleBytesMax, "bundle");
  if (!text) return Problem(text.error().message);
  Failure failure;
  Result<std::string> verdict = CheckBundle(*text, *key, &failure);
  if (!verdict) {
    std::printf("FAILED at %s: %s\n", failure.where.c_str(), failure.why.c_str());
    std::fprintf(stderr, "incident-ledger: the bundle %s does not verify: %s: %s\n", file.c_str(),
                 failure.where.c_str(), failure.why.c_str());
    return 1;
  }
  std::printf("%s\n", verdict->c_str());
  return 0;
}

int CheckHead(const std::string& data, const std::string& public_key, const std::string& header_argument) {
  std::string header = header_argument;
  if (header == "-") {
    header.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  Result<SignedTreeHead> seen = ParseTreeHeadHeader(header);
  if (!seen) return Problem(seen.error().message);

  std::optional<PublicKey> key;
  std::string key_source;
  if (!public_key.empty()) {
    Result<PublicKey> read = ReadPublicKey(public_key);
    if (!read) return Problem(read.error().message);
    key = std::move(*read);
    key_source = public_key;
  } else {
    Result<std::unique_ptr<TreeHeadSigner>> signer = TreeHeadSigner::Open(data, /*create=*/false);
    if (!signer) return Problem(signer.error().message + " (or give --public-key KEY)");
    key = (*signer)->public_key();
    key_source = "the key in " + data;
  }

  JsonWriter json;
  json.BeginObject();
  json.Key("head").BeginObject();
  json.Key("tree_size").Uint(seen->head.tree_size);
  json.Key("root_hash").String(HexEncode(seen->head.root_hash));
  json.Key("timestamp").String(seen->timestamp);
  json.EndObject();
  const auto finish = [&json](bool consistent, const std::string& sentence) {
    json.Key("consistent").Bool(consistent);
    json.Key("finding").String(sentence);
    json.EndObject();
    std::printf("%s\n", json.text().c_str());
    std::fprintf(stderr, "incident-ledger: %s\n", sentence.c_str());
    return consistent ? 0 : 1;
  };
  const bool signature_ok = VerifyTreeHead(*seen, *key);
  json.Key("signature_ok").Bool(signature_ok);
  if (!signature_ok) {
    return finish(false, "the head's signature does not verify with " + key_source +
                             ": it was not signed by this ledger's key, or it was altered");
  }

  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = data, .read_only = true});
  if (!opened) {
    if (opened.error().code == ErrorCode::kCorruption) {
      return finish(false, "INCONSISTENT: the ledger fails its own checks: " + opened.error().message);
    }
    return Problem(opened.error().message);
  }
  const Ledger& log = **opened;
  Result<VerifyReport> report = log.Verify();
  if (!report) return Problem(report.error().message);
  json.Key("verify").Raw(http::VerifyReportJson(*report));
  if (!report->ok) {
    return finish(false, "INCONSISTENT: the ledger fails verification at seq " + std::to_string(report->bad_seq) +
                             ": " + report->problem);
  }
  const uint64_t size = seen->head.tree_size;
  if (size > report->head_seq) {
    return finish(false, "INCONSISTENT: the head covers " + std::to_string(size) + " events, the ledger holds only " +
                             std::to_string(report->head_seq) + ": events the mail saw are gone");
  }
  Result<ChainRoots> roots = RootsFromChain(log, size);
  if (!roots) return Problem(roots.error().message);
  json.Key("ledger").BeginObject();
  json.Key("tree_size").Uint(roots->head);
  json.Key("root_hash").String(HexEncode(roots->at_head));
  json.Key("root_at_head_size").String(HexEncode(roots->at_size));
  json.EndObject();
  if (roots->at_size != seen->head.root_hash) {
    return finish(false, "INCONSISTENT: the ledger's first " + std::to_string(size) + " events hash to root " +
                             HexEncode(roots->at_size) + ", the head signed at " + seen->timestamp + " says " +
                             HexEncode(seen->head.root_hash) + ": history up to seq " + std::to_string(size) +
                             " was changed since");
  }
  // The same answer as an RFC 9162 consistency proof from the stored tree,
  // as an auditor without the log would check it.
  if (size > 0 && report->tree_checked) {
    Result<std::vector<Sha256Digest>> proof = log.ConsistencyProof(size, roots->head);
    if (!proof) return Problem(proof.error().message);
    const bool proven = merkle::VerifyConsistency(size, roots->head, seen->head.root_hash, roots->at_head, *proof);
    json.Key("consistency_proof_ok").Bool(proven);
    if (!proven) return finish(false, "INCONSISTENT: the stored tree's consistency proof does not verify");
  }
  return finish(true, "consistent: the ledger's first " + std::to_string(size) + " events are those the head signed at " +
                          seen->timestamp + " covers (root " + HexEncode(seen->head.root_hash) + "); the ledger now holds " +
                          std::to_string(roots->head) + " events (root " + HexEncode(roots->at_head) + ")");
}

}  // namespace ledger::app
