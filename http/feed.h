#pragma once
// GET /feed.atom (viewer): the latest incident and maintenance events as an
// RFC 4287 Atom feed, for feed readers and chat integrations to follow.
//
// What it holds: one entry per event, newest first, at most
// kFeedEntriesMax: the incident events (opened, updated, closed, reopened),
// published reviews (drafts are for the help desk only) and the maintenance
// events (scheduled, updated, started, ended, cancelled). `?system=S` keeps
// the events whose incident or window names S now (ASCII case ignored).
// Subscriptions, delivery receipts and action items never appear: they name
// people's addresses or are the help desk's own work.
//
// Cost: the events are read from the head backwards, in chunks of
// kFeedChunkEvents, until the feed is full or kFeedEventsScannedMax events
// were looked at, so a request costs the same on a ledger of any length; a
// filter on a quiet system may therefore show fewer than kFeedEntriesMax
// entries (those among the latest kFeedEventsScannedMax events).
//
// An entry: <id> "tag:incident-ledger,2026:event-SEQ-HASH16" (the event's
// seq and the first 16 hex digits of its hash, so two ledgers never share
// an id), <title> "INC-7 opened: Mail delayed" (the ticket's or window's
// title now), <updated> and <published> the event's recorded time (UTC),
// <author> its actor, one <category term=...> per system, <link
// rel="alternate"> to the incident's page (a window: the dashboard over its
// span), and a text <summary> of what the event set (one "field: value"
// line each, as the mail says them) with the incident's or window's state.
// Links are relative (RFC 4287 section 2: resolved against the feed's own
// address), so the feed never trusts a Host header. The feed's <updated> is
// its newest entry's time (the head's when it has none), so the same ledger
// gives the same bytes on every fetch.
//
// Every piece of text is untrusted: it is made well-formed UTF-8, the
// characters XML 1.0 cannot hold (C0 controls other than tab, LF and CR,
// U+FFFE, U+FFFF) become spaces, and & < > " ' are escaped, so no value can
// add an element or an attribute.
//
// Thread safety: FeedText is a pure function of its arguments; ReadFeed reads
// the ledger and the read model (both thread-safe) and may run on any thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "event.pb.h"
#include "ledger/ledger.h"
#include "projections/maintenance.h"
#include "projections/read_model.h"
#include "projections/tickets.h"

namespace ledger::http {

constexpr size_t kFeedEntriesMax = 50;
constexpr size_t kFeedChunkEvents = 1000;
constexpr uint64_t kFeedEventsScannedMax = 20'000;

struct FeedQuery {
  std::optional<std::string> system;  // as given; a system in any case, an alias or a group (projections/systems.h)
  // Set: only incidents it answers true for get entries (the reader's
  // visibility, visibility.h). Empty: every incident.
  std::function<bool(const projections::TicketState&)> visible;
};

// One event of the feed with what its entry shows of its incident or window
// (their state when the feed was read).
struct FeedEntry {
  uint64_t seq = 0;
  Sha256Digest hash{};
  proto::Event event;
  std::optional<projections::TicketState> ticket;
  std::optional<projections::MaintenanceWindow> window;
};

// Whether an event of this type is a feed entry (see the top).
bool IsFeedEvent(const proto::Event& event);

// The entries for `query`, newest first; fails only when the ledger cannot
// be read.
Result<std::vector<FeedEntry>> ReadFeed(const Ledger& ledger, const projections::ReadModel& read_model,
                                        const FeedQuery& query);

// The Atom document; `head_micros` is the recorded time of the head (the
// feed's <updated> when it has no entry).
std::string FeedText(const std::vector<FeedEntry>& entries, const FeedQuery& query, int64_t head_micros);

// XML character data and attribute values from untrusted text (see above).
std::string XmlEscape(std::string_view text);

}  // namespace ledger::http
