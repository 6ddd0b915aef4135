// The flags app/ parses for the modules below it.

#include <gtest/gtest.h>

#include <optional>

#include "app/delivery_options.h"

namespace {

TEST(Delivery, ParsesServeOptions) {
  ledger::Result<std::optional<ledger::notify::DeliveryOptions>> none = ledger::app::ParseDeliveryOptions({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(ledger::app::ParseDeliveryOptions({{"--smtp-from", "a@example.org"}}));
  EXPECT_FALSE(ledger::app::ParseDeliveryOptions({{"--smtp-url", "http://x"}, {"--smtp-from", "a@example.org"}}));
  EXPECT_FALSE(ledger::app::ParseDeliveryOptions({{"--smtp-url", "smtp://127.0.0.1:25"}}));
  EXPECT_FALSE(ledger::app::ParseDeliveryOptions(
      {{"--smtp-url", "smtp://127.0.0.1:25"}, {"--smtp-from", "a@example.org"}, {"--smtp-concurrency", "0"}}));
  ledger::Result<std::optional<ledger::notify::DeliveryOptions>> full = ledger::app::ParseDeliveryOptions(
      {{"--smtp-url", "smtp://127.0.0.1:25"}, {"--smtp-from", "NOC@example.org"}, {"--smtp-starttls", "on"},
       {"--smtp-concurrency", "2"}, {"--smtp-retry-initial-ms", "50"}, {"--smtp-retry-max-ms", "400"},
       {"--smtp-attempts-max", "3"}, {"--smtp-receipt-linger-ms", "0"}});
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ((*full)->receipt_linger_ms, 0);
  EXPECT_EQ((*full)->smtp.from, "noc@example.org");
  EXPECT_TRUE((*full)->smtp.starttls);
  EXPECT_EQ((*full)->concurrency, 2u);
  EXPECT_EQ((*full)->attempts_max, 3u);
}

TEST(Delivery, NamesTheFlagThatBreaksItsRule) {
  ledger::Result<std::optional<ledger::notify::DeliveryOptions>> refused = ledger::app::ParseDeliveryOptions(
      {{"--smtp-url", "smtp://127.0.0.1:25"}, {"--smtp-from", "a@example.org"}, {"--smtp-retry-initial-ms", "500"},
       {"--smtp-retry-max-ms", "100"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "--smtp-retry-max-ms");
  refused = ledger::app::ParseDeliveryOptions(
      {{"--smtp-url", "smtp://127.0.0.1:25"}, {"--smtp-from", "a@example.org"}, {"--smtp-receipt-linger-ms", "99999999"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "--smtp-receipt-linger-ms");
  refused = ledger::app::ParseDeliveryOptions({{"--smtp-user", "ops"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "--smtp-user");
  EXPECT_NE(refused.error().message.find("needs --smtp-url"), std::string::npos);
}

TEST(Delivery, RefusesCredentialsInTheUrlWithoutRepeatingThem) {
  for (const char* url : {"smtp://ops:s3cret-pw@127.0.0.1:25", "smtps://ops@mail.example.org:465",
                          "smtp://ops:s3cret-pw%40x@127.0.0.1:25/", "smtp://:s3cret-pw@127.0.0.1"}) {
    SCOPED_TRACE(url);
    ledger::Result<std::optional<ledger::notify::DeliveryOptions>> refused =
        ledger::app::ParseDeliveryOptions({{"--smtp-url", url}, {"--smtp-from", "a@example.org"}});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().field, "--smtp-url");
    EXPECT_NE(refused.error().message.find("--smtp-password-file"), std::string::npos);
    EXPECT_EQ(refused.error().message.find("s3cret"), std::string::npos);
  }
  // An '@' after the authority is no userinfo.
  EXPECT_FALSE(ledger::app::HasUserinfo("smtp://127.0.0.1:25/x@y"));
  EXPECT_TRUE(ledger::app::HasUserinfo("smtp://a:b@127.0.0.1:25/x"));
}

TEST(Delivery, LogsUrlsWithoutUserinfo) {
  EXPECT_EQ(ledger::app::UrlForLog("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
  EXPECT_EQ(ledger::app::UrlForLog("smtp://ops:pw@mail.example.org:25/path"), "smtp://***@mail.example.org:25/path");
  EXPECT_EQ(ledger::app::UrlForLog("smtps://a@b:pw@host"), "smtps://***@host");
  EXPECT_EQ(ledger::app::UrlForLog("no scheme user:pw@host"), "(a URL with credentials)");
}

}  // namespace
