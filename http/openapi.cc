#include "http/openapi.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <simdjson.h>

#include "common/json_writer.h"
#include "http/auth.h"

namespace ledger::http {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";
constexpr std::string_view kHtml = "text/html; charset=utf-8";

// Query parameters many reads share.
const ParameterDoc kFrom{"from", "start of the window [from, to) (RFC 3339); default: 7 days before `to`",
                         R"({"type":"string","format":"date-time"})"};
const ParameterDoc kTo{"to", "end of the window (RFC 3339); default: now, or 7 days after `from`",
                       R"({"type":"string","format":"date-time"})"};
const ParameterDoc kAsOf{"as_of", "answer with only the events recorded up to this time (RFC 3339)",
                         R"({"type":"string","format":"date-time"})"};
const ParameterDoc kAsOfSeq{"as_of_seq", "answer with only the events up to this sequence number",
                            R"({"type":"integer","minimum":0})"};
const ParameterDoc kSystem{"system", "only what concerns this system (case-insensitive, aliases too)",
                           R"({"type":"string"})"};
const ParameterDoc kLimit{"limit", "page size", R"({"type":"integer","minimum":1})"};
const ParameterDoc kCursor{"cursor", "the next_cursor of the previous page", R"({"type":"string"})"};

// The answer of a form POST of the pages: 303 to where the result shows.
const AnswerDoc kRecorded{"303", "recorded; Location says where it shows", kHtml, ""};
const AnswerDoc kFormRefused{"400", "the form again, naming what is wrong", kHtml, ""};

std::vector<RouteDoc> MakeRouteDocs() {
  return {
      // --- the /api/v1 rows of api.cc ---------------------------------------
      {.name = "submissions",
       .operations = {{.method = "POST",
                       .summary = "Open, update, close or reopen an incident (the help desk's form)",
                       .body = {{kJson, "SubmissionRequest"}, {kForm, "SubmissionForm"}},
                       .answers = {{"201", "recorded (or, for a repeated submission_id with the same content, "
                                           "the original result with Idempotent-Replay: true)",
                                    kJson, "SubmissionAnswer"}}}}},
      {.name = "incidents",
       .operations = {{.method = "GET",
                       .summary = "Incidents whose outage overlaps [from, to), newest ticket first",
                       .query = {kFrom, kTo,
                                 {"status", "open or closed", R"({"type":"string","enum":["open","closed"]})"},
                                 kSystem,
                                 {"q", "text searched in title, description and engineer",
                                  R"({"type":"string","maxLength":200})"},
                                 kCursor, kLimit, kAsOfSeq, kAsOf},
                       .answers = {{"200", "a page of incidents", kJson, "IncidentList"}}}}},
      {.name = "incident",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42 (or 42)",
       .operations = {{.method = "GET",
                       .summary = "An incident's current state (or as it stood at as_of / as_of_seq); an "
                                  "internal incident answers 404 below helpdesk",
                       .query = {kAsOfSeq, kAsOf},
                       .answers = {{"200", "the incident", kJson, "Incident"}}}}},
      {.name = "incident_events",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "GET",
                       .summary = "A ticket's events, in order (review drafts only for helpdesk and above)",
                       .answers = {{"200", "the ticket's events", kJson, "IncidentEvents"}}}}},
      {.name = "events",
       .operations = {{.method = "GET",
                       .summary = "The whole log in order, a page at a time",
                       .query = {{"after", "events after this sequence number", R"({"type":"integer","minimum":0})"},
                                 kLimit},
                       .answers = {{"200",
                                    "a page of events; with Accept: application/x-ndjson one event per line",
                                    "application/json|application/x-ndjson", "EventPage"}}}}},
      {.name = "durations_changes",
       .operations = {{.method = "GET",
                       .summary = "Each figure that differs between two knowledge times, with the events that "
                                  "changed it",
                       .query = {kFrom, kTo,
                                 {"before", "the earlier knowledge time (RFC 3339)",
                                  R"({"type":"string","format":"date-time"})", true},
                                 {"after", "the later knowledge time (RFC 3339); default now",
                                  R"({"type":"string","format":"date-time"})"}},
                       .answers = {{"200", "the figures that changed", kJson, "DurationChanges"}}}}},
      {.name = "durations",
       .operations = {{.method = "GET",
                       .summary = "Outage durations per incident and per system, availability, MTTR/MTTA/MTTM",
                       .query = {kFrom, kTo,
                                 {"by", "one list only", R"({"type":"string","enum":["incident","system"]})"},
                                 kAsOf, kAsOfSeq,
                                 {"format", "json (default) or csv (needs by=)",
                                  R"({"type":"string","enum":["json","csv"]})"}},
                       .answers = {{"200", "the figures (format=csv: a CSV of the chosen list, with a header row)",
                                    "application/json|text/csv; charset=utf-8", "DurationReport"}}}}},
      {.name = "verify",
       .operations = {{.method = "GET",
                       .summary = "Recomputes the hash chain and the Merkle tree",
                       .answers = {{"200", "the result: ok, or the first bad seq", kJson, "VerifyReport"}}}}},
      {.name = "backup",
       .operations = {{.method = "POST",
                       .summary = "A checkpoint of the live ledger in a new folder below serve --backup-dir, "
                                  "then verified",
                       .body = {{kJson, "BackupRequest"}},
                       .answers = {{"201", "written and verified", kJson, "BackupAnswer"},
                                   {"500", "written, but the copy did not verify (or the storage failed)", kJson,
                                    R"({"oneOf":[{"$ref":"#/components/schemas/BackupAnswer"},)"
                                    R"({"$ref":"#/components/schemas/Error"}]})"}}}}},
      {.name = "healthz",
       .operations = {{.method = "GET",
                       .summary = "Liveness",
                       .answers = {{"200", "serving", kJson, "Health"}}}}},
      {.name = "metrics",
       .operations = {{.method = "GET",
                       .summary = "Prometheus metrics",
                       .answers = {{"200", "Prometheus text format", "text/plain; version=0.0.4; charset=utf-8",
                                    ""}}}}},
      {.name = "openapi",
       .operations = {{.method = "GET",
                       .summary = "This document",
                       .answers = {{"200", "the API described as OpenAPI 3.1", kJson, "OpenApiDocument"}}}}},
      // --- proofs_api.cc --------------------------------------------------
      {.name = "public_key",
       .operations = {{.method = "GET",
                       .summary = "The Ed25519 key that signs tree heads",
                       .answers = {{"200", "PEM", "application/x-pem-file", ""}}}}},
      {.name = "tree_head",
       .operations = {{.method = "GET",
                       .summary = "The signed Merkle tree head",
                       .answers = {{"200", "the head, signed now", kJson, "SignedTreeHead"}}}}},
      {.name = "proof_inclusion",
       .operations = {{.method = "GET",
                       .summary = "RFC 9162 inclusion proof of an event in a tree",
                       .query = {{"seq", "the event", R"({"type":"integer","minimum":1})", true},
                                 {"tree_size", "the tree (default: the current one)",
                                  R"({"type":"integer","minimum":1})"}},
                       .answers = {{"200", "the audit path", kJson, "InclusionProof"}}}}},
      {.name = "proof_consistency",
       .operations = {{.method = "GET",
                       .summary = "RFC 9162 consistency proof between two tree sizes",
                       .query = {{"first", "the smaller tree", R"({"type":"integer","minimum":1})", true},
                                 {"second", "the larger tree", R"({"type":"integer","minimum":1})", true}},
                       .answers = {{"200", "the consistency path", kJson, "ConsistencyProof"}}}}},
      {.name = "incident_bundle",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "GET",
                       .summary = "A ticket's file: its events with hashes, their inclusion proofs and a signed "
                                  "tree head",
                       .answers = {{"200", "the bundle (a download)", kJson, "Bundle"}}}}},
      // --- the pages, assets and the stream of web.cc ---------------------
      {.name = "page_dashboard",
       .operations = {{.method = "GET",
                       .summary = "The dashboard",
                       .query = {kFrom, kTo,
                                 {"range", "a preset window", R"({"type":"string"})"},
                                 {"rows", "how the timeline groups", R"({"type":"string"})"}},
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "page_submit",
       .operations = {{.method = "GET",
                       .summary = "The help desk's form",
                       .query = {{"action", "the action preselected", R"({"type":"string"})"},
                                 {"ticket", "the ticket preselected", R"({"type":"string"})"}},
                       .answers = {{"200", "HTML", kHtml, ""}}},
                      {.method = "POST",
                       .summary = "The form's submission (with its csrf_token)",
                       .body = {{kForm, "SubmissionForm"}},
                       .answers = {kRecorded, kFormRefused}}}},
      {.name = "page_maintenance",
       .operations = {{.method = "GET",
                       .summary = "The maintenance windows' page and form",
                       .query = {{"action", "the action preselected", R"({"type":"string"})"},
                                 {"window", "the window preselected", R"({"type":"string"})"},
                                 {"recorded", "the window just recorded", R"({"type":"string"})"}},
                       .answers = {{"200", "HTML", kHtml, ""}}},
                      {.method = "POST",
                       .summary = "The maintenance form's submission (with its csrf_token)",
                       .body = {{kForm, "MaintenanceForm"}},
                       .answers = {kRecorded, kFormRefused}}}},
      {.name = "page_signin",
       .operations = {{.method = "GET",
                       .summary = "The sign-in form",
                       .query = {{"next", "where to go after signing in (a path of this service)",
                                  R"({"type":"string"})"}},
                       .answers = {{"200", "HTML", kHtml, ""}}},
                      {.method = "POST",
                       .summary = "Signs in with a token: a session cookie",
                       .body = {{kForm, R"({"type":"object","required":["token"],"properties":{)"
                                        R"("token":{"type":"string"},"next":{"type":"string"}}})"}},
                       .answers = {{"303", "signed in: the session cookie, and Location `next`", kHtml, ""}}}}},
      {.name = "page_signout",
       .operations = {{.method = "POST",
                       .summary = "Ends the browser's session",
                       .body = {{kForm, R"({"type":"object","properties":{"csrf_token":{"type":"string"}}})"}},
                       .answers = {{"303", "signed out; Location /signin", kHtml, ""}}}}},
      {.name = "page_incident",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "GET",
                       .summary = "An incident's page: its state, events, review and action items",
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "page_actions",
       .operations = {{.method = "GET",
                       .summary = "The action items' page",
                       .query = {{"owner", "", R"({"type":"string"})"},
                                 {"status", "", R"({"type":"string","enum":["open","done","dropped"]})"},
                                 {"overdue", "", R"({"type":"string","enum":["true","false"]})"},
                                 kSystem,
                                 {"ticket", "", R"({"type":"string"})"}},
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "page_systems",
       .operations = {{.method = "GET",
                       .summary = "The catalog of systems; an admin's copy has the forms that change it",
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "page_imports",
       .operations = {{.method = "GET",
                       .summary = "The sheet's imports and refused rows (help desk)",
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "page_action_update",
       .segment = "item",
       .segment_description = "the action item, INC-7-A1",
       .operations = {{.method = "POST",
                       .summary = "The incident page's form changing an action item",
                       .body = {{kForm, "ActionItemUpdateRequest"}},
                       .answers = {kRecorded, kFormRefused}}}},
      {.name = "page_action_add",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "POST",
                       .summary = "The incident page's form adding an action item",
                       .body = {{kForm, "ActionItemRequest"}},
                       .answers = {kRecorded, kFormRefused}}}},
      {.name = "page_review",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "POST",
                       .summary = "The incident page's form drafting or publishing the review",
                       .body = {{kForm, "ReviewRequest"}},
                       .answers = {kRecorded, kFormRefused}}}},
      {.name = "static",
       .segment = "asset",
       .segment_description = "the file's path below /static/ (it may hold slashes)",
       .operations = {{.method = "GET",
                       .summary = "The pages' scripts, styles and images (ETag, gzip when accepted)",
                       .answers = {{"200", "the file",
                                    "text/javascript; charset=utf-8|text/css; charset=utf-8|image/svg+xml", ""},
                                   {"304", "not modified (If-None-Match)", "", ""}}}}},
      {.name = "events_stream",
       .operations = {{.method = "GET",
                       .summary = "Server-Sent Events: each new event, `id:` its seq; resumes after Last-Event-ID",
                       .query = {{"after", "start after this seq (as Last-Event-ID)",
                                  R"({"type":"integer","minimum":0})"}},
                       .answers = {{"200", "the stream", "text/event-stream; charset=utf-8", ""}}}}},
      {.name = "availability",
       .operations = {{.method = "GET",
                       .summary = "Daily availability per system (the dashboard's strip)",
                       .query = {{"days", "how many days", R"({"type":"integer","minimum":1})"},
                                 {"timezone", "the days' time zone (IANA name)", R"({"type":"string"})"},
                                 kSystem,
                                 {"end_date", "the last day (YYYY-MM-DD)", R"({"type":"string"})"}},
                       .answers = {{"200", "the figures (gzip when accepted, ETag)", kJson, "Availability"},
                                   {"304", "not modified (If-None-Match)", "", ""}}}}},
      // --- maintenance_api.cc ---------------------------------------------
      {.name = "maintenance",
       .operations = {{.method = "GET",
                       .summary = "Maintenance windows overlapping [from, to)",
                       .query = {kFrom, kTo,
                                 {"status", "",
                                  R"({"type":"string","enum":["scheduled","in_progress","completed","cancelled"]})"},
                                 kSystem, kLimit, kAsOf, kAsOfSeq},
                       .answers = {{"200", "the windows", kJson, "WindowList"}}}}},
      {.name = "maintenance_submit",
       .operations = {{.method = "POST",
                       .summary = "Schedule, update, start, end or cancel a maintenance window",
                       .body = {{kJson, "MaintenanceRequest"}, {kForm, "MaintenanceForm"}},
                       .answers = {{"201", "recorded", kJson, "MaintenanceAnswer"}}}}},
      {.name = "maintenance_window",
       .segment = "window",
       .segment_description = "the window number, MNT-3",
       .operations = {{.method = "GET",
                       .summary = "A maintenance window (or as it stood at as_of / as_of_seq)",
                       .query = {kAsOf, kAsOfSeq},
                       .answers = {{"200", "the window", kJson, "Window"}}}}},
      {.name = "calendar",
       .operations = {{.method = "GET",
                       .summary = "RFC 5545 calendar: maintenance windows and outage periods",
                       .query = {kSystem, kFrom, kTo},
                       .answers = {{"200", "iCalendar", "text/calendar; charset=utf-8", ""}}}}},
      {.name = "feed",
       .operations = {{.method = "GET",
                       .summary = "RFC 4287 Atom feed: the latest incident, published review and maintenance events",
                       .query = {kSystem},
                       .answers = {{"200", "Atom", "application/atom+xml; charset=utf-8", ""}}}}},
      // --- notifications_api.cc -------------------------------------------
      {.name = "subscriptions",
       .operations = {{.method = "GET",
                       .summary = "Who is mailed about which systems",
                       .query = {{"email", "", R"({"type":"string"})"}, kSystem, kCursor, kLimit},
                       .answers = {{"200", "a page of subscriptions", kJson, "SubscriptionList"}}},
                      {.method = "POST",
                       .summary = "Subscribe an address to systems (\"*\": all)",
                       .body = {{kJson, "SubscriptionRequest"}},
                       .answers = {{"201", "recorded", kJson, "SubscriptionAnswer"},
                                   {"200", "nothing to change (already so)", kJson, "SubscriptionAnswer"}}},
                      {.method = "DELETE",
                       .summary = "Unsubscribe an address from systems",
                       .body = {{kJson, "SubscriptionRequest"}},
                       .answers = {{"201", "recorded", kJson, "SubscriptionAnswer"},
                                   {"200", "nothing to change (already so)", kJson, "SubscriptionAnswer"}}}}},
      {.name = "notifications",
       .operations = {{.method = "GET",
                       .summary = "The mail queue: one job per event and recipient",
                       .query = {{"state", "", R"({"type":"string","enum":["pending","sent","failed"]})"},
                                 {"ticket", "", R"({"type":"string"})"},
                                 {"seq", "", R"({"type":"integer","minimum":1})"},
                                 {"recipient", "", R"({"type":"string"})"},
                                 kCursor, kLimit},
                       .answers = {{"200", "a page of jobs", kJson, "NotificationList"}}}}},
      {.name = "notifications_retry",
       .operations = {{.method = "POST",
                       .summary = "Retry failed mail jobs",
                       .body = {{kJson, "RetryRequest"}},
                       .answers = {{"201", "retry recorded", kJson, "RetryAnswer"},
                                   {"200", "no failed job matched: nothing recorded", kJson, "RetryAnswer"}}}}},
      // --- self_service.cc ------------------------------------------------
      {.name = "page_subscribe",
       .operations = {{.method = "GET",
                       .summary = "The self-service subscription form",
                       .answers = {{"200", "HTML", kHtml, ""}}}}},
      {.name = "subscription_requests",
       .operations = {{.method = "POST",
                       .summary = "Asks for a confirmation mail subscribing an address to systems (\"*\": all); "
                                  "the same answer for every address. 429 with Retry-After: too many requests "
                                  "from this client",
                       .body = {{kJson, R"({"type":"object","required":["email","systems"],)"
                                        R"("additionalProperties":false,"properties":{"email":{"type":"string"},)"
                                        R"("systems":{"oneOf":[{"type":"array","items":{"type":"string"}},)"
                                        R"({"type":"string"}]}}})"},
                                {kForm, R"({"type":"object","required":["email","systems"],"properties":{)"
                                        R"("email":{"type":"string"},"systems":{"type":"string"},)"
                                        R"("csrf_token":{"type":"string"}}})"}},
                       .answers = {{"202", "accepted (a form body: an HTML page saying the same)", kJson,
                                    R"({"type":"object","required":["status","message"],"properties":{)"
                                    R"("status":{"const":"accepted"},"message":{"type":"string"}}})"}}}}},
      {.name = "page_subscribe_confirm",
       .operations = {{.method = "GET",
                       .summary = "What a confirmation link would subscribe, with a button that POSTs",
                       .query = {{"token", "the signed link token", R"({"type":"string"})", true}},
                       .answers = {{"200", "HTML", kHtml, ""},
                                   {"400", "a malformed or altered link", kHtml, ""},
                                   {"410", "an expired link", kHtml, ""}}},
                      {.method = "POST",
                       .summary = "Confirms: SUBSCRIPTION_ADDED with actor self (nothing when already so)",
                       .query = {{"token", "the signed link token", R"({"type":"string"})", true}},
                       .answers = {{"200", "subscribed", kHtml, ""},
                                   {"400", "a malformed or altered link", kHtml, ""},
                                   {"410", "an expired link", kHtml, ""}}}}},
      {.name = "page_unsubscribe",
       .operations = {{.method = "GET",
                       .summary = "What an unsubscribe link would do, with a button that POSTs",
                       .query = {{"token", "the signed link token", R"({"type":"string"})", true}},
                       .answers = {{"200", "HTML", kHtml, ""}, {"400", "a malformed or altered link", kHtml, ""}}},
                      {.method = "POST",
                       .summary = "RFC 8058 one-click unsubscribe: SUBSCRIPTION_REMOVED of every system, actor self",
                       .query = {{"token", "the signed link token", R"({"type":"string"})", true}},
                       .body = {{kForm, R"({"type":"object","properties":{"List-Unsubscribe":{"type":"string"}}})"}},
                       .answers = {{"200", "unsubscribed (also when nothing was left)", kHtml, ""},
                                   {"400", "a malformed or altered link", kHtml, ""}}}}},
      // --- systems_api.cc -------------------------------------------------
      {.name = "systems",
       .operations = {{.method = "GET",
                       .summary = "The catalog of systems by name, with their aliases, and the groups they form",
                       .query = {{"retired", "true: only retired systems; false: only systems in use",
                                  R"({"type":"string","enum":["true","false"]})"}},
                       .answers = {{"200", "the catalog", kJson, "SystemList"}}}}},
      {.name = "systems_submit",
       .operations = {{.method = "POST",
                       .summary = "Define, update, alias (merge a spelling into a system) or retire a system",
                       .body = {{kJson, "SystemRequest"}, {kForm, "SystemRequest"}},
                       .answers = {{"201", "recorded", kJson, "SystemAnswer"}}}}},
      // --- imports_api.cc -------------------------------------------------
      {.name = "imports",
       .operations = {{.method = "GET",
                       .summary = "The sheet poller's imports since start, newest first, with every refused row",
                       .answers = {{"200", "the runs", kJson, "ImportList"}}}}},
      // --- followups_api.cc -----------------------------------------------
      {.name = "review",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "POST",
                       .summary = "Draft or publish the incident's review (publishing needs it closed)",
                       .body = {{kJson, "ReviewRequest"}, {kForm, "ReviewRequest"}},
                       .answers = {{"201", "recorded", kJson, "FollowUpAnswer"}}}}},
      {.name = "action_items_add",
       .segment = "ticket",
       .segment_description = "the ticket number, INC-42",
       .operations = {{.method = "POST",
                       .summary = "Add an action item to an incident",
                       .body = {{kJson, "ActionItemRequest"}, {kForm, "ActionItemRequest"}},
                       .answers = {{"201", "recorded", kJson, "ActionItemAnswer"}}}}},
      {.name = "action_item_update",
       .segment = "item",
       .segment_description = "the action item, INC-7-A1",
       .operations = {{.method = "POST",
                       .summary = "Change an action item",
                       .body = {{kJson, "ActionItemUpdateRequest"}, {kForm, "ActionItemUpdateRequest"}},
                       .answers = {{"201", "recorded", kJson, "ActionItemAnswer"}}}}},
      {.name = "action_items",
       .operations = {{.method = "GET",
                       .summary = "Action items",
                       .query = {{"owner", "", R"({"type":"string"})"},
                                 {"status", "", R"({"type":"string","enum":["open","done","dropped"]})"},
                                 {"overdue", "", R"({"type":"string","enum":["true","false"]})"},
                                 kSystem,
                                 {"ticket", "", R"({"type":"string"})"},
                                 kLimit},
                       .answers = {{"200", "the items", kJson, "ActionItemList"}}}}},
      {.name = "review_report",
       .operations = {{.method = "GET",
                       .summary = "Review coverage, action item figures and recurrence",
                       .query = {kFrom, kTo,
                                 {"days", "the recurrence horizon in days (default 90)",
                                  R"({"type":"integer","minimum":1})"},
                                 kAsOf,
                                 {"format", "json (default) or csv", R"({"type":"string","enum":["json","csv"]})"},
                                 {"by", "the list a CSV gives", R"({"type":"string"})"}},
                       .answers = {{"200", "the report (format=csv: a CSV of the list `by` names)",
                                    "application/json|text/csv; charset=utf-8", "ReviewReport"}}}}},
  };
}

// --- schemas ----------------------------------------------------------------
// Pieces the schemas below repeat.
#define TIME R"({"type":"string","format":"date-time","pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}T"})"
#define NULLABLE_TIME \
  R"({"type":["string","null"],"format":"date-time","pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}T"})"
#define HASH R"({"type":"string","pattern":"^[0-9a-f]{64}$"})"
#define STRINGS R"({"type":"array","items":{"type":"string"}})"
#define COUNT R"({"type":"integer","minimum":0})"
#define SEQ R"({"type":"integer","minimum":1})"
#define REF(name) R"({"$ref":"#/components/schemas/)" name R"("})"

std::vector<SchemaDoc> MakeSchemaDocs() {
  return {
      {"Error",
       R"({"type":"object","required":["error"],"additionalProperties":false,"properties":{"error":{)"
       R"("type":"object","required":["code","message","field"],"additionalProperties":false,"properties":{)"
       R"("code":{"type":"string","enum":["invalid_argument","not_found","conflict","too_large","corruption",)"
       R"("io_error","unavailable","unauthenticated","permission_denied"]},)"
       R"("message":{"type":"string","minLength":1},)"
       R"("field":{"type":"string","description":"the input the error is about; empty when none"}}}}})"},
      {"Event",
       R"({"type":"object","description":"a stored event: its envelope as JSON, its hashes and its stored bytes",)"
       R"("required":["seq","recorded_at","submission_id","actor","ticket","type","version","payload",)"
       R"("request_digest","prev_hash","hash","record"],"additionalProperties":false,"properties":{)"
       R"("seq":)" SEQ R"(,"recorded_at":)" TIME R"(,"submission_id":{"type":"string"},"actor":{"type":"string"},)"
       R"("ticket":{"type":"string"},"type":{"type":"string","enum":["INCIDENT_OPENED","INCIDENT_UPDATED",)"
       R"("INCIDENT_CLOSED","INCIDENT_REOPENED","SUBSCRIPTION_ADDED","SUBSCRIPTION_REMOVED",)"
       R"("NOTIFICATION_DELIVERED","NOTIFICATION_FAILED","NOTIFICATION_RETRY_REQUESTED","NOTIFICATION_RECEIPTS",)"
       R"("REVIEW_DRAFTED",)"
       R"("REVIEW_PUBLISHED","ACTION_ITEM_ADDED","ACTION_ITEM_UPDATED","ACTION_ITEM_OVERDUE",)"
       R"("MAINTENANCE_SCHEDULED","MAINTENANCE_UPDATED","MAINTENANCE_STARTED","MAINTENANCE_ENDED",)"
       R"("MAINTENANCE_CANCELLED","SHEET_ROW_REFUSED","SYSTEM_DEFINED","SYSTEM_UPDATED","SYSTEM_ALIASED",)"
       R"("SYSTEM_RETIRED"]},"version":)" COUNT R"(,"payload":{"type":"object"},)"
       R"("request_digest":{"type":"string","pattern":"^([0-9a-f]{64})?$"},"prev_hash":)" HASH R"(,"hash":)" HASH
       R"(,"record":{"type":"string","contentEncoding":"base64","pattern":"^[A-Za-z0-9+/]*={0,2}$"}},)"
       R"("allOf":[)"
       R"({"if":{"properties":{"type":{"pattern":"^INCIDENT_"}}},)"
       R"("then":{"properties":{"payload":)" REF("IncidentPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"pattern":"^MAINTENANCE_"}}},)"
       R"("then":{"properties":{"payload":)" REF("MaintenancePayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"pattern":"^SUBSCRIPTION_"}}},)"
       R"("then":{"properties":{"payload":)" REF("SubscriptionPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"enum":["NOTIFICATION_DELIVERED","NOTIFICATION_FAILED"]}}},)"
       R"("then":{"properties":{"payload":)" REF("ReceiptPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"const":"NOTIFICATION_RECEIPTS"}}},)"
       R"("then":{"properties":{"payload":)" REF("ReceiptsPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"const":"NOTIFICATION_RETRY_REQUESTED"}}},)"
       R"("then":{"properties":{"payload":)" REF("RetryPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"pattern":"^REVIEW_"}}},)"
       R"("then":{"properties":{"payload":)" REF("ReviewPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"pattern":"^ACTION_ITEM_"}}},)"
       R"("then":{"properties":{"payload":)" REF("ActionItemPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"const":"SHEET_ROW_REFUSED"}}},)"
       R"("then":{"properties":{"payload":)" REF("SheetRowRefusedPayload") R"(}}},)"
       R"({"if":{"properties":{"type":{"pattern":"^SYSTEM_"}}},)"
       R"("then":{"properties":{"payload":)" REF("SystemPayload") R"(}}}]})"},
      {"SystemPayload",
       R"({"type":"object","required":["name"],"additionalProperties":false,"properties":{)"
       R"("name":{"type":"string"},"group":{"type":"string"},"owner":{"type":"string"},)"
       R"("description":{"type":"string"},"alias":{"type":"string"}}})"},
      {"SystemList",
       R"({"type":"object","required":["applied_seq","count","systems","groups"],"additionalProperties":false,)"
       R"("properties":{"applied_seq":)" COUNT R"(,"count":)" COUNT R"(,"systems":{"type":"array","items":)"
       R"({"type":"object","required":["name","group","owner","description","aliases","retired","declared",)"
       R"("defined_seq","last_seq"],"additionalProperties":false,"properties":{"name":{"type":"string"},)"
       R"("group":{"type":"string"},"owner":{"type":"string"},"description":{"type":"string"},)"
       R"("aliases":)" STRINGS R"(,"retired":{"type":"boolean"},"declared":{"type":"boolean"},)"
       R"("defined_seq":)" SEQ R"(,"last_seq":)" SEQ R"(}}},"groups":)" STRINGS R"(}})"},
      {"SystemRequest",
       R"({"type":"object","required":["action","name"],"properties":{)"
       R"("action":{"type":"string","enum":["define","update","alias","retire"]},"name":{"type":"string"},)"
       R"("group":{"type":"string"},"owner":{"type":"string","description":"an e-mail address, or empty"},)"
       R"("description":{"type":"string"},"alias":{"type":"string","description":"action alias: the spelling )"
       R"(that stands for name from now on"},"submission_id":{"type":"string"},"actor":{"type":"string"},)"
       R"("csrf_token":{"type":"string"}}})"},
      {"SystemAnswer",
       R"({"type":"object","required":["system","seq","event"],"additionalProperties":false,)"
       R"("properties":{"system":{"type":"string"},"seq":)" SEQ R"(,"event":)" REF("Event") R"(}})"},
      {"SheetRowRefusedPayload",
       R"({"type":"object","required":["content_id","row","column","column_letters","field","rule","submitter",)"
       R"("file","cells"],"additionalProperties":false,"properties":{)"
       R"("content_id":{"type":"string","pattern":"^[0-9a-f]{32}$"},"row":)" COUNT
       R"(,"column":{"type":"string"},"column_letters":{"type":"string"},"field":{"type":"string"},)"
       R"("rule":{"type":"string"},"submitter":{"type":"string"},"file":{"type":"string"},)"
       R"("cells":{"type":"array","items":{"type":"object","required":["column","text"],)"
       R"("additionalProperties":false,"properties":{"column":{"type":"string"},"text":{"type":"string"}}}}}})"},
      {"ImportList",
       R"({"type":"object","required":["runs"],"additionalProperties":false,"properties":{"runs":{"type":"array",)"
       R"("items":{"type":"object","required":["at","file","file_error","rows_read","appended","already_present",)"
       R"("rejected","refused"],"additionalProperties":false,"properties":{"at":)" TIME
       R"(,"file":{"type":"string"},"file_error":{"type":["string","null"]},"rows_read":)" COUNT
       R"(,"appended":)" COUNT R"(,"already_present":)" COUNT R"(,"rejected":)" COUNT
       R"(,"refused":{"type":"array","items":{"type":"object","required":["row","column","column_letters",)"
       R"("field","rule","author","told","mail","content_id","seq"],"additionalProperties":false,)"
       R"("properties":{"row":)" COUNT R"(,"column":{"type":["string","null"]},)"
       R"("column_letters":{"type":["string","null"]},"field":{"type":"string"},"rule":{"type":"string"},)"
       R"("author":{"type":"string"},"told":{"type":"boolean"},)"
       R"("mail":{"type":["string","null"],"enum":["pending","sent","failed",null]},)"
       R"("content_id":{"type":"string"},"seq":{"type":["integer","null"]}}}}}}}}})"},
      {"IncidentPayload",
       R"({"type":"object","description":"only the fields the event carries","additionalProperties":false,)"
       R"("properties":{"title":{"type":"string"},"description":{"type":"string"},"systems":)" STRINGS
       R"(,"engineer":{"type":"string"},"severity":{"type":"string","enum":["minor","major","critical"]},)"
       R"("started_at":)" TIME R"(,"ended_at":)" TIME R"(,"note":{"type":"string"},"link":{"type":"string"},)"
       R"("detected_at":)" TIME R"(,"acknowledged_at":)" TIME R"(,"mitigated_at":)" TIME
       R"(,"impact":{"type":"string","enum":["full","partial","degraded"]},)"
       R"("phase":{"type":"string","enum":["investigating","identified","monitoring"]},)"
       R"("visibility":{"type":"string","enum":["everyone","internal"]}}})"},
      {"MaintenancePayload",
       R"({"type":"object","description":"only the fields the event carries","additionalProperties":false,)"
       R"("properties":{"title":{"type":"string"},"systems":)" STRINGS R"(,"description":{"type":"string"},)"
       R"("link":{"type":"string"},"starts_at":)" TIME R"(,"ends_at":)" TIME R"(,"started_at":)" TIME
       R"(,"ended_at":)" TIME R"(}})"},
      {"SubscriptionPayload",
       R"({"type":"object","required":["email","systems"],"additionalProperties":false,)"
       R"("properties":{"email":{"type":"string"},"systems":)" STRINGS R"(}})"},
      {"ReceiptPayload",
       R"({"type":"object","required":["incident_seq","recipient","ticket","attempt","message_id","smtp_code"],)"
       R"("additionalProperties":false,"properties":{"incident_seq":)" COUNT R"(,"recipient":{"type":"string"},)"
       R"("ticket":{"type":"string"},"attempt":)" COUNT R"(,"message_id":{"type":"string"},"smtp_code":)" COUNT
       R"(,"error":{"type":"string"},"server_unavailable":{"type":"boolean"},"gave_up":{"type":"boolean"}}})"},
      {"ReceiptsPayload",
       R"({"type":"object","description":"receipts recorded together: each stands for the NOTIFICATION_DELIVERED )"
       R"(or NOTIFICATION_FAILED event it would have been, delivered ones folded first",)"
       R"("required":["delivered","failed"],"additionalProperties":false,"properties":{)"
       R"("delivered":{"type":"array","items":)" REF("ReceiptPayload") R"(},)"
       R"("failed":{"type":"array","items":{"allOf":[)" REF("ReceiptPayload")
       R"(,{"required":["error","server_unavailable","gave_up"]}]}}}})"},
      {"RetriedJob",
       R"({"type":"object","required":["recipient","ticket"],"properties":{"incident_seq":)" SEQ
       R"(,"event_seq":)" SEQ R"(,"recipient":{"type":"string"},"ticket":{"type":"string"}}})"},
      {"RetryPayload",
       R"({"type":"object","required":["jobs"],"additionalProperties":false,"properties":{"jobs":{"type":"array",)"
       R"("items":{"allOf":[)" REF("RetriedJob") R"(,{"required":["incident_seq"]}]}}}})"},
      {"ReviewPayload",
       R"({"type":"object","required":["summary","impact_summary","root_cause","contributing_factors","lessons"],)"
       R"("additionalProperties":false,"properties":{"summary":{"type":"string"},"impact_summary":{"type":"string"},)"
       R"("root_cause":{"type":"string"},"contributing_factors":)" STRINGS R"(,"lessons":{"type":"string"},)"
       R"("reviewed_through_seq":)" COUNT R"(,"reviewed_head_hash":)" HASH R"(}})"},
      {"ActionItemPayload",
       R"({"type":"object","required":["item"],"additionalProperties":false,"properties":{"item":{"type":"string"},)"
       R"("title":{"type":"string"},"owner":{"type":"string"},"due":{"type":"string"},"link":{"type":"string"},)"
       R"("status":{"type":"string","enum":["open","done","dropped"]},"note":{"type":"string"}}})"},
      {"Period",
       R"({"type":"object","required":["started_at","ended_at"],"additionalProperties":false,)"
       R"("properties":{"started_at":)" TIME R"(,"ended_at":)" NULLABLE_TIME R"(}})"},
      {"IncidentState",
       R"({"type":"object","required":["ticket","status","title","description","systems","engineer","severity",)"
       R"("impact","phase","started_at","ended_at","link","note","version","opened_seq","last_seq","opened_at",)"
       R"("updated_at","periods","visibility"],"properties":{"ticket":{"type":"string","pattern":"^INC-[1-9][0-9]*$"},)"
       R"("status":{"type":"string","enum":["open","closed"]},"title":{"type":"string"},)"
       R"("description":{"type":"string"},"systems":)" STRINGS R"(,"engineer":{"type":"string"},)"
       R"("severity":{"type":"string","enum":["minor","major","critical"]},)"
       R"("impact":{"type":"string","enum":["full","partial","degraded"]},)"
       R"("phase":{"type":"string","enum":["investigating","identified","monitoring","resolved"]},)"
       R"("started_at":)" TIME R"(,"ended_at":)" NULLABLE_TIME R"(,"link":{"type":"string"},"note":{"type":"string"},)"
       R"("detected_at":)" TIME R"(,"acknowledged_at":)" TIME R"(,"mitigated_at":)" TIME R"(,)"
       R"("version":)" SEQ R"(,"opened_seq":)" SEQ R"(,"last_seq":)" SEQ R"(,"opened_at":)" TIME
       R"(,"updated_at":)" TIME R"(,"periods":{"type":"array","minItems":1,"items":)" REF("Period") R"(},)"
       R"("visibility":{"type":"string","enum":["everyone","internal"],)"
       R"("description":"internal: shown only to helpdesk, auditor and admin; 404 and left out of lists, )"
       R"(streams, feeds and calendars for everyone else; figures still count it"},)"
       R"("reviewed":{"type":"boolean"},"open_action_items":)" COUNT R"(}})"},
      {"IncidentListEntry",
       R"({"allOf":[)" REF("IncidentState") R"(,{"required":["reviewed","open_action_items"]}],)"
       R"("unevaluatedProperties":false})"},
      {"Incident",
       R"({"allOf":[)" REF("IncidentState") R"(,{"required":["reviewed","open_action_items","review",)"
       R"("action_items"],"properties":{"review":{"oneOf":[{"type":"null"},)" REF("Review") R"(]},)"
       R"("action_items":{"type":"array","items":)" REF("ActionItem") R"(}}}],"unevaluatedProperties":false})"},
      {"ReviewVersion",
       R"({"type":"object","required":["version","seq","status","actor","recorded_at","summary","impact_summary",)"
       R"("root_cause","contributing_factors","lessons","reviewed_through_seq","reviewed_head_hash"],)"
       R"("additionalProperties":false,"properties":{"version":)" SEQ R"(,"seq":)" SEQ
       R"(,"status":{"type":"string","enum":["draft","published"]},"actor":{"type":"string"},"recorded_at":)" TIME
       R"(,"summary":{"type":"string"},"impact_summary":{"type":"string"},"root_cause":{"type":"string"},)"
       R"("contributing_factors":)" STRINGS R"(,"lessons":{"type":"string"},)"
       R"("reviewed_through_seq":{"type":["integer","null"]},)"
       R"("reviewed_head_hash":{"type":["string","null"],"pattern":"^[0-9a-f]{64}$"}}})"},
      {"Review",
       R"({"type":"object","required":["status","version","current","published","versions",)"
       R"("recorded_after_review","events_after_review","events_after_review_not_listed"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("status":{"type":"string","enum":["draft","published"]},"version":)" SEQ R"(,"current":)"
       REF("ReviewVersion") R"(,"published":{"oneOf":[{"type":"null"},)" REF("ReviewVersion") R"(]},)"
       R"("versions":{"type":"array","minItems":1,"items":)" REF("ReviewVersion") R"(},)"
       R"("recorded_after_review":{"type":"boolean"},"events_after_review":{"type":"array","items":{)"
       R"("type":"object","required":["seq","type","recorded_at","fields"],"properties":{"seq":)" SEQ
       R"(,"type":{"type":"string"},"recorded_at":)" TIME R"(,"fields":)" STRINGS R"(},"additionalProperties":false}},)"
       R"("events_after_review_not_listed":)" COUNT R"(}})"},
      {"ActionItem",
       R"({"type":"object","required":["item","ticket","title","owner","due","link","status","overdue","note",)"
       R"("version","added_seq","added_at","added_by","last_seq","updated_at","done_at"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("item":{"type":"string","pattern":"^INC-[1-9][0-9]*-A[1-9][0-9]*$"},"ticket":{"type":"string"},)"
       R"("title":{"type":"string"},"owner":{"type":"string"},)"
       R"("due":{"type":["string","null"],"pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},"link":{"type":"string"},)"
       R"("status":{"type":"string","enum":["open","done","dropped"]},"overdue":{"type":"boolean"},)"
       R"("note":{"type":"string"},"version":)" SEQ R"(,"added_seq":)" SEQ R"(,"added_at":)" TIME
       R"(,"added_by":{"type":"string"},"last_seq":)" SEQ R"(,"updated_at":)" TIME R"(,"done_at":)" NULLABLE_TIME
       R"(}})"},
      {"IncidentList",
       R"({"type":"object","required":["from","to","count","incidents","next_cursor"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("applied_seq":)" COUNT R"(,"from":)" TIME R"(,"to":)" TIME R"(,"count":)" COUNT
       R"(,"incidents":{"type":"array","items":)" REF("IncidentListEntry") R"(},)"
       R"("next_cursor":{"type":["string","null"]}}})"},
      {"IncidentEvents",
       R"({"type":"object","required":["ticket","events"],"additionalProperties":false,"properties":{)"
       R"("ticket":{"type":"string"},"events":{"type":"array","minItems":1,"items":)" REF("Event") R"(}}})"},
      {"EventPage",
       R"({"type":"object","required":["head_seq","events","next_after"],"additionalProperties":false,)"
       R"("properties":{"head_seq":)" COUNT R"(,"events":{"type":"array","items":)" REF("Event") R"(},)"
       R"("next_after":{"type":["integer","null"],"description":"pass as after= for the next page; null at the )"
       R"(end"}}})"},
      {"SubmissionRequest",
       R"({"type":"object","required":["action"],"properties":{)"
       R"("action":{"type":"string","enum":["create","update","close","reopen"]},)"
       R"("ticket":{"type":"string","description":"required unless create"},)"
       R"("submission_id":{"type":"string","description":"idempotency key"},)"
       R"("expected_version":{"type":"integer","minimum":1},"actor":{"type":"string"},)"
       R"("title":{"type":"string"},"description":{"type":"string"},"systems":)" STRINGS
       R"(,"engineer":{"type":"string"},"severity":{"type":"string","enum":["minor","major","critical"]},)"
       R"("started_at":{"type":"string","format":"date-time"},"ended_at":{"type":"string","format":"date-time"},)"
       R"("note":{"type":"string"},"link":{"type":"string"},)"
       R"("detected_at":{"type":"string","format":"date-time"},)"
       R"("acknowledged_at":{"type":"string","format":"date-time"},)"
       R"("mitigated_at":{"type":"string","format":"date-time"},)"
       R"("impact":{"type":"string","enum":["full","partial","degraded"]},)"
       R"("phase":{"type":"string","enum":["investigating","identified","monitoring"]},)"
       R"("visibility":{"type":"string","enum":["everyone","internal"],)"
       R"("description":"internal hides the incident from viewers and anonymous readers; default everyone"}}})"},
      {"SubmissionForm",
       R"({"type":"object","description":"the fields of SubmissionRequest as form fields, systems )"
       R"(comma-separated; the pages' forms add csrf_token","required":["action"],)"
       R"("properties":{"action":{"type":"string"},"ticket":{"type":"string"},"systems":{"type":"string"},)"
       R"("csrf_token":{"type":"string"}}})"},
      {"SubmissionAnswer",
       R"({"type":"object","required":["ticket","seq","version","event"],"additionalProperties":false,)"
       R"("properties":{"ticket":{"type":"string","pattern":"^INC-[1-9][0-9]*$"},"seq":)" SEQ
       R"(,"version":)" SEQ R"(,"event":)" REF("Event") R"(}})"},
      {"DurationReport",
       R"({"type":"object","required":["from","to","as_of","computed_for","head_seq","head_hash","mttr_seconds",)"
       R"("mttr_tickets","closed_count","mtta_seconds","mtta_tickets","mttm_seconds","mttm_tickets"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("from":)" TIME R"(,"to":)" TIME R"(,"as_of":)" NULLABLE_TIME R"(,"computed_for":)" TIME
       R"(,"head_seq":)" COUNT R"(,"head_hash":)" HASH
       R"(,"incidents":{"type":"array","items":{"type":"object","required":["ticket","seconds","ongoing"],)"
       R"("additionalProperties":false,"properties":{"ticket":{"type":"string"},"seconds":)" COUNT
       R"(,"ongoing":{"type":"boolean"}}}},)"
       R"("systems":{"type":"array","items":{"type":"object","required":["system","downtime_seconds",)"
       R"("availability","tickets","planned_seconds","degraded_seconds","windows"],"additionalProperties":false,)"
       R"("properties":{"system":{"type":"string"},"downtime_seconds":)" COUNT
       R"(,"availability":{"type":"number","minimum":0,"maximum":1},"tickets":)" STRINGS
       R"(,"planned_seconds":)" COUNT R"(,"degraded_seconds":)" COUNT R"(,"windows":)" STRINGS R"(}}},)"
       R"("mttr_seconds":{"type":["integer","null"]},"mttr_tickets":)" STRINGS R"(,"closed_count":)" COUNT
       R"(,"mtta_seconds":{"type":["integer","null"]},"mtta_tickets":)" STRINGS
       R"(,"mttm_seconds":{"type":["integer","null"]},"mttm_tickets":)" STRINGS R"(}})"},
      {"ChangeEvent",
       R"({"type":"object","required":["seq","recorded_at","actor","type","ticket","changes"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("seq":)" SEQ R"(,"recorded_at":)" TIME R"(,"actor":{"type":"string"},"type":{"type":"string"},)"
       R"("ticket":{"type":"string"},"changes":{"type":"array","items":{"type":"object",)"
       R"("required":["field","old","new"],"properties":{"field":{"type":"string"}}}}}})"},
      {"IncidentFigure",
       R"({"type":"object","required":["seconds","ongoing"],"additionalProperties":false,)"
       R"("properties":{"seconds":)" COUNT R"(,"ongoing":{"type":"boolean"}}})"},
      {"SystemFigure",
       R"({"type":"object","required":["downtime_seconds","planned_seconds","degraded_seconds","availability"],)"
       R"("additionalProperties":false,"properties":{"downtime_seconds":)" COUNT R"(,"planned_seconds":)" COUNT
       R"(,"degraded_seconds":)" COUNT R"(,"availability":{"type":"number","minimum":0,"maximum":1}}})"},
      {"MttrFigure",
       R"({"type":"object","required":["mttr_seconds","tickets"],"additionalProperties":false,)"
       R"("properties":{"mttr_seconds":{"type":["integer","null"]},"tickets":)" STRINGS R"(}})"},
      {"DurationChanges",
       R"({"type":"object","required":["from","to","before","after","head_seq","head_hash","incidents","systems",)"
       R"("mttr"],"additionalProperties":false,"properties":{"from":)" TIME R"(,"to":)" TIME R"(,"before":)" TIME
       R"(,"after":)" TIME R"(,"head_seq":)" COUNT R"(,"head_hash":)" HASH
       R"(,"incidents":{"type":"array","items":{"type":"object","required":["ticket","before","after","events"],)"
       R"("additionalProperties":false,"properties":{"ticket":{"type":"string"},)"
       R"("before":{"oneOf":[{"type":"null"},)" REF("IncidentFigure") R"(]},)"
       R"("after":{"oneOf":[{"type":"null"},)" REF("IncidentFigure") R"(]},)"
       R"("events":{"type":"array","items":)" REF("ChangeEvent") R"(}}}},)"
       R"("systems":{"type":"array","items":{"type":"object","required":["system","before","after","events"],)"
       R"("additionalProperties":false,"properties":{"system":{"type":"string"},)"
       R"("before":{"oneOf":[{"type":"null"},)" REF("SystemFigure") R"(]},)"
       R"("after":{"oneOf":[{"type":"null"},)" REF("SystemFigure") R"(]},)"
       R"("events":{"type":"array","items":)" REF("ChangeEvent") R"(}}}},)"
       R"("mttr":{"oneOf":[{"type":"null"},{"type":"object","required":["before","after","events"],)"
       R"("additionalProperties":false,"properties":{"before":)" REF("MttrFigure") R"(,"after":)" REF("MttrFigure")
       R"(,"events":{"type":"array","items":)" REF("ChangeEvent") R"(}}}]}}})"},
      {"VerifyReport",
       R"({"type":"object","required":["ok","events","head_seq","head_hash","tree_root","tree_checked"],)"
       R"("additionalProperties":false,"properties":{"ok":{"type":"boolean"},"events":)" COUNT
       R"(,"head_seq":)" COUNT R"(,"head_hash":)" HASH R"(,"tree_root":)" HASH R"(,"tree_checked":{"type":"boolean"},)"
       R"("bad_seq":)" COUNT R"(,"problem":{"type":"string"}},)"
       R"("if":{"properties":{"ok":{"const":false}}},"then":{"required":["bad_seq","problem"]}})"},
      {"BackupRequest",
       R"({"type":"object","required":["to"],"additionalProperties":false,"properties":{"to":{"type":"string",)"
       R"("description":"an absolute path of a new folder below serve --backup-dir"}}})"},
      {"BackupAnswer",
       R"({"type":"object","required":["path","verify"],"additionalProperties":false,"properties":{)"
       R"("path":{"type":"string"},"verify":)" REF("VerifyReport") R"(}})"},
      {"Health",
       R"({"type":"object","required":["status","head_seq"],"additionalProperties":false,)"
       R"("properties":{"status":{"const":"ok"},)"
       R"("head_seq":)" COUNT R"(}})"},
      {"OpenApiDocument",
       R"({"type":"object","required":["openapi","info","paths","components"],"properties":{)"
       R"("openapi":{"type":"string","pattern":"^3\\.1\\."},"paths":{"type":"object"}}})"},
      {"SignedTreeHead",
       R"({"type":"object","required":["tree_size","root_hash","timestamp","signature","key_id"],)"
       R"("additionalProperties":false,"properties":{"tree_size":)" COUNT R"(,"root_hash":)" HASH
       R"(,"timestamp":)" TIME R"(,"signature":{"type":"string","contentEncoding":"base64","minLength":1},)"
       R"("key_id":{"type":"string","minLength":1}}})"},
      {"InclusionProof",
       R"({"type":"object","required":["seq","leaf_index","tree_size","audit_path"],"additionalProperties":false,)"
       R"("properties":{"seq":)" SEQ R"(,"leaf_index":)" COUNT R"(,"tree_size":)" SEQ
       R"(,"audit_path":{"type":"array","items":)" HASH R"(}}})"},
      {"ConsistencyProof",
       R"({"type":"object","required":["first","second","consistency_path"],"additionalProperties":false,)"
       R"("properties":{"first":)" SEQ R"(,"second":)" SEQ R"(,"consistency_path":{"type":"array","items":)" HASH
       R"(}}})"},
      {"Bundle",
       R"({"type":"object","required":["ticket","events","proofs","tree_head"],"additionalProperties":false,)"
       R"("properties":{"ticket":{"type":"string"},"events":{"type":"array","items":)" REF("Event") R"(},)"
       R"("proofs":{"type":"array","items":{"type":"object","required":["seq","leaf_index","audit_path"],)"
       R"("additionalProperties":false,"properties":{"seq":)" SEQ R"(,"leaf_index":)" COUNT
       R"(,"audit_path":{"type":"array","items":)" HASH R"(}}}},"tree_head":)" REF("SignedTreeHead") R"(}})"},
      {"Availability",
       R"({"type":"object","required":["timezone","days","now","head_seq","head_hash","systems","incidents",)"
       R"("windows"],"additionalProperties":false,"properties":{)"
       R"("timezone":{"type":"string"},"days":{"type":"integer","minimum":1},"now":)" TIME
       R"(,"head_seq":)" COUNT R"(,"head_hash":)" HASH
       R"(,"systems":{"type":"array","items":{"type":"object","required":["system","days"],)"
       R"("additionalProperties":false,"properties":{)"
       R"("system":{"type":"string"},"days":{"type":"array","items":{"type":"object","required":["date","start",)"
       R"("end","downtime_seconds","availability","tickets","planned_seconds","degraded_seconds","windows"],)"
       R"("additionalProperties":false,"properties":{"date":{"type":"string",)"
       R"("pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},"start":)" TIME
       R"(,"end":)" TIME R"(,"downtime_seconds":)" COUNT R"(,"availability":{"type":"number","minimum":0,)"
       R"("maximum":1},"tickets":)" STRINGS R"(,"planned_seconds":)" COUNT R"(,"degraded_seconds":)" COUNT
       R"(,"windows":)" STRINGS R"(}}}}}},)"
       R"("incidents":{"type":"object","additionalProperties":{"type":"object","required":["title","severity",)"
       R"("impact","phase","status","periods"],"additionalProperties":false,"properties":{"title":{"type":"string"},)"
       R"("severity":{"type":"string","enum":["minor","major","critical"]},)"
       R"("impact":{"type":"string","enum":["full","partial","degraded"]},)"
       R"("phase":{"type":"string","enum":["investigating","identified","monitoring","resolved"]},)"
       R"("status":{"type":"string","enum":["open","closed"]},)"
       R"("periods":{"type":"array","items":)" REF("Period") R"(}}}},)"
       R"("windows":{"type":"object","additionalProperties":{"type":"object","required":["title","status",)"
       R"("started_at","ended_at"],"additionalProperties":false,"properties":{"title":{"type":"string"},)"
       R"("status":{"type":"string","enum":["scheduled","in_progress","completed","cancelled"]},)"
       R"("started_at":{"type":"string"},"ended_at":)" NULLABLE_TIME R"(}}}}})"},
      {"Window",
       R"({"type":"object","required":["window","title","systems","status","starts_at","ends_at","started_at",)"
       R"("ended_at","description","link","version","scheduled_seq","last_seq","scheduled_at","updated_at"],)"
       R"("additionalProperties":false,"properties":{"window":{"type":"string",)"
       R"("pattern":"^MNT-[1-9][0-9]*$"},"title":{"type":"string"},)"
       R"("systems":)" STRINGS R"(,"status":{"type":"string","enum":["scheduled","in_progress","completed",)"
       R"("cancelled"]},"starts_at":)" TIME R"(,"ends_at":)" TIME R"(,"started_at":)" NULLABLE_TIME
       R"(,"ended_at":)" NULLABLE_TIME R"(,"description":{"type":"string"},"link":{"type":"string"},"version":)" SEQ
       R"(,"scheduled_seq":)" SEQ R"(,"last_seq":)" SEQ R"(,"scheduled_at":)" TIME R"(,"updated_at":)" TIME R"(}})"},
      {"WindowList",
       R"({"type":"object","required":["count","windows"],"additionalProperties":false,)"
       R"("properties":{"applied_seq":)" COUNT
       R"(,"count":)" COUNT R"(,"windows":{"type":"array","items":)" REF("Window") R"(}}})"},
      {"MaintenanceRequest",
       R"({"type":"object","required":["action"],"properties":{)"
       R"("action":{"type":"string","enum":["schedule","update","start","end","cancel"]},)"
       R"("window":{"type":"string","description":"required unless schedule: MNT-3"},"title":{"type":"string"},)"
       R"("systems":)" STRINGS R"(,"starts_at":{"type":"string","format":"date-time"},)"
       R"("ends_at":{"type":"string","format":"date-time"},)"
       R"("at":{"type":"string","format":"date-time","description":"the actual time of a start or end; )"
       R"(default the recorded time"},"description":{"type":"string"},"link":{"type":"string"},)"
       R"("submission_id":{"type":"string"},"expected_version":{"type":"integer","minimum":1},)"
       R"("actor":{"type":"string"}}})"},
      {"MaintenanceForm",
       R"({"type":"object","description":"the fields of MaintenanceRequest as form fields, systems )"
       R"(comma-separated; the page's form adds csrf_token","required":["action"],)"
       R"("properties":{"action":{"type":"string"},"window":{"type":"string"},"systems":{"type":"string"},)"
       R"("csrf_token":{"type":"string"}}})"},
      {"MaintenanceAnswer",
       R"({"type":"object","required":["window","seq","version","event"],"additionalProperties":false,)"
       R"("properties":{"window":{"type":"string","pattern":"^MNT-[1-9][0-9]*$"},"seq":)" SEQ R"(,"version":)" SEQ
       R"(,"event":)" REF("Event") R"(}})"},
      {"SubscriptionList",
       R"({"type":"object","required":["subscriptions","count","next_cursor"],"additionalProperties":false,)"
       R"("properties":{"subscriptions":{"type":"array","items":{"type":"object","required":["email","systems"],)"
       R"("additionalProperties":false,"properties":{"email":{"type":"string"},"systems":)" STRINGS R"(}}},)"
       R"("count":)" COUNT R"(,"next_cursor":{"type":["string","null"]}}})"},
      {"SubscriptionRequest",
       R"({"type":"object","required":["email","systems"],"properties":{"email":{"type":"string"},)"
       R"("systems":)" STRINGS R"(,"actor":{"type":"string"}}})"},
      {"SubscriptionAnswer",
       R"({"type":"object","required":["email","systems","seq","changed","event"],"additionalProperties":false,)"
       R"("properties":{"email":{"type":"string"},"systems":)" STRINGS R"(,"seq":)" SEQ
       R"(,"changed":{"type":"boolean"},"event":)" REF("Event") R"(}})"},
      {"NotificationList",
       R"({"type":"object","required":["counts","notifications","count","next_cursor"],)"
       R"("additionalProperties":false,"properties":{"counts":{"type":"object","required":["pending","sent",)"
       R"("failed"],"additionalProperties":false,"properties":{"pending":)" COUNT R"(,"sent":)" COUNT
       R"(,"failed":)" COUNT R"(}},"notifications":{"type":"array","items":{"type":"object","required":[)"
       R"("event_seq","event_type","ticket","recipient","state","attempts","last_error","last_smtp_code",)"
       R"("last_attempt_at","sent_at","message_id"],"additionalProperties":false,"properties":{"event_seq":)" SEQ
       R"(,"event_type":{"type":"string"},"ticket":{"type":"string"},"recipient":{"type":"string"},)"
       R"("state":{"type":"string","enum":["pending","sent","failed"]},"attempts":)" COUNT
       R"(,"last_error":{"type":["string","null"]},"last_smtp_code":)" COUNT R"(,"last_attempt_at":)" NULLABLE_TIME
       R"(,"sent_at":)" NULLABLE_TIME R"(,"message_id":{"type":["string","null"]}}}},"count":)" COUNT
       R"(,"next_cursor":{"type":["string","null"]}}})"},
      {"RetryRequest",
       R"({"type":"object","description":"which failed jobs: any of seq, ticket, recipient",)"
       R"("properties":{"seq":)" SEQ R"(,"ticket":{"type":"string"},"recipient":{"type":"string"},)"
       R"("actor":{"type":"string"}}})"},
      {"RetryAnswer",
       R"({"type":"object","required":["retried","remaining","jobs","seq","event"],"additionalProperties":false,)"
       R"("properties":{"retried":)" COUNT R"(,"remaining":)" COUNT R"(,"jobs":{"type":"array","items":)"
       R"({"allOf":[)" REF("RetriedJob") R"(,{"required":["event_seq"]}]}},"seq":{"type":["integer","null"]},)"
       R"("event":{"oneOf":[{"type":"null"},)" REF("Event") R"(]}}})"},
      {"ReviewRequest",
       R"({"type":"object","properties":{"summary":{"type":"string"},"impact_summary":{"type":"string"},)"
       R"("root_cause":{"type":"string"},"contributing_factors":{"oneOf":[)" STRINGS R"(,{"type":"string"}]},)"
       R"("lessons":{"type":"string"},"publish":{"type":["boolean","string"],"description":"publish )"
       R"((needs the incident closed, summary and root_cause) rather than draft"},)"
       R"("submission_id":{"type":"string"},"expected_version":{"type":"integer","minimum":1},)"
       R"("actor":{"type":"string"}}})"},
      {"ActionItemRequest",
       R"({"type":"object","required":["title"],"properties":{"title":{"type":"string"},)"
       R"("owner":{"type":"string","description":"an e-mail address"},)"
       R"("due":{"type":"string","description":"YYYY-MM-DD"},"link":{"type":"string"},)"
       R"("submission_id":{"type":"string"},"actor":{"type":"string"}}})"},
      {"ActionItemUpdateRequest",
       R"({"type":"object","properties":{"status":{"type":"string","enum":["open","done","dropped"]},)"
       R"("title":{"type":"string"},"owner":{"type":"string"},"due":{"type":"string"},"link":{"type":"string"},)"
       R"("note":{"type":"string","description":"required for dropped"},"submission_id":{"type":"string"},)"
       R"("expected_version":{"type":"integer","minimum":1},"actor":{"type":"string"}}})"},
      {"FollowUpAnswer",
       R"({"type":"object","required":["ticket","seq","version","event"],"additionalProperties":false,)"
       R"("properties":{"ticket":{"type":"string"},"item":{"type":"string"},"seq":)" SEQ R"(,"version":)" SEQ
       R"(,"event":)" REF("Event") R"(}})"},
      {"ActionItemAnswer",
       R"({"allOf":[)" REF("FollowUpAnswer") R"(,{"required":["item"]}]})"},
      {"ActionItemList",
       R"({"type":"object","required":["count","overdue","now","items"],"additionalProperties":false,)"
       R"("properties":{"count":)" COUNT
       R"(,"overdue":)" COUNT R"(,"now":)" TIME R"(,"items":{"type":"array","items":)" REF("ActionItem") R"(}}})"},
      {"ReviewReport",
       R"({"type":"object","required":["from","to","as_of","computed_for","head_seq","head_hash","timezone",)"
       R"("days","closed","reviewed","review_coverage","median_seconds_to_review","major_and_critical",)"
       R"("incidents","action_items","recurrence"],"additionalProperties":false,)"
       R"("properties":{"from":)" TIME R"(,"to":)" TIME R"(,"as_of":)" NULLABLE_TIME
       R"(,"computed_for":)" TIME R"(,"head_seq":)" COUNT R"(,"head_hash":)" HASH R"(,"timezone":{"type":"string"},"days":{"type":"integer","minimum":1},)"
       R"("closed":)" COUNT R"(,"reviewed":)" COUNT R"(,"review_coverage":{"type":["number","null"]},)"
       R"("median_seconds_to_review":{"type":["integer","null"]},"closed_tickets":)" STRINGS
       R"(,"reviewed_tickets":)" STRINGS R"(,"median_tickets":)" STRINGS
       R"(,"major_and_critical":{"type":"object","required":["closed","reviewed","review_coverage"],)"
       R"("properties":{"closed":)" COUNT R"(,"reviewed":)" COUNT R"(,"review_coverage":{"type":["number","null"]}}},)"
       R"("incidents":{"type":"array","items":{"type":"object","required":["ticket","severity","closed_at",)"
       R"("published_at","seconds_to_review"],"properties":{"ticket":{"type":"string"},"severity":{"type":"string"},)"
       R"("closed_at":)" TIME R"(,"published_at":)" NULLABLE_TIME R"(,"seconds_to_review":{"type":["integer",)"
       R"("null"]}}}},"action_items":{"type":"object","required":["open","overdue","done","done_on_time",)"
       R"("dropped"],"properties":{"open":)" COUNT R"(,"overdue":)" COUNT R"(,"done":)" COUNT
       R"(,"done_on_time":)" COUNT R"(,"dropped":)" COUNT R"(}},"recurrence":{"type":"array","items":{)"
       R"("type":"object","required":["item","ticket","systems","done_at","incidents_before","incidents_after"],)"
       R"("properties":{"item":{"type":"string"},"ticket":{"type":"string"},"systems":)" STRINGS
       R"(,"done_at":)" TIME R"(,"incidents_before":)" COUNT R"(,"incidents_after":)" COUNT R"(}}}}})"},
  };
}

