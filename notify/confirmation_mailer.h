#pragma once
// Sends the confirmation mails of self-service subscription requests
// (ingest/subscription_links.h) through the same SMTP server as the
// notifications (smtp.h).
//
// Unlike a notification, a confirmation mail is not a job of the queue and
// leaves no event: nothing is recorded about an address until its owner
// confirms, so the log never holds addresses someone else typed in. The
// mail is sent at most once, from memory: a mail queued when the process
// stops, or one the server refuses, is lost, and the person asks again (the
// page says the mail may take a few minutes).
//
// Threads. One sender thread with its own SMTP connection works through a
// bounded queue (kConfirmationQueueMax); Enqueue never waits on the network.
//
// Thread safety: Enqueue and stats may be called from any thread; Stop
// (also the destructor) from one.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "notify/message.h"
#include "notify/smtp.h"

namespace ledger::notify {

constexpr size_t kConfirmationQueueMax = 1'000;

struct ConfirmationMailerStats {
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint64_t dropped = 0;  // refused by Enqueue: the queue was full or the mailer stopped
};

class ConfirmationMailer {
 public:
  // Starts the sender thread; with no factory, a libcurl SMTP sender for
  // `smtp`. kUnavailable when libcurl cannot start.
  static Result<std::unique_ptr<ConfirmationMailer>> Start(SmtpOptions smtp);
  ~ConfirmationMailer();
  // Stops: the mail being sent is aborted, the queued ones are dropped.
  // Idempotent.
  void Stop();

  // Queues `mail`; false when the queue is full or the mailer stopped.
  bool Enqueue(Mail mail);
  ConfirmationMailerStats stats() const;

 private:
  ConfirmationMailer() = default;
  void Loop();

  SmtpOptions smtp_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Mail> queue_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::atomic<bool> abort_{false};
  ConfirmationMailerStats stats_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace ledger::notify
