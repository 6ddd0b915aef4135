#pragma once
// Signed tree heads: the ledger's Merkle tree head (ledger.h, TreeHead)
// signed with the service's Ed25519 key, so that anyone holding a head (an
// auditor's bundle, a subscriber's mail) can later show what the ledger was.
//
// The signature covers this ASCII text (DESIGN.md, "Proofs and followers"),
// each line ending in "\n":
//
//   incident-ledger tree head v1
//   <tree_size, decimal>
//   <root_hash, 64 lower-case hex digits>
//   <timestamp, RFC 3339, exactly as sent>
//
// and travels as JSON {tree_size, root_hash, timestamp, signature (base64),
// key_id} or as the mail header
//
//   X-Ledger-Tree-Head: size=N; root=HEX; time=RFC3339; sig=BASE64
//
// The key lives in the data folder (kSigningKeyFile, mode 0600), made at the
// first start; key_id is the SHA-256 of its public key's DER (signing.h).
//
// Pure except TreeHeadSigner::Open (reads or writes the key file). Thread
// safety: a TreeHeadSigner may be used from many threads at once.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/signing.h"
#include "ledger/ledger.h"

namespace ledger {

// The key file, in the data folder (--data).
constexpr std::string_view kSigningKeyFile = "tree-head-signing-key.pem";
constexpr std::string_view kTreeHeadTextFirstLine = "incident-ledger tree head v1";
constexpr std::string_view kTreeHeadHeaderName = "X-Ledger-Tree-Head";
// A header value longer than this is not one (a mail's folded lines are
// unfolded first); the real one is about 200 bytes.
constexpr size_t kTreeHeadHeaderBytesMax = 1024;

struct SignedTreeHead {
  TreeHead head;
  std::string timestamp;  // RFC 3339, as signed
  std::string signature;  // 64 raw bytes
  std::string key_id;     // lower-case hex SHA-256 of the public key's DER; empty when not known (a header)
};

// The text the signature covers (see the top).
std::string TreeHeadSignedText(const TreeHead& head, std::string_view timestamp);

// "size=N; root=HEX; time=RFC3339; sig=BASE64" (the value, without the name).
std::string TreeHeadHeaderValue(const SignedTreeHead& signed_head);
// The inverse, lenient about what a mail client does to a header and strict
// about the content: takes the value with or without "X-Ledger-Tree-Head:"
// before it, folded or not (CR, LF and runs of blanks count as one space),
// the four fields in any order. kInvalidArgument naming the field that is
// missing, repeated or malformed (size: a decimal number; root: 64 hex
// digits; time: RFC 3339; sig: base64 of 64 bytes).
Result<SignedTreeHead> ParseTreeHeadHeader(std::string_view text);

// Whether `signed_head` is signed by `key` (the text above, the signature).
bool VerifyTreeHead(const SignedTreeHead& signed_head, const PublicKey& key);

class TreeHeadSigner {
 public:
  // The signer of the ledger in `data_folder`: loads its key, making one on
  // the first start (`create`); see SigningKey for the failures.
  static Result<std::unique_ptr<TreeHeadSigner>> Open(const std::string& data_folder, bool create);
  explicit TreeHeadSigner(SigningKey key) : key_(std::move(key)), key_id_(key_.public_key().KeyId()) {}

  // Signs `head` as of `timestamp_micros` (UTC; written RFC 3339).
  SignedTreeHead Sign(const TreeHead& head, int64_t timestamp_micros) const;
  const PublicKey& public_key() const { return key_.public_key(); }
  const std::string& key_id() const { return key_id_; }

 private:
  SigningKey key_;
  std::string key_id_;
};

}  // namespace ledger
