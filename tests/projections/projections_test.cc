#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "projections/ticket_codec.h"
#include "projections/ticket_name.h"
#include "projections/tickets.h"

namespace ledger::projections {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000;
constexpr int64_t kBase = 1'795'000'000LL * 1'000'000;

proto::Event Make(uint64_t seq, const std::string& ticket, proto::EventType type, uint32_t version, int64_t recorded) {
  proto::Event event;
  event.set_seq(seq);
  event.set_ticket(ticket);
  event.set_type(type);
  event.set_version(version);
  event.set_recorded_at_micros(recorded);
  event.mutable_incident();
  return event;
}

void SetTime(proto::Timestamp* timestamp, int64_t micros, int32_t offset = 0) {
  timestamp->set_unix_micros(micros);
  timestamp->set_offset_minutes(offset);
}

proto::Event Open(uint64_t seq, const std::string& ticket, int64_t recorded, std::optional<int64_t> started = {}) {
  proto::Event event = Make(seq, ticket, proto::INCIDENT_OPENED, 1, recorded);
  auto* payload = event.mutable_incident();
  payload->set_title("Title " + ticket);
  payload->mutable_systems()->add_names("mail");
  payload->set_engineer("Ana");
  if (started) SetTime(payload->mutable_started_at(), *started, 60);
  return event;
}

TEST(TicketFold, OpenDefaultsToRecordedTime) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase));
  const TicketState* state = store.Find("INC-1");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->status, TicketStatus::kOpen);
  ASSERT_EQ(state->periods.size(), 1u);
  EXPECT_EQ(state->periods[0].start.unix_micros, kBase);
  EXPECT_FALSE(state->periods[0].end);
  EXPECT_EQ(state->version, 1u);
  EXPECT_EQ(state->opened_seq, 1u);
  EXPECT_EQ(state->severity, proto::MINOR);
}

TEST(TicketFold, CloseReopenAndCorrectAfterClose) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase, kBase - kHour));
  proto::Event close = Make(2, "INC-1", proto::INCIDENT_CLOSED, 2, kBase + kHour);
  store.Apply(close);
  const TicketState* state = store.Find("INC-1");
  EXPECT_EQ(state->status, TicketStatus::kClosed);
  ASSERT_TRUE(state->periods[0].end);
  EXPECT_EQ(state->periods[0].end->unix_micros, kBase + kHour);
  EXPECT_EQ(state->periods[0].start.offset_minutes, 60);

  proto::Event reopen = Make(3, "INC-1", proto::INCIDENT_REOPENED, 3, kBase + 2 * kHour);
  store.Apply(reopen);
  EXPECT_EQ(state->status, TicketStatus::kOpen);
  ASSERT_EQ(state->periods.size(), 2u);
  EXPECT_EQ(state->periods[1].start.unix_micros, kBase + 2 * kHour);

  proto::Event close_again = Make(4, "INC-1", proto::INCIDENT_CLOSED, 4, kBase + 3 * kHour);
  SetTime(close_again.mutable_incident()->mutable_ended_at(), kBase + 150 * kHour / 60);
  store.Apply(close_again);
  EXPECT_EQ(state->periods[1].end->unix_micros, kBase + 150 * kHour / 60);

  // A correction after close changes only the latest period.
  proto::Event correct = Make(5, "INC-1", proto::INCIDENT_UPDATED, 5, kBase + 4 * kHour);
  SetTime(correct.mutable_incident()->mutable_ended_at(), kBase + 160 * kHour / 60);
  SetTime(correct.mutable_incident()->mutable_started_at(), kBase + 125 * kHour / 60);
  correct.mutable_incident()->set_severity(proto::CRITICAL);
  store.Apply(correct);
  EXPECT_EQ(state->periods[0].end->unix_micros, kBase + kHour);
  EXPECT_EQ(state->periods[1].start.unix_micros, kBase + 125 * kHour / 60);
  EXPECT_EQ(state->periods[1].end->unix_micros, kBase + 160 * kHour / 60);
  EXPECT_EQ(state->severity, proto::CRITICAL);
  EXPECT_EQ(state->status, TicketStatus::kClosed);
  EXPECT_EQ(state->version, 5u);
  EXPECT_EQ(state->last_seq, 5u);
}

