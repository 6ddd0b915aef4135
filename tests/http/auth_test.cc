// Anonymous readers and the lockout of addresses that keep guessing tokens
// (http/auth.h): the networks they are admitted from, the counter with its
// time given, and both through AccessControl.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/auth.h"
#include "tests/http_test_support.h"

namespace {

using ledger::http::AccessControl;
using ledger::http::AccessOptions;
using ledger::http::AnonymousReaders;
using ledger::http::AuthFailureLog;
using ledger::http::AuthFile;
using ledger::http::HttpRequest;
using ledger::http::LockoutPolicy;
using ledger::http::Network;
using ledger::http::RequiredAccess;
using ledger::http::Role;
using ledger::http::test_support::HashLine;
using ledger::http::test_support::Request;

Network Parsed(const std::string& text) {
  ledger::Result<Network> network = Network::Parse(text);
  EXPECT_TRUE(network) << text << ": " << (network ? "" : network.error().message);
  return network ? *network : Network();
}

TEST(Network, ParsesIpv4AndIpv6) {
  EXPECT_EQ(Parsed("10.0.0.0/8").Text(), "10.0.0.0/8");
  EXPECT_EQ(Parsed("127.0.0.1/32").Text(), "127.0.0.1/32");
  EXPECT_EQ(Parsed("0.0.0.0/0").Text(), "0.0.0.0/0");
  EXPECT_EQ(Parsed("::1/128").Text(), "::1/128");
  EXPECT_EQ(Parsed("fd00::/8").Text(), "fd00::/8");
  EXPECT_EQ(Parsed("2001:db8::/32").Text(), "2001:db8::/32");
  EXPECT_EQ(Parsed("::/0").Text(), "::/0");
}

TEST(Network, RefusesWhatIsNotANetworkNamingIt) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"10.0.0.0", "no /PREFIX"},
      {"10.0.0.0/", "prefix must be a number from 0 to 32"},
      {"10.0.0.0/33", "prefix must be a number from 0 to 32"},
      {"10.0.0.0/-1", "prefix must be a number from 0 to 32"},
      {"10.0.0.0/8x", "prefix must be a number from 0 to 32"},
      {"10.0.0.0/0008", "prefix must be a number from 0 to 32"},
      {"::1/129", "prefix must be a number from 0 to 128"},
      {"10.0.0.1/8", "the network is 10.0.0.0/8"},
      {"fd00::1/8", "the network is fd00::/8"},
      {"10.0.0/8", "is not an IPv4 or IPv6 address"},
      {"256.0.0.0/8", "is not an IPv4 or IPv6 address"},
      {"intranet/8", "is not an IPv4 or IPv6 address"},
      {"fe80::1%eth0/64", "is not an IPv4 or IPv6 address"},
      {"::ffff:10.0.0.0/104", "is not an IPv4 or IPv6 address"},
      {"/8", "is not an IPv4 or IPv6 address"},
      {"", "no /PREFIX"},
      {std::string(200, '1') + "/8", "too long"},
  };
  for (const Case& c : cases) {
    ledger::Result<Network> network = Network::Parse(c.text);
    ASSERT_FALSE(network) << c.text << " parsed as " << network->Text();
    EXPECT_EQ(network.error().code, ledger::ErrorCode::kInvalidArgument);
    EXPECT_NE(network.error().message.find(c.says), std::string::npos) << c.text << ": " << network.error().message;
    EXPECT_NE(network.error().message.find("'" + c.text.substr(0, 64) + "'"), std::string::npos)
        << "the message names the value: " << network.error().message;
  }
}

