#include "app/notifications.h"

#include "app/delivery_options.h"
#include "common/log.h"

#include <cstdio>

namespace ledger::app {

Result<std::unique_ptr<Notifications>> Notifications::Create(const std::map<std::string, std::string>& options,
                                                             Ledger* log, const projections::ReadModel* read_model) {
  std::unique_ptr<Notifications> notifications(new Notifications());
  notifications->log_ = log;
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
  Result<std::unique_ptr<notify::DeliveryWorker>> worker =
      notify::DeliveryWorker::Start(*delivery_options_, log_, model_.get());
  if (!worker) return worker.error();
  worker_ = std::move(*worker);
  running_worker_.store(worker_.get());
  ledger::LogPrintf("incident-ledger", "mailing notifications through %s as %s", UrlForLog(delivery_options_->smtp.url).c_str(),
               delivery_options_->smtp.from.c_str());
  return {};
}

void Notifications::Stop() {
  if (worker_) worker_->Stop();
}

projections::NotificationStats Notifications::stats() const {
  projections::NotificationStats stats;
  model_->Read([&stats](const projections::NotificationQueue& queue, uint64_t) { stats.queue = queue.stats(); });
  if (worker_) stats.delivery = worker_->stats();
  return stats;
}

}  // namespace ledger::app