TEST(TicketFold, UpdateChangesOnlyGivenFields) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase));
  proto::Event update = Make(2, "INC-1", proto::INCIDENT_UPDATED, 2, kBase + kHour);
  update.mutable_incident()->mutable_systems()->add_names("vpn");
  update.mutable_incident()->set_note("working on it");
  store.Apply(update);
  const TicketState* state = store.Find("INC-1");
  EXPECT_EQ(state->title, "Title INC-1");
  EXPECT_EQ(state->systems, std::vector<std::string>{"vpn"});
  EXPECT_EQ(state->last_note, "working on it");
  EXPECT_EQ(state->engineer, "Ana");
  // An end on an open incident is not a close.
  proto::Event stray_end = Make(3, "INC-1", proto::INCIDENT_UPDATED, 3, kBase + kHour);
  SetTime(stray_end.mutable_incident()->mutable_ended_at(), kBase + kHour);
  store.Apply(stray_end);
  EXPECT_FALSE(state->periods[0].end);
}

// Visibility is kept like any other field: the latest given counts, and the
// timeline query's `visible` leaves out what it answers false for (without
// counting it toward the page).
TEST(TicketFold, VisibilityIsTheLatestGivenAndFiltersTheTimeline) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase));
  proto::Event hidden = Open(2, "INC-2", kBase);
  hidden.mutable_incident()->set_visibility(proto::INTERNAL);
  store.Apply(hidden);
  store.Apply(Open(3, "INC-3", kBase));
  EXPECT_FALSE(IsInternal(*store.Find("INC-1")));
  EXPECT_TRUE(IsInternal(*store.Find("INC-2")));

  TimelineQuery query{.from_micros = kBase - kHour, .to_micros = kBase + kHour, .limit = 2};
  query.visible = [](const TicketState& state) { return !IsInternal(state); };
  TimelinePage page = store.Query(query);
  ASSERT_EQ(page.incidents.size(), 2u);
  EXPECT_EQ(page.incidents[0]->ticket, "INC-3");
  EXPECT_EQ(page.incidents[1]->ticket, "INC-1");
  EXPECT_EQ(page.next_before_ticket_number, 0u);

  // Made public again; an update without visibility leaves it as it is.
  proto::Event shown = Make(4, "INC-2", proto::INCIDENT_UPDATED, 2, kBase + kHour);
  shown.mutable_incident()->set_visibility(proto::EVERYONE);
  store.Apply(shown);
  EXPECT_FALSE(IsInternal(*store.Find("INC-2")));
  proto::Event hidden_again = Make(5, "INC-2", proto::INCIDENT_UPDATED, 3, kBase + kHour);
  hidden_again.mutable_incident()->set_visibility(proto::INTERNAL);
  store.Apply(hidden_again);
  proto::Event noted = Make(6, "INC-2", proto::INCIDENT_UPDATED, 4, kBase + kHour);
  noted.mutable_incident()->set_note("still internal");
  store.Apply(noted);
  EXPECT_TRUE(IsInternal(*store.Find("INC-2")));
  page = store.Query(query);
  ASSERT_EQ(page.incidents.size(), 2u);
  EXPECT_EQ(page.incidents[1]->ticket, "INC-1");
}