TEST(Network, ContainsAddressesAsTheServerSpellsThem) {
  const Network ten = Parsed("10.0.0.0/8");
  EXPECT_TRUE(ten.Contains("10.0.0.0"));
  EXPECT_TRUE(ten.Contains("10.255.255.255"));
  EXPECT_TRUE(ten.Contains("::ffff:10.1.2.3")) << "an IPv4 address mapped into IPv6 is the IPv4 address";
  EXPECT_FALSE(ten.Contains("11.0.0.0"));
  EXPECT_FALSE(ten.Contains("9.255.255.255"));
  EXPECT_FALSE(ten.Contains("::1"));
  EXPECT_FALSE(ten.Contains("::a00:1")) << "an IPv6 address is not in an IPv4 network";
  EXPECT_FALSE(ten.Contains(""));
  EXPECT_FALSE(ten.Contains("10.0.0.1.evil"));

  const Network odd = Parsed("192.168.4.0/22");
  EXPECT_TRUE(odd.Contains("192.168.7.255"));
  EXPECT_FALSE(odd.Contains("192.168.8.0"));
  EXPECT_FALSE(odd.Contains("192.168.3.255"));

  const Network host = Parsed("127.0.0.1/32");
  EXPECT_TRUE(host.Contains("127.0.0.1"));
  EXPECT_FALSE(host.Contains("127.0.0.2"));

  const Network loopback6 = Parsed("::1/128");
  EXPECT_TRUE(loopback6.Contains("::1"));
  EXPECT_FALSE(loopback6.Contains("::2"));
  EXPECT_FALSE(loopback6.Contains("127.0.0.1"));

  const Network link_local = Parsed("fe80::/10");
  EXPECT_TRUE(link_local.Contains("fe80::1%eth0")) << "the scope is left off";
  EXPECT_TRUE(link_local.Contains("febf::1"));
  EXPECT_FALSE(link_local.Contains("fec0::1"));

  EXPECT_TRUE(Parsed("0.0.0.0/0").Contains("203.0.113.9"));
  EXPECT_TRUE(Parsed("::/0").Contains("2001:db8::9"));
}

TEST(AnonymousReaders, AdmitFromTheirNetworksOrAnywhere) {
  EXPECT_TRUE(AnonymousReaders{}.Admits("203.0.113.9"));
  const AnonymousReaders readers{.trusted_networks = {Parsed("10.0.0.0/8"), Parsed("::1/128")}};
  EXPECT_TRUE(readers.Admits("10.20.30.40"));
  EXPECT_TRUE(readers.Admits("::1"));
  EXPECT_FALSE(readers.Admits("127.0.0.1"));
  EXPECT_FALSE(readers.Admits(""));
}

// ------------------------------------------------------------ the lockout

TEST(Lockout, AfterTooManyRefusalsWithinTheWindowTheAddressWaits) {
  std::vector<std::string> said;
  const LockoutPolicy policy{.failures_max = 3, .window = std::chrono::seconds(60), .lockout = std::chrono::seconds(120)};
  AuthFailureLog log([&](const std::string& line) { said.push_back(line); }, policy);
  const auto start = std::chrono::steady_clock::now();
  const auto at = [start](int seconds) { return start + std::chrono::seconds(seconds); };

  // Spread wider than the window: never locked out.
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(0));
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(40));
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(80));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(80)), std::nullopt);

  // The third within 60 s: locked out for 120 s, said once.
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(90));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(90)), std::chrono::seconds(120));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(150)), std::chrono::seconds(60));
  EXPECT_EQ(log.LockedOutFor("10.0.0.2", at(150)), std::nullopt) << "other addresses are not locked out";
  size_t lockout_lines = 0;
  for (const std::string& line : said) lockout_lines += line.find("locked out 10.0.0.1 for 120 s") != std::string::npos;
  EXPECT_EQ(lockout_lines, 1u);
  // Refusals during the lockout neither lengthen it nor say it again.
  for (int i = 0; i < 10; ++i) log.Note("10.0.0.1", "a sign-in with a token that is not valid", at(100 + i));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(150)), std::chrono::seconds(60));
  lockout_lines = 0;
  for (const std::string& line : said) lockout_lines += line.find("locked out") != std::string::npos;
  EXPECT_EQ(lockout_lines, 1u);

  // Rounded up to a whole second, and over when it ends.
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(209) + std::chrono::milliseconds(500)), std::chrono::seconds(1));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(210)), std::nullopt);
  // A fresh count after it: one more refusal does not lock out again.
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(211));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(211)), std::nullopt);
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(212));
  log.Note("10.0.0.1", "a Bearer token that is not valid", at(213));
  EXPECT_EQ(log.LockedOutFor("10.0.0.1", at(213)), std::chrono::seconds(120));
  lockout_lines = 0;
  for (const std::string& line : said) lockout_lines += line.find("locked out") != std::string::npos;
  EXPECT_EQ(lockout_lines, 2u) << "one line per lockout";
  for (const std::string& line : said) EXPECT_EQ(line.find("token-"), std::string::npos) << line;
}

