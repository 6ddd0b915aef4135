#include "notify/worker.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <curl/curl.h>

#include "common/file.h"
#include "common/histogram.h"
#include "common/log.h"
#include "common/time.h"

namespace ledger::notify {
namespace {

using SteadyClock = std::chrono::steady_clock;
using projections::Job;
using projections::JobKey;

constexpr std::string_view kReceiptActor = "notifier";
constexpr size_t kReceiptErrorBytesMax = 500;
constexpr size_t kPendingScanMax = 20'000;  // jobs looked at per dispatch pass
constexpr auto kIdleRescan = std::chrono::seconds(5);
constexpr auto kReceiptRetryDelay = std::chrono::seconds(1);
constexpr auto kReceiptsWaitAtStop = std::chrono::seconds(5);
// Tree head headers kept, one per incident event (a fan-out mails many
// subscribers about the same event).
constexpr size_t kTreeHeadHeadersKept = 256;

// Truncates at a UTF-8 boundary.
std::string Truncated(std::string text, size_t bytes_max) {
  if (text.size() <= bytes_max) return text;
  size_t end = bytes_max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  text.resize(end);
  return text;
}


}  // namespace

struct DeliveryWorker::State {
  struct Task {
    JobKey key;
    std::string ticket;
    Mail mail;
    uint32_t attempt = 0;       // this attempt's number, 1-based
    uint32_t job_failures = 0;  // counted failures before this attempt
    std::string compose_error;  // set when no mail could be made: give up
  };
  // A send's outcome, its receipt not yet handed to the log.
  struct Outcome {
    proto::NotificationReceipt receipt;
    bool delivered = false;
    JobKey key;
  };
  // A receipt event whose append failed, and the jobs it records.
  struct Unrecorded {
    proto::Event event;
    std::vector<JobKey> keys;
  };

  DeliveryOptions options;
  Ledger* ledger = nullptr;
  std::map<uint64_t, std::string> tree_head_headers;  // by event seq; guarded by mutex
  const projections::NotificationModel* model = nullptr;
  SenderFactory factory;

  std::mutex mutex;
  std::condition_variable dispatcher_wake;
  std::condition_variable task_ready;
  std::condition_variable progress;  // a send finished or a receipt was appended
  std::deque<Task> tasks;
  // Dispatched, until its receipt is in the log: queued, sending, its
  // receipt waiting in `ready`, being appended or in `unrecorded`.
  std::set<JobKey> in_flight;
  std::vector<Outcome> ready;  // receipts gathering into the next event
  SteadyClock::time_point ready_since;  // when the oldest of them came in
  std::deque<Unrecorded> unrecorded;
  size_t unrecorded_receipts = 0;  // receipts in `unrecorded`
  SteadyClock::time_point unrecorded_retry_at;
  size_t appends_outstanding = 0;
  size_t sending = 0;
  bool stopping = false;
  bool woken = false;
  uint32_t server_failures = 0;  // consecutive "server unavailable" outcomes
  SteadyClock::time_point server_retry_at;

  std::atomic<bool> abort{false};
  std::mutex stop_mutex;
  bool stopped = false;
  std::thread dispatcher;
  std::vector<std::thread> senders;