// Fields the fold has no rules for (the milestones) are kept generically:
// each at its latest given value, a later event correcting one leaves the
// others alone, and the saved form carries them.
TEST(TicketFold, KeepsOtherFieldsAtTheirLatestValue) {
  TicketStore store;
  proto::Event open = Open(1, "INC-1", kBase);
  SetTime(open.mutable_incident()->mutable_detected_at(), kBase - kHour, 60);
  store.Apply(open);
  const TicketState* state = store.Find("INC-1");
  ASSERT_NE(state, nullptr);
  EXPECT_TRUE(OtherFields(*state).has_detected_at());
  EXPECT_FALSE(OtherFields(*state).has_acknowledged_at());

  proto::Event acknowledged = Make(2, "INC-1", proto::INCIDENT_UPDATED, 2, kBase + kHour);
  SetTime(acknowledged.mutable_incident()->mutable_acknowledged_at(), kBase + kHour / 2);
  store.Apply(acknowledged);
  proto::Event corrected = Make(3, "INC-1", proto::INCIDENT_UPDATED, 3, kBase + 2 * kHour);
  SetTime(corrected.mutable_incident()->mutable_detected_at(), kBase - 2 * kHour, -300);
  corrected.mutable_incident()->set_note("detected earlier than we said");
  store.Apply(corrected);

  const proto::IncidentPayload fields = OtherFields(*state);
  EXPECT_EQ(fields.detected_at().unix_micros(), kBase - 2 * kHour);
  EXPECT_EQ(fields.detected_at().offset_minutes(), -300);
  EXPECT_EQ(fields.acknowledged_at().unix_micros(), kBase + kHour / 2);
  EXPECT_FALSE(fields.has_mitigated_at());
  // Only fields without rules of their own are kept there.
  EXPECT_FALSE(fields.has_note());
  EXPECT_FALSE(fields.has_title());
  EXPECT_EQ(state->last_note, "detected earlier than we said");

  std::string saved;
  EncodeTicket(*state, &saved);
  TicketState read;
  ASSERT_TRUE(DecodeTicket(saved, &read));
  EXPECT_EQ(read.other_fields, state->other_fields);
  // Bytes that are not a payload are refused when read back.
  TicketState broken = *state;
  broken.other_fields = std::string("\xff\xff\xff", 3);
  saved.clear();
  EncodeTicket(broken, &saved);
  EXPECT_FALSE(DecodeTicket(saved, &read));
}

// Impact and phase have rules of their own: impact is the latest given
// (full until then), phase the latest given while open (investigating until
// then, and again after a reopen that names none); closed reads as resolved.
// Both survive the checkpoint's record.
TEST(TicketFold, ImpactAndPhase) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase));
  const TicketState* state = store.Find("INC-1");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->impact, proto::FULL);
  EXPECT_STREQ(ImpactName(state->impact), "full");
  EXPECT_STREQ(PhaseName(*state), "investigating");
  EXPECT_TRUE(state->other_fields.empty());  // named fields, not kept there

  proto::Event update = Make(2, "INC-1", proto::INCIDENT_UPDATED, 2, kBase + kHour);
  update.mutable_incident()->set_impact(proto::DEGRADED);
  update.mutable_incident()->set_phase(proto::MONITORING);
  store.Apply(update);
  EXPECT_STREQ(ImpactName(state->impact), "degraded");
  EXPECT_STREQ(PhaseName(*state), "monitoring");
  proto::Event note = Make(3, "INC-1", proto::INCIDENT_UPDATED, 3, kBase + kHour);
  note.mutable_incident()->set_note("still slow");
  store.Apply(note);
  EXPECT_EQ(state->impact, proto::DEGRADED);
  EXPECT_EQ(state->phase, proto::MONITORING);

  store.Apply(Make(4, "INC-1", proto::INCIDENT_CLOSED, 4, kBase + 2 * kHour));
  EXPECT_STREQ(PhaseName(*state), "resolved");
  EXPECT_STREQ(ImpactName(state->impact), "degraded");

  std::string saved;
  EncodeTicket(*state, &saved);
  TicketState read;
  ASSERT_TRUE(DecodeTicket(saved, &read));
  EXPECT_EQ(read.impact, proto::DEGRADED);
  EXPECT_EQ(read.phase, proto::MONITORING);
  // A saved impact or phase of 0 ("not given") or beyond the enum is refused.
  for (const int bad : {0, 9}) {
    TicketState broken = *state;
    broken.impact = static_cast<proto::Impact>(bad);
    saved.clear();
    EncodeTicket(broken, &saved);
    EXPECT_FALSE(DecodeTicket(saved, &read)) << bad;
  }

  store.Apply(Make(5, "INC-1", proto::INCIDENT_REOPENED, 5, kBase + 3 * kHour));
  EXPECT_STREQ(PhaseName(*state), "investigating");
  proto::Event close = Make(6, "INC-1", proto::INCIDENT_CLOSED, 6, kBase + 4 * kHour);
  store.Apply(close);
  proto::Event reopen = Make(7, "INC-1", proto::INCIDENT_REOPENED, 7, kBase + 5 * kHour);
  reopen.mutable_incident()->set_phase(proto::IDENTIFIED);
  reopen.mutable_incident()->set_impact(proto::PARTIAL);
  store.Apply(reopen);
  EXPECT_STREQ(PhaseName(*state), "identified");
  EXPECT_STREQ(ImpactName(state->impact), "partial");
}