TEST(Lockout, FollowsBoundedAddressesDroppingTheOldest) {
  std::vector<std::string> said;
  const LockoutPolicy policy{.failures_max = 2, .window = std::chrono::seconds(60), .lockout = std::chrono::seconds(600)};
  AuthFailureLog log([&](const std::string& line) { said.push_back(line); }, policy);
  const auto start = std::chrono::steady_clock::now();
  // The first address is locked out, then many others guess at once.
  log.Note("192.0.2.1", "x", start);
  log.Note("192.0.2.1", "x", start);
  ASSERT_TRUE(log.LockedOutFor("192.0.2.1", start));
  for (size_t i = 0; i < 3 * ledger::http::kAuthFailureAddressesMax; ++i) {
    log.Note("10.9." + std::to_string(i), "x", start + std::chrono::milliseconds(1 + i));
    ASSERT_LE(log.addresses_followed(), ledger::http::kAuthFailureAddressesMax);
  }
  EXPECT_EQ(log.addresses_followed(), ledger::http::kAuthFailureAddressesMax);
  // The oldest went, its lockout with it (the bound comes first); the
  // newest are still followed.
  const auto after = start + std::chrono::seconds(4);
  EXPECT_EQ(log.LockedOutFor("192.0.2.1", after), std::nullopt);
  const std::string newest = "10.9." + std::to_string(3 * ledger::http::kAuthFailureAddressesMax - 1);
  log.Note(newest, "x", after);
  EXPECT_TRUE(log.LockedOutFor(newest, after));
  // The log stays short: one line per address until the table filled, then
  // one for all the others per interval, and the lockout lines.
  EXPECT_LE(said.size(), ledger::http::kAuthFailureAddressesMax + 5);

  // Quiet addresses are forgotten before busy ones: a locked-out address
  // survives a crowd that comes after an interval of quiet.
  AuthFailureLog second([&](const std::string&) {}, policy);
  second.Note("192.0.2.1", "x", start);
  second.Note("192.0.2.1", "x", start);
  for (size_t i = 0; i + 1 < ledger::http::kAuthFailureAddressesMax; ++i) second.Note("10.8." + std::to_string(i), "x", start);
  const auto later = start + ledger::http::kAuthFailureLogInterval;
  second.Note("10.7.0.1", "x", later);
  EXPECT_TRUE(second.LockedOutFor("192.0.2.1", later)) << "a locked-out address is not quiet";
  EXPECT_LE(second.addresses_followed(), 3u);
}

