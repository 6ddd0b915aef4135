#include "notify/confirmation_mailer.h"

#include <string>

#include "common/log.h"

namespace ledger::notify {

Result<std::unique_ptr<ConfirmationMailer>> ConfirmationMailer::Start(SmtpOptions smtp) {
  if (Status acquired = CurlGlobalAcquire(); !acquired) return acquired.error();
  std::unique_ptr<ConfirmationMailer> mailer(new ConfirmationMailer());
  mailer->smtp_ = std::move(smtp);
  mailer->thread_ = std::thread([raw = mailer.get()] { raw->Loop(); });
  return mailer;
}

ConfirmationMailer::~ConfirmationMailer() { Stop(); }

void ConfirmationMailer::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    stats_.dropped += queue_.size();
    queue_.clear();
  }
  abort_ = true;
  ready_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    CurlGlobalRelease();
  }
}

bool ConfirmationMailer::Enqueue(Mail mail) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= kConfirmationQueueMax) {
      stats_.dropped += 1;
      return false;
    }
    queue_.push_back(std::move(mail));
  }
  ready_.notify_one();
  return true;
}

ConfirmationMailerStats ConfirmationMailer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ConfirmationMailer::Loop() {
  std::unique_ptr<MailSender> sender = MakeCurlSmtpSender(smtp_, &abort_);
  std::unique_lock lock(mutex_);
  while (true) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Mail mail = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const SendResult result = sender->Send(mail);
    lock.lock();
    if (result.outcome == SendOutcome::kDelivered) {
      stats_.sent += 1;
    } else {
      stats_.failed += 1;
      LogPrintf("notify", "a subscription confirmation mail %s was not sent: %s", mail.message_id.c_str(),
                result.error.c_str());
    }
  }
}

}  // namespace ledger::notify