// A ticket none of whose events carried such a field keeps nothing there.
TEST(TicketFold, NoOtherFieldsKeepsNothing) {
  TicketStore store;
  store.Apply(Open(1, "INC-1", kBase));
  EXPECT_TRUE(store.Find("INC-1")->other_fields.empty());
  EXPECT_EQ(OtherFields(*store.Find("INC-1")).ByteSizeLong(), 0u);
}

TEST(TicketFold, RebuildEqualsIncremental) {
  std::vector<proto::Event> events = {Open(1, "INC-1", kBase), Open(2, "INC-2", kBase + 1),
                                      Make(3, "INC-1", proto::INCIDENT_CLOSED, 2, kBase + kHour)};
  TicketStore incremental;
  for (const proto::Event& event : events) incremental.Apply(event);
  TicketStore rebuilt;
  for (const proto::Event& event : events) rebuilt.Apply(event);
  ASSERT_EQ(incremental.size(), rebuilt.size());
  for (const auto& [number, state] : incremental.all()) {
    const TicketState* other = rebuilt.Find(state.ticket);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->version, state.version);
    EXPECT_EQ(other->periods.size(), state.periods.size());
  }
}

// The rebuild's fold moves the text out of each event (Take) instead of
// copying it (Apply): both give the same tickets, over random streams of
// every kind of incident event (seeded; the seed is printed on failure).
TEST(TicketFold, TakingTheEventsTextEqualsCopyingIt) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<std::string> words = {"mail", "vpn", "a much longer system name than fits inline", "dns"};
  const auto text = [&](const std::string& what) {
    return what + " " + std::to_string(rng()) + (rng() % 2 == 0 ? std::string(40, 'x') : std::string());
  };
  TicketStore copied;
  TicketStore taken;
  std::map<std::string, uint32_t> versions;
  for (uint64_t seq = 1; seq <= 600; ++seq) {
    const uint64_t kind = rng() % 5;
    const std::string ticket = "INC-" + std::to_string(1 + rng() % 40);
    proto::Event event = Make(seq, ticket,
                              kind == 0 ? proto::INCIDENT_OPENED
                              : kind == 1 ? proto::INCIDENT_CLOSED
                              : kind == 2 ? proto::INCIDENT_REOPENED
                                          : proto::INCIDENT_UPDATED,
                              ++versions[ticket], kBase + static_cast<int64_t>(seq) * kHour);
    proto::IncidentPayload* payload = event.mutable_incident();
    if (rng() % 2 == 0) payload->set_title(text("title"));
    if (rng() % 3 == 0) payload->set_description(text("description"));
    if (rng() % 3 == 0) {
      payload->mutable_systems();
      for (uint64_t i = rng() % 3; i > 0; --i) payload->mutable_systems()->add_names(words[rng() % words.size()]);
    }
    if (rng() % 4 == 0) payload->set_engineer(text("engineer"));
    if (rng() % 4 == 0) payload->set_link("https://example.org/" + text("t"));
    if (rng() % 2 == 0) payload->set_note(text("note"));
    if (rng() % 4 == 0) SetTime(payload->mutable_started_at(), kBase + static_cast<int64_t>(seq) * kHour - kHour);
    if (rng() % 5 == 0) SetTime(payload->mutable_ended_at(), kBase + static_cast<int64_t>(seq) * kHour);
    if (rng() % 6 == 0) SetTime(payload->mutable_acknowledged_at(), kBase + static_cast<int64_t>(seq) * kHour - 1);
    if (rng() % 7 == 0) SetTime(payload->mutable_mitigated_at(), kBase + static_cast<int64_t>(seq) * kHour, 120);
    if (rng() % 5 == 0) payload->set_impact(static_cast<proto::Impact>(1 + rng() % 3));
    if (rng() % 5 == 0) payload->set_phase(static_cast<proto::Phase>(1 + rng() % 3));
    const std::optional<uint64_t> copied_number = copied.Apply(event);
    proto::Event dropped = event;
    EXPECT_EQ(taken.Take(&dropped), copied_number);
  }
  ASSERT_EQ(taken.size(), copied.size());
  for (const auto& [number, state] : copied.all()) {
    const TicketState* other = taken.FindNumber(number);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->title, state.title);
    EXPECT_EQ(other->description, state.description);
    EXPECT_EQ(other->systems, state.systems);
    EXPECT_EQ(other->engineer, state.engineer);
    EXPECT_EQ(other->link, state.link);
    EXPECT_EQ(other->last_note, state.last_note);
    EXPECT_EQ(other->other_fields, state.other_fields);
    EXPECT_EQ(other->impact, state.impact);
    EXPECT_EQ(other->phase, state.phase);
    EXPECT_EQ(other->version, state.version);
    EXPECT_EQ(other->last_seq, state.last_seq);
    ASSERT_EQ(other->periods.size(), state.periods.size());
    for (size_t i = 0; i < state.periods.size(); ++i) {
      EXPECT_EQ(other->periods[i].start.unix_micros, state.periods[i].start.unix_micros);
      EXPECT_EQ(other->periods[i].end.has_value(), state.periods[i].end.has_value());
    }
  }
}

