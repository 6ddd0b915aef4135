#pragma once
// The notification parts of `serve`, wired together: the queue projection
// (the one the ReadModel folds and checkpoints together with the tickets),
// the subscription processor, and, with --smtp-url, the delivery worker.
//
// Order of use in Serve: open the ReadModel; Create; put OnCommit in the
// ledger's commit listener (after the read model's Apply); StartDelivery;
// serve; Stop before the ledger shuts down, so the last receipts still get
// appended.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/notifications_api.h"
#include "http/self_service.h"
#include "ingest/subscription_links.h"
#include "notify/confirmation_mailer.h"
#include "ingest/subscriptions.h"
#include "ledger/ledger.h"
#include "ledger/tree_head.h"
#include "notify/worker.h"
#include "projections/notification_stats.h"
#include "projections/notifications.h"
#include "projections/read_model.h"

namespace ledger::app {

class Notifications {
 public:
  // Reads the --smtp-* options; the queue and the subscriptions are those of
  // `read_model` (nothing is folded here). `log` and `read_model` must
  // outlive this.
  // `signer` (may be null: no X-Ledger-Tree-Head) signs the tree head each
  // mail carries; it must outlive this too.
  static Result<std::unique_ptr<Notifications>> Create(const std::map<std::string, std::string>& options, Ledger* log,
                                                       const projections::ReadModel* read_model,
                                                       const TreeHeadSigner* signer = nullptr);
  ~Notifications();

  // For the commit listener (ledger writer thread), after the read model
  // has applied the events: wakes the worker.
  void OnCommit();
  // Before StartDelivery: mails link to `public_url` (serve --public-url,
  // without a trailing "/"): each subscriber's mail carries its one-click
  // unsubscribe link signed with `key` (which must outlive this), and a
  // mail about an incident its page. Not called: mails carry no links.
  void SetLinks(std::string public_url, const ingest::SubscriptionLinkKey* key);
  // Starts the delivery worker when an SMTP server is configured, and the
  // sender of self-service confirmation mails beside it.
  Status StartDelivery();
  // Queues a self-service confirmation mail (http/self_service.h); empty
  // when no mail is sent (no --smtp-url, or StartDelivery not called).
  http::ConfirmationSender confirmation_sender();
  // Stops the worker (bounded; see DeliveryWorker::Stop). Idempotent.
  void Stop();

  const http::NotificationRoutes* routes() const { return &routes_; }
  ingest::SubscriptionProcessor* subscriptions() const { return subscriptions_.get(); }
  // The queue's figures and, once StartDelivery has started it, the
  // worker's; for http::MetricsSources. Safe from any thread once serving
  // (it takes the read model's read lock and the worker's lock briefly).
  projections::NotificationStats stats() const;

 private:
  Notifications() = default;
  static Result<std::unique_ptr<Notifications>> Finish(std::unique_ptr<Notifications> notifications,
                                                       const std::map<std::string, std::string>& options);
  Ledger* log_ = nullptr;
  const TreeHeadSigner* signer_ = nullptr;
  std::unique_ptr<projections::NotificationModel> model_;
  std::unique_ptr<ingest::SubscriptionProcessor> subscriptions_;
  std::optional<notify::DeliveryOptions> delivery_options_;
  std::unique_ptr<notify::DeliveryWorker> worker_;
  std::string public_url_;                                   // SetLinks; empty: no links
  const ingest::SubscriptionLinkKey* link_key_ = nullptr;    // SetLinks
  std::unique_ptr<notify::ConfirmationMailer> confirmations_;  // StartDelivery, with links
  // What OnCommit reads on the writer thread, which may already be running
  // (the sheet poller) when StartDelivery sets the worker.
  std::atomic<notify::DeliveryWorker*> running_worker_{nullptr};
  http::NotificationRoutes routes_{};
};

}  // namespace ledger::app
