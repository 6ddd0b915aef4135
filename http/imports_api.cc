#include "http/imports_api.h"

#include <map>

#include "common/time.h"
#include "http/message.h"
#include "http/query_params.h"
#include "http/router.h"
#include "projections/sheet_refusals.h"

namespace ledger::http {
namespace {

void StringOrNull(JsonWriter* json, const std::string& text) {
  if (text.empty()) {
    json->Null();
  } else {
    json->String(text);
  }
}

HttpResponse Imports(const ImportRoutes& routes, std::string_view query_text) {
  Result<Query> query = ParseQuery(query_text, {});
  if (!query) return ErrorResponse(query.error());
  HttpResponse response;
  response.status = 200;
  response.body = ImportsJson(CollectImports(routes));
  return response;
}

}  // namespace

std::vector<ImportRunView> CollectImports(const ImportRoutes& routes) {
  std::vector<ImportRunView> views;
  if (!routes.runs) return views;
  const std::vector<ingest::SheetImportRun> runs = routes.runs();
  for (const ingest::SheetImportRun& run : runs) {
    ImportRunView view{.at_micros = run.at_micros,
                       .file = run.file,
                       .file_error = run.file_error,
                       .rows_read = run.rows_read,
                       .appended = run.appended,
                       .already_present = run.already_present,
                       .rejected = run.rejected,
                       .refused = {}};
    for (const ingest::SheetRefusedRow& row : run.refused) {
      view.refused.push_back(RefusedRowView{.row = row.row,
                                            .column = row.column,
                                            .column_letters = row.column_letters,
                                            .field = row.field,
                                            .rule = row.rule,
                                            .author = row.author,
                                            .content_id = row.content_id,
                                            .seq = 0,
                                            .mail = std::nullopt,
                                            .cells = {}});
    }
    views.push_back(std::move(view));
  }
  // What the log says of each recorded row: the event, then its mail.
  std::map<uint64_t, std::string> submitters;  // event seq -> address
  routes.read_model->ReadProjection<projections::SheetRefusalProjection>(
      [&](const projections::SheetRefusalProjection& refusals, uint64_t) {
        for (ImportRunView& view : views) {
          for (RefusedRowView& row : view.refused) {
            const projections::RecordedRefusal* recorded = refusals.Find(row.content_id);
            if (recorded == nullptr) continue;
            const proto::SheetRowRefusal& refusal = recorded->refusal;
            row.seq = recorded->seq;
            row.column = refusal.column();
            row.column_letters = refusal.column_letters();
            row.field = refusal.field();
            row.rule = refusal.rule();
            if (!refusal.submitter().empty()) row.author = refusal.submitter();
            for (const proto::SheetCell& cell : refusal.cells()) row.cells.emplace_back(cell.column(), cell.text());
            submitters[recorded->seq] = refusal.submitter();
          }
        }
      });
  routes.read_model->ReadNotifications([&](const projections::NotificationQueue& queue, uint64_t) {
    for (ImportRunView& view : views) {
      for (RefusedRowView& row : view.refused) {
        if (row.seq == 0 || submitters[row.seq].empty()) continue;
        if (const std::optional<projections::JobState> state =
                queue.StateOf(projections::JobKey{row.seq, submitters[row.seq]})) {
          row.mail = *state;
        }
      }
    }
  });
  return views;
}

std::string ImportsJson(const std::vector<ImportRunView>& runs) {
  JsonWriter json;
  json.BeginObject().Key("runs").BeginArray();
  for (const ImportRunView& run : runs) {
    json.BeginObject();
    json.Key("at").String(FormatRfc3339Utc(run.at_micros));
    json.Key("file").String(run.file);
    json.Key("file_error");
    StringOrNull(&json, run.file_error);
    json.Key("rows_read").Uint(run.rows_read);
    json.Key("appended").Uint(run.appended);
    json.Key("already_present").Uint(run.already_present);
    json.Key("rejected").Uint(run.rejected);
    json.Key("refused").BeginArray();
    for (const RefusedRowView& row : run.refused) {
      json.BeginObject();
      json.Key("row").Uint(row.row);
      json.Key("column");
      StringOrNull(&json, row.column);
      json.Key("column_letters");
      StringOrNull(&json, row.column_letters);
      json.Key("field").String(row.field);
      json.Key("rule").String(row.rule);
      json.Key("author").String(row.author);
      json.Key("told").Bool(row.told());
      json.Key("mail");
      if (row.mail) {
        json.String(projections::JobStateName(*row.mail));
      } else {
        json.Null();
      }
      json.Key("content_id").String(row.content_id);
      json.Key("seq");
      if (row.seq == 0) {
        json.Null();
      } else {
        json.Uint(row.seq);
      }
      json.EndObject();
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray().EndObject();
  return json.Take();
}

std::vector<Route> ImportRouteRows(const ImportRoutes& routes) {
  const ImportRoutes* shared = &routes;
  return {
      {"/api/v1/imports", "GET", RequiredAccess::Needs(Role::kHelpdesk), "imports", RouteKind::kJson, "imports",
       [shared](RouteCall call) { call.respond(Imports(*shared, call.query)); }},
  };
}

}  // namespace ledger::http
