#include "http/api.h"

#include "http/self_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <simdjson.h>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "http/auth.h"
#include "http/durations_changes.h"
#include "http/followups_api.h"
#include "http/imports_api.h"
#include "http/json_views.h"
#include "http/maintenance_api.h"
#include "http/systems_api.h"
#include "http/openapi.h"
#include "http/query_params.h"
#include "http/router.h"
#include "http/visibility.h"
#include "http/notifications_api.h"
#include "http/web.h"
#include "ingest/command.h"
#include "projections/as_of.h"
#include "projections/durations_csv.h"

namespace ledger::http {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Error BadParameter(const std::string& name, const std::string& rule) { return InvalidArgument(name, rule); }

// The window [from, to) of a query. Without both ends it is 7 days: ending
// at `now`, or from `from`, or up to `to`.
struct Window {
  int64_t from_micros = 0;
  int64_t to_micros = 0;
};

Result<Window> ParseWindow(const Query& query, int64_t now_micros) {
  Result<std::optional<Instant>> from = ParseTimeParameter(query, "from");
  if (!from) return from.error();
  Result<std::optional<Instant>> to = ParseTimeParameter(query, "to");
  if (!to) return to.error();
  Window window;
  if (*from && *to) {
    window = {(*from)->unix_micros, (*to)->unix_micros};
  } else if (*from) {
    window = {(*from)->unix_micros, (*from)->unix_micros + kDefaultWindowMicros};
  } else if (*to) {
    window = {(*to)->unix_micros - kDefaultWindowMicros, (*to)->unix_micros};
  } else {
    window = {now_micros - kDefaultWindowMicros, now_micros};
  }
  if (window.to_micros <= window.from_micros) return BadParameter("to", "to must be after from");
  return window;
}

// The point in time a read asks for (query_params.h's ParseAsOf).
using AsOf = projections::AsOfPoint;

bool Within(const AsOf& as_of, const proto::Event& event) {
  return as_of.Includes(event.seq(), event.recorded_at_micros());
}

HttpResponse NotFound(std::string message, std::string field = {}) {
  return ErrorResponse(MakeError(ErrorCode::kNotFound, std::move(message), std::move(field)));
}

// {"to": "/absolute/path"}: where the backup goes, checked against `rules`
// (CheckBackupDestination); the answer is the resolved path.
Result<std::string> ParseBackupRequest(std::string_view body, const BackupOptions& options) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return InvalidArgument("", "the body is not valid JSON");
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return InvalidArgument("", "the JSON body must be an object");
  std::string destination;
  for (const auto [key, value] : object) {
    if (key != "to") return InvalidArgument(QuotableText(key, kNamedPathBytesMax), "unknown field; a backup takes only \"to\"");
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return InvalidArgument("to", "to must be a string");
    destination = std::string(text);
  }
  if (options.allowed_parent.empty()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "this service writes no backups: start it with --backup-dir DIR to name the folder backups may "
                     "be written below",
                     "to");
  }
  return CheckBackupDestination(destination, BackupDestinationRules{.field = "to",
                                                                     .data_folder = options.data_folder,
                                                                     .allowed_parent = options.allowed_parent});
}

class Handlers {
 public:
  Handlers(const ApiDependencies& deps, AnswerCache* answers) : deps_(deps), answers_(answers) {}