#undef TIME
#undef NULLABLE_TIME
#undef HASH
#undef STRINGS
#undef COUNT
#undef SEQ
#undef REF

// --- the document -----------------------------------------------------------

Error Refused(std::string message) { return MakeError(ErrorCode::kInvalidArgument, std::move(message)); }

bool IsJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element ignored;
  return parser.parse(padded).get(ignored) == simdjson::SUCCESS;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower;
}

// The methods of an Allow text, HEAD left out ("GET, HEAD, POST" -> GET, POST).
std::vector<std::string_view> DocumentedMethods(std::string_view allow) {
  std::vector<std::string_view> methods = ListedMethods(allow);
  std::erase(methods, std::string_view("HEAD"));
  return methods;
}

// "a|b" -> a, b.
std::vector<std::string_view> ContentTypes(std::string_view listed) {
  std::vector<std::string_view> types;
  while (true) {
    const size_t bar = listed.find('|');
    types.push_back(listed.substr(0, bar));
    if (bar == std::string_view::npos) return types;
    listed.remove_prefix(bar + 1);
  }
}

std::string_view KindName(RouteKind kind) {
  switch (kind) {
    case RouteKind::kPage: return "page";
    case RouteKind::kJson: return "json";
    case RouteKind::kStream: return "stream";
    case RouteKind::kAsset: return "asset";
  }
  return "json";
}

