#pragma once
// The follow-through after an incident as commands: a post-incident review
// (drafted, published, amended) and its action items, parsed from JSON or
// form bodies and decided into REVIEW_* and ACTION_ITEM_* events
// (proto/event.proto; the folded state is projections/followups.h).
//
//   POST /api/v1/incidents/{t}/review        {summary, impact_summary,
//        root_cause, contributing_factors, lessons, publish, submission_id,
//        expected_version, actor}
//   POST /api/v1/incidents/{t}/action-items  {title, owner, due, link,
//        submission_id, actor}
//   POST /api/v1/action-items/{item}         any of {status, title, owner,
//        due, link, note}, plus submission_id, expected_version, actor
//
// A review post may give any of the review's fields; those it leaves out
// are taken from the review's newest version, so every event holds a whole
// version. In a form body a blank field counts as not given (as on /submit);
// in JSON "" empties a field. contributing_factors is a JSON array of
// strings, or text with one factor per line.
//
// Rules (decided on the ledger's writer thread, against the read model plus
// the events this processor decided that it has not applied yet):
//   404 kNotFound   an unknown ticket or item
//   409 kConflict   publishing while the incident is open; a stale
//                   expected_version (the review's version, 0 for none yet,
//                   or the item's); a submission_id reused with other content
//   400             publishing without a summary and a root cause; dropping
//                   an item without a note; every shape rule of parsing
// A repeat of a submission_id with the same content answers the original
// event and appends nothing. A published version gets reviewed_through_seq
// and reviewed_head_hash from the ledger: the head it was decided against.
//
// Overdue. MarkOverdueAsync appends ACTION_ITEM_OVERDUE for an open item
// whose due date is `due` and for which no such event names that due date
// yet (else kConflict): so an owner is mailed once per due date, whatever
// the restarts (the fold remembers it from the log). OverdueWatcher calls it
// for every item the read model shows overdue, on a thread of its own.
//
// Thread safety: SubmitAsync and MarkOverdueAsync may be called from any
// thread; the decisions and callbacks run on the ledger's writer thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "ledger/ledger.h"
#include "projections/followups.h"
#include "projections/read_model.h"

namespace date {
class time_zone;
}

namespace ledger::ingest {

constexpr size_t kReviewTextBytesMax = 8000;
constexpr size_t kContributingFactorBytesMax = 500;
constexpr size_t kContributingFactorsMax = 50;
constexpr size_t kItemTitleBytesMax = 200;
constexpr size_t kItemNoteBytesMax = 8000;
constexpr size_t kItemLinkBytesMax = 2000;
// The actor of the service's own ACTION_ITEM_OVERDUE events.
constexpr std::string_view kServiceActor = "incident-ledger";

enum class FollowUpKind { kReview, kAddItem, kUpdateItem, kOverdue };

struct FollowUpCommand {
  FollowUpKind kind = FollowUpKind::kReview;
  std::string ticket;  // kReview, kAddItem: normalised "INC-n"
  std::string item;    // kUpdateItem, kOverdue: "INC-n-A<m>"
  std::string submission_id;
  std::optional<uint32_t> expected_version;
  std::string actor;  // who posted; "anonymous" when not given
  bool publish = false;
  // kReview: the fields given, by name, and their values.
  std::set<std::string> review_given;
  proto::ReviewPayload review;
  // kAddItem, kUpdateItem, kOverdue: the fields given (optional presence);
  // status ACTION_ITEM_STATUS_UNSPECIFIED when not given.
  proto::ActionItemPayload action;

  // SHA-256 over the canonical content: equal for two posts that say the same.
  std::string Digest() const;
};

// Parsers, one per route; `form` selects application/x-www-form-urlencoded
// (else the body is one JSON object). `ticket_text` and `item_text` are the
// path's segment. kInvalidArgument names the field and the rule.
Result<FollowUpCommand> ParseReview(std::string_view ticket_text, std::string_view body, bool form);
Result<FollowUpCommand> ParseAddItem(std::string_view ticket_text, std::string_view body, bool form);
Result<FollowUpCommand> ParseUpdateItem(std::string_view item_text, std::string_view body, bool form);

// "INC-7-A1", "inc-7-a1" -> "INC-7-A1".
Result<std::string> NormalizeItem(std::string_view text, std::string_view field = "item");
// A due date: YYYY-MM-DD, a real calendar day.
Status CheckDueDate(std::string_view text, std::string_view field = "due");

struct FollowUpResult {
  std::string ticket;
  std::string item;  // action item commands
  uint64_t seq = 0;
  uint32_t version = 0;
  bool repeated = false;
  StoredEvent stored;
};

using FollowUpCallback = std::function<void(Result<FollowUpResult>)>;

class FollowUpProcessor {
 public:
  // `ledger` and `committed` must outlive the processor; the ledger's commit
  // listener must apply every committed batch to `committed` before the
  // next batch is decided (as app/main.cc wires it).
  FollowUpProcessor(Ledger* ledger, const projections::ReadModel* committed) : ledger_(ledger), committed_(committed) {}

  void SubmitAsync(FollowUpCommand command, FollowUpCallback done);
  Result<FollowUpResult> Submit(FollowUpCommand command);
  // Appends ACTION_ITEM_OVERDUE for `item` and `due` (see the top).
  void MarkOverdueAsync(std::string item, std::string due, FollowUpCallback done);

 private:
  Result<proto::Event> Decide(const FollowUpCommand& command, AppendContext& context);
  // The committed follow-up state of `ticket` and `item` plus the pending
  // events, into `view`; the ticket's status in `ticket_open` (nullopt:
  // no such ticket).
  void Look(const std::string& ticket, const std::string& item, projections::FollowUpState* view,
            std::optional<bool>* ticket_open);

  Ledger* ledger_;
  const projections::ReadModel* committed_;
  // Writer thread only: events decided here that the read model had not
  // applied when decided (dropped once it has, or when a batch fails).
  std::vector<proto::Event> pending_;
};

struct OverdueWatcherOptions {
  std::chrono::milliseconds interval{60'000};
  const date::time_zone* zone = nullptr;  // the service's --timezone; required
};

// Every `interval` (and once at Start), asks the read model for open items
// whose due date has ended in the zone and that no ACTION_ITEM_OVERDUE event
// names for that date, and marks each (FollowUpProcessor::MarkOverdueAsync).
class OverdueWatcher {
 public:
  OverdueWatcher(FollowUpProcessor* processor, const projections::ReadModel* read_model, OverdueWatcherOptions options)
      : processor_(processor), read_model_(read_model), options_(options) {}
  ~OverdueWatcher() { Stop(); }
  void Start();
  // Waits for the thread; appends already queued still complete.
  void Stop();
  // One pass now, on the calling thread; answers how many items it marked.
  size_t CheckOnce();

 private:
  void Loop();

  FollowUpProcessor* processor_;
  const projections::ReadModel* read_model_;
  OverdueWatcherOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ledger::ingest
