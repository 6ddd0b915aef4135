#pragma once
// The delivery worker: sends the notification queue's pending jobs through
// SMTP and appends each outcome to the ledger as a receipt event.
//
// Threads. One dispatcher picks pending jobs from the NotificationModel and
// hands them to `concurrency` sender threads, each with its own SMTP
// connection (so at most that many transactions run against the server at
// once). A sender appends the receipt with Ledger::AppendAsync and moves on;
// nothing here ever waits on the ledger writer, and the writer only ever
// calls Wake() and the receipt callbacks, which take one short lock. So a
// slow or dead SMTP server never slows a submission.
//
// Retries. A job whose message the server refused with a 4xx reply is tried
// again after retry_delay_initial_ms, doubling up to retry_delay_max_ms; after
// attempts_max such failures (or at once on a 5xx) it is given up (failed).
// When the server cannot be reached at all, the worker stops sending (one
// receipt records the failed attempt), waits with the same doubling delay,
// and then probes with one job at a time until a mail goes through; such
// failures never count against a job, so an outage loses nothing.
//
// Exactly once, nearly. A job is sent only while the queue shows it pending
// and no receipt for it is on its way to the log. After a restart the queue
// is folded from the log, so a job with a DELIVERED receipt is never sent
// again. The window left open: a mail the server accepted whose receipt was
// not yet durable when the process died (or whose append failed until
// shutdown) is sent once more after restart, with the same Message-ID. Its
// width is one SMTP reply plus the receipt's wait in a batch (below, at most
// receipt_linger_ms) plus one group commit.
//
// Receipts in batches. A receipt waits while the worker's previous append
// is still on its way to the log, and while more sends are running or
// queued, up to receipt_linger_ms: what gathers in the meantime is recorded
// as one NOTIFICATION_RECEIPTS event (at most receipts_per_event_max
// receipts), so a fan-out to thousands of subscribers adds a few events to
// the log, not one per recipient. A receipt with nothing else to wait for
// (the last send of a burst, a single mail) is recorded at once, as its own
// NOTIFICATION_DELIVERED or NOTIFICATION_FAILED event. A receipt's time in
// the log is its event's recorded time: at most receipt_linger_ms plus one
// group commit after the server's reply.
//
// Thread safety: every public method may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ledger/ledger.h"
#include "notify/smtp.h"
#include "projections/notification_stats.h"
#include "projections/notifications.h"

namespace ledger::notify {

constexpr size_t kConcurrencyMax = 64;
constexpr uint32_t kAttemptsMax = 1000;
constexpr int64_t kRetryDelayMsMax = 24LL * 3600 * 1000;
// A receipt is at most ~1.3 KB (its error is cut at 500 bytes), so a full
// batch stays well under the ledger's record limit (1 MiB).
constexpr size_t kReceiptsPerEventMax = 500;
constexpr int64_t kReceiptLingerMsMax = 10'000;

struct DeliveryOptions {
  SmtpOptions smtp;
  size_t concurrency = 4;                 // sender threads = SMTP connections
  int64_t retry_delay_initial_ms = 1'000;
  int64_t retry_delay_max_ms = 300'000;   // the cap of the doubling
  uint32_t attempts_max = 8;              // 4xx failures before a job is given up
  int64_t stop_grace_ms = 3'000;          // how long Stop lets running sends finish
  // Receipts in batches (above): how long a receipt may wait for others
  // while sends are running, and how many one event holds. 0 ms: every
  // receipt is recorded as soon as the previous append is done.
  int64_t receipt_linger_ms = 200;
  size_t receipts_per_event_max = 500;
  // The X-Ledger-Tree-Head value (ledger/tree_head.h) for the mail about
  // incident event `seq` recorded at `recorded_at_micros`: the signed head
  // of the tree of events 1 to seq, stamped with that time, so the same job
  // always gives the same bytes. Called on the dispatcher thread; its
  // answers are kept for the events of the last few hundred mails. None (or
  // an error): the mail goes without the header.
  std::function<Result<std::string>(uint64_t seq, int64_t recorded_at_micros)> tree_head_header;
  // The links of the mail about `notice` to `recipient` (message.h,
  // MailLinks: one-click unsubscribe, the incident's page); none: no links.
  // Called on the dispatcher thread; it must be a pure function of its
  // arguments, so that the same job always gives the same bytes.
  std::function<MailLinks(const projections::Notice& notice, std::string_view recipient)> links;
};

// Delay before retry number `failures` (1-based): initial * 2^(failures-1), capped.
int64_t RetryDelayMs(const DeliveryOptions& options, uint32_t failures);

using SenderFactory = std::function<std::unique_ptr<MailSender>(const std::atomic<bool>* abort)>;

class DeliveryWorker {
 public:
  // Starts the threads. `ledger` and `model` must outlive the worker. With no
  // factory, senders are libcurl SMTP senders.
  static Result<std::unique_ptr<DeliveryWorker>> Start(DeliveryOptions options, Ledger* ledger,
                                                       const projections::NotificationModel* model,
                                                       SenderFactory factory = {});
  // Stops: no new sends; running ones get stop_grace_ms, then are aborted;
  // waits (bounded) for their receipts to be appended. Idempotent.
  ~DeliveryWorker();
  void Stop();

  // New events are in the model: look for work. Cheap; never blocks long.
  void Wake();

  // The worker's figures now (see projections/notification_stats.h): SMTP
  // attempts by outcome, jobs given up, receipt append failures and the send
  // time histogram since Start; mails in flight, receipts unrecorded and
  // whether the server was reachable at the last attempt. Takes the worker's
  // lock briefly; safe from any thread, also after Stop.
  projections::DeliveryStats stats() const;

  struct State;

 private:
  explicit DeliveryWorker(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ledger::notify
