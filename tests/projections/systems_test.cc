// The catalog of systems (projections/systems.h): first use defines a
// system under its first spelling; case and aliases resolve to one key;
// an alias counts "as corrected" and not "as known then"; groups cover their
// members for subscriptions and filters; the saved form round-trips and a
// read model resumed from a checkpoint agrees with one folded from seq 1.
// Durations over such a catalog merge one system's overlapping outages.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "projections/as_of.h"
#include "projections/checkpoint.h"
#include "projections/durations.h"
#include "projections/notifications.h"
#include "projections/read_model.h"
#include "projections/systems.h"
#include "test_util.h"

namespace ledger::projections {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kHour = 3600 * kSecond;
// 2026-11-24T00:00:00Z.
constexpr int64_t kT0 = 1'795'478'400LL * kSecond;

proto::Event Incident(const std::string& ticket, proto::EventType type, const std::vector<std::string>& systems,
                      std::optional<int64_t> started = {}, std::optional<int64_t> ended = {}) {
  proto::Event event;
  event.set_ticket(ticket);
  event.set_type(type);
  proto::IncidentPayload* payload = event.mutable_incident();
  if (type == proto::INCIDENT_OPENED) {
    payload->set_title("Title " + ticket);
    payload->set_engineer("Ana");
  }
  for (const std::string& system : systems) payload->mutable_systems()->add_names(system);
  if (started) {
    payload->mutable_started_at()->set_unix_micros(*started);
  }
  if (ended) payload->mutable_ended_at()->set_unix_micros(*ended);
  return event;
}

proto::Event System(proto::EventType type, const std::string& name, const std::string& alias = "",
                    std::optional<std::string> group = {}) {
  proto::Event event;
  event.set_type(type);
  event.set_actor("admin");
  proto::SystemPayload* payload = event.mutable_system();
  payload->set_name(name);
  if (!alias.empty()) payload->set_alias(alias);
  if (group) payload->set_group(*group);
  return event;
}

proto::Event Subscribe(const std::string& email, const std::vector<std::string>& systems) {
  proto::Event event;
  event.set_type(proto::SUBSCRIPTION_ADDED);
  event.mutable_subscription()->set_email(email);
  for (const std::string& system : systems) event.mutable_subscription()->add_systems(FoldSystem(system));
  return event;
}

// Folds events (numbering them) into a bare catalog.
SystemCatalog Fold(std::vector<proto::Event> events) {
  SystemCatalog catalog;
  uint64_t seq = 0;
  for (proto::Event& event : events) {
    event.set_seq(++seq);
    event.set_recorded_at_micros(kT0 + static_cast<int64_t>(seq) * kSecond);
    catalog.Apply(event);
  }
  return catalog;
}

TEST(SystemCatalog, FirstUseDefinesAndCaseAndAliasesResolveToOneKey) {
  const SystemCatalog catalog = Fold({
      Incident("INC-1", proto::INCIDENT_OPENED, {"DNS"}),
      Incident("INC-2", proto::INCIDENT_OPENED, {"dns", "Mail"}),
      System(proto::SYSTEM_DEFINED, "E-mail", "", "Mail services"),  // seq 3
      System(proto::SYSTEM_ALIASED, "E-mail", "MAIL"),                // seq 4
      System(proto::SYSTEM_DEFINED, "dns", "", "Network"),            // seq 5: declares the used name
  });
  ASSERT_EQ(catalog.systems().size(), 3u);  // dns, mail (merged), e-mail
  const SystemEntry* dns = catalog.FindKey("dns");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->name, "DNS");  // the first spelling stays
  EXPECT_TRUE(dns->declared);
  EXPECT_EQ(dns->group, "Network");
  EXPECT_EQ(dns->defined_seq, 1u);
  EXPECT_EQ(dns->last_seq, 5u);
  EXPECT_FALSE(catalog.FindKey("mail")->declared);

