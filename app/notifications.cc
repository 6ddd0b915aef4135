#include "app/notifications.h"

#include "app/delivery_options.h"
#include "common/log.h"
#include "common/time.h"

#include <cstdio>

namespace ledger::app {

Result<std::unique_ptr<Notifications>> Notifications::Create(const std::map<std::string, std::string>& options,
                                                             Ledger* log, const projections::ReadModel* read_model,
                                                             const TreeHeadSigner* signer) {
  std::unique_ptr<Notifications> notifications(new Notifications());
  notifications->log_ = log;
  notifications->signer_ = signer;
  notifications->model_ = std::make_unique<projections::NotificationModel>(read_model);
  Result<std::unique_ptr<ingest::SubscriptionProcessor>> processor = ingest::SubscriptionProcessor::Create(log, read_model);
  if (!processor) return processor.error();
  notifications->subscriptions_ = std::move(*processor);
  return Finish(std::move(notifications), options);
}

Result<std::unique_ptr<Notifications>> Notifications::Finish(std::unique_ptr<Notifications> notifications,
                                                             const std::map<std::string, std::string>& options) {
  Result<std::optional<notify::DeliveryOptions>> delivery = ParseDeliveryOptions(options);
  if (!delivery) return delivery.error();
  notifications->delivery_options_ = std::move(*delivery);
  notifications->routes_ = http::NotificationRoutes{.subscriptions = notifications->subscriptions_.get(),
                                                    .model = notifications->model_.get(),
                                                    .ledger = notifications->log_};
  return notifications;
}

Notifications::~Notifications() { Stop(); }

void Notifications::OnCommit() {
  if (notify::DeliveryWorker* worker = running_worker_.load()) worker->Wake();
}

Status Notifications::StartDelivery() {
  if (!delivery_options_) {
    ledger::LogPrintf("incident-ledger", "no --smtp-url: notifications are queued but not sent");
    return {};
  }
  if (signer_ != nullptr) {
    // Every mail witnesses the ledger up to its event (DESIGN.md, "Proofs
    // and followers"): the head of the tree of events 1 to seq.
    delivery_options_->tree_head_header = [log = log_, signer = signer_](uint64_t seq,
                                                                         int64_t recorded_at_micros) -> Result<std::string> {
      Result<Sha256Digest> root = log->TreeRoot(seq);
      if (!root) return root.error();
      return TreeHeadHeaderValue(signer->Sign(TreeHead{.tree_size = seq, .root_hash = *root}, recorded_at_micros));
    };
  }
  if (!public_url_.empty() && link_key_ != nullptr) {
    delivery_options_->links = [public_url = public_url_, key = link_key_](const projections::Notice& notice,
                                                                           std::string_view recipient) {
      notify::MailLinks links{.unsubscribe_url = http::UnsubscribeUrl(*key, public_url, recipient), .page_url = {}};
      if (!projections::IsMaintenanceNoticeEvent(notice.type) && !notice.ticket.empty()) {
        links.page_url = http::IncidentPageUrl(public_url, notice.ticket);
      }
      return links;
    };
    Result<std::unique_ptr<notify::ConfirmationMailer>> mailer =
        notify::ConfirmationMailer::Start(delivery_options_->smtp);
    if (!mailer) return mailer.error();
    confirmations_ = std::move(*mailer);
  } else {
    ledger::LogPrintf("incident-ledger", "no --public-url: mails carry no links (no one-click unsubscribe) and "
                                         "self-service subscription is off");
  }
  Result<std::unique_ptr<notify::DeliveryWorker>> worker =
      notify::DeliveryWorker::Start(*delivery_options_, log_, model_.get());
  if (!worker) return worker.error();
  worker_ = std::move(*worker);
  running_worker_.store(worker_.get());
  if (SendsCredentialsWithoutTls(*delivery_options_)) {
    ledger::LogPrintf("incident-ledger", "warning: SMTP credentials will be sent without TLS; "
                                         "use smtps:// or --smtp-starttls on");
  }
  ledger::LogPrintf("incident-ledger", "mailing notifications through %s as %s", UrlForLog(delivery_options_->smtp.url).c_str(),
               delivery_options_->smtp.from.c_str());
  return {};
}

void Notifications::Stop() {
  if (worker_) worker_->Stop();
  if (confirmations_) confirmations_->Stop();
}

void Notifications::SetLinks(std::string public_url, const ingest::SubscriptionLinkKey* key) {
  public_url_ = std::move(public_url);
  link_key_ = key;
}

http::ConfirmationSender Notifications::confirmation_sender() {
  if (!confirmations_ || !delivery_options_) return {};
  return [mailer = confirmations_.get(), from = delivery_options_->smtp.from](const http::ConfirmationRequest& request) {
    Result<notify::Mail> mail = notify::ComposeConfirmationMail(from, request.email, request.systems,
                                                               request.confirm_url, request.unsubscribe_url,
                                                               NowMicros());
    if (!mail) {
      ledger::LogPrintf("incident-ledger", "a subscription confirmation mail cannot be written: %s",
                        mail.error().message.c_str());
      return true;  // the same answer as for any address (self_service.h)
    }
    return mailer->Enqueue(std::move(*mail));
  };
}

projections::NotificationStats Notifications::stats() const {
  projections::NotificationStats stats;
  model_->Read([&stats](const projections::NotificationQueue& queue, uint64_t) { stats.queue = queue.stats(); });
  if (worker_) stats.delivery = worker_->stats();
  return stats;
}

}  // namespace ledger::app