  void Submit(const HttpRequest& request, const Principal& principal, Respond respond) {
    const std::string media = MediaType(request.content_type);
    Result<ingest::Command> command = MakeError(ErrorCode::kInvalidArgument, "");
    if (media == "application/json") {
      command = ingest::ParseJsonSubmission(request.body);
    } else if (media == "application/x-www-form-urlencoded") {
      command = ingest::ParseFormSubmission(request.body);
    } else {
      respond(UnsupportedMediaType("application/json or application/x-www-form-urlencoded"));
      return;
    }
    if (!command) {
      respond(ErrorResponse(command.error()));
      return;
    }
    command->actor = principal.RecordedActor(command->actor, ingest::kAnonymousActor);
    const Clock::time_point queued = Clock::now();
    Metrics* metrics = deps_.metrics;
    deps_.processor->SubmitAsync(
        std::move(*command), [respond = std::move(respond), queued, metrics](Result<ingest::SubmissionResult> result) {
          metrics->ObserveAppend(SecondsSince(queued));
          if (!result) {
            respond(ErrorResponse(result.error()));
            return;
          }
          JsonWriter json;
          json.BeginObject();
          json.Key("ticket").String(result->ticket);
          json.Key("seq").Uint(result->seq);
          json.Key("version").Uint(result->version);
          json.Key("event");
          WriteEvent(&json, result->stored);
          json.EndObject();
          HttpResponse response = JsonAnswer(201, json.Take());
          response.headers.emplace_back("Location", "/api/v1/incidents/" + result->ticket);
          if (result->repeated) response.headers.emplace_back("Idempotent-Replay", "true");
          respond(std::move(response));
        });
  }

  HttpResponse Incident(std::string_view ticket_text, std::string_view query_text, const Principal& principal) {
    Result<Query> query = ParseQuery(query_text, {"as_of_seq", "as_of"});
    if (!query) return ErrorResponse(query.error());
    Result<AsOf> as_of = ParseAsOf(*query);
    if (!as_of) return ErrorResponse(as_of.error());
    Result<std::string> ticket = ingest::NormalizeTicket(ticket_text);
    if (!ticket) return NotFound("no such ticket: ticket numbers look like INC-42", "ticket");
    // An internal incident answers as an unknown one (visibility.h), at any as_of.
    if (!MaySeeTicket(principal, *deps_.read_model, *ticket)) {
      return NotFound("ticket " + *ticket + " does not exist", "ticket");
    }
    if (as_of->given()) {
      Result<std::vector<StoredEvent>> events = deps_.ledger->ReadTicket(*ticket);
      if (!events) return ErrorResponse(events.error());
      projections::TicketStore store;
      projections::FollowUpState follow_ups;
      for (const StoredEvent& stored : *events) {
        if (!Within(*as_of, stored.event)) continue;
        store.Apply(stored.event);
        (void)follow_ups.Apply(stored.event);
      }
      const projections::TicketState* state = store.Find(*ticket);
      if (state == nullptr) return NotFound("ticket " + *ticket + " did not exist at that moment", "ticket");
      // Overdue as it stood at as_of (as_of_seq: as it stands now).
      const int64_t then = as_of->micros.value_or(NowMicros());
      JsonWriter json;
      WriteTicket(&json, *state, [&](JsonWriter* more) { WriteFollowUps(more, *state, follow_ups, principal, then); });
      return JsonAnswer(200, json.Take());
    }
    HttpResponse response = NotFound("ticket " + *ticket + " does not exist", "ticket");
    std::optional<projections::TicketState> found;
    deps_.read_model->Read([&](const projections::TicketStore& store, uint64_t) {
      if (const projections::TicketState* state = store.Find(*ticket)) found = *state;
    });
    if (!found) return response;
    JsonWriter json;
    if (deps_.followups == nullptr) {
      WriteTicket(&json, *found);
      return JsonAnswer(200, json.Take());
    }
    deps_.read_model->ReadProjection<projections::FollowUpProjection>(
        [&](const projections::FollowUpProjection& projection, uint64_t) {
          WriteTicket(&json, *found, [&](JsonWriter* more) {
            WriteFollowUps(more, *found, projection.state(), principal, NowMicros());
          });
        });
    return JsonAnswer(200, json.Take());
  }

  void WriteFollowUps(JsonWriter* json, const projections::TicketState& state,
                      const projections::FollowUpState& follow_ups, const Principal& principal, int64_t now) {
    if (deps_.followups == nullptr) return;
    WriteFollowUpMembers(json, state, follow_ups, SeesDrafts(principal), now, *deps_.followups->zone);
  }

