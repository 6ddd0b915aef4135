#pragma once
// The notification routes of /api/v1, apart from api.cc so that the
// subscription and queue contract lives in one place:
//
//   POST   /api/v1/subscriptions  {"email","systems":[...]|["*"],"actor"?}
//          201 {"email","systems","seq","changed":true,"event"}; when the
//          address already has all of them, 200 with "changed":false and the
//          seq of the event that last changed the address (nothing appended)
//   DELETE /api/v1/subscriptions  {"email","systems"?,"actor"?} (no systems
//          or "*": all of them) -> 200 {"email","systems"(remaining),"seq",
//          "changed":true,"event"}; 404 when none of them is subscribed
//   GET    /api/v1/subscriptions?email=&system=&cursor=&limit=
//          {"count","subscriptions":[{"email","systems"}],"next_cursor"};
//          `system` lists who would be told about that system ("*" included)
//   GET    /api/v1/notifications?state=&ticket=&seq=&recipient=&cursor=&limit=
//          {"counts":{"pending","sent","failed"},"count","notifications":[job],
//          "next_cursor"}, jobs in (event seq, recipient) order, where job is
//          {"event_seq","event_type","ticket","recipient","state","attempts",
//          "last_error","last_smtp_code","last_attempt_at","sent_at","message_id"}
//   POST   /api/v1/notifications/retry {"ticket"?,"seq"?,"recipient"?,"actor"?}
//          retries the failed jobs matching every filter given (none: all of
//          them), at most ingest::kRetryJobsMax per request, as one
//          NOTIFICATION_RETRY_REQUESTED event (ingest/notification_retry.h):
//          201 {"retried","remaining","jobs":[{"event_seq","recipient",
//          "ticket"}],"seq","event"}; when no failed job matches, 200 with
//          "retried":0 and "seq" and "event" null (nothing appended)
//
// Thread safety: as Api::Handle.

#include <string_view>

#include "common/json_writer.h"
#include "http/message.h"
#include "http/auth.h"
#include "http/metrics.h"
#include "ingest/subscriptions.h"
#include "projections/notifications.h"

namespace ledger::http {

constexpr size_t kSubscriptionsPageMax = 10'000;
constexpr size_t kSubscriptionsPageDefault = 1'000;
constexpr size_t kNotificationsPageMax = 10'000;
constexpr size_t kNotificationsPageDefault = 100;

struct Route;

struct NotificationRoutes {
  ingest::SubscriptionProcessor* subscriptions;
  const projections::NotificationModel* model;
  Ledger* ledger;  // where a retry is appended
};

// The rows of the routes above (router.h), all for admins; `routes` must
// outlive them. A subscription change answers from the ledger's writer
// thread; the principal the router admitted is recorded as its actor.
std::vector<Route> NotificationRouteRows(const NotificationRoutes& routes);

// The "payload" of a subscription, receipt or retry event as JSON; false (nothing
// written) for other events.
bool WriteNotificationPayload(JsonWriter* json, const proto::Event& event);

}  // namespace ledger::http