TEST(Timeline, OverlapFiltersAndPages) {
  TicketStore store;
  // INC-1: [base-48h, base-47h) closed; INC-2: from base-1h, ongoing;
  // INC-3: [base-30h, base-29h) on "dns"; INC-4: [base+1h, ...) starts after the window.
  store.Apply(Open(1, "INC-1", kBase, kBase - 48 * kHour));
  proto::Event close1 = Make(2, "INC-1", proto::INCIDENT_CLOSED, 2, kBase);
  SetTime(close1.mutable_incident()->mutable_ended_at(), kBase - 47 * kHour);
  store.Apply(close1);
  store.Apply(Open(3, "INC-2", kBase, kBase - kHour));
  proto::Event open3 = Open(4, "INC-3", kBase, kBase - 30 * kHour);
  open3.mutable_incident()->mutable_systems()->set_names(0, "dns");
  open3.mutable_incident()->set_description("Resolver timeouts");
  store.Apply(open3);
  proto::Event close3 = Make(5, "INC-3", proto::INCIDENT_CLOSED, 2, kBase);
  SetTime(close3.mutable_incident()->mutable_ended_at(), kBase - 29 * kHour);
  store.Apply(close3);
  store.Apply(Open(6, "INC-4", kBase, kBase + kHour));

  const auto tickets = [](const TimelinePage& page) {
    std::vector<std::string> names;
    for (const TicketState* state : page.incidents) names.push_back(state->ticket);
    return names;
  };
  TimelineQuery window{.from_micros = kBase - 36 * kHour, .to_micros = kBase};
  EXPECT_EQ(tickets(store.Query(window)), (std::vector<std::string>{"INC-3", "INC-2"}));

  TimelineQuery everything{.from_micros = kBase - 100 * kHour, .to_micros = kBase + 100 * kHour};
  EXPECT_EQ(tickets(store.Query(everything)), (std::vector<std::string>{"INC-4", "INC-3", "INC-2", "INC-1"}));

  TimelineQuery closed = everything;
  closed.status = TicketStatus::kClosed;
  EXPECT_EQ(tickets(store.Query(closed)), (std::vector<std::string>{"INC-3", "INC-1"}));
  TimelineQuery dns = everything;
  dns.system = "dns";
  EXPECT_EQ(tickets(store.Query(dns)), (std::vector<std::string>{"INC-3"}));
  TimelineQuery text = everything;
  text.text = "RESOLVER";
  EXPECT_EQ(tickets(store.Query(text)), (std::vector<std::string>{"INC-3"}));

  TimelineQuery paged = everything;
  paged.limit = 3;
  TimelinePage first = store.Query(paged);
  EXPECT_EQ(tickets(first), (std::vector<std::string>{"INC-4", "INC-3", "INC-2"}));
  ASSERT_EQ(first.next_before_ticket_number, 2u);
  paged.before_ticket_number = first.next_before_ticket_number;
  TimelinePage second = store.Query(paged);
  EXPECT_EQ(tickets(second), (std::vector<std::string>{"INC-1"}));
  EXPECT_EQ(second.next_before_ticket_number, 0u);
}

