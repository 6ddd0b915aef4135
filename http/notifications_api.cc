#include "http/notifications_api.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "common/encoding.h"
#include "common/time.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/router.h"
#include "ingest/command.h"
#include "ingest/notification_retry.h"

namespace ledger::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kSubscriptionsPath = "/api/v1/subscriptions";
constexpr std::string_view kNotificationsPath = "/api/v1/notifications";
constexpr std::string_view kRetryPath = "/api/v1/notifications/retry";
constexpr size_t kCursorBytesMax = 1024;

HttpResponse Error(const ledger::Error& error) { return ErrorResponse(error); }

void WriteSystems(JsonWriter* json, const std::vector<std::string>& systems) {
  json->BeginArray();
  for (const std::string& system : systems) json->String(system);
  json->EndArray();
}

void ChangeSubscription(const NotificationRoutes& routes, const HttpRequest& request, const Principal& principal,
                        ingest::SubscriptionAction action, Respond respond) {
  if (MediaType(request.content_type) != "application/json") {
    respond(UnsupportedMediaType("application/json"));
    return;
  }
  Result<ingest::SubscriptionCommand> command = ingest::ParseSubscriptionJson(request.body, action);
  if (!command) {
    respond(Error(command.error()));
    return;
  }
  command->actor = principal.RecordedActor(command->actor, ingest::kAnonymousActor);
  const std::string email = command->email;
  routes.subscriptions->SubmitAsync(
      std::move(*command), [respond = std::move(respond), email, action](Result<ingest::SubscriptionResult> result) {
        if (!result) {
          respond(Error(result.error()));
          return;
        }
        JsonWriter json;
        json.BeginObject();
        json.Key("email").String(email);
        json.Key("systems");
        WriteSystems(&json, result->systems_now);
        json.Key("seq").Uint(result->seq);
        json.Key("changed").Bool(!result->repeated);
        json.Key("event");
        WriteEvent(&json, result->stored);
        json.EndObject();
        const bool created = action == ingest::SubscriptionAction::kAdd && !result->repeated;
        respond(JsonAnswer(created ? 201 : 200, json.Take()));
      });
}

// The jobs a retry names, as an array; `seq_key` names each job's incident
// event ("event_seq" as the queue lists jobs, "incident_seq" as the stored
// payload has it).
void WriteRetriedJobs(JsonWriter* json, const proto::NotificationRetry& retry, std::string_view seq_key) {
  json->BeginArray();
  for (const proto::RetriedJob& job : retry.jobs()) {
    json->BeginObject();
    json->Key(seq_key).Uint(job.incident_seq());
    json->Key("recipient").String(job.recipient());
    json->Key("ticket").String(job.ticket());
    json->EndObject();
  }
  json->EndArray();
}

HttpResponse RetryAnswer(const ingest::RetryOutcome& outcome) {
  const proto::NotificationRetry& retry = outcome.plan.event.retry();
  JsonWriter json;
  json.BeginObject();
  json.Key("retried").Uint(static_cast<uint64_t>(retry.jobs_size()));
  json.Key("remaining").Uint(outcome.plan.remaining);
  json.Key("jobs");
  WriteRetriedJobs(&json, retry, "event_seq");
  json.Key("seq");
  if (outcome.stored) {
    json.Uint(outcome.stored->seq);
  } else {
    json.Null();
  }
  json.Key("event");
  if (outcome.stored) {
    WriteEvent(&json, *outcome.stored);
  } else {
    json.Null();
  }
  json.EndObject();
  return JsonAnswer(outcome.stored ? 201 : 200, json.Take());
}