class Writer {
 public:
  explicit Writer(const std::set<std::string_view>& schema_names) : schema_names_(schema_names) {}

  // A schema: a name -> a $ref; inline text as it is (checked to parse).
  Status Schema(JsonWriter* json, std::string_view schema, std::string_view where) {
    if (schema.starts_with('{')) {
      if (!IsJson(schema)) return Refused(std::string(where) + ": its schema is not valid JSON");
      json->Raw(schema);
      return {};
    }
    if (!schema_names_.contains(schema)) {
      return Refused(std::string(where) + ": no schema named " + std::string(schema));
    }
    json->BeginObject().Key("$ref").String("#/components/schemas/" + std::string(schema)).EndObject();
    return {};
  }

  Status Operation(JsonWriter* json, const Route& route, const RouteDoc& doc, const OperationDoc& operation,
                   bool several_methods) {
    const std::string where = std::string(route.pattern) + " " + std::string(operation.method);
    json->Key(Lower(operation.method)).BeginObject();
    json->Key("operationId").String(several_methods ? std::string(route.label) + "_" + Lower(operation.method)
                                                    : std::string(route.label));
    json->Key("summary").String(operation.summary);
    const std::optional<Role> role = route.access.role();
    json->Key("x-required-role").String(role ? RoleName(*role) : "public");
    json->Key("x-route-kind").String(KindName(route.kind));
    json->Key("x-metrics-label").String(route.label);
    json->Key("security").BeginArray();
    if (role) {
      for (const std::string_view scheme : {"bearerToken", "sessionCookie"}) {
        json->BeginObject().Key(scheme).BeginArray().String(RoleName(*role)).EndArray().EndObject();
      }
    }
    json->EndArray();
    json->Key("parameters").BeginArray();
    if (!doc.segment.empty()) {
      json->BeginObject().Key("name").String(doc.segment).Key("in").String("path").Key("required").Bool(true);
      json->Key("description").String(doc.segment_description);
      json->Key("schema").Raw(R"({"type":"string"})").EndObject();
    }
    for (const ParameterDoc& parameter : operation.query) {
      json->BeginObject().Key("name").String(parameter.name).Key("in").String("query");
      json->Key("required").Bool(parameter.required);
      if (!parameter.description.empty()) json->Key("description").String(parameter.description);
      json->Key("schema");
      if (Status written = Schema(json, parameter.schema, where + " ?" + std::string(parameter.name)); !written) {
        return written;
      }
      json->EndObject();
    }
    json->EndArray();
    if (!operation.body.empty()) {
      json->Key("requestBody").BeginObject().Key("required").Bool(true).Key("content").BeginObject();
      for (const BodyDoc& body : operation.body) {
        json->Key(body.content_type).BeginObject().Key("schema");
        if (Status written = Schema(json, body.schema, where + " body"); !written) return written;
        json->EndObject();
      }
      json->EndObject().EndObject();
    }
    json->Key("responses").BeginObject();
    for (const AnswerDoc& answer : operation.answers) {
      json->Key(answer.status).BeginObject().Key("description").String(answer.description);
      if (!answer.content_type.empty()) {
        // Several content types: the schema describes the JSON one.
        json->Key("content").BeginObject();
        const std::vector<std::string_view> types = ContentTypes(answer.content_type);
        for (const std::string_view type : types) {
          json->Key(type).BeginObject();
          if (!answer.schema.empty() && (types.size() == 1 || type == kJson)) {
            json->Key("schema");
            if (Status written = Schema(json, answer.schema, where + " " + std::string(answer.status)); !written) {
              return written;
            }
          }
          json->EndObject();
        }
        json->EndObject();
      }
      json->EndObject();
    }
    // Refusals, errors and 405: the shared error, or a page for pages.
    json->Key("default").BeginObject();
    if (route.kind == RouteKind::kPage) {
      // A read-only copy refuses writes with the JSON error, pages too
      // (router.h), as does the server for a request it cannot read.
      json->Key("description").String("refused (the sign-in form, or an HTML error page); the shared JSON error "
                                      "for a write to a read-only copy and for a request the server cannot read");
      json->Key("content").BeginObject().Key(kHtml).BeginObject().EndObject();
      json->Key(kJson).BeginObject().Key("schema").Raw(R"({"$ref":"#/components/schemas/Error"})").EndObject();
      json->EndObject();
    } else {
      json->Key("$ref").String("#/components/responses/Error");
    }
    json->EndObject();
    json->EndObject();  // responses
    json->EndObject();  // the operation
    return {};
  }

 private:
  const std::set<std::string_view>& schema_names_;
};

constexpr std::string_view kDescription =
    "The incident ledger's HTTP API, its pages and its streams, written from the service's route table. "
    "Every operation names the role it needs (x-required-role; roles: viewer, helpdesk, auditor, admin; admin "
    "may do everything, and public needs no credentials), as a bearer token (Authorization: Bearer TOKEN) or "
    "the pages' session cookie. Without an auth file the service is open: every request has every role. With "
    "serve --anonymous viewer, requests without credentials may call the viewer operations (from the trusted "
    "networks, when listed). A client address with too many refused credentials gets 429 with Retry-After on "
    "every credentialed request for a while. HEAD "
    "is answered wherever GET is. Errors are JSON {\"error\":{\"code\",\"message\",\"field\"}}. "
    "x-route-pattern is the router's pattern: literal patterns match first, then the others in the order "
    "listed; \"*\" matches one path segment, a final \"**\" the rest of the path.";

}  // namespace