TEST(Lockout, ThroughAccessControlEvenAValidTokenWaitsButReadersWithoutOneDoNot) {
  std::vector<std::string> said;
  AccessControl access(*AuthFile::Parse(HashLine("boss", "admin", "token-boss")),
                       [&](const std::string& line) { said.push_back(line); },
                       AccessOptions{.anonymous = AnonymousReaders{},
                                     .lockout = LockoutPolicy{.failures_max = 3,
                                                              .window = std::chrono::seconds(60),
                                                              .lockout = std::chrono::seconds(300)}});
  HttpRequest guess = Request("GET", "/api/v1/incidents");
  guess.client_address = "192.0.2.7";
  guess.authorization = "Bearer ilt_guess";
  EXPECT_EQ(access.Check(guess, RequiredAccess::Needs(Role::kViewer)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  EXPECT_FALSE(access.SignIn("ilt_guess2", "192.0.2.7"));
  EXPECT_EQ(access.Check(guess, RequiredAccess::Needs(Role::kViewer)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  // Three refusals: locked out.
  ASSERT_TRUE(access.LockedOutFor("192.0.2.7"));
  EXPECT_LE(*access.LockedOutFor("192.0.2.7"), std::chrono::seconds(300));
  HttpRequest valid = guess;
  valid.authorization = "Bearer token-boss";
  ledger::Result<ledger::http::Principal> refused = access.Check(valid, RequiredAccess::Needs(Role::kViewer));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, ledger::http::kLockedOutField);
  EXPECT_FALSE(access.SignIn("token-boss", "192.0.2.7")) << "a valid token waits too";
  // Without credentials: an anonymous reader, as before.
  HttpRequest plain = Request("GET", "/api/v1/incidents");
  plain.client_address = "192.0.2.7";
  ledger::Result<ledger::http::Principal> reader = access.Check(plain, RequiredAccess::Needs(Role::kViewer));
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->anonymous);
  // Another address is not affected.
  valid.client_address = "192.0.2.8";
  EXPECT_TRUE(access.Check(valid, RequiredAccess::Needs(Role::kViewer)));
  EXPECT_TRUE(access.SignIn("token-boss", "192.0.2.8"));
  size_t lockout_lines = 0;
  for (const std::string& line : said) lockout_lines += line.find("locked out 192.0.2.7") != std::string::npos;
  EXPECT_EQ(lockout_lines, 1u);
}

// ----------------------------------------------------- anonymous readers

TEST(AnonymousAccess, ReadsAsViewerOnlyFromTrustedNetworks) {
  const std::string file = HashLine("desk", "helpdesk", "token-desk");
  AccessControl access(*AuthFile::Parse(file), nullptr,
                       AccessOptions{.anonymous = AnonymousReaders{.trusted_networks = {Parsed("10.0.0.0/8")}}});
  EXPECT_TRUE(access.anonymous_readers());
  HttpRequest read = Request("GET", "/api/v1/incidents");
  read.client_address = "10.1.2.3";
  ledger::Result<ledger::http::Principal> reader = access.Check(read, RequiredAccess::Needs(Role::kViewer));
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->name, "anonymous");
  EXPECT_TRUE(reader->anonymous);
  EXPECT_TRUE(reader->Has(Role::kViewer));
  EXPECT_FALSE(reader->Has(Role::kHelpdesk));
  EXPECT_FALSE(reader->signed_in());
  EXPECT_EQ(access.Hold(read)->Roles(), static_cast<ledger::http::RoleSet>(Role::kViewer));

  // Outside the networks: credentials needed, as without --anonymous.
  read.client_address = "127.0.0.1";
  EXPECT_EQ(access.Check(read, RequiredAccess::Needs(Role::kViewer)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  EXPECT_EQ(access.Hold(read)->Roles(), std::nullopt);

  // Writes and the other roles still need a token.
  HttpRequest write = Request("POST", "/api/v1/submissions");
  write.client_address = "10.1.2.3";
  EXPECT_EQ(access.Check(write, RequiredAccess::Needs(Role::kHelpdesk)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  HttpRequest audit = Request("GET", "/api/v1/events");
  audit.client_address = "10.1.2.3";
  EXPECT_EQ(access.Check(audit, RequiredAccess::Needs(Role::kAuditor)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  write.authorization = "Bearer token-desk";
  ledger::Result<ledger::http::Principal> desk = access.Check(write, RequiredAccess::Needs(Role::kHelpdesk));
  ASSERT_TRUE(desk);
  EXPECT_EQ(desk->name, "desk");
  EXPECT_FALSE(desk->anonymous);

  // A wrong token is refused, not read anonymously.
  read.client_address = "10.1.2.3";
  read.authorization = "Bearer ilt_wrong";
  EXPECT_EQ(access.Check(read, RequiredAccess::Needs(Role::kViewer)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  // A cookie whose session is gone reads on anonymously; a signed-in one is its token.
  read.authorization.clear();
  read.cookie = "ledger_session=expired-or-made-up";
  reader = access.Check(read, RequiredAccess::Needs(Role::kViewer));
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->anonymous);
  std::optional<ledger::http::NewSession> session = access.SignIn("token-desk", "10.1.2.3");
  ASSERT_TRUE(session);
  read.cookie = "ledger_session=" + session->cookie_value;
  reader = access.Check(read, RequiredAccess::Needs(Role::kViewer));
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->name, "desk");
  EXPECT_TRUE(reader->signed_in());

  // Public routes are as before: anyone, unnamed.
  HttpRequest page = Request("GET", "/signin");
  page.client_address = "10.1.2.3";
  reader = access.Check(page, RequiredAccess::Public());
  ASSERT_TRUE(reader);
  EXPECT_FALSE(reader->anonymous);
}

TEST(AnonymousAccess, WithoutTheOptionNobodyReadsAnonymously) {
  AccessControl access(*AuthFile::Parse(HashLine("desk", "helpdesk", "token-desk")));
  EXPECT_FALSE(access.anonymous_readers());
  HttpRequest read = Request("GET", "/api/v1/incidents");
  read.client_address = "10.1.2.3";
  EXPECT_EQ(access.Check(read, RequiredAccess::Needs(Role::kViewer)).error().code,
            ledger::ErrorCode::kUnauthenticated);
  // Open mode ignores it: everybody may do everything already.
  AccessControl open(std::nullopt, nullptr, AccessOptions{.anonymous = AnonymousReaders{}});
  EXPECT_FALSE(open.anonymous_readers());
  ledger::Result<ledger::http::Principal> everyone = open.Check(read, RequiredAccess::Needs(Role::kAdmin));
  ASSERT_TRUE(everyone);
  EXPECT_FALSE(everyone->anonymous);
}

}  // namespace
