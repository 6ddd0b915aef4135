// Signed tree heads (ledger/tree_head.h): the exact text the signature
// covers, the mail header and its parser, and the signer's key file.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "ledger/merkle.h"
#include "ledger/tree_head.h"
#include "test_util.h"

namespace ledger {
namespace {

TreeHead SampleHead() {
  TreeHead head{.tree_size = 42};
  for (size_t i = 0; i < head.root_hash.size(); ++i) head.root_hash[i] = static_cast<uint8_t>(i);
  return head;
}

TEST(TreeHead, TheSignedTextIsExactlyTheContracts) {
  EXPECT_EQ(TreeHeadSignedText(SampleHead(), "2026-11-24T07:40:00.120000Z"),
            "incident-ledger tree head v1\n42\n"
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
            "2026-11-24T07:40:00.120000Z\n");
}

TEST(TreeHead, SignsVerifiesAndRefusesWhatWasAltered) {
  testing::TempDir dir;
  Result<std::unique_ptr<TreeHeadSigner>> refused = TreeHeadSigner::Open(dir.path(), /*create=*/false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
  Result<std::unique_ptr<TreeHeadSigner>> signer = TreeHeadSigner::Open(dir.path(), /*create=*/true);
  ASSERT_TRUE(signer) << signer.error().message;
  struct stat status {};
  ASSERT_EQ(::stat((dir.path() + "/" + std::string(kSigningKeyFile)).c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);

  const SignedTreeHead signed_head = (*signer)->Sign(SampleHead(), 1'795'506'000'120'000);
  EXPECT_EQ(signed_head.timestamp, "2026-11-24T07:40:00.120000Z");
  EXPECT_EQ(signed_head.key_id, (*signer)->public_key().KeyId());
  EXPECT_TRUE(VerifyTreeHead(signed_head, (*signer)->public_key()));
  SignedTreeHead altered = signed_head;
  altered.head.tree_size += 1;
  EXPECT_FALSE(VerifyTreeHead(altered, (*signer)->public_key()));
  altered = signed_head;
  altered.head.root_hash[31] ^= 1;
  EXPECT_FALSE(VerifyTreeHead(altered, (*signer)->public_key()));
  altered = signed_head;
  altered.timestamp = "2026-11-24T07:40:01.120000Z";
  EXPECT_FALSE(VerifyTreeHead(altered, (*signer)->public_key()));

  // The same key after a restart.
  Result<std::unique_ptr<TreeHeadSigner>> reopened = TreeHeadSigner::Open(dir.path(), /*create=*/false);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->key_id(), (*signer)->key_id());
  EXPECT_EQ((*reopened)->Sign(SampleHead(), 1'795'506'000'120'000).signature, signed_head.signature);
}

TEST(TreeHead, TheHeaderRoundTripsHoweverAMailClientShowsIt) {
  testing::TempDir dir;
  Result<std::unique_ptr<TreeHeadSigner>> signer = TreeHeadSigner::Open(dir.path(), /*create=*/true);
  ASSERT_TRUE(signer);
  const SignedTreeHead signed_head = (*signer)->Sign(SampleHead(), 1'795'506'000'000'000);
  const std::string value = TreeHeadHeaderValue(signed_head);
  EXPECT_TRUE(value.starts_with("size=42; root=000102"));
  EXPECT_NE(value.find("; time=2026-11-24T07:40:00Z; sig="), std::string::npos) << value;

  std::string folded = value;
  for (size_t at = folded.find("; "); at != std::string::npos; at = folded.find("; ", at + 4)) {
    folded.replace(at, 2, ";\r\n ");
  }
  for (const std::string& shown : {value, "X-Ledger-Tree-Head: " + value, "x-ledger-tree-head:\t" + folded + "\r\n",
                                   "  " + folded}) {
    Result<SignedTreeHead> parsed = ParseTreeHeadHeader(shown);
    ASSERT_TRUE(parsed) << parsed.error().message << "\n" << shown;
    EXPECT_EQ(parsed->head.tree_size, 42u);
    EXPECT_EQ(parsed->head.root_hash, signed_head.head.root_hash);
    EXPECT_EQ(parsed->timestamp, signed_head.timestamp);
    EXPECT_EQ(parsed->signature, signed_head.signature);
    EXPECT_TRUE(VerifyTreeHead(*parsed, (*signer)->public_key()));
  }
  // Fields in another order are the same head.
  Result<SignedTreeHead> reordered = ParseTreeHeadHeader(
      "sig=" + Base64Encode(signed_head.signature) + "; time=" + signed_head.timestamp + "; root=" +
      HexEncode(signed_head.head.root_hash) + "; size=42");
  ASSERT_TRUE(reordered);
  EXPECT_TRUE(VerifyTreeHead(*reordered, (*signer)->public_key()));
}

TEST(TreeHead, AMalformedHeaderIsRefusedNamingTheField) {
  const std::string root = HexEncode(SampleHead().root_hash);
  const std::string sig = Base64Encode(std::string(64, 'x'));
  const std::string good = "size=42; root=" + root + "; time=2026-11-24T07:40:00Z; sig=" + sig;
  ASSERT_TRUE(ParseTreeHeadHeader(good));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"root=" + root + "; time=2026-11-24T07:40:00Z; sig=" + sig, "size"},
      {"size=4x; root=" + root + "; time=2026-11-24T07:40:00Z; sig=" + sig, "size"},
      {"size=042; root=" + root + "; time=2026-11-24T07:40:00Z; sig=" + sig, "size"},
      {"size=99999999999999999999; root=" + root + "; time=2026-11-24T07:40:00Z; sig=" + sig, "size"},
      {"size=42; root=abc; time=2026-11-24T07:40:00Z; sig=" + sig, "root"},
      {"size=42; root=" + root + "; time=yesterday; sig=" + sig, "time"},
      {"size=42; root=" + root + "; time=2026-11-24T07:40:00Z; sig=AAAA", "sig"},
      {"size=42; root=" + root + "; time=2026-11-24T07:40:00Z", "sig"},
      {good + "; size=43", "size"},
      {good + "; extra=1", "header"},
      {good + "; nonsense", "header"},
      {std::string(kTreeHeadHeaderBytesMax + 1, ' '), "header"},
  };
  for (const auto& [text, field] : cases) {
    Result<SignedTreeHead> parsed = ParseTreeHeadHeader(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().field, field) << text << ": " << parsed.error().message;
  }
}

}  // namespace
}  // namespace ledger