TEST(Timeline, PeriodOverlapEdges) {
  const Period closed{Instant{10, 0}, Instant{20, 0}};
  EXPECT_TRUE(PeriodOverlaps(closed, 0, 11));
  EXPECT_FALSE(PeriodOverlaps(closed, 0, 10));   // [from, to) ends where it starts
  EXPECT_FALSE(PeriodOverlaps(closed, 20, 30));  // ends exactly at from
  EXPECT_TRUE(PeriodOverlaps(closed, 19, 30));
  const Period ongoing{Instant{10, 0}, std::nullopt};
  EXPECT_TRUE(PeriodOverlaps(ongoing, 1000, 2000));
  const Period instant{Instant{10, 0}, Instant{10, 0}};
  EXPECT_TRUE(PeriodOverlaps(instant, 10, 11));
  EXPECT_FALSE(PeriodOverlaps(instant, 11, 12));
}

// The timeline index must answer exactly what a walk over every ticket
// answers: random histories (opens, closes, reopens, corrections, ongoing
// outages), random windows, filters, limits and cursors; small stores use the
// index, a wide window over a large one falls back to the walk.
std::vector<uint64_t> ReferenceQuery(const TicketStore& store, const TimelineQuery& query, uint64_t* next) {
  std::vector<uint64_t> found;
  *next = 0;
  const auto& all = store.all();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const TicketState& state = it->second;
    if (query.before_ticket_number != 0 && it->first >= query.before_ticket_number) continue;
    if (query.status && state.status != *query.status) continue;
    if (!query.system.empty() && std::find(state.systems.begin(), state.systems.end(), query.system) == state.systems.end()) {
      continue;
    }
    if (!std::any_of(state.periods.begin(), state.periods.end(),
                     [&](const Period& p) { return PeriodOverlaps(p, query.from_micros, query.to_micros); })) {
      continue;
    }
    if (!query.text.empty() && state.title.find(query.text) == std::string::npos &&
        state.ticket.find(query.text) == std::string::npos) {
      continue;
    }
    if (found.size() == query.limit) {
      *next = found.back();
      break;
    }
    found.push_back(it->first);
  }
  return found;
}