  const auto shared = std::make_shared<const SystemCatalog>(catalog);
  const SystemNames now(shared);
  EXPECT_EQ(now.Key("DnS"), "dns");
  EXPECT_EQ(now.Display("dns"), "DNS");
  EXPECT_EQ(now.Key("mail"), "e-mail");
  EXPECT_EQ(now.Display("Mail"), "E-mail");
  EXPECT_TRUE(now.Same("MAIL", "e-MAIL"));
  EXPECT_EQ(now.Display("Unknown thing"), "Unknown thing");
  // As known before the alias (seq 3): Mail is its own system.
  const SystemNames then = now.Limited(SystemsLimit{.seq = 3, .micros = std::nullopt});
  EXPECT_EQ(then.Key("Mail"), "mail");
  EXPECT_EQ(then.Display("mail"), "Mail");
  EXPECT_FALSE(then.Same("Mail", "E-mail"));
  // The same by time: the alias was recorded at kT0 + 4 s.
  EXPECT_FALSE(now.Limited(SystemsLimit{.seq = std::nullopt, .micros = kT0 + 3 * kSecond}).Same("Mail", "E-mail"));
  EXPECT_TRUE(now.Limited(SystemsLimit{.seq = std::nullopt, .micros = kT0 + 4 * kSecond}).Same("Mail", "E-mail"));

  // Groups cover their members (any case), for entries that name no system.
  EXPECT_TRUE(now.Covers("network", "dns"));
  EXPECT_TRUE(now.Covers("MAIL SERVICES", "Mail"));     // through the alias
  EXPECT_FALSE(then.Covers("Mail services", "Mail"));  // not before it
  EXPECT_TRUE(now.Covers("*", "anything"));
  EXPECT_FALSE(now.Covers("Network", "E-mail"));
  EXPECT_TRUE(now.IsGroup("network"));
  EXPECT_FALSE(now.IsGroup("DNS"));

  // What the form offers: neither merged nor retired, grouped.
  std::vector<std::string> offered;
  for (const SystemEntry* entry : OfferedSystems(catalog)) offered.push_back(entry->name);
  EXPECT_EQ(offered, (std::vector<std::string>{"E-mail", "DNS"}));  // "Mail services" < "Network"
  EXPECT_EQ(DistinctSystems(now, {"dns", "DNS", "mail", "E-MAIL", "Other"}),
            (std::vector<std::string>{"DNS", "E-mail", "Other"}));
}

TEST(SystemCatalog, UpdatesRetiresAndIgnoresWhatMakesNoSense) {
  proto::Event update = System(proto::SYSTEM_UPDATED, "dns");
  update.mutable_system()->set_owner("net@example.org");
  update.mutable_system()->set_description("resolvers");
  const SystemCatalog catalog = Fold({
      Incident("INC-1", proto::INCIDENT_OPENED, {"DNS"}),
      update,
      System(proto::SYSTEM_UPDATED, "nothing"),               // unknown: nothing
      System(proto::SYSTEM_ALIASED, "nothing", "whatever"),  // unknown target: nothing
      System(proto::SYSTEM_ALIASED, "DNS", "dns"),            // itself: nothing
      System(proto::SYSTEM_RETIRED, "DNS"),
  });
  ASSERT_EQ(catalog.systems().size(), 1u);
  EXPECT_TRUE(catalog.aliases().empty());
  const SystemEntry* dns = catalog.FindKey("dns");
  EXPECT_EQ(dns->owner, "net@example.org");
  EXPECT_EQ(dns->description, "resolvers");
  EXPECT_TRUE(dns->retired);
  EXPECT_TRUE(OfferedSystems(catalog).empty());
}

TEST(SystemCatalog, AliasChainsAndLoopsEnd) {
  SystemCatalog catalog;
  catalog.PutSystem("a", SystemEntry{.name = "A", .defined_seq = 1, .last_seq = 1});
  catalog.PutSystem("b", SystemEntry{.name = "B", .defined_seq = 1, .last_seq = 1});
  catalog.PutAlias("x", SystemAlias{.spelling = "X", .target = "a", .seq = 2});
  catalog.PutAlias("a", SystemAlias{.spelling = "A", .target = "b", .seq = 3});
  const SystemNames names(std::make_shared<const SystemCatalog>(catalog));
  EXPECT_EQ(names.Key("x"), "b");  // x -> a -> b
  // A log imported from elsewhere with a loop cannot hang a resolution.
  catalog.PutAlias("b", SystemAlias{.spelling = "B", .target = "a", .seq = 4});
  const SystemNames looping(std::make_shared<const SystemCatalog>(catalog));
  const std::string key = looping.Key("x");
  EXPECT_TRUE(key == "a" || key == "b");
}