// POST /api/v1/notifications/retry: see ingest/notification_retry.h.
void RetryNotifications(const NotificationRoutes& routes, const HttpRequest& request, const Principal& principal,
                        Respond respond) {
  if (MediaType(request.content_type) != "application/json") {
    respond(UnsupportedMediaType("application/json"));
    return;
  }
  Result<ingest::RetryCommand> command = ingest::ParseRetryJson(request.body);
  if (!command) {
    respond(Error(command.error()));
    return;
  }
  command->actor = principal.RecordedActor(command->actor, ingest::kAnonymousActor);
  ingest::SubmitRetryAsync(routes.ledger, *routes.model, std::move(*command),
                           [respond = std::move(respond)](Result<ingest::RetryOutcome> outcome) {
                             respond(outcome ? RetryAnswer(*outcome) : Error(outcome.error()));
                           });
}

HttpResponse ListSubscriptions(const NotificationRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"email", "system", "cursor", "limit"});
  if (!query) return Error(query.error());
  Result<uint64_t> limit = ParseCount(*query, "limit", kSubscriptionsPageDefault, 1, kSubscriptionsPageMax);
  if (!limit) return Error(limit.error());
  std::optional<std::string> email;
  if (const auto found = query->find("email"); found != query->end()) {
    Result<std::string> normalized = ingest::NormalizeEmail(found->second);
    if (!normalized) return Error(normalized.error());
    email = *normalized;
  }
  std::optional<std::string> system;
  if (const auto found = query->find("system"); found != query->end()) {
    if (found->second.empty() || found->second.size() > ingest::kSystemBytesMax) {
      return Error(InvalidArgument("system", "system must be 1 to " + std::to_string(ingest::kSystemBytesMax) + " bytes"));
    }
    system = found->second;
  }
  std::string after;
  if (const auto found = query->find("cursor"); found != query->end()) {
    std::optional<std::string> decoded = HexDecode(found->second);
    if (!decoded || found->second.size() > kCursorBytesMax) {
      return Error(InvalidArgument("cursor", "cursor must be a next_cursor value from a previous page"));
    }
    after = *decoded;
  }

  HttpResponse response;
  routes.model->Read([&](const projections::NotificationQueue& queue, uint64_t) {
    const auto& by_email = queue.subscriptions().by_email();
    JsonWriter json;
    json.BeginObject();
    json.Key("subscriptions").BeginArray();
    size_t count = 0;
    std::string last;
    bool more = false;
    for (auto it = after.empty() ? by_email.begin() : by_email.upper_bound(after); it != by_email.end(); ++it) {
      const auto& [address, systems] = *it;
      if (email && address != *email) continue;
      // Whoever is told about the system: an entry for it in any case or
      // through an alias, for its group, or "*".
      if (system && std::none_of(systems.begin(), systems.end(), [&](const std::string& entry) {
            return queue.names().Covers(entry, *system);
          })) {
        continue;
      }
      if (count == *limit) {
        more = true;
        break;
      }
      json.BeginObject();
      json.Key("email").String(address);
      json.Key("systems");
      WriteSystems(&json, std::vector<std::string>(systems.begin(), systems.end()));
      json.EndObject();
      count += 1;
      last = address;
    }
    json.EndArray();
    json.Key("count").Uint(count);
    json.Key("next_cursor");
    if (more) {
      json.String(HexEncode(last));
    } else {
      json.Null();
    }
    json.EndObject();
    response = JsonAnswer(200, json.Take());
  });
  return response;
}

void WriteJob(JsonWriter* json, const projections::Job& job, std::optional<proto::EventType> type) {
  json->BeginObject();
  json->Key("event_seq").Uint(job.key.seq);
  json->Key("event_type").String(type ? EventTypeName(*type) : "UNKNOWN");
  json->Key("ticket").String(job.ticket);
  json->Key("recipient").String(job.key.recipient);
  json->Key("state").String(projections::JobStateName(job.state));
  json->Key("attempts").Uint(job.attempts);
  json->Key("last_error");
  if (job.last_error.empty()) {
    json->Null();
  } else {
    json->String(job.last_error);
  }
  json->Key("last_smtp_code").Uint(job.last_smtp_code);
  json->Key("last_attempt_at");
  if (job.last_attempt_at_micros == 0) {
    json->Null();
  } else {
    json->String(FormatRfc3339Utc(job.last_attempt_at_micros));
  }
  json->Key("sent_at");
  if (job.state == projections::JobState::kSent) {
    json->String(FormatRfc3339Utc(job.sent_at_micros));
  } else {
    json->Null();
  }
  json->Key("message_id");
  if (job.message_id.empty()) {
    json->Null();
  } else {
    json->String(job.message_id);
  }
  json->EndObject();
}