  // Review drafts are for helpdesk and above (followups_api.h): a reader
  // without that role gets the ticket's other events.
  HttpResponse IncidentEvents(std::string_view ticket_text, std::string_view query_text, const Principal& principal) {
    Result<Query> query = ParseQuery(query_text, {});
    if (!query) return ErrorResponse(query.error());
    Result<std::string> ticket = ingest::NormalizeTicket(ticket_text);
    if (!ticket) return NotFound("no such ticket: ticket numbers look like INC-42", "ticket");
    if (!MaySeeTicket(principal, *deps_.read_model, *ticket)) {
      return NotFound("ticket " + *ticket + " does not exist", "ticket");
    }
    Result<std::vector<StoredEvent>> events = deps_.ledger->ReadTicket(*ticket);
    if (!events) return ErrorResponse(events.error());
    if (events->empty()) return NotFound("ticket " + *ticket + " does not exist", "ticket");
    JsonWriter json;
    json.BeginObject().Key("ticket").String(*ticket).Key("events").BeginArray();
    const bool drafts = SeesDrafts(principal);
    for (const StoredEvent& stored : *events) {
      if (!drafts && stored.event.type() == proto::REVIEW_DRAFTED) continue;
      WriteEvent(&json, stored);
    }
    json.EndArray().EndObject();
    return JsonAnswer(200, json.Take());
  }

