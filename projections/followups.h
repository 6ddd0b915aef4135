#pragma once
// The follow-through after an incident, folded from the log: each ticket's
// post-incident review (every version, drafts and published ones) and its
// action items (ids "INC-7-A1"), plus what was recorded about the incident
// after its latest published review. A projection of the read model
// (projection.h), registered after the ticket projection; it reads nothing
// but the events (the ticket's own state stays in tickets.h).
//
// Fold rules:
//   REVIEW_DRAFTED / REVIEW_PUBLISHED  a new version of the ticket's review
//                                      (the event carries it whole)
//   ACTION_ITEM_ADDED                  a new item, open; the ticket's item
//                                      count becomes the item's number
//   ACTION_ITEM_UPDATED                the fields it carries; status done
//                                      sets done_at (the recorded time),
//                                      any other status clears it
//   ACTION_ITEM_OVERDUE                remembers that the item's due date
//                                      was seen ending (overdue_noticed_due)
//   incident events                    on a ticket with a published review:
//                                      kept as later changes (seq, type,
//                                      fields), at most kLaterChangesMax
// Events for unknown tickets or items (which the processors never append)
// change nothing.
//
// Key layout of its saved form (checkpoint.h; strings and varints as
// ticket_codec.h writes them):
//   'R' | ticket -> the ticket's follow-up record (EncodeTicketFollowUp)
//   'A' | item   -> one action item (EncodeActionItem)
//   'm' "followups_version" -> kFollowUpProjectionVersion, decimal
//
// Reads (const methods) work from memory; overdue needs a clock and a zone,
// which the caller passes (DueEndMicros): the fold knows neither.
//
// Thread safety: as projection.h says (the read model's locks).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "event.pb.h"
#include "projections/projection.h"

namespace date {
class time_zone;
}

namespace ledger::projections {

// Bump when the fold or the saved form changes meaning.
constexpr uint32_t kFollowUpProjectionVersion = 1;
// Incident events kept per ticket after its latest published review.
constexpr size_t kLaterChangesMax = 100;

// One version of a review.
struct ReviewVersion {
  uint32_t version = 0;  // 1, 2, ... per ticket
  uint64_t seq = 0;
  int64_t recorded_at_micros = 0;
  std::string actor;
  bool published = false;
  proto::ReviewPayload content;
};

// An incident event recorded after the ticket's review was published.
struct LaterChange {
  uint64_t seq = 0;
  proto::EventType type = proto::EVENT_TYPE_UNSPECIFIED;
  int64_t recorded_at_micros = 0;
  std::vector<std::string> fields;  // payload fields it carried, by name
};

struct TicketFollowUp {
  std::string ticket;
  std::vector<ReviewVersion> versions;  // oldest first
  std::vector<LaterChange> later_changes;
  uint64_t later_changes_dropped = 0;   // beyond kLaterChangesMax
  uint32_t items_added = 0;             // the last item number handed out

