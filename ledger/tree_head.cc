#include "ledger/tree_head.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include "common/encoding.h"
#include "common/time.h"

namespace ledger {
namespace {

constexpr size_t kSizeDigitsMax = 20;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

bool StartsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

Error Malformed(const std::string& field, const std::string& rule) {
  return InvalidArgument(field, "the tree head's " + field + " " + rule +
                                    " (expected size=N; root=HEX; time=RFC3339; sig=BASE64)");
}

}  // namespace

std::string TreeHeadSignedText(const TreeHead& head, std::string_view timestamp) {
  std::string text(kTreeHeadTextFirstLine);
  text += '\n';
  text += std::to_string(head.tree_size);
  text += '\n';
  text += HexEncode(head.root_hash);
  text += '\n';
  text += timestamp;
  text += '\n';
  return text;
}

std::string TreeHeadHeaderValue(const SignedTreeHead& signed_head) {
  return "size=" + std::to_string(signed_head.head.tree_size) + "; root=" + HexEncode(signed_head.head.root_hash) +
         "; time=" + signed_head.timestamp + "; sig=" + Base64Encode(signed_head.signature);
}

Result<SignedTreeHead> ParseTreeHeadHeader(std::string_view text) {
  if (text.size() > kTreeHeadHeaderBytesMax) {
    return InvalidArgument("header", "a tree head header is at most " + std::to_string(kTreeHeadHeaderBytesMax) +
                                         " bytes");
  }
  // Unfold: CR, LF and tabs are blanks, runs of blanks one.
  std::string unfolded;
  for (const char c : text) {
    const char blank = (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
    if (blank == ' ' && (unfolded.empty() || unfolded.back() == ' ')) continue;
    unfolded += blank;
  }
  std::string_view rest = Trim(unfolded);
  const std::string name = std::string(kTreeHeadHeaderName) + ":";
  if (StartsWithIgnoringCase(rest, name)) rest = Trim(rest.substr(name.size()));
  std::map<std::string, std::string, std::less<>> fields;
  while (!rest.empty()) {
    const size_t semicolon = rest.find(';');
    const std::string_view part = Trim(rest.substr(0, semicolon));
    rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
    if (part.empty()) continue;
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos) {
      // Appended, not "'" + ...: GCC 12 at -O3 warns falsely (-Wrestrict) on that.
      std::string message = "the tree head holds '";
      message += QuotableText(part, 40);
      message += "', which is not name=value";
      return InvalidArgument("header", message);
    }
    const std::string key(Trim(part.substr(0, equals)));
    if (key != "size" && key != "root" && key != "time" && key != "sig") {
      std::string message = "unknown field '";
      message += QuotableText(key, 40);
      message += "' in the tree head (expected size=N; root=HEX; time=RFC3339; sig=BASE64)";
      return InvalidArgument("header", message);
    }
    if (!fields.emplace(key, std::string(Trim(part.substr(equals + 1)))).second) {
      return InvalidArgument(key, "the tree head names " + key + " twice");
    }
  }
  for (const char* key : {"size", "root", "time", "sig"}) {
    if (!fields.contains(key)) return Malformed(key, "is missing");
  }
  SignedTreeHead parsed;
  const std::string& size = fields["size"];
  if (size.empty() || size.size() > kSizeDigitsMax ||
      !std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (size.size() > 1 && size.front() == '0')) {
    return Malformed("size", "must be a decimal number");
  }
  errno = 0;
  char* end = nullptr;
  parsed.head.tree_size = std::strtoull(size.c_str(), &end, 10);
  if (errno != 0) return Malformed("size", "is too large");
  const std::optional<std::string> root = HexDecode(fields["root"]);
  if (!root || root->size() != kSha256Bytes) return Malformed("root", "must be 64 hex digits");
  std::copy(root->begin(), root->end(), parsed.head.root_hash.begin());
  Result<Instant> time = ParseRfc3339(fields["time"], "time");
  if (!time) return Malformed("time", "must be an RFC 3339 time");
  parsed.timestamp = fields["time"];
  std::optional<std::string> signature = Base64Decode(fields["sig"]);
  if (!signature || signature->size() != kEd25519SignatureBytes) {
    return Malformed("sig", "must be the base64 of a 64-byte signature");
  }
  parsed.signature = std::move(*signature);
  return parsed;
}

bool VerifyTreeHead(const SignedTreeHead& signed_head, const PublicKey& key) {
  return key.Verify(TreeHeadSignedText(signed_head.head, signed_head.timestamp), signed_head.signature);
}

Result<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::Open(const std::string& data_folder, bool create) {
  const std::string path = (std::filesystem::path(data_folder) / kSigningKeyFile).string();
  Result<SigningKey> key = create ? SigningKey::LoadOrCreate(path) : SigningKey::Load(path);
  if (!key) return key.error();
  return std::make_unique<TreeHeadSigner>(std::move(*key));
}

SignedTreeHead TreeHeadSigner::Sign(const TreeHead& head, int64_t timestamp_micros) const {
  SignedTreeHead signed_head;
  signed_head.head = head;
  signed_head.timestamp = FormatRfc3339Utc(timestamp_micros);
  signed_head.signature = key_.Sign(TreeHeadSignedText(head, signed_head.timestamp));
  signed_head.key_id = key_id_;
  return signed_head;
}

}  // namespace ledger
