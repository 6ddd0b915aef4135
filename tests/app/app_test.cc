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
       {"--smtp-attempts-max", "3"}});
  ASSERT_TRUE(full) << full.error().message;
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
  refused = ledger::app::ParseDeliveryOptions({{"--smtp-user", "ops"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "--smtp-user");
  EXPECT_NE(refused.error().message.find("needs --smtp-url"), std::string::npos);
}

}  // namespace