// "<seq>:<recipient>", hex-encoded so that '+' in an address survives a query string.
std::string JobCursor(const projections::JobKey& key) { return HexEncode(std::to_string(key.seq) + ":" + key.recipient); }

std::optional<projections::JobKey> ParseJobCursor(std::string_view text) {
  if (text.size() > kCursorBytesMax) return std::nullopt;
  std::optional<std::string> decoded = HexDecode(text);
  if (!decoded) return std::nullopt;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0 || colon > 19) return std::nullopt;
  const std::string digits = decoded->substr(0, colon);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return projections::JobKey{std::stoull(digits), decoded->substr(colon + 1)};
}

HttpResponse ListNotifications(const NotificationRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {"state", "ticket", "seq", "recipient", "cursor", "limit"});
  if (!query) return Error(query.error());
  Result<uint64_t> limit = ParseCount(*query, "limit", kNotificationsPageDefault, 1, kNotificationsPageMax);
  if (!limit) return Error(limit.error());
  std::optional<projections::JobState> state;
  if (const auto found = query->find("state"); found != query->end()) {
    if (found->second == "pending") {
      state = projections::JobState::kPending;
    } else if (found->second == "sent") {
      state = projections::JobState::kSent;
    } else if (found->second == "failed") {
      state = projections::JobState::kFailed;
    } else {
      return Error(InvalidArgument("state", "state must be pending, sent or failed"));
    }
  }
  std::optional<std::string> ticket;
  if (const auto found = query->find("ticket"); found != query->end()) {
    Result<std::string> normalized = ingest::NormalizeTicket(found->second);
    if (!normalized) return Error(normalized.error());
    ticket = *normalized;
  }
  std::optional<uint64_t> seq;
  if (query->contains("seq")) {
    Result<uint64_t> value = ParseCount(*query, "seq", 0, 1, UINT64_MAX / 2);
    if (!value) return Error(value.error());
    seq = *value;
  }
  std::optional<std::string> recipient;
  if (const auto found = query->find("recipient"); found != query->end()) {
    Result<std::string> normalized = ingest::NormalizeEmail(found->second, "recipient");
    if (!normalized) return Error(normalized.error());
    recipient = *normalized;
  }
  std::optional<projections::JobKey> after;
  if (const auto found = query->find("cursor"); found != query->end()) {
    after = ParseJobCursor(found->second);
    if (!after) return Error(InvalidArgument("cursor", "cursor must be a next_cursor value from a previous page"));
  }

  HttpResponse response;
  routes.model->Read([&](const projections::NotificationQueue& queue, uint64_t) {
    JsonWriter json;
    json.BeginObject();
    const projections::QueueCounts counts = queue.counts();
    json.Key("counts").BeginObject();
    json.Key("pending").Uint(counts.pending).Key("sent").Uint(counts.sent).Key("failed").Uint(counts.failed);
    json.EndObject();
    json.Key("notifications").BeginArray();
    size_t count = 0;
    std::optional<projections::JobKey> last;
    bool more = false;
    // Sent jobs come back from the checkpoint database once they left
    // memory (projections/notifications.h); the order is the same.
    const projections::JobFilter filter{
        .state = state, .ticket = ticket, .seq = seq, .recipient = recipient, .after = after};
    Status listed = queue.ForEachJob(filter, [&](const projections::Job& job) {
      if (count == *limit) {
        more = true;
        return false;
      }
      WriteJob(&json, job, queue.NoticeType(job.key.seq));
      count += 1;
      last = job.key;
      return true;
    });
    if (!listed) {
      response = Error(listed.error());
      return;
    }
    json.EndArray();
    json.Key("count").Uint(count);
    json.Key("next_cursor");
    if (more && last) {
      json.String(JobCursor(*last));
    } else {
      json.Null();
    }
    json.EndObject();
    response = JsonAnswer(200, json.Take());
  });
  return response;
}


}  // namespace