  std::atomic<uint64_t> outcomes[5] = {};  // by SendOutcome
  std::atomic<uint64_t> given_up{0};
  std::atomic<uint64_t> receipt_append_failures{0};
  Histogram send_seconds{LatencyBucketsSeconds()};
};

namespace {

using State = DeliveryWorker::State;

void Record(const std::shared_ptr<State>& state, proto::Event event, std::vector<JobKey> keys) {
  {
    std::lock_guard lock(state->mutex);
    state->appends_outstanding += 1;
  }
  auto shared_event = std::make_shared<proto::Event>(std::move(event));
  // Must be called without state->mutex: after Shutdown the ledger answers
  // at once, on this thread.
  state->ledger->AppendAsync(
      [shared_event](AppendContext&) -> Result<Decision> { return Decision{.event = *shared_event, .repeat_of_seq = {}}; },
      [state, shared_event, keys = std::move(keys)](Result<Appended> appended) {
        std::lock_guard lock(state->mutex);
        state->appends_outstanding -= 1;
        if (appended) {
          for (const JobKey& key : keys) state->in_flight.erase(key);
        } else {
          // Keep the jobs in flight so they are not sent again; retry the receipts.
          state->receipt_append_failures += 1;
          state->unrecorded_receipts += keys.size();
          state->unrecorded.push_back(State::Unrecorded{*shared_event, keys});
          state->unrecorded_retry_at = SteadyClock::now() + kReceiptRetryDelay;
        }
        state->woken = true;
        state->dispatcher_wake.notify_one();
        state->progress.notify_all();
      });
}

// When a pending job may be tried again (wall clock, micros); 0: now.
int64_t ReadyAtMicros(const DeliveryOptions& options, const Job& job) {
  if (job.job_failures == 0 || job.last_failure_server_unavailable) return 0;
  return job.last_attempt_at_micros + RetryDelayMs(options, job.job_failures) * 1000;
}

// The tree head header for the mail about `notice` (DeliveryOptions), from
// the cache when it is there. Called with state.mutex held.
std::string TreeHeadHeader(State& state, const projections::Notice& notice) {
  if (!state.options.tree_head_header) return {};
  if (auto found = state.tree_head_headers.find(notice.seq); found != state.tree_head_headers.end()) {
    return found->second;
  }
  Result<std::string> header = state.options.tree_head_header(notice.seq, notice.recorded_at_micros);
  if (!header) {
    Log("notify", "the mail about event " + std::to_string(notice.seq) + " goes without X-Ledger-Tree-Head: " +
                      header.error().message);
    return {};
  }
  if (state.tree_head_headers.size() >= kTreeHeadHeadersKept) state.tree_head_headers.erase(state.tree_head_headers.begin());
  state.tree_head_headers.emplace(notice.seq, *header);
  return *header;
}

// Picks up to `slots` ready jobs not in flight; builds their mails. Called
// with state.mutex held.
std::vector<State::Task> Pick(State& state, size_t slots, std::optional<int64_t>* next_ready_micros) {
  std::vector<State::Task> picked;
  state.model->Read([&](const projections::NotificationQueue& queue, uint64_t) {
    const int64_t now = NowMicros();
    size_t scanned = 0;
    for (const JobKey& key : queue.pending()) {
      if (picked.size() == slots || ++scanned > kPendingScanMax) break;
      if (state.in_flight.contains(key)) continue;
      const Job* job = queue.Find(key);
      const projections::Notice* notice = queue.FindNotice(key.seq);
      if (job == nullptr || notice == nullptr) continue;
      const int64_t ready_at = ReadyAtMicros(state.options, *job);
      if (ready_at > now) {
        if (!*next_ready_micros || ready_at < **next_ready_micros) *next_ready_micros = ready_at;
        continue;
      }
      State::Task task;
      task.key = key;
      task.ticket = job->ticket;
      task.attempt = job->attempts + 1;
      task.job_failures = job->job_failures;
      const MailLinks links = state.options.links ? state.options.links(*notice, key.recipient) : MailLinks{};
      Result<Mail> mail = ComposeMail(*notice, *job, state.options.smtp.from, TreeHeadHeader(state, *notice), links);
      if (mail) {
        task.mail = std::move(*mail);
      } else {
        task.compose_error = mail.error().message;
      }
      picked.push_back(std::move(task));
    }
  });
  return picked;
}

State::Outcome MakeOutcome(const State::Task& task, const SendResult& result, bool gave_up) {
  State::Outcome outcome;
  outcome.key = task.key;
  outcome.delivered = result.outcome == SendOutcome::kDelivered;
  proto::NotificationReceipt& receipt = outcome.receipt;
  receipt.set_incident_seq(task.key.seq);
  receipt.set_recipient(task.key.recipient);
  receipt.set_ticket(task.ticket);
  receipt.set_attempt(task.attempt);
  receipt.set_message_id(task.mail.message_id);
  receipt.set_smtp_code(result.smtp_code);
  if (!outcome.delivered) {
    receipt.set_error(Truncated(result.error, kReceiptErrorBytesMax));
    receipt.set_server_unavailable(result.outcome == SendOutcome::kServerUnavailable);
    receipt.set_gave_up(gave_up);
  }
  return outcome;
}

// The event recording `outcomes` (not empty): one receipt alone is its own
// DELIVERED or FAILED event, several are one NOTIFICATION_RECEIPTS event.
proto::Event MakeReceiptEvent(std::vector<State::Outcome> outcomes) {
  proto::Event event;
  event.set_actor(std::string(kReceiptActor));
  if (outcomes.size() == 1) {
    event.set_type(outcomes.front().delivered ? proto::NOTIFICATION_DELIVERED : proto::NOTIFICATION_FAILED);
    *event.mutable_notification() = std::move(outcomes.front().receipt);
    return event;
  }
  event.set_type(proto::NOTIFICATION_RECEIPTS);
  proto::NotificationReceipts* receipts = event.mutable_receipts();
  for (State::Outcome& outcome : outcomes) {
    *(outcome.delivered ? receipts->add_delivered() : receipts->add_failed()) = std::move(outcome.receipt);
  }
  return event;
}

// Hands the oldest receipts waiting in `ready` (up to one event's worth) to
// the log. Called with `lock` held; releases it while appending.
void RecordReady(const std::shared_ptr<State>& shared, std::unique_lock<std::mutex>& lock) {
  State& state = *shared;
  const size_t count = std::min(state.ready.size(), state.options.receipts_per_event_max);
  std::vector<State::Outcome> outcomes(std::make_move_iterator(state.ready.begin()),
                                       std::make_move_iterator(state.ready.begin() + static_cast<ptrdiff_t>(count)));
  state.ready.erase(state.ready.begin(), state.ready.begin() + static_cast<ptrdiff_t>(count));
  state.ready_since = SteadyClock::now();
  std::vector<JobKey> keys;
  keys.reserve(outcomes.size());
  for (const State::Outcome& outcome : outcomes) keys.push_back(outcome.key);
  lock.unlock();
  Record(shared, MakeReceiptEvent(std::move(outcomes)), std::move(keys));
  lock.lock();
}

// Whether the receipts in `ready` should go to the log now (see worker.h);
// if not, `*deadline` is brought forward to when they should. Called with
// state.mutex held.
bool ReadyToRecord(const State& state, SteadyClock::time_point now, SteadyClock::time_point* deadline) {
  if (state.ready.empty() || state.appends_outstanding > 0) return false;  // the append's callback wakes us
  if (state.ready.size() >= state.options.receipts_per_event_max) return true;
  if (state.sending == 0 && state.tasks.empty()) return true;  // nothing more is coming soon
  const SteadyClock::time_point due = state.ready_since + std::chrono::milliseconds(state.options.receipt_linger_ms);
  if (now >= due) return true;
  *deadline = std::min(*deadline, due);
  return false;
}

void DispatchLoop(const std::shared_ptr<State>& shared) {
  State& state = *shared;
  std::unique_lock lock(state.mutex);
  while (!state.stopping) {
    const SteadyClock::time_point now = SteadyClock::now();
    SteadyClock::time_point deadline = now + kIdleRescan;
    if (!state.unrecorded.empty()) {
      if (now >= state.unrecorded_retry_at) {
        std::deque<State::Unrecorded> retry;
        retry.swap(state.unrecorded);
        state.unrecorded_receipts = 0;
        lock.unlock();
        for (State::Unrecorded& receipt : retry) Record(shared, std::move(receipt.event), std::move(receipt.keys));
        lock.lock();
        continue;
      }
      deadline = std::min(deadline, state.unrecorded_retry_at);
    }
    // Sends running or queued take the slots; receipts on their way to the
    // log do not, up to a bound (an append that keeps failing stops sending).
    const size_t concurrency = state.options.concurrency;
    const size_t busy = state.sending + state.tasks.size();
    size_t slots = busy < concurrency ? concurrency - busy : 0;
    if (state.in_flight.size() >= concurrency + 2 * state.options.receipts_per_event_max) slots = 0;
    if (state.server_failures > 0) {
      if (now < state.server_retry_at) {
        slots = 0;
        deadline = std::min(deadline, state.server_retry_at);
      } else {
        slots = state.in_flight.empty() ? 1 : 0;  // probe with one job
      }
    }
    if (slots > 0) {
      std::optional<int64_t> next_ready_micros;
      std::vector<State::Task> picked = Pick(state, slots, &next_ready_micros);
      for (State::Task& task : picked) {
        state.in_flight.insert(task.key);
        state.tasks.push_back(std::move(task));
        state.task_ready.notify_one();
      }
      if (next_ready_micros) {
        const int64_t wait_micros = std::max<int64_t>(0, *next_ready_micros - NowMicros());
        deadline = std::min(deadline, now + std::chrono::microseconds(wait_micros));
      }
    }
    if (ReadyToRecord(state, SteadyClock::now(), &deadline)) {
      RecordReady(shared, lock);
      continue;
    }
    state.dispatcher_wake.wait_until(lock, deadline, [&state] { return state.woken || state.stopping; });
    state.woken = false;
  }
}

void HandleResult(const std::shared_ptr<State>& shared, const State::Task& task, const SendResult& result) {
  State& state = *shared;
  state.outcomes[static_cast<size_t>(result.outcome)] += 1;
  bool gave_up = false;
  {
    std::lock_guard lock(state.mutex);
    state.sending -= 1;
    state.progress.notify_all();
    const SteadyClock::time_point now = SteadyClock::now();
    switch (result.outcome) {
      case SendOutcome::kAborted:
        // Not recorded: the job stays pending and is sent after restart.
        state.in_flight.erase(task.key);
        return;
      case SendOutcome::kDelivered:
        if (state.server_failures > 0) Log("notify", "SMTP server reachable again");
        state.server_failures = 0;
        break;
      case SendOutcome::kServerUnavailable:
        // Several sends fail together when the server goes away; count the
        // outage once per waiting period.
        if (state.server_failures == 0 || now >= state.server_retry_at) {
          state.server_failures += 1;
          const int64_t delay_ms = RetryDelayMs(state.options, state.server_failures);
          state.server_retry_at = now + std::chrono::milliseconds(delay_ms);
          Log("notify", "SMTP server unavailable (" + result.error + "); next try in " + std::to_string(delay_ms) +
                            " ms");
        }
        break;
      case SendOutcome::kTransient:
        gave_up = task.job_failures + 1 >= state.options.attempts_max;
        break;
      case SendOutcome::kPermanent:
        gave_up = true;
        break;
    }
  }
  if (gave_up) {
    state.given_up += 1;
    Log("notify", "gave up on event " + std::to_string(task.key.seq) + " to " + task.key.recipient + " after " +
                      std::to_string(task.attempt) + " attempts: " + result.error);
  }
  std::lock_guard lock(state.mutex);
  if (state.ready.empty()) state.ready_since = SteadyClock::now();
  state.ready.push_back(MakeOutcome(task, result, gave_up));
  state.woken = true;
  state.dispatcher_wake.notify_one();
}

void SendLoop(const std::shared_ptr<State>& shared) {
  State& state = *shared;
  std::unique_ptr<MailSender> sender = state.factory(&state.abort);
  while (true) {
    State::Task task;
    {
      std::unique_lock lock(state.mutex);
      state.task_ready.wait(lock, [&state] { return !state.tasks.empty() || state.stopping; });
      if (state.stopping) return;
      task = std::move(state.tasks.front());
      state.tasks.pop_front();
      state.sending += 1;
    }
    SendResult result;
    if (!task.compose_error.empty()) {
      result = SendResult{SendOutcome::kPermanent, 0, "cannot compose the mail: " + task.compose_error};
    } else {
      const SteadyClock::time_point start = SteadyClock::now();
      result = sender->Send(task.mail);
      state.send_seconds.Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
    }
    HandleResult(shared, task, result);
  }
}

}  // namespace

int64_t RetryDelayMs(const DeliveryOptions& options, uint32_t failures) {
  int64_t delay = options.retry_delay_initial_ms;
  for (uint32_t i = 1; i < failures && delay < options.retry_delay_max_ms; ++i) delay *= 2;
  return std::min(delay, options.retry_delay_max_ms);
}

Result<std::unique_ptr<DeliveryWorker>> DeliveryWorker::Start(DeliveryOptions options, Ledger* ledger,
                                                              const projections::NotificationModel* model,
                                                              SenderFactory factory) {
  LEDGER_ASSERT(ledger != nullptr && model != nullptr);
  if (options.concurrency == 0 || options.concurrency > kConcurrencyMax) {
    return InvalidArgument("concurrency", "concurrency must be from 1 to " + std::to_string(kConcurrencyMax));
  }
  if (options.receipts_per_event_max == 0 || options.receipts_per_event_max > kReceiptsPerEventMax) {
    return InvalidArgument("receipts_per_event_max",
                           "receipts per event must be from 1 to " + std::to_string(kReceiptsPerEventMax));
  }
  if (options.receipt_linger_ms < 0 || options.receipt_linger_ms > kReceiptLingerMsMax) {
    return InvalidArgument("receipt_linger_ms",
                           "the receipt linger must be from 0 to " + std::to_string(kReceiptLingerMsMax) + " ms");
  }
  if (Status acquired = CurlGlobalAcquire(); !acquired) return acquired.error();
  auto state = std::make_shared<State>();
  state->options = std::move(options);
  state->ledger = ledger;
  state->model = model;
  if (factory) {
    state->factory = std::move(factory);
  } else {
    const SmtpOptions smtp = state->options.smtp;
    state->factory = [smtp](const std::atomic<bool>* abort) { return MakeCurlSmtpSender(smtp, abort); };
  }
  for (size_t i = 0; i < state->options.concurrency; ++i) {
    state->senders.emplace_back([state] { SendLoop(state); });
  }
  state->dispatcher = std::thread([state] { DispatchLoop(state); });
  return std::unique_ptr<DeliveryWorker>(new DeliveryWorker(std::move(state)));
}

DeliveryWorker::~DeliveryWorker() { Stop(); }

void DeliveryWorker::Stop() {
  State& state = *state_;
  std::lock_guard stop_lock(state.stop_mutex);
  if (state.stopped) return;
  {
    std::unique_lock lock(state.mutex);
    state.stopping = true;
    state.dispatcher_wake.notify_all();
    state.task_ready.notify_all();
  }
  state.dispatcher.join();
  {
    std::unique_lock lock(state.mutex);
    state.progress.wait_for(lock, std::chrono::milliseconds(state.options.stop_grace_ms),
                            [&state] { return state.sending == 0; });
  }
  state.abort = true;
  for (std::thread& sender : state.senders) sender.join();
  {
    std::unique_lock lock(state.mutex);
    // The last receipts gathered: to the log, without waiting for more.
    while (!state.ready.empty()) RecordReady(state_, lock);
    if (!state.progress.wait_for(lock, kReceiptsWaitAtStop, [&state] { return state.appends_outstanding == 0; })) {
      Log("notify", std::to_string(state.appends_outstanding) + " receipts still unrecorded at stop");
    }
    if (!state.unrecorded.empty()) {
      Log("notify", std::to_string(state.unrecorded_receipts) +
                        " delivery receipts could not be recorded; those mails will be sent again after restart");
    }
  }
  state.stopped = true;
  CurlGlobalRelease();
}

void DeliveryWorker::Wake() {
  std::lock_guard lock(state_->mutex);
  state_->woken = true;
  state_->dispatcher_wake.notify_one();
}

projections::DeliveryStats DeliveryWorker::stats() const {
  State& state = *state_;
  const auto attempts = [&state](SendOutcome outcome) { return state.outcomes[static_cast<size_t>(outcome)].load(); };
  projections::DeliveryStats stats{
      .attempts = {.delivered = attempts(SendOutcome::kDelivered),
                   .server_unavailable = attempts(SendOutcome::kServerUnavailable),
                   .transient = attempts(SendOutcome::kTransient),
                   .permanent = attempts(SendOutcome::kPermanent),
                   .aborted = attempts(SendOutcome::kAborted)},
      .given_up = state.given_up.load(),
      .receipt_append_failures = state.receipt_append_failures.load(),
      .send_seconds = state.send_seconds.Snapshot(),
      .in_flight = 0,
      .receipts_unrecorded = 0,
      .smtp_available = true};
  std::lock_guard lock(state.mutex);
  stats.in_flight = state.in_flight.size();
  stats.receipts_unrecorded = state.unrecorded_receipts;
  stats.smtp_available = state.server_failures == 0;
  return stats;
}

}  // namespace ledger::notify