const std::vector<RouteDoc>& RouteDocs() {
  static const std::vector<RouteDoc> docs = MakeRouteDocs();
  return docs;
}

const std::vector<SchemaDoc>& SchemaDocs() {
  static const std::vector<SchemaDoc> schemas = MakeSchemaDocs();
  return schemas;
}

const RouteDoc* FindRouteDoc(std::string_view name) {
  for (const RouteDoc& doc : RouteDocs()) {
    if (doc.name == name) return &doc;
  }
  return nullptr;
}

std::string OpenApiPath(std::string_view pattern, std::string_view segment) {
  std::string path;
  while (!pattern.empty()) {
    const size_t star = pattern.find('*');
    if (star == std::string_view::npos) {
      path += pattern;
      break;
    }
    path += pattern.substr(0, star);
    path += "{" + std::string(segment) + "}";
    pattern.remove_prefix(pattern.substr(star).starts_with("**") ? star + 2 : star + 1);
  }
  return path;
}

Result<std::string> OpenApiDocument(const std::vector<Route>& routes) {
  std::set<std::string_view> schema_names;
  for (const SchemaDoc& schema : SchemaDocs()) {
    if (!schema_names.insert(schema.name).second) return Refused("two schemas named " + std::string(schema.name));
    if (!IsJson(schema.schema)) return Refused("the schema " + std::string(schema.name) + " is not valid JSON");
  }
  // The patterns in table order, each with its rows.
  std::vector<std::string_view> patterns;
  std::map<std::string_view, std::vector<const Route*>> rows_of;
  for (const Route& route : routes) {
    std::vector<const Route*>& rows = rows_of[route.pattern];
    if (rows.empty()) patterns.push_back(route.pattern);
    rows.push_back(&route);
  }
  Writer writer(schema_names);
  JsonWriter json;
  json.BeginObject();
  json.Key("openapi").String("3.1.0");
  json.Key("jsonSchemaDialect").String("https://json-schema.org/draft/2020-12/schema");
  json.Key("info").BeginObject();
  json.Key("title").String("incident-ledger");
  json.Key("version").String("v1");
  json.Key("description").String(kDescription);
  json.EndObject();
  json.Key("paths").BeginObject();
  for (const std::string_view pattern : patterns) {
    const std::vector<const Route*>& rows = rows_of[pattern];
    const bool wildcard = pattern.find('*') != std::string_view::npos;
    std::string path;
    JsonWriter item;
    item.BeginObject();
    item.Key("x-route-pattern").String(pattern);
    for (const Route* route : rows) {
      const std::string row = std::string(route->pattern) + " (" + std::string(route->allow) + ")";
      const RouteDoc* doc = FindRouteDoc(route->doc);
      if (doc == nullptr) return Refused("the row " + row + " names no described route: " + std::string(route->doc));
      if (wildcard != !doc->segment.empty()) {
        return Refused("the row " + row + ": its description " + std::string(doc->name) +
                       (wildcard ? " does not name the pattern's wildcard" : " names a wildcard the pattern lacks"));
      }
      const std::string this_path = OpenApiPath(pattern, doc->segment);
      if (!path.empty() && path != this_path) {
        return Refused("the rows of " + std::string(pattern) + " name its wildcard differently");
      }
      path = this_path;
      const std::vector<std::string_view> taken = DocumentedMethods(route->allow);
      for (const OperationDoc& operation : doc->operations) {
        if (std::find(taken.begin(), taken.end(), operation.method) == taken.end()) {
          return Refused("the row " + row + ": its description " + std::string(doc->name) + " describes " +
                         std::string(operation.method) + ", which the row does not take");
        }
      }
      for (const std::string_view method : taken) {
        const auto found = std::find_if(doc->operations.begin(), doc->operations.end(),
                                        [&](const OperationDoc& operation) { return operation.method == method; });
        if (found == doc->operations.end()) {
          return Refused("the row " + row + ": its description " + std::string(doc->name) + " has no " +
                         std::string(method));
        }
        if (Status written = writer.Operation(&item, *route, *doc, *found, taken.size() > 1); !written) {
          return written.error();
        }
      }
    }
    item.EndObject();
    json.Key(path).Raw(item.Take());
  }
  json.EndObject();  // paths
  json.Key("components").BeginObject();
  json.Key("securitySchemes").BeginObject();
  json.Key("bearerToken").BeginObject().Key("type").String("http").Key("scheme").String("bearer");
  json.Key("description").String("a token of the auth file (incident-ledger add-token); the scopes listed are "
                                  "the role the operation needs").EndObject();
  json.Key("sessionCookie").BeginObject().Key("type").String("apiKey").Key("in").String("cookie");
  json.Key("name").String(kSessionCookie);
  json.Key("description").String("the pages' session (POST /signin); over HTTPS named " +
                                  std::string(kSecureSessionCookie) + "; writes also need X-CSRF-Token").EndObject();
  json.EndObject();
  json.Key("responses").BeginObject().Key("Error").BeginObject();
  json.Key("description").String("refused or failed: 400 invalid input, 401 no credentials, 403 not allowed, "
                                  "404 unknown, 405 method (Allow), 409 conflict, 413 too large, 415 media type, "
                                  "429 too many, 503 unavailable or busy (Retry-After)");
  json.Key("content").BeginObject().Key(kJson).BeginObject().Key("schema");
  json.BeginObject().Key("$ref").String("#/components/schemas/Error").EndObject();
  json.EndObject().EndObject().EndObject().EndObject();
  json.Key("schemas").BeginObject();
  for (const SchemaDoc& schema : SchemaDocs()) json.Key(schema.name).Raw(schema.schema);
  json.EndObject();
  json.EndObject();  // components
  json.EndObject();
  std::string document = json.Take();
  if (!IsJson(document)) return Refused("the document is not valid JSON");
  return document;
}

}  // namespace ledger::http
