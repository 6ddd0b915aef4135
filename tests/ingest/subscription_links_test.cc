// Self-service links (ingest/subscription_links.h): tokens signed and
// checked with the key kept in a real data folder, and the request parser.

#include "ingest/subscription_links.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/file.h"
#include "tests/test_util.h"

namespace ledger::ingest {
namespace {

SubscriptionLink Confirm() {
  return SubscriptionLink{.purpose = LinkPurpose::kConfirm,
                          .email = "ana@example.org",
                          .systems = {"mail", "vpn"},
                          .expires_unix_seconds = 2'000'000'000};
}

TEST(SubscriptionLinks, KeyIsMadeOnceWithMode0600AndKept) {
  testing::TempDir dir;
  EXPECT_EQ(SubscriptionLinkKey::Open(dir.path(), false).error().code, ErrorCode::kNotFound);
  Result<std::unique_ptr<SubscriptionLinkKey>> made = SubscriptionLinkKey::Open(dir.path(), true);
  ASSERT_TRUE(made) << made.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(dir.Sub(std::string(kLinkKeyFile)).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string token = (*made)->Sign(Confirm());
  // Reopened: the same key, so old links still work.
  Result<std::unique_ptr<SubscriptionLinkKey>> reopened = SubscriptionLinkKey::Open(dir.path(), true);
  ASSERT_TRUE(reopened);
  Result<SubscriptionLink> link = (*reopened)->Verify(token, LinkPurpose::kConfirm);
  ASSERT_TRUE(link) << link.error().message;
  EXPECT_EQ(link->email, "ana@example.org");
  EXPECT_EQ(link->systems, (std::vector<std::string>{"mail", "vpn"}));
  EXPECT_EQ(link->expires_unix_seconds, 2'000'000'000);
  // Another folder, another key.
  testing::TempDir other;
  EXPECT_FALSE((*SubscriptionLinkKey::Open(other.path(), true))->Verify(token, LinkPurpose::kConfirm));
  // A key others may read is refused.
  ASSERT_EQ(::chmod(dir.Sub(std::string(kLinkKeyFile)).c_str(), 0640), 0);
  EXPECT_EQ(SubscriptionLinkKey::Open(dir.path(), true).error().code, ErrorCode::kPermissionDenied);
  ASSERT_EQ(::chmod(dir.Sub(std::string(kLinkKeyFile)).c_str(), 0600), 0);
  // A damaged key file is refused, not replaced.
  ASSERT_TRUE(WriteFileAtomically(dir.Sub(std::string(kLinkKeyFile)), "not hex\n"));
  EXPECT_EQ(SubscriptionLinkKey::Open(dir.path(), true).error().code, ErrorCode::kCorruption);
}

TEST(SubscriptionLinks, EveryAlteredByteIsRefused) {
  const SubscriptionLinkKey key(std::string(kLinkKeyBytes, '\x07'));
  const std::string token = key.Sign(Confirm());
  EXPECT_EQ(key.Sign(Confirm()), token);  // deterministic
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  for (size_t i = 0; i < token.size(); ++i) {
    for (const char replacement : {'A', 'z', '.', '='}) {
      if (token[i] == replacement) continue;
      std::string altered = token;
      altered[i] = replacement;
      Result<SubscriptionLink> link = key.Verify(altered, LinkPurpose::kConfirm);
      // Base64url's last character may carry unused bits: a change there
      // that decodes to the same bytes is not a change (the canonical
      // spelling is required, so even that is refused).
      EXPECT_FALSE(link) << "position " << i << " -> " << replacement;
      if (!link) {
        EXPECT_EQ(link.error().field, "token");
      }
    }
  }
  EXPECT_FALSE(key.Verify(token + token, LinkPurpose::kConfirm));
  EXPECT_FALSE(key.Verify("", LinkPurpose::kConfirm));
  EXPECT_FALSE(key.Verify(std::string(kLinkTokenBytesMax + 1, 'A'), LinkPurpose::kConfirm));
  // The right key, the wrong purpose.
  Result<SubscriptionLink> wrong = key.Verify(token, LinkPurpose::kUnsubscribe);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("not an unsubscribe link"), std::string::npos) << wrong.error().message;
}

TEST(SubscriptionLinks, ExpiryIsTheCallersToCheck) {
  const SubscriptionLink link = Confirm();
  EXPECT_FALSE(link.ExpiredAt(1'999'999'999));
  EXPECT_TRUE(link.ExpiredAt(2'000'000'000));
  SubscriptionLink never = link;
  never.expires_unix_seconds = 0;
  EXPECT_FALSE(never.ExpiredAt(4'000'000'000));
}

TEST(SubscriptionLinks, Base64UrlIsCanonical) {
  std::mt19937 random(20261207);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(random() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(random() & 0xff);
    const std::string text = Base64UrlEncode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(text), bytes);
  }
  EXPECT_FALSE(Base64UrlDecode("QQ=="));
  EXPECT_FALSE(Base64UrlDecode("QR"));  // non-zero unused bits: not the canonical "QQ"
  EXPECT_FALSE(Base64UrlDecode("a+b/"));
  EXPECT_FALSE(Base64UrlDecode("A"));
}

TEST(SelfServiceRequests, ParsesJsonAndFormsAndRefusesHostileInput) {
  Result<SelfServiceRequest> json = ParseSelfServiceRequest(R"({"email":" Ana@Example.ORG","systems":["Mail","vpn","mail"]})", false);
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json->email, "ana@example.org");
  EXPECT_EQ(json->systems, (std::vector<std::string>{"mail", "vpn"}));
  Result<SelfServiceRequest> listed = ParseSelfServiceRequest(R"({"email":"a@example.org","systems":"dns, *"})", false);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->systems, (std::vector<std::string>{"dns", "*"}));
  Result<SelfServiceRequest> form = ParseSelfServiceRequest("email=a%40example.org&systems=mail%2C+vpn&csrf_token=x", true);
  ASSERT_TRUE(form) << form.error().message;
  EXPECT_EQ(form->systems, (std::vector<std::string>{"mail", "vpn"}));
  // HTML in a system is text here; escaping is the page's.
  Result<SelfServiceRequest> html = ParseSelfServiceRequest(R"({"email":"a@example.org","systems":["<b>x</b>"]})", false);
  ASSERT_TRUE(html);
  EXPECT_EQ(html->systems.front(), "<b>x</b>");

  const auto field_of = [](std::string_view body, bool is_form) {
    Result<SelfServiceRequest> parsed = ParseSelfServiceRequest(body, is_form);
    return parsed ? std::string("(accepted)") : parsed.error().field;
  };
  EXPECT_EQ(field_of(R"({"email":"a@example.org\r\nBcc: b@example.org","systems":["mail"]})", false), "email");
  EXPECT_EQ(field_of("email=a%40example.org%0D%0ABcc%3A+b%40example.org&systems=mail", true), "email");
  EXPECT_EQ(field_of(R"({"email":"Ana <a@example.org>","systems":["mail"]})", false), "email");
  EXPECT_EQ(field_of(R"({"systems":["mail"]})", false), "email");
  EXPECT_EQ(field_of(R"({"email":"a@example.org"})", false), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":[]})", false), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":["a\nb"]})", false), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":[1]})", false), "systems");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","systems":["mail"],"actor":"x"})", false), "actor");
  EXPECT_EQ(field_of(R"({"email":"a@example.org","email":"b@example.org","systems":["mail"]})", false), "email");
  EXPECT_EQ(field_of("email=a%40example.org&systems=mail&systems=vpn", true), "systems");
  EXPECT_EQ(field_of("email=%zz&systems=mail", true), "body");
  EXPECT_EQ(field_of("email=a%40example.org&systems=a,,b", true), "systems");
  std::string many = R"({"email":"a@example.org","systems":[)";
  for (size_t i = 0; i <= kSelfServiceSystemsMax; ++i) many += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  EXPECT_EQ(field_of(many + "]}", false), "systems");
}

}  // namespace
}  // namespace ledger::ingest