  // The newest published version, or nullptr.
  const ReviewVersion* LatestPublished() const;
  // The first published version, or nullptr.
  const ReviewVersion* FirstPublished() const;
  uint32_t review_version() const { return versions.empty() ? 0 : versions.back().version; }
};

enum class ItemStatus { kOpen, kDone, kDropped };
const char* ItemStatusName(ItemStatus status);
std::optional<ItemStatus> ParseItemStatus(std::string_view word);

struct ActionItem {
  std::string item;    // "INC-7-A1"
  std::string ticket;  // "INC-7"
  uint32_t number = 0;
  std::string title;
  std::string owner;  // normalised address
  std::string due;    // YYYY-MM-DD; empty: none
  std::string link;
  std::string note;   // the latest note given
  ItemStatus status = ItemStatus::kOpen;
  uint32_t version = 0;
  uint64_t added_seq = 0;
  int64_t added_at_micros = 0;
  std::string added_by;
  uint64_t last_seq = 0;
  int64_t updated_at_micros = 0;
  int64_t done_at_micros = 0;       // 0: not done
  std::string overdue_noticed_due;  // the due date an ACTION_ITEM_OVERDUE event named last
  uint64_t overdue_seq = 0;         // that event's seq
};

// "INC-7" and 3 -> "INC-7-A3"; and back (nullopt for anything else).
std::string ActionItemId(std::string_view ticket, uint32_t number);
struct ParsedItemId {
  std::string ticket;
  uint32_t number = 0;
};
std::optional<ParsedItemId> ParseActionItemId(std::string_view text);

// The first instant after a due date (YYYY-MM-DD) in `zone`: an item is
// overdue from then on. Fails on a malformed date or a zone conversion
// error.
Result<int64_t> DueEndMicros(std::string_view due, const date::time_zone& zone);
// Whether `item` is overdue at `now_micros`: open, with a due date that has
// ended in `zone`. A due date that cannot be read is never overdue.
bool IsOverdue(const ActionItem& item, int64_t now_micros, const date::time_zone& zone);

// The whole follow-up state, as a pure fold (also usable on its own, e.g.
// for a report as known at an earlier moment).
class FollowUpState {
 public:
  // Applies one event; events of other kinds change nothing. Answers true
  // when it changed something.
  bool Apply(const proto::Event& event);
  void Clear();

  const TicketFollowUp* FindTicket(std::string_view ticket) const;
  const ActionItem* FindItem(std::string_view item) const;
  const std::map<std::string, TicketFollowUp, std::less<>>& tickets() const { return tickets_; }
  const std::map<std::string, ActionItem, std::less<>>& items() const { return items_; }
  // The items of one ticket, in number order.
  std::vector<const ActionItem*> ItemsOf(std::string_view ticket) const;

  // Loading a checkpoint.
  void Restore(TicketFollowUp ticket);
  void Restore(ActionItem item);

  // What the last Apply calls changed (when tracking): the records to save.
  void TrackChanges(bool on) { tracking_ = on; }
  bool has_changes() const { return !changed_tickets_.empty() || !changed_items_.empty(); }
  std::set<std::string> TakeChangedTickets();
  std::set<std::string> TakeChangedItems();

 private:
  bool ApplyReview(const proto::Event& event);
  bool ApplyItem(const proto::Event& event);
  bool ApplyIncident(const proto::Event& event);
  void Touch(std::set<std::string>* changed, const std::string& key);

  std::map<std::string, TicketFollowUp, std::less<>> tickets_;
  std::map<std::string, ActionItem, std::less<>> items_;
  bool tracking_ = false;
  std::set<std::string> changed_tickets_;
  std::set<std::string> changed_items_;
};

class FollowUpProjection : public Projection {
 public:
  const FollowUpState& state() const { return state_; }

  std::string_view name() const override { return "follow-up"; }
  uint32_t version() const override { return kFollowUpProjectionVersion; }
  CheckpointKeys checkpoint_keys() const override;

  void Apply(const proto::Event& event, const Sha256Digest& hash) override;
  void Clear() override;

  void TrackChanges(bool on) override;
  bool HasChanges() const override { return state_.has_changes(); }
  void SaveChanges(CheckpointWriter* batch) override;
  void SaveWhole(CheckpointTables* tables) const override;
  Result<LoadOutcome> Load(const CheckpointReader& reader) override;

 private:
  FollowUpState state_;
  bool tracking_ = false;
};

// The saved forms (exposed for tests). A Decode fails on anything its
// Encode would not have written.
std::string EncodeTicketFollowUp(const TicketFollowUp& ticket);
[[nodiscard]] bool DecodeTicketFollowUp(std::string_view bytes, TicketFollowUp* ticket);
std::string EncodeActionItem(const ActionItem& item);
[[nodiscard]] bool DecodeActionItem(std::string_view bytes, ActionItem* item);

}  // namespace ledger::projections