TEST(SystemCatalog, SavedFormRoundTripsAndRefusesDamage) {
  const SystemEntry entry{.name = "DNS",
                          .group = "Network",
                          .owner = "net@example.org",
                          .description = "resolvers\nand caches",
                          .declared = true,
                          .retired = true,
                          .defined_seq = 3,
                          .defined_at_micros = kT0,
                          .last_seq = 9};
  SystemEntry decoded;
  ASSERT_TRUE(DecodeSystemEntry(EncodeSystemEntry(entry), &decoded));
  EXPECT_EQ(EncodeSystemEntry(decoded), EncodeSystemEntry(entry));
  EXPECT_TRUE(decoded.declared && decoded.retired);
  const std::string bytes = EncodeSystemEntry(entry);
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(DecodeSystemEntry(bytes.substr(0, size), &decoded)) << size;
  }
  EXPECT_FALSE(DecodeSystemEntry(bytes + "x", &decoded));
  const SystemAlias alias{.spelling = "Mail", .target = "e-mail", .seq = 4, .recorded_at_micros = kT0};
  SystemAlias decoded_alias;
  ASSERT_TRUE(DecodeSystemAlias(EncodeSystemAlias(alias), &decoded_alias));
  EXPECT_EQ(decoded_alias.target, "e-mail");
  EXPECT_EQ(decoded_alias.seq, 4u);
  const std::string alias_bytes = EncodeSystemAlias(alias);
  for (size_t size = 0; size < alias_bytes.size(); ++size) {
    EXPECT_FALSE(DecodeSystemAlias(alias_bytes.substr(0, size), &decoded_alias)) << size;
  }
}

// -- over a real ledger ---------------------------------------------------------

Status Append(Ledger& log, const proto::Event& event) {
  Result<Appended> appended =
      log.Append([&event](AppendContext&) -> Result<Decision> { return Decision{.event = event, .repeat_of_seq = {}}; });
  if (!appended) return appended.error();
  return {};
}

// Opens a ticket over [start, end) (closing it at end).
Status Outage(Ledger& log, const std::string& ticket, const std::vector<std::string>& systems, int64_t start,
              std::optional<int64_t> end) {
  if (Status opened = Append(log, Incident(ticket, proto::INCIDENT_OPENED, systems, start)); !opened) return opened;
  if (!end) return {};
  return Append(log, Incident(ticket, proto::INCIDENT_CLOSED, {}, std::nullopt, end));
}

const SystemDowntime* FindSystem(const DurationReport& report, const std::string& name) {
  for (const SystemDowntime& system : report.systems) {
    if (system.system == name) return &system;
  }
  return nullptr;
}

std::vector<std::string> Names(const DurationReport& report) {
  std::vector<std::string> names;
  for (const SystemDowntime& system : report.systems) names.push_back(system.system);
  return names;
}