  // Whether the list is asked as of an earlier point (long work: offloaded).
  static bool AsksAsOf(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"from", "to", "status", "system", "q", "cursor", "limit", "as_of_seq", "as_of"});
    return query && (query->contains("as_of_seq") || query->contains("as_of"));
  }

  HttpResponse Incidents(std::string_view query_text, const Principal& principal, const StopToken& stop = StopToken()) {
    Result<Query> query = ParseQuery(query_text, {"from", "to", "status", "system", "q", "cursor", "limit", "as_of_seq", "as_of"});
    if (!query) return ErrorResponse(query.error());
    projections::TimelineQuery timeline;
    Result<AsOf> as_of = ParseAsOf(*query);
    if (!as_of) return ErrorResponse(as_of.error());
    Result<Window> window = ParseWindow(*query, as_of->micros.value_or(NowMicros()));
    if (!window) return ErrorResponse(window.error());
    timeline.from_micros = window->from_micros;
    timeline.to_micros = window->to_micros;
    if (const auto status = query->find("status"); status != query->end()) {
      if (status->second == "open") {
        timeline.status = projections::TicketStatus::kOpen;
      } else if (status->second == "closed") {
        timeline.status = projections::TicketStatus::kClosed;
      } else {
        return ErrorResponse(BadParameter("status", "status must be open or closed"));
      }
    }
    if (const auto system = query->find("system"); system != query->end()) timeline.system = system->second;
    if (const auto text = query->find("q"); text != query->end()) {
      if (text->second.size() > 200) return ErrorResponse(BadParameter("q", "q must be at most 200 bytes"));
      timeline.text = text->second;
    }
    if (const auto cursor = query->find("cursor"); cursor != query->end()) {
      Result<uint64_t> number = ParseCount(*query, "cursor", 0, 1, UINT64_MAX / 2);
      if (!number) return ErrorResponse(BadParameter("cursor", "cursor must be a next_cursor value from a previous page"));
      timeline.before_ticket_number = *number;
    }
    Result<uint64_t> limit = ParseCount(*query, "limit", kIncidentsPageDefault, 1, kIncidentsPageMax);
    if (!limit) return ErrorResponse(limit.error());
    timeline.limit = *limit;
    // Internal incidents only for those who see them (visibility.h), by
    // their current state: as_of lists ask the read model, current ones the
    // state they list.
    const bool all_visible = SeesInternal(principal);
    if (!all_visible && as_of->given()) {
      timeline.visible = [&principal, read_model = deps_.read_model](const projections::TicketState& state) {
        return MaySeeTicket(principal, *read_model, state.ticket);
      };
    } else if (!all_visible) {
      timeline.visible = [&principal](const projections::TicketState& state) { return MaySee(principal, state); };
    }

    // `applied_seq` (current lists only): the last event the list reflects,
    // so a page can follow the event stream from exactly there.
    // The dashboard's marks (a published review, open action items), taken
    // before the tickets are read; an answer whose marks are of another seq
    // is not cached.
    FollowUpMarks marks;
    uint64_t marks_seq = 0;
    const bool with_marks = deps_.followups != nullptr;
    if (with_marks && !as_of->given()) {
      deps_.read_model->ReadProjection<projections::FollowUpProjection>(
          [&](const projections::FollowUpProjection& projection, uint64_t applied_seq) {
            marks = MarksOf(projection.state());
            marks_seq = applied_seq;
          });
    }
    const auto render = [&](const projections::TicketStore& store, std::optional<uint64_t> applied_seq) {
      const projections::TimelinePage page = store.Query(timeline);
      JsonWriter json;
      json.BeginObject();
      if (applied_seq) json.Key("applied_seq").Uint(*applied_seq);
      json.Key("from").String(FormatRfc3339Utc(timeline.from_micros));
      json.Key("to").String(FormatRfc3339Utc(timeline.to_micros));
      json.Key("count").Uint(page.incidents.size());
      json.Key("incidents").BeginArray();
      for (const projections::TicketState* state : page.incidents) {
        if (!with_marks) {
          WriteTicket(&json, *state);
          continue;
        }
        if (as_of->given()) {
          // As they stood then: the ticket's own review and item events up
          // to the point (the list is a page: at most kIncidentsPageMax reads).
          projections::FollowUpState then;
          Result<std::vector<StoredEvent>> events = deps_.ledger->ReadTicket(state->ticket);
          if (!events) return ErrorResponse(events.error());
          for (const StoredEvent& stored : *events) {
            if (Within(*as_of, stored.event)) (void)then.Apply(stored.event);
          }
          const FollowUpMarks known = MarksOf(then);
          const auto found = known.find(state->ticket);
          marks[state->ticket] = found == known.end() ? FollowUpMark{} : found->second;
        }
        const auto mark = marks.find(state->ticket);
        WriteTicket(&json, *state, [&](JsonWriter* more) {
          WriteFollowUpMark(more, mark == marks.end() ? FollowUpMark{} : mark->second);
        });
      }
      json.EndArray();
      json.Key("next_cursor");
      if (page.next_before_ticket_number != 0) {
        json.String(std::to_string(page.next_before_ticket_number));
      } else {
        json.Null();
      }
      json.EndObject();
      return JsonAnswer(200, json.Take());
    };
    if (as_of->given()) {
      Result<projections::TicketStore> store = projections::TicketsAsOf(
          *deps_.read_model, *deps_.ledger, *as_of, timeline.from_micros, timeline.to_micros, stop);
      if (!store) return ErrorResponse(store.error());
      return render(*store, std::nullopt);
    }
    // The same question under the same applied seq has the same answer
    // (answer_cache.h): the key is every parameter, the window resolved.
    std::string key;
    for (const auto& [name, value] : *query) {
      if (name == "from" || name == "to") continue;
      key += name;
      key += '\0';
      key += value;
      key += '\0';
    }
    key += std::to_string(timeline.from_micros) + "/" + std::to_string(timeline.to_micros);
    key += all_visible ? "/internal" : "/everyone";
    HttpResponse response;
    deps_.read_model->Read([&](const projections::TicketStore& store, uint64_t applied_seq) {
      if (std::shared_ptr<const std::string> cached = answers_->Find(key, applied_seq)) {
        response.shared_body = std::move(cached);
        return;
      }
      response = render(store, applied_seq);
      if (response.status == 200 && (!with_marks || marks_seq == applied_seq)) {
        response.shared_body = std::make_shared<const std::string>(std::move(response.body));
        response.body.clear();
        answers_->Store(key, applied_seq, response.shared_body);
      }
    });
    return response;
  }

  HttpResponse Durations(std::string_view query_text, const Principal& principal, const StopToken& stop) {
    Result<Query> query = ParseQuery(query_text, {"from", "to", "by", "as_of", "as_of_seq", "format"});
    if (!query) return ErrorResponse(query.error());
    Result<AsOf> as_of = ParseAsOf(*query);
    if (!as_of) return ErrorResponse(as_of.error());
    const int64_t now = as_of->micros.value_or(NowMicros());
    Result<Window> window = ParseWindow(*query, now);
    if (!window) return ErrorResponse(window.error());
    DurationLists lists = DurationLists::kBoth;
    if (const auto by = query->find("by"); by != query->end()) {
      if (by->second == "incident") {
        lists = DurationLists::kIncidents;
      } else if (by->second == "system") {
        lists = DurationLists::kSystems;
      } else {
        return ErrorResponse(BadParameter("by", "by must be incident or system"));
      }
    }
    bool csv = false;
    if (const auto format = query->find("format"); format != query->end()) {
      if (format->second == "csv") {
        csv = true;
      } else if (format->second != "json") {
        return ErrorResponse(BadParameter("format", "format must be json or csv"));
      }
    }
    if (csv && lists == DurationLists::kBoth) {
      return ErrorResponse(BadParameter("by", "format=csv gives one list: add by=incident or by=system"));
    }
    const projections::DurationQuery duration_query{
        .from_micros = window->from_micros, .to_micros = window->to_micros, .now_micros = now};
    // Computed under the read lock; the hidden rows are left out after it
    // (TicketShown takes the lock itself).
    const auto render = [&](Result<projections::DurationReport> report, const Head& head) -> HttpResponse {
      if (!report) return ErrorResponse(report.error());
      LeaveOutHidden(&*report, TicketShownTo(principal, *deps_.read_model));
      if (!csv) return JsonAnswer(200, DurationReportJson(*report, as_of->micros, lists, head));
      HttpResponse response;
      response.headers.emplace_back("X-Ledger-Head", AppliedHeadHeader(head));
      response.content_type = "text/csv; charset=utf-8";
      response.body = lists == DurationLists::kIncidents ? projections::IncidentDurationsCsv(*report)
                                                         : projections::SystemDowntimeCsv(*report);
      response.headers.emplace_back("Content-Disposition", std::string("attachment; filename=\"durations-") +
                                                               (lists == DurationLists::kIncidents ? "incidents" : "systems") +
                                                               ".csv\"");
      return response;
    };
    if (as_of->given()) {
      // MTTR's closing instants lie in [from, to): the microsecond before
      // `from` keeps incidents that closed right at it.
      Result<projections::TicketStore> store = projections::TicketsAsOf(
          *deps_.read_model, *deps_.ledger, *as_of, window->from_micros - 1, window->to_micros, stop);
      if (!store) return ErrorResponse(store.error());
      Result<projections::MaintenanceStore> maintenance =
          projections::MaintenanceAsOf(*deps_.read_model, *deps_.ledger, *as_of, stop);
      if (!maintenance) return ErrorResponse(maintenance.error());
      // The ledger's head once folded: every event the fold could see.
      return render(projections::ComputeDurations(*store, *maintenance, duration_query, stop), deps_.ledger->head());
    }
    Result<projections::DurationReport> report = MakeError(ErrorCode::kUnavailable, "not computed");
    Head head;
    deps_.read_model->ReadFiguresAt(
        [&](const projections::TicketStore& store, const projections::MaintenanceStore& maintenance, const Head& applied) {
          report = projections::ComputeDurations(store, maintenance, duration_query, stop);
          head = applied;
        });
    return render(std::move(report), head);
  }

  HttpResponse Events(const HttpRequest& request, std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"after", "limit"});
    if (!query) return ErrorResponse(query.error());
    Result<uint64_t> after = ParseCount(*query, "after", 0, 0, UINT64_MAX / 2);
    if (!after) return ErrorResponse(after.error());
    Result<uint64_t> limit = ParseCount(*query, "limit", kEventsPageDefault, 1, kEventsPageMax);
    if (!limit) return ErrorResponse(limit.error());
    Result<std::vector<StoredEvent>> events = deps_.ledger->ReadAfter(*after, *limit);
    if (!events) return ErrorResponse(events.error());
    const uint64_t head_seq = deps_.ledger->head().seq;
    if (request.accept.find("application/x-ndjson") != std::string::npos) {
      HttpResponse response;
      response.content_type = "application/x-ndjson";
      for (const StoredEvent& stored : *events) {
        response.body += EventJson(stored);
        response.body += '\n';
      }
      return response;
    }
    JsonWriter json;
    json.BeginObject();
    json.Key("head_seq").Uint(head_seq);
    json.Key("events").BeginArray();
    for (const StoredEvent& stored : *events) WriteEvent(&json, stored);
    json.EndArray();
    json.Key("next_after");
    if (!events->empty() && events->back().seq < head_seq) {
      json.Uint(events->back().seq);
    } else {
      json.Null();
    }
    json.EndObject();
    return JsonAnswer(200, json.Take());
  }

  // GET /api/v1/durations/changes (durations_changes.h): `before` is
  // required, `after` defaults to now and may not be before it; the window
  // is GET /durations' (default: the 7 days up to `after`).
  HttpResponse DurationChanges(std::string_view query_text, const Principal& principal, const StopToken& stop) {
    Result<Query> query = ParseQuery(query_text, {"from", "to", "before", "after"});
    if (!query) return ErrorResponse(query.error());
    Result<std::optional<Instant>> before = ParseTimeParameter(*query, "before");
    if (!before) return ErrorResponse(before.error());
    if (!*before) return ErrorResponse(BadParameter("before", "before (an RFC 3339 time: the earlier knowledge time) is required"));
    Result<std::optional<Instant>> after = ParseTimeParameter(*query, "after");
    if (!after) return ErrorResponse(after.error());
    const int64_t after_micros = *after ? (*after)->unix_micros : NowMicros();
    if ((*before)->unix_micros > after_micros) {
      return ErrorResponse(BadParameter("before", "before must not be later than after"));
    }
    Result<Window> window = ParseWindow(*query, after_micros);
    if (!window) return ErrorResponse(window.error());
    Result<std::string> answer = DurationChangesJson(
        *deps_.read_model, *deps_.ledger,
        DurationChangesQuery{.from_micros = window->from_micros,
                             .to_micros = window->to_micros,
                             .before_micros = (*before)->unix_micros,
                             .after_micros = after_micros},
        TicketShownTo(principal, *deps_.read_model), stop);
    if (!answer) return ErrorResponse(answer.error());
    return JsonAnswer(200, std::move(*answer));
  }

  HttpResponse Verify(std::string_view query_text, const StopToken& stop) {
    Result<Query> query = ParseQuery(query_text, {});
    if (!query) return ErrorResponse(query.error());
    Result<VerifyReport> report = deps_.ledger->Verify(stop);
    if (!report) return ErrorResponse(report.error());
    return JsonAnswer(200, VerifyReportJson(*report));
  }

  // POST {"to": "/absolute/new/folder"}: a RocksDB checkpoint of the live
  // ledger (folder mode 0700), then a verification of the copy. Only below
  // serve --backup-dir, never inside the data folder, never over anything
  // (ParseBackupRequest); without --backup-dir, 403.
  HttpResponse Backup(const HttpRequest& request) {
    if (MediaType(request.content_type) != "application/json") return UnsupportedMediaType("application/json");
    Result<std::string> destination = ParseBackupRequest(request.body, deps_.backup);
    if (!destination) return ErrorResponse(destination.error());
    if (Status made = deps_.ledger->Checkpoint(*destination); !made) return ErrorResponse(made.error());
    Result<std::unique_ptr<Ledger>> copy = Ledger::Open(LedgerOptions{.path = *destination, .read_only = true});
    if (!copy) return ErrorResponse(copy.error());
    Result<VerifyReport> report = (*copy)->Verify();
    if (!report) return ErrorResponse(report.error());
    JsonWriter json;
    json.BeginObject().Key("path").String(*destination).Key("verify").Raw(VerifyReportJson(*report)).EndObject();
    return JsonAnswer(report->ok ? 201 : 500, json.Take());
  }

  HttpResponse Health() {
    JsonWriter json;
    json.BeginObject().Key("status").String("ok").Key("head_seq").Uint(deps_.ledger->head().seq).EndObject();
    return JsonAnswer(200, json.Take());
  }

  HttpResponse MetricsText() {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = deps_.metrics->Render(deps_.ledger->stats(), deps_.ledger->head().seq, deps_.read_model->applied_seq());
    return response;
  }

 private:
  const ApiDependencies& deps_;
  AnswerCache* answers_;
};

}  // namespace