TEST(Timeline, IndexAnswersLikeAWalkOverEveryTicket) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  const auto below = [&random](int64_t bound) { return static_cast<int64_t>(random() % static_cast<uint64_t>(bound)); };
  for (const size_t tickets : {40, 300, 6000}) {
    TicketStore store;
    uint64_t seq = 0;
    std::vector<uint32_t> versions(tickets + 1, 0);
    std::vector<int64_t> times(tickets + 1, 0);
    // One random change of ticket n, applied to every store given.
    const auto change = [&](uint64_t n, const std::vector<TicketStore*>& stores) {
      const std::string ticket = "INC-" + std::to_string(n);
      const TicketState* state = stores.front()->Find(ticket);
      int64_t& time = times[n];
      time += below(100) * kHour;
      proto::Event event;
      if (state->status == TicketStatus::kOpen) {
        event = Make(++seq, ticket, below(2) ? proto::INCIDENT_CLOSED : proto::INCIDENT_UPDATED, ++versions[n], time);
        if (below(2)) SetTime(event.mutable_incident()->mutable_ended_at(), time - below(10) * kHour);
        if (below(3) == 0) SetTime(event.mutable_incident()->mutable_started_at(), time - below(200) * kHour);
      } else {
        event = Make(++seq, ticket, below(2) ? proto::INCIDENT_REOPENED : proto::INCIDENT_UPDATED, ++versions[n], time);
        if (below(2)) SetTime(event.mutable_incident()->mutable_started_at(), time);
        if (below(3) == 0) SetTime(event.mutable_incident()->mutable_ended_at(), time - below(500) * kHour);
        if (below(4) == 0) event.mutable_incident()->set_note("note only");
      }
      for (TicketStore* target : stores) target->Apply(event);
    };
    for (size_t n = 1; n <= tickets; ++n) {
      const std::string ticket = "INC-" + std::to_string(n);
      times[n] = kBase + below(1000) * kHour;
      proto::Event open = Open(++seq, ticket, times[n], times[n] - below(50) * kHour);
      open.mutable_incident()->set_title(n % 7 == 0 ? "disk full" : "slow");
      if (n % 3 == 0) open.mutable_incident()->mutable_systems()->add_names("dns");
      store.Apply(open);
      versions[n] = 1;
      const int steps = static_cast<int>(below(5));
      for (int step = 0; step < steps; ++step) change(n, {&store});
    }
    TicketStore restored;
    for (const auto& [number, state] : store.all()) restored.Put(state);
    const TicketStore copied = store;
    // As a load attaches them: the index preloaded in number order.
    TicketStore lazy;
    {
      SavedTickets saved;
      for (const auto& [number, state] : store.all()) {
        std::string record;
        EncodeTicket(state, &record);
        saved.AddUnindexed(number, saved.Keep(record));
        saved.timeline.Preload(number, state.periods);
      }
      ASSERT_TRUE(lazy.AttachSaved(std::move(saved)));
    }
    const auto check = [&](const std::vector<const TicketStore*>& answering, const char* phase) {
      for (int round = 0; round < 300; ++round) {
        TimelineQuery query;
        query.from_micros = kBase + (below(1200) - 100) * kHour;
        query.to_micros = query.from_micros + (1 + below(round % 10 == 0 ? 2000 : 200)) * kHour;
        if (below(4) == 0) query.status = below(2) ? TicketStatus::kOpen : TicketStatus::kClosed;
        if (below(4) == 0) query.system = "dns";
        if (below(6) == 0) query.text = "disk";
        query.limit = static_cast<size_t>(1 + below(120));
        if (below(3) == 0) query.before_ticket_number = static_cast<uint64_t>(1 + below(static_cast<int64_t>(tickets)));
        uint64_t expected_next = 0;
        const std::vector<uint64_t> expected = ReferenceQuery(store, query, &expected_next);
        for (size_t i = 0; i < answering.size(); ++i) {
          const TimelinePage page = answering[i]->Query(query);
          std::vector<uint64_t> got;
          for (const TicketState* state : page.incidents) got.push_back(state->ticket_number);
          ASSERT_EQ(got, expected) << phase << ": store " << i << ", tickets " << tickets << ", round " << round;
          ASSERT_EQ(page.next_before_ticket_number, expected_next)
              << phase << ": store " << i << ", tickets " << tickets << ", round " << round;
        }
      }
    };
    check({&store, &restored, &copied, &lazy}, "as saved");
    // Later events move the periods of loaded tickets (their preloaded
    // starts are removed, the new ones added) and of tickets opened since.
    for (size_t n = tickets + 1; n <= tickets + tickets / 10; ++n) {
      const std::string ticket = "INC-" + std::to_string(n);
      versions.push_back(1);
      times.push_back(kBase + below(1000) * kHour);
      const proto::Event open = Open(++seq, ticket, times[n], times[n] - below(50) * kHour);
      store.Apply(open);
      lazy.Apply(open);
    }
    for (size_t i = 0; i < tickets; ++i) {
      change(static_cast<uint64_t>(1 + below(static_cast<int64_t>(versions.size() - 1))), {&store, &lazy});
    }
    check({&store, &lazy}, "after later events");
  }
}