TEST(SystemsReadModel, OneSystemWhateverTheCaseAndAliasesCountAsCorrectedOnly) {
  testing::TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .sync_writes = false}));
  std::unique_ptr<ProjectionCheckpoints> checkpoints = std::move(*ProjectionCheckpoints::Open(dir.Sub("projections")));
  ReadModel model;
  ASSERT_TRUE(model.Open(*log, checkpoints.get()));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { model.Apply(events); });

  // DNS 01:00-03:00 and dns 02:00-04:00 overlap: one system, 3 h down.
  ASSERT_TRUE(Append(*log, Subscribe("net@example.org", {"Network"})));
  ASSERT_TRUE(Append(*log, Subscribe("mail@example.org", {"mail"})));
  ASSERT_TRUE(Append(*log, System(proto::SYSTEM_DEFINED, "DNS", "", "Network")));
  ASSERT_TRUE(Outage(*log, "INC-1", {"DNS"}, kT0 + 1 * kHour, kT0 + 3 * kHour));
  ASSERT_TRUE(Outage(*log, "INC-2", {"dns"}, kT0 + 2 * kHour, kT0 + 4 * kHour));
  // Mail 05:00-06:00 and E-mail 05:30-07:00: two systems until the alias.
  ASSERT_TRUE(Outage(*log, "INC-3", {"Mail"}, kT0 + 5 * kHour, kT0 + 6 * kHour));
  ASSERT_TRUE(Outage(*log, "INC-4", {"E-mail"}, kT0 + 5 * kHour + kHour / 2, kT0 + 7 * kHour));
  const uint64_t before_alias = log->head().seq;
  ASSERT_TRUE(Append(*log, System(proto::SYSTEM_ALIASED, "E-mail", "Mail")));
  // After the alias, an incident on E-mail mails the subscriber to "mail".
  ASSERT_TRUE(Outage(*log, "INC-5", {"E-MAIL"}, kT0 + 8 * kHour, std::nullopt));

  const DurationQuery query{.from_micros = kT0, .to_micros = kT0 + 24 * kHour, .now_micros = kT0 + 9 * kHour};
  DurationReport corrected;
  model.Read([&](const TicketStore& store, uint64_t) { corrected = *ComputeDurations(store, query); });
  EXPECT_EQ(Names(corrected), (std::vector<std::string>{"DNS", "E-mail"}));
  EXPECT_EQ(FindSystem(corrected, "DNS")->downtime_seconds, 3 * 3600);
  EXPECT_EQ(FindSystem(corrected, "DNS")->tickets, (std::vector<std::string>{"INC-1", "INC-2"}));
  // Mail and E-mail merged: 05:00-07:00, then INC-5 08:00-09:00 (now).
  EXPECT_EQ(FindSystem(corrected, "E-mail")->downtime_seconds, 3 * 3600);

  // As known before the alias: two systems.
  Result<TicketStore> then = TicketsAsOf(model, *log, AsOfPoint{.seq = before_alias, .micros = std::nullopt},
                                         query.from_micros, query.to_micros, StopToken());
  ASSERT_TRUE(then);
  const DurationReport known_then = *ComputeDurations(*then, query);
  EXPECT_EQ(Names(known_then), (std::vector<std::string>{"DNS", "E-mail", "Mail"}));
  EXPECT_EQ(FindSystem(known_then, "Mail")->downtime_seconds, 3600);
  EXPECT_EQ(FindSystem(known_then, "E-mail")->downtime_seconds, 3 * 3600 / 2);

  // The incident list's filter: an alias spelling and a group find members.
  model.Read([&](const TicketStore& store, uint64_t) {
    TimelineQuery timeline{.from_micros = query.from_micros, .to_micros = query.to_micros};
    timeline.system = "mail";
    EXPECT_EQ(store.Query(timeline).incidents.size(), 3u);  // INC-3, INC-4, INC-5
    timeline.system = "network";
    EXPECT_EQ(store.Query(timeline).incidents.size(), 2u);
  });

  // Subscribers: the group's member mailed for INC-1 and INC-2; "mail" for
  // INC-3 (its own name), not INC-4 (E-mail before the alias), and INC-5.
  std::map<std::string, std::set<std::string>> mailed;
  model.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    for (const auto& [key, job] : queue.jobs()) mailed[key.recipient].insert(job.ticket);
  });
  EXPECT_EQ(mailed["net@example.org"], (std::set<std::string>{"INC-1", "INC-2"}));
  EXPECT_EQ(mailed["mail@example.org"], (std::set<std::string>{"INC-3", "INC-5"}));

  // Resumed from the checkpoint, and folded from seq 1: the same answers.
  const auto catalog_of = [](const ReadModel& read) {
    std::string saved;
    read.ReadProjection<SystemProjection>([&](const SystemProjection& systems, uint64_t) {
      for (const auto& [key, entry] : systems.catalog().systems()) saved += key + EncodeSystemEntry(entry);
      for (const auto& [key, alias] : systems.catalog().aliases()) saved += key + EncodeSystemAlias(alias);
    });
    return saved;
  };
  ReadModel rebuilt;
  ASSERT_TRUE(rebuilt.Open(*log, nullptr));
  EXPECT_EQ(catalog_of(rebuilt), catalog_of(model));
  ReadModel resumed;
  Result<OpenReport> report = resumed.Open(*log, checkpoints.get());
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->rebuilt) << report->reason;
  EXPECT_EQ(catalog_of(resumed), catalog_of(model));
  resumed.Read([&](const TicketStore& store, uint64_t) {
    EXPECT_EQ(Names(*ComputeDurations(store, query)), (std::vector<std::string>{"DNS", "E-mail"}));
  });
}

}  // namespace
}  // namespace ledger::projections