Api::Api(ApiDependencies dependencies)
    : deps_(dependencies), proofs_{.ledger = dependencies.ledger, .signer = dependencies.signer, .read_model = dependencies.read_model} {
  std::vector<Route> rows = Routes();
  std::vector<Route> proofs = ProofRouteRows(proofs_);
  rows.insert(rows.end(), std::make_move_iterator(proofs.begin()), std::make_move_iterator(proofs.end()));
  if (deps_.web != nullptr) {
    std::vector<Route> web = deps_.web->Routes();
    rows.insert(rows.end(), std::make_move_iterator(web.begin()), std::make_move_iterator(web.end()));
  }
  if (deps_.systems != nullptr) {
    std::vector<Route> systems = SystemRouteRows(*deps_.systems);
    rows.insert(rows.end(), std::make_move_iterator(systems.begin()), std::make_move_iterator(systems.end()));
  }
  if (deps_.maintenance != nullptr) {
    std::vector<Route> maintenance = MaintenanceRouteRows(*deps_.maintenance);
    rows.insert(rows.end(), std::make_move_iterator(maintenance.begin()), std::make_move_iterator(maintenance.end()));
  }
  if (deps_.notifications != nullptr) {
    std::vector<Route> notifications = NotificationRouteRows(*deps_.notifications);
    rows.insert(rows.end(), std::make_move_iterator(notifications.begin()),
                std::make_move_iterator(notifications.end()));
  }
  if (deps_.self_service != nullptr) {
    std::vector<Route> self_service = deps_.self_service->Routes();
    rows.insert(rows.end(), std::make_move_iterator(self_service.begin()),
                std::make_move_iterator(self_service.end()));
  }
  if (deps_.imports != nullptr) {
    std::vector<Route> imports = ImportRouteRows(*deps_.imports);
    rows.insert(rows.end(), std::make_move_iterator(imports.begin()), std::make_move_iterator(imports.end()));
  }
  if (deps_.followups != nullptr) {
    std::vector<Route> followups = FollowUpRouteRows(*deps_.followups);
    rows.insert(rows.end(), std::make_move_iterator(followups.begin()), std::make_move_iterator(followups.end()));
  }
  PageAnswers pages;
  if (deps_.web != nullptr) pages = deps_.web->Pages();
  router_ = std::make_unique<Router>(std::move(rows), deps_.access, deps_.metrics, std::move(pages),
                                     RouterOptions{.read_only = deps_.read_only});
  // A row without its description is a programming error (router.h).
  Result<std::string> document = OpenApiDocument(router_->routes());
  if (!document) {
    std::fprintf(stderr, "incident-ledger: the route table cannot be described: %s\n",
                 document.error().message.c_str());
    std::abort();
  }
  openapi_ = std::make_shared<const std::string>(std::move(*document));
}