std::vector<Route> NotificationRouteRows(const NotificationRoutes& routes) {
  const RequiredAccess admin = RequiredAccess::Needs(Role::kAdmin);
  const NotificationRoutes* from = &routes;
  return {
      {kSubscriptionsPath, "GET, POST, DELETE", admin, "subscriptions", RouteKind::kJson, "subscriptions",
       [from](RouteCall call) {
         if (call.request.method == "GET" || call.request.method == "HEAD") {
           return call.respond(ListSubscriptions(*from, call.query));
         }
         if (!call.query.empty()) {
           return call.respond(
               Error(InvalidArgument("", "subscription changes take no query parameters; send a JSON body")));
         }
         ChangeSubscription(*from, call.request, call.principal,
                            call.request.method == "POST" ? ingest::SubscriptionAction::kAdd
                                                          : ingest::SubscriptionAction::kRemove,
                            std::move(call.respond));
       }},
      {kNotificationsPath, "GET", admin, "notifications", RouteKind::kJson, "notifications",
       [from](RouteCall call) { call.respond(ListNotifications(*from, call.query)); }},
      {kRetryPath, "POST", admin, "notifications_retry", RouteKind::kJson, "notifications_retry",
       [from](RouteCall call) {
         if (!call.query.empty()) {
           return call.respond(Error(InvalidArgument("", "a retry takes no query parameters; send a JSON body")));
         }
         RetryNotifications(*from, call.request, call.principal, std::move(call.respond));
       }},
  };
}

namespace {

// One receipt's payload; a failed one also says why.
void WriteReceipt(JsonWriter* json, const proto::NotificationReceipt& receipt, bool failed) {
  json->BeginObject();
  json->Key("incident_seq").Uint(receipt.incident_seq());
  json->Key("recipient").String(receipt.recipient());
  json->Key("ticket").String(receipt.ticket());
  json->Key("attempt").Uint(receipt.attempt());
  json->Key("message_id").String(receipt.message_id());
  json->Key("smtp_code").Uint(receipt.smtp_code());
  if (failed) {
    json->Key("error").String(receipt.error());
    json->Key("server_unavailable").Bool(receipt.server_unavailable());
    json->Key("gave_up").Bool(receipt.gave_up());
  }
  json->EndObject();
}

}  // namespace

bool WriteNotificationPayload(JsonWriter* json, const proto::Event& event) {
  if (event.has_subscription()) {
    const proto::SubscriptionPayload& payload = event.subscription();
    json->BeginObject();
    json->Key("email").String(payload.email());
    json->Key("systems").BeginArray();
    for (const std::string& system : payload.systems()) json->String(system);
    json->EndArray();
    json->EndObject();
    return true;
  }
  if (event.has_retry()) {
    json->BeginObject();
    json->Key("jobs");
    WriteRetriedJobs(json, event.retry(), "incident_seq");
    json->EndObject();
    return true;
  }
  if (event.has_notification()) {
    WriteReceipt(json, event.notification(), event.type() == proto::NOTIFICATION_FAILED);
    return true;
  }
  if (event.has_receipts()) {
    json->BeginObject();
    json->Key("delivered").BeginArray();
    for (const proto::NotificationReceipt& receipt : event.receipts().delivered()) WriteReceipt(json, receipt, false);
    json->EndArray();
    json->Key("failed").BeginArray();
    for (const proto::NotificationReceipt& receipt : event.receipts().failed()) WriteReceipt(json, receipt, true);
    json->EndArray();
    json->EndObject();
    return true;
  }
  return false;
}

}  // namespace ledger::http