TEST(Timeline, ChangedAfterAnswersLikeAWalkOverEveryTicket) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  const auto below = [&random](int64_t bound) { return static_cast<int64_t>(random() % static_cast<uint64_t>(bound)); };
  // Tickets open in number order over three chunks (and one beyond the
  // dense numbers); most change while young, a few long after; recorded
  // times mostly rise but sometimes step back (an imported ledger).
  TicketStore store;
  std::vector<std::string> opened;
  std::vector<uint32_t> versions;
  std::vector<int64_t> recorded_at{0};  // by seq
  uint64_t seq = 0;
  int64_t time = kBase;
  const uint64_t kSparse = TicketStore::kDenseNumbersMax + 5;
  while (opened.size() < 3 * TicketStore::kChunkSlots) {
    time += below(10) == 0 ? -below(5) * kHour : below(3) * kHour;
    ++seq;
    recorded_at.push_back(time);
    const int64_t pick = below(100);
    if (opened.empty() || pick < 40) {
      const uint64_t number = opened.size() == 5000 ? kSparse : opened.size() + 1;
      opened.push_back("INC-" + std::to_string(number));
      versions.push_back(1);
      store.Apply(Open(seq, opened.back(), time, time - below(20) * kHour));
      continue;
    }
    // An update of one of the last few tickets, or (rarely) of any.
    const size_t recent = std::min<size_t>(opened.size(), 20);
    const size_t index = pick < 98 ? opened.size() - 1 - static_cast<size_t>(below(static_cast<int64_t>(recent)))
                                   : static_cast<size_t>(below(static_cast<int64_t>(opened.size())));
    proto::Event event = Make(seq, opened[index], proto::INCIDENT_UPDATED, ++versions[index], time);
    event.mutable_incident()->set_note("n");
    store.Apply(event);
  }
  TicketStore restored;
  for (const auto& [number, state] : store.all()) restored.Put(state);
  const TicketStore copied = store;
  SavedTickets saved;
  for (const auto& [number, state] : store.all()) {
    std::string record;
    EncodeTicket(state, &record);
    saved.Add(number, state.periods, record);
  }
  TicketStore lazy;
  ASSERT_TRUE(lazy.AttachSaved(std::move(saved)));
  for (int round = 0; round < 200; ++round) {
    AsOfPoint point;
    const uint64_t at = 1 + static_cast<uint64_t>(below(static_cast<int64_t>(seq)));
    const int64_t kind = below(3);
    if (kind != 1) point.seq = at;
    if (kind != 0) point.micros = recorded_at[kind == 1 ? at : 1 + static_cast<uint64_t>(below(static_cast<int64_t>(seq)))];
    std::vector<uint64_t> expected;
    for (const auto& [number, state] : store.all()) {
      if (point.Includes(state.opened_seq, state.opened_at_micros) &&
          !point.Includes(state.last_seq, state.updated_at_micros)) {
        expected.push_back(number);
      }
    }
    for (const TicketStore* answering : std::initializer_list<const TicketStore*>{&store, &restored, &copied, &lazy}) {
      Result<std::vector<const TicketState*>> changed = answering->ChangedAfter(point, StopToken());
      ASSERT_TRUE(changed);
      std::vector<uint64_t> got;
      for (const TicketState* state : *changed) got.push_back(state->ticket_number);
      ASSERT_EQ(got, expected) << "round " << round;
    }
  }
}

TEST(Tickets, ParseTicketNumber) {
  EXPECT_EQ(ParseTicketNumber("INC-42"), 42u);
  EXPECT_FALSE(ParseTicketNumber("INC-042"));
  EXPECT_FALSE(ParseTicketNumber("INC-"));
  EXPECT_FALSE(ParseTicketNumber("inc-4"));
  EXPECT_FALSE(ParseTicketNumber("INC-4x"));
  EXPECT_FALSE(ParseTicketNumber("INC-99999999999999999999"));
}

TEST(Tickets, TicketNameFormatsAndParsesOneSpelling) {
  EXPECT_EQ(TicketName::Format(42), "INC-42");
  EXPECT_EQ(TicketName{7}.Text(), "INC-7");
  ASSERT_TRUE(TicketName::Parse("INC-42"));
  EXPECT_EQ(TicketName::Parse("INC-42")->number, 42u);
  EXPECT_EQ(TicketName::Parse(TicketName::Format(999999999999999999))->number, 999999999999999999u);
  EXPECT_FALSE(TicketName::Parse("INC-042"));
  EXPECT_FALSE(TicketName::Parse("INC-0"));
  EXPECT_FALSE(TicketName::Parse("INC-"));
  EXPECT_FALSE(TicketName::Parse("42"));
  EXPECT_FALSE(TicketName::Parse("INC-1234567890123456789"));
  // The import's counter has always counted leading zeros too.
  EXPECT_EQ(TicketName::CounterNumber("INC-042"), 42u);
  EXPECT_EQ(TicketName::CounterNumber("INC-42"), 42u);
  EXPECT_FALSE(TicketName::CounterNumber("INC-"));
  EXPECT_FALSE(TicketName::CounterNumber("INC-4x"));
  EXPECT_FALSE(TicketName::CounterNumber("MNT-4"));
  EXPECT_FALSE(TicketName::CounterNumber("INC-1234567890123456789"));
}

}  // namespace
}  // namespace ledger::projections