Api::~Api() = default;

void Api::Handle(const HttpRequest& request, Respond respond) { router_->Handle(request, std::move(respond)); }

const Router& Api::router() const { return *router_; }

std::vector<Route> Api::Routes() {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  // Work that can take long runs on the pool (work_pool.h).
  const auto offload = [this](RouteCall& call, LongWork work) {
    Offload(deps_.pool, call.request, std::move(work), std::move(call.respond));
  };
  return {
      {"/api/v1/submissions", "POST", RequiredAccess::Needs(Role::kHelpdesk), "submissions", RouteKind::kJson,
       "submissions",
       [this](RouteCall call) {
         if (!call.query.empty()) {
           return call.respond(ErrorResponse(BadParameter("", "submissions take no query parameters")));
         }
         Handlers(deps_, &answers_).Submit(call.request, call.principal, std::move(call.respond));
       }},
      {"/api/v1/incidents", "GET", viewer, "incidents", RouteKind::kJson, "incidents",
       [this, offload](RouteCall call) {
         if (Handlers::AsksAsOf(call.query)) {
           return offload(call, [deps = &deps_, answers = &answers_, query = std::string(call.query),
                                 principal = call.principal](const StopToken& stop) {
             return Handlers(*deps, answers).Incidents(query, principal, stop);
           });
         }
         call.respond(Handlers(deps_, &answers_).Incidents(call.query, call.principal));
       }},
      {"/api/v1/incidents/*", "GET", viewer, "incident", RouteKind::kJson, "incident",
       [this](RouteCall call) {
         call.respond(Handlers(deps_, &answers_).Incident(call.segment, call.query, call.principal));
       }},
      {"/api/v1/incidents/*/events", "GET", viewer, "incident_events", RouteKind::kJson, "incident_events",
       [this](RouteCall call) {
         call.respond(Handlers(deps_, &answers_).IncidentEvents(call.segment, call.query, call.principal));
       }},
      {"/api/v1/events", "GET", RequiredAccess::Needs(Role::kAuditor), "events", RouteKind::kJson, "events",
       [this](RouteCall call) { call.respond(Handlers(deps_, &answers_).Events(call.request, call.query)); }},
      {"/api/v1/durations/changes", "GET", viewer, "durations_changes", RouteKind::kJson, "durations_changes",
       [this, offload](RouteCall call) {
         offload(call, [deps = &deps_, answers = &answers_, query = std::string(call.query),
                        principal = call.principal](const StopToken& stop) {
           return Handlers(*deps, answers).DurationChanges(query, principal, stop);
         });
       }},
      {"/api/v1/durations", "GET", viewer, "durations", RouteKind::kJson, "durations",
       [this, offload](RouteCall call) {
         offload(call, [deps = &deps_, answers = &answers_, query = std::string(call.query),
                        principal = call.principal](const StopToken& stop) {
           return Handlers(*deps, answers).Durations(query, principal, stop);
         });
       }},
      {"/api/v1/verify", "GET", RequiredAccess::Needs(Role::kAuditor), "verify", RouteKind::kJson, "verify",
       [this, offload](RouteCall call) {
         offload(call, [deps = &deps_, answers = &answers_, query = std::string(call.query)](const StopToken& stop) {
           return Handlers(*deps, answers).Verify(query, stop);
         });
       }},
      {"/api/v1/backup", "POST", RequiredAccess::Needs(Role::kAdmin), "backup", RouteKind::kJson, "backup",
       [this, offload](RouteCall call) {
         // A backup, once started, runs to the end: its copy is then whole.
         offload(call, [deps = &deps_, answers = &answers_, request = call.request](const StopToken&) {
           return Handlers(*deps, answers).Backup(request);
         });
       }},
      {"/healthz", "GET", RequiredAccess::Public(), "healthz", RouteKind::kJson, "healthz",
       [this](RouteCall call) { call.respond(Handlers(deps_, &answers_).Health()); }},
      {"/metrics", "GET", viewer, "metrics", RouteKind::kJson, "metrics",
       [this](RouteCall call) { call.respond(Handlers(deps_, &answers_).MetricsText()); }},
      {"/api/v1/openapi.json", "GET", viewer, "openapi", RouteKind::kJson, "openapi",
       [this](RouteCall call) {
         if (Result<Query> query = ParseQuery(call.query, {}); !query) {
           return call.respond(ErrorResponse(query.error()));
         }
         HttpResponse response;
         response.shared_body = openapi_;
         call.respond(std::move(response));
       }},
  };
}

}  // namespace ledger::http
