#include "http/web.h"

#include "http/router.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "http/auth.h"
#include "http/followups_api.h"
#include "http/gzip.h"
#include "http/html.h"
#include "http/imports_api.h"
#include "http/json_views.h"
#include "http/query_params.h"
#include "http/visibility.h"
#include "ingest/command.h"
#include "ingest/fields.h"
#include "projections/durations.h"
#include "projections/followups.h"
#include "projections/notifications.h"

namespace ledger::http {
namespace {

// No inline script or style anywhere: a title that smuggles markup past the
// escaping still could not run. The timeline (timeline.js) places its bars
// through the CSSOM (element.style), which style-src does not govern.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

constexpr size_t kFormFieldsMax = 32;
constexpr size_t kSubmissionIdRandomBytes = 16;


std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}


void AddPageHeaders(HttpResponse* response) {
  response->headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response->headers.emplace_back("Referrer-Policy", "same-origin");
  response->headers.emplace_back("X-Frame-Options", "DENY");
}

HttpResponse HtmlAnswer(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::move(body);
  AddPageHeaders(&response);
  return response;
}

// The frame every page shares. `title` and `main_html`'s user text are
// escaped by the caller; `title` is escaped here.
std::string Layout(const Principal& viewer, std::string_view title, std::string_view current,
                   std::string_view main_html, std::initializer_list<std::string_view> scripts) {
  // `scripts`: the page's own scripts (.js), stylesheets (.css) and feed (.atom).
  std::string page =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  AppendHtmlEscaped(&page, title);
  page += " · Incident ledger</title>\n";
  // submit.js and the sign-out form send it back (common.js: fetchJson).
  if (viewer.signed_in()) page += "<meta name=\"csrf-token\" content=\"" + HtmlEscape(viewer.csrf_token) + "\">\n";
  page += "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n";
  for (const std::string_view script : scripts) {
    if (script.ends_with(".css")) page += "<link rel=\"stylesheet\" href=\"" + std::string(script) + "\">\n";
    if (script.ends_with(".atom")) {
      page += "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Incidents and maintenance\" href=\"" +
              std::string(script) + "\">\n";
    }
  }
  page += "<link rel=\"stylesheet\" href=\"/static/app.css\">\n";
  page += "<script defer src=\"/static/common.js\"></script>\n";
  for (const std::string_view script : scripts) {
    if (script.ends_with(".js")) page += "<script defer src=\"" + std::string(script) + "\"></script>\n";
  }
  page += "</head>\n<body>\n<header class=\"site\"><a class=\"brand\" href=\"/\">Incident ledger</a><nav>";
  const std::array<std::pair<std::string_view, std::string_view>, 7> links = {
      std::pair{"/", "Dashboard"}, std::pair{"/actions", "Action items"},
      std::pair{"/submit", "Report or update an incident"}, std::pair{"/maintenance", "Maintenance"},
      std::pair{"/systems", "Systems"}, std::pair{"/imports", "Imports"},
      std::pair{"/subscribe", "Get notices by mail"}};
  for (const auto& [href, label] : links) {
    // The help desk's pages only for those who may use them (signed out:
    // every link, and the page asks to sign in).
    const bool helpdesk_page = href == "/submit" || href == "/maintenance" || href == "/imports";
    if (helpdesk_page && viewer.roles != 0 && !viewer.Has(Role::kHelpdesk)) continue;
    page += "<a href=\"" + std::string(href) + "\"";
    if (href == current) page += " aria-current=\"page\"";
    page += ">" + std::string(label) + "</a>";
  }
  page += "</nav>";
  if (viewer.signed_in()) {
    page += "<form class=\"session\" method=\"post\" action=\"/signout\"><span class=\"who\">";
    AppendHtmlEscaped(&page, viewer.name);
    page += "</span> <input type=\"hidden\" name=\"csrf_token\" value=\"" + HtmlEscape(viewer.csrf_token) +
            "\"><button type=\"submit\" class=\"link\">Sign out</button></form>";
  } else if (viewer.anonymous) {
    // An anonymous reader may sign in with a token to do more.
    page += "<a class=\"signin\" href=\"/signin\">Sign in</a>";
  }
  page += "</header>\n<main>\n";
  page += main_html;
  page += "</main>\n</body>\n</html>\n";
  return page;
}

HttpResponse ErrorPage(const Principal& viewer, unsigned status, std::string_view heading, std::string_view message) {
  std::string main = "<h1>" + HtmlEscape(heading) + "</h1>\n<p class=\"notice notice-error\">" + HtmlEscape(message) +
                     "</p>\n<p><a href=\"/\">Back to the dashboard</a></p>\n";
  return HtmlAnswer(status, Layout(viewer, heading, "", main, {}));
}

HttpResponse PageMethodNotAllowed(const Principal& viewer, std::string_view allowed) {
  HttpResponse response = ErrorPage(viewer, 405, "Method not allowed", "This page takes " + std::string(allowed) + ".");
  response.headers.emplace_back("Allow", std::string(allowed));
  return response;
}

std::string RandomSubmissionId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device device;
  std::string id = "form-";
  for (size_t i = 0; i < kSubmissionIdRandomBytes; ++i) {
    const unsigned byte = device() & 0xffu;
    id += kHex[byte >> 4];
    id += kHex[byte & 0x0f];
  }
  return id;
}

std::string FormatTime(const Instant& instant) { return FormatRfc3339(instant); }

// <time datetime="..">..</time>: incident.js shows it in the reader's zone.
std::string TimeHtml(const Instant& instant) {
  const std::string text = FormatTime(instant);
  return "<time datetime=\"" + HtmlEscape(text) + "\">" + HtmlEscape(text) + "</time>";
}

std::string DurationText(int64_t micros) {
  int64_t minutes = std::max<int64_t>(0, micros / 60'000'000);
  const int64_t days = minutes / (24 * 60);
  minutes -= days * 24 * 60;
  const int64_t hours = minutes / 60;
  minutes -= hours * 60;
  std::string text;
  if (days > 0) text += std::to_string(days) + " d ";
  if (days > 0 || hours > 0) text += std::to_string(hours) + " h ";
  text += std::to_string(minutes) + " min";
  return text;
}

// ---------------------------------------------------------------- the form

struct FormField {
  std::string_view name;
  std::string_view label;
  std::string_view kind;  // "text", "textarea", "datetime", "select", "url", "list"
  std::string_view hint;
  const ingest::PayloadField* payload = nullptr;  // the table row, for a payload field
};

std::string_view FormKind(ingest::FieldKind kind) {
  switch (kind) {
    case ingest::FieldKind::kLine: return "text";
    case ingest::FieldKind::kText: return "textarea";
    case ingest::FieldKind::kSystems: return "list";
    case ingest::FieldKind::kEnum: return "select";
    case ingest::FieldKind::kTime: return "datetime";
    case ingest::FieldKind::kLink: return "url";
  }
  return "text";
}

// The ticket, every payload field of the table (ingest/fields.h), the actor.
const std::vector<FormField>& FormFields() {
  static const std::vector<FormField> kFields = [] {
    std::vector<FormField> fields;
    fields.push_back({"ticket", "Ticket number", "text",
                      "Required to update, close or reopen (e.g. INC-42). Leave it empty to open a new incident."});
    for (const ingest::PayloadField& field : ingest::PayloadFieldTable()) {
      fields.push_back({field.name, field.form_label, FormKind(field.kind), field.form_hint, &field});
    }
    fields.push_back({"actor", "Your name", "text", "Who is submitting; recorded with the event."});
    return fields;
  }();
  return kFields;
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kActions = {{
    {"create", "Open a new incident"},
    {"update", "Update an incident"},
    {"close", "Close an incident"},
    {"reopen", "Reopen an incident"},
}};

struct FormState {
  std::map<std::string, std::string> values;
  std::optional<Error> error;
};

// A system the form offers, with its group (empty: none).
struct FormSystem {
  std::string name;
  std::string group;
};

std::string ErrorSlot(std::string_view field, const FormState& state) {
  std::string html = "<p class=\"field-error\" id=\"error-" + std::string(field) + "\" data-error-for=\"" +
                     std::string(field) + "\"";
  if (state.error && state.error->field == field) {
    html += ">";
    AppendHtmlEscaped(&html, state.error->message);
  } else {
    html += " hidden>";
  }
  html += "</p>";
  return html;
}

// The form's notice for an error that belongs to no field of it (hidden
// when `shown` is false, for the script to fill).
void AppendGeneralError(std::string* main, const FormState& state, bool shown) {
  *main += "<div id=\"form-error\" class=\"notice notice-error\" role=\"alert\"";
  if (shown) {
    *main += ">";
    if (!state.error->field.empty()) *main += HtmlEscape(state.error->field) + ": ";
    AppendHtmlEscaped(main, state.error->message);
  } else {
    *main += " hidden>";
  }
  *main += "</div>\n";
}

// The radio buttons of a form's actions (value, label), `chosen` checked.
template <size_t N>
void AppendActionChoice(std::string* main, const std::array<std::pair<std::string_view, std::string_view>, N>& actions,
                        std::string_view chosen, const FormState& state) {
  *main += "<fieldset class=\"actions\"><legend>What are you recording?</legend>\n";
  for (const auto& [value, label] : actions) {
    *main += "<label class=\"choice\"><input type=\"radio\" name=\"action\" value=\"" + std::string(value) + "\"";
    if (chosen == value) *main += " checked";
    *main += "> " + std::string(label) + "</label>\n";
  }
  *main += ErrorSlot("action", state) + "</fieldset>\n";
}

// Opens a form field's <div> (marked when the error is this field's) with
// its label; answers the aria attributes its control carries (its hint and
// error slot, and aria-invalid).
std::string AppendFieldStart(std::string* main, const FormState& state, std::string_view field_name,
                             const std::string& id, std::string_view label, std::string_view hint) {
  const std::string name(field_name);
  const bool has_error = state.error && state.error->field == field_name;
  *main += "<div class=\"field field-" + name + (has_error ? " has-error" : "") + "\">\n";
  *main += "<label for=\"" + id + "\">" + std::string(label) + "</label>\n";
  return " aria-describedby=\"" + (hint.empty() ? std::string() : "hint-" + name + " ") + "error-" + name + "\"" +
         (has_error ? " aria-invalid=\"true\"" : "");
}

// A field's hint, when it has one (a time field's says how it is read
// without JavaScript).
void AppendHint(std::string* main, std::string_view kind, const std::string& name, std::string_view hint) {
  if (hint.empty()) return;
  *main += "<p class=\"hint\" id=\"hint-" + name + "\">" + std::string(hint);
  if (kind == "datetime") *main += "<span class=\"no-script-only\"> Without JavaScript the time is taken as UTC.</span>";
  *main += "</p>\n";
}

// A one-line <input> of kind "text", "datetime", "url" or "list", with
// `extra` attributes (a placeholder).
void AppendInput(std::string* main, std::string_view kind, const std::string& id, const std::string& name,
                 std::string_view value, const std::string& described, std::string_view extra) {
  std::string type = "text";
  if (kind == "datetime") type = "datetime-local";
  if (kind == "url") type = "url";
  *main += "<input id=\"" + id + "\" name=\"" + name + "\" type=\"" + type + "\"";
  if (kind == "datetime") *main += " step=\"60\"";
  *main += extra;
  *main += " value=\"";
  AppendHtmlEscaped(main, value);
  *main += "\"" + described + ">\n";
}

std::string_view ValueOf(const FormState& state, std::string_view name) {
  const auto found = state.values.find(std::string(name));
  return found == state.values.end() ? std::string_view() : std::string_view(found->second);
}

bool IsFormField(std::string_view name) {
  if (name == "action" || name == "submission_id" || name == "utc_offset") return true;
  return std::any_of(FormFields().begin(), FormFields().end(), [&](const FormField& field) { return field.name == name; });
}

std::string RenderForm(const Principal& viewer, const FormState& state, const std::vector<FormSystem>& known_systems) {
  std::string action(ValueOf(state, "action"));
  if (action.empty()) action = "create";
  std::string main = "<h1>Report or update an incident</h1>\n";
  main +=
      "<p class=\"lead\">Every submission is recorded for good; a correction is a new submission. "
      "Fields left empty on an update stay as they are.</p>\n";
  AppendGeneralError(&main, state, state.error && !IsFormField(state.error->field));
  main += "<div id=\"form-result\" class=\"notice notice-ok\" role=\"status\" hidden></div>\n";
  main += "<form id=\"submission-form\" class=\"submission\" method=\"post\" action=\"/submit\" novalidate>\n";
  AppendActionChoice(&main, kActions, action, state);

  for (const FormField& field : FormFields()) {
    const std::string name(field.name);
    const std::string id = "f-" + name;
    const std::string_view value = ValueOf(state, field.name);
    const std::string described = AppendFieldStart(&main, state, field.name, id, field.label, field.hint);
    if (field.kind == "textarea") {
      main += "<textarea id=\"" + id + "\" name=\"" + name + "\" rows=\"4\"" + described + ">";
      AppendHtmlEscaped(&main, value);
      main += "</textarea>\n";
    } else if (field.kind == "select") {
      main += "<select id=\"" + id + "\" name=\"" + name + "\"" + described + ">\n";
      std::vector<std::string_view> options = {""};
      for (const std::string& word : ingest::EnumWords(*field.payload)) options.push_back(word);
      for (const std::string_view option : options) {
        main += "<option value=\"" + std::string(option) + "\"";
        if (option == value) main += " selected";
        main += ">" + std::string(option.empty() ? "(unchanged / default)" : option) + "</option>\n";
      }
      main += "</select>\n";
    } else {
      const std::string_view extra = field.name == "ticket" ? " placeholder=\"INC-42\" autocomplete=\"off\""
                                     : field.kind == "list" ? " list=\"known-systems\" autocomplete=\"off\""
                                                            : "";
      AppendInput(&main, field.kind, id, name, value, described, extra);
    }
    AppendHint(&main, field.kind, name, field.hint);
    if (field.kind == "list" && !known_systems.empty()) {
      main += "<datalist id=\"known-systems\">";
      for (const FormSystem& system : known_systems) {
        main += "<option value=\"" + HtmlEscape(system.name) + "\"";
        if (!system.group.empty()) main += " label=\"" + HtmlEscape(system.group) + "\"";
        main += ">";
      }
      main += "</datalist>\n<div class=\"known-systems\" aria-label=\"Known systems\">";
      // One line per group (the catalog's order: groups, then the rest).
      for (size_t i = 0; i < known_systems.size(); ++i) {
        const std::string& group = known_systems[i].group;
        if (i == 0 || projections::FoldSystem(group) != projections::FoldSystem(known_systems[i - 1].group)) {
          if (i != 0) main += "</p>\n";
          main += "<p class=\"system-group\">";
          if (!group.empty()) main += "<span class=\"system-group-name\">" + HtmlEscape(group) + ":</span> ";
        }
        main += "<button type=\"button\" class=\"system-chip\" data-system=\"" + HtmlEscape(known_systems[i].name) +
                "\">" + HtmlEscape(known_systems[i].name) + "</button> ";
      }
      main += "</p></div>\n";
    }
    main += ErrorSlot(field.name, state) + "\n</div>\n";
  }
  std::string submission_id(ValueOf(state, "submission_id"));
  if (submission_id.empty()) submission_id = RandomSubmissionId();
  main += "<input type=\"hidden\" name=\"submission_id\" value=\"" + HtmlEscape(submission_id) + "\">\n";
  // Filled by submit.js; without it, times without an offset are UTC.
  main += "<input type=\"hidden\" name=\"utc_offset\" value=\"Z\">\n";
  if (viewer.signed_in()) {
    main += "<input type=\"hidden\" name=\"csrf_token\" value=\"" + HtmlEscape(viewer.csrf_token) + "\">\n";
  }
  main += "<p><button type=\"submit\" class=\"primary\">Record</button></p>\n</form>\n";
  return Layout(viewer, "Report or update an incident", "/submit", main, {"/static/submit.js"});
}

// A datetime-local value ("2026-11-24T08:40" or with seconds) gets the
// form's offset; anything else (already RFC 3339, or malformed) is left for
// the parser to accept or refuse by name.
std::string WithOffset(const std::string& value, std::string_view offset) {
  const bool local_minutes = value.size() == 16 && value[10] == 'T' && value[13] == ':';
  const bool local_seconds = value.size() == 19 && value[10] == 'T' && value[13] == ':' && value[16] == ':';
  if (!local_minutes && !local_seconds) return value;
  return value + (local_minutes ? ":00" : "") + std::string(offset);
}

bool IsOffset(std::string_view text) {
  if (text == "Z") return true;
  return text.size() == 6 && (text[0] == '+' || text[0] == '-') && std::isdigit(static_cast<unsigned char>(text[1])) &&
         std::isdigit(static_cast<unsigned char>(text[2])) && text[3] == ':' &&
         std::isdigit(static_cast<unsigned char>(text[4])) && std::isdigit(static_cast<unsigned char>(text[5]));
}

// ---------------------------------------------------------------- the maintenance form

// The fields of POST /api/v1/maintenance a person types (ingest/maintenance.h).
struct MaintenanceFormField {
  std::string_view name;
  std::string_view label;
  std::string_view kind;  // "text", "textarea", "datetime", "url"
  std::string_view hint;
};

constexpr std::array<MaintenanceFormField, 9> kMaintenanceFields = {{
    {"window", "Window", "text", "Required for everything but scheduling (e.g. MNT-3)."},
    {"title", "Title", "text", "What is done, in a line. Required to schedule."},
    {"systems", "Systems", "text", "Comma-separated. Required to schedule; subscribers of these systems are mailed."},
    {"starts_at", "Planned start", "datetime", "Required to schedule."},
    {"ends_at", "Planned end", "datetime", "Required to schedule; after the planned start."},
    {"at", "Actual time", "datetime", "For start and end: when it really happened (default: now)."},
    {"description", "Description", "textarea", ""},
    {"link", "Link", "url", "A change ticket or a page with the details."},
    {"actor", "Your name", "text", "Who is submitting; recorded with the event."},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kMaintenanceActions = {{
    {"schedule", "Schedule a window"},
    {"update", "Update a window"},
    {"start", "Start a window"},
    {"end", "End a window"},
    {"cancel", "Cancel a window"},
}};

bool IsMaintenanceFormField(std::string_view name) {
  if (name == "action" || name == "submission_id" || name == "utc_offset") return true;
  return std::any_of(kMaintenanceFields.begin(), kMaintenanceFields.end(),
                     [&](const MaintenanceFormField& field) { return field.name == name; });
}

// The windows not yet over (scheduled or in progress), by planned start.
std::string MaintenanceListHtml(const projections::MaintenanceStore& store) {
  std::vector<const projections::MaintenanceWindow*> current;
  for (const auto& [number, window] : store.all()) {
    if (window.status == projections::MaintenanceStatus::kScheduled ||
        window.status == projections::MaintenanceStatus::kInProgress) {
      current.push_back(&window);
    }
  }
  std::stable_sort(current.begin(), current.end(), [](const auto* a, const auto* b) {
    return a->starts_at.unix_micros < b->starts_at.unix_micros;
  });
  std::string html = "<section aria-labelledby=\"windows-heading\">\n<h2 id=\"windows-heading\">Scheduled and ongoing "
                     "windows</h2>\n";
  if (current.empty()) return html + "<p class=\"empty\">None.</p>\n</section>\n";
  html += "<table id=\"window-table\" class=\"incidents\"><thead><tr><th scope=\"col\">Window</th><th scope=\"col\">"
          "Title</th><th scope=\"col\">Systems</th><th scope=\"col\">Status</th><th scope=\"col\">Planned</th>"
          "<th scope=\"col\">Started</th></tr></thead>\n<tbody>\n";
  for (const projections::MaintenanceWindow* window : current) {
    std::string systems;
    for (const std::string& system : window->systems) systems += (systems.empty() ? "" : ", ") + system;
    html += "<tr><th scope=\"row\">" + HtmlEscape(window->window) + "</th><td>" + HtmlEscape(window->title) +
            "</td><td>" + HtmlEscape(systems) + "</td><td><span class=\"badge maintenance-" +
            std::string(projections::MaintenanceStatusName(window->status)) + "\">" +
            projections::MaintenanceStatusName(window->status) + "</span></td><td>" + TimeHtml(window->starts_at) +
            " – " + TimeHtml(window->ends_at) + "</td><td>" +
            (window->started_at ? TimeHtml(*window->started_at) : std::string("—")) + "</td></tr>\n";
  }
  return html + "</tbody></table>\n</section>\n";
}

std::string RenderMaintenanceForm(const Principal& viewer, const FormState& state, std::string_view recorded,
                                  const std::string& windows_html) {
  std::string action(ValueOf(state, "action"));
  if (action.empty()) action = "schedule";
  std::string main = "<h1>Planned maintenance</h1>\n";
  main += "<p class=\"lead\">Windows are shown on the dashboard and in <a href=\"/calendar.ics\">the calendar</a>; "
          "the time a window actually runs counts as planned, not as downtime.</p>\n";
  main += "<div id=\"form-result\" class=\"notice notice-ok\" role=\"status\"";
  if (!recorded.empty()) {
    main += ">Recorded: " + HtmlEscape(recorded) + ".";
  } else {
    main += " hidden>";
  }
  main += "</div>\n";
  AppendGeneralError(&main, state, state.error && !IsMaintenanceFormField(state.error->field));
  main += "<form id=\"maintenance-form\" class=\"submission\" method=\"post\" action=\"/maintenance\" "
          "data-local-times novalidate>\n";
  AppendActionChoice(&main, kMaintenanceActions, action, state);
  for (const MaintenanceFormField& field : kMaintenanceFields) {
    const std::string name(field.name);
    const std::string id = "m-" + name;
    const std::string_view value = ValueOf(state, field.name);
    const std::string described = AppendFieldStart(&main, state, field.name, id, field.label, field.hint);
    if (field.kind == "textarea") {
      main += "<textarea id=\"" + id + "\" name=\"" + name + "\" rows=\"4\"" + described + ">";
      AppendHtmlEscaped(&main, value);
      main += "</textarea>\n";
    } else {
      AppendInput(&main, field.kind, id, name, value, described,
                  field.name == "window" ? " placeholder=\"MNT-3\" autocomplete=\"off\"" : "");
    }
    AppendHint(&main, field.kind, name, field.hint);
    main += ErrorSlot(field.name, state) + "\n</div>\n";
  }
  std::string submission_id(ValueOf(state, "submission_id"));
  if (submission_id.empty()) submission_id = RandomSubmissionId();
  main += "<input type=\"hidden\" name=\"submission_id\" value=\"" + HtmlEscape(submission_id) + "\">\n";
  // Set by common.js to the browser's offset; without it, times are UTC.
  main += "<input type=\"hidden\" name=\"utc_offset\" value=\"Z\">\n";
  if (viewer.signed_in()) {
    main += "<input type=\"hidden\" name=\"csrf_token\" value=\"" + HtmlEscape(viewer.csrf_token) + "\">\n";
  }
  main += "<p><button type=\"submit\" class=\"primary\">Record</button></p>\n</form>\n";
  main += windows_html;
  return Layout(viewer, "Planned maintenance", "/maintenance", main, {});
}

// ---------------------------------------------------------------- the dashboard

constexpr std::string_view kDashboardMain = R"(<h1>Incidents</h1>
<p class="follow-links">Follow along: <a href="/feed.atom" type="application/atom+xml">news feed (Atom)</a> ·
<a href="/calendar.ics" type="text/calendar">calendar of outages and maintenance</a></p>
<form id="range-form" class="toolbar" method="get" action="/">
  <label>From <input type="datetime-local" id="range-from" name="from" step="60"></label>
  <label>To <input type="datetime-local" id="range-to" name="to" step="60"></label>
  <button type="submit">Show</button>
  <span class="quick-ranges" role="group" aria-label="Quick ranges">
    <a href="/?range=24h" data-range="24h">24 h</a>
    <a href="/?range=7d" data-range="7d">7 d</a>
    <a href="/?range=30d" data-range="30d">30 d</a>
    <a href="/?range=90d" data-range="90d">90 d</a>
  </span>
  <label class="group-toggle"><input type="checkbox" id="group-by-incident" name="rows" value="incident"> One row per incident</label>
  <span class="filters" role="search">
    <label>Search <input type="search" id="filter-text" name="q" maxlength="200" placeholder="title, ticket, engineer…"></label>
    <label>System <select id="filter-system" name="system"><option value="">all systems</option></select></label>
  </span>
  <span id="live-status" class="live live-connecting" role="status" aria-live="polite">connecting…</span>
</form>
<p id="range-error" class="notice notice-error" role="alert" hidden></p>
<section id="maintenance-banner" class="maintenance-banner" aria-labelledby="maintenance-heading" hidden>
<h2 id="maintenance-heading">Planned maintenance: ongoing and in the next 7 days</h2>
<ul id="maintenance-list"></ul>
</section>
<ul class="legend" aria-label="Legend">
  <li><span class="swatch severity-minor"></span>minor</li>
  <li><span class="swatch severity-major"></span>major</li>
  <li><span class="swatch severity-critical"></span>critical</li>
  <li><span class="swatch impact-partial"></span>partial outage</li>
  <li><span class="swatch impact-degraded"></span>degraded</li>
  <li><span class="swatch maintenance"></span>planned maintenance</li>
  <li><span class="swatch ongoing"></span>ongoing (runs to now)</li>
</ul>
<div id="timeline" class="timeline" aria-hidden="true"></div>
<p id="timeline-empty" class="empty" hidden>No incidents in this range.</p>
<noscript><p class="notice">The timeline, the live updates and this page's tables need JavaScript. The
<a href="/api/v1/incidents">incident list</a> is plain JSON, and the <a href="/submit">form</a> works without it.</p></noscript>
<section class="below-timeline" aria-labelledby="table-heading">
<h2 id="table-heading">Incidents in this range</h2>
<table id="incident-table" class="incidents">
<caption class="visually-hidden">Incidents whose outage overlaps the chosen range. Column headers sort.</caption>
<thead><tr>
<th scope="col" aria-sort="none"><button type="button" data-sort="ticket">Ticket</button></th>
<th scope="col" aria-sort="none"><button type="button" data-sort="title">Title</button></th>
<th scope="col" aria-sort="none"><button type="button" data-sort="systems">Systems</button></th>
<th scope="col" aria-sort="none"><button type="button" data-sort="engineer">Engineer</button></th>
<th scope="col" aria-sort="none"><button type="button" data-sort="severity">Severity</button></th>
<th scope="col" aria-sort="descending"><button type="button" data-sort="started_at">Start</button></th>
<th scope="col" aria-sort="none"><button type="button" data-sort="ended_at">End</button></th>
</tr></thead>
<tbody></tbody>
</table>
</section>
<section class="below-timeline" aria-labelledby="availability-heading">
<h2 id="availability-heading">Availability per system, last 90 days</h2>
<p class="hint">One bar per day in your time zone; darker red means more downtime. A day without downtime is
<span class="swatch day-degraded"></span> purple when service was degraded, <span class="swatch day-planned"></span> blue
when planned maintenance ran. Hover or focus a day for its outages.</p>
<div id="availability" class="availability"></div>
<div id="availability-detail" class="availability-detail" role="status" aria-live="polite"></div>
</section>
)";

// ---------------------------------------------------------------- the incident page

// One given value as HTML (escaped; times as <time> elements).
std::string GivenValueHtml(const ingest::GivenValue& given) {
  std::string value_html;
  switch (given.field->kind) {
    case ingest::FieldKind::kText: value_html = "<span class=\"multiline\">" + HtmlEscape(given.text) + "</span>"; break;
    case ingest::FieldKind::kSystems:
      for (const std::string& item : *given.list) value_html += (value_html.empty() ? "" : ", ") + HtmlEscape(item);
      break;
    case ingest::FieldKind::kTime: value_html = TimeHtml(given.time); break;
    case ingest::FieldKind::kEnum: value_html = HtmlEscape(given.text); break;
    case ingest::FieldKind::kLine:
    case ingest::FieldKind::kLink: value_html = HtmlEscape(given.text); break;
  }
  return value_html;
}

std::string PayloadHtml(const proto::Event& event) {
  if (!event.has_incident()) return "";
  std::string html = "<dl class=\"changes\">";
  ingest::ForEachGivenValue(event.incident(), [&html](const ingest::GivenValue& given) {
    html += "<dt>" + std::string(given.field->name) + "</dt><dd>" + GivenValueHtml(given) + "</dd>";
  });
  html += "</dl>";
  return html;
}

std::string LinkHtml(std::string_view link) {
  // The ingest rules admit only http:// and https:// links; checked again
  // here so that no other scheme can ever become an href.
  if (!link.starts_with("http://") && !link.starts_with("https://")) return HtmlEscape(link);
  return "<a href=\"" + HtmlEscape(link) + "\" rel=\"noopener noreferrer\">" + HtmlEscape(link) + "</a>";
}


// ---------------------------------------------------------------- reviews and action items

// What the incident page shows of the follow-through: copies taken under
// the read lock.
struct FollowUpView {
  bool enabled = false;
  std::optional<projections::TicketFollowUp> follow_up;
  std::vector<projections::ActionItem> items;
  std::vector<bool> overdue;  // per item
};

// What the incident page says of its mail: counts only, never an address.
struct DeliveryTally {
  size_t people_told = 0;  // distinct addresses with at least one mail sent
  size_t sent = 0;
  size_t failed = 0;   // given up on
  size_t waiting = 0;  // pending: not sent yet, or being retried
};

// The jobs of the ticket's events (`events`: its history, in order).
DeliveryTally TallyDeliveries(const projections::NotificationQueue& queue, const std::vector<StoredEvent>& events) {
  DeliveryTally tally;
  std::set<std::string_view> told;
  for (const StoredEvent& stored : events) {
    queue.ForEachJobState(stored.seq, [&](std::string_view recipient, projections::JobState state) {
      switch (state) {
        case projections::JobState::kSent:
          ++tally.sent;
          told.insert(recipient);
          break;
        case projections::JobState::kFailed: ++tally.failed; break;
        case projections::JobState::kPending: ++tally.waiting; break;
      }
    });
  }
  tally.people_told = told.size();
  return tally;
}

std::string DeliveryHtml(const DeliveryTally& tally) {
  const auto count = [](size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
  };
  std::string html = "<h2>Who was told</h2>\n<p id=\"incident-deliveries\" data-people=\"" +
                     std::to_string(tally.people_told) + "\" data-sent=\"" + std::to_string(tally.sent) +
                     "\" data-failed=\"" + std::to_string(tally.failed) + "\" data-waiting=\"" +
                     std::to_string(tally.waiting) + "\">";
  if (tally.sent + tally.failed + tally.waiting == 0) {
    html += "Nobody subscribed to its systems has been mailed about it.";
  } else {
    html += count(tally.people_told, "person was", "people were") + " mailed about it (" +
            count(tally.sent, "mail", "mails") + " sent); " + count(tally.failed, "delivery", "deliveries") +
            " failed; " + count(tally.waiting, "mail", "mails") + " waiting to be sent.";
  }
  return html + "</p>\n";
}

std::string HiddenCsrf(const Principal& viewer) {
  if (!viewer.signed_in()) return "";
  return "<input type=\"hidden\" name=\"csrf_token\" value=\"" + HtmlEscape(viewer.csrf_token) + "\">";
}

std::string MicrosHtml(int64_t micros) { return TimeHtml(Instant{micros, 0}); }

std::string ReviewVersionHtml(const projections::ReviewVersion& version) {
  const proto::ReviewPayload& review = version.content;
  std::string html = "<dl class=\"facts review-content\">\n";
  const auto block = [&](std::string_view label, std::string_view field, const std::string& text) {
    html += "<dt>" + std::string(label) + "</dt><dd class=\"multiline\" data-review=\"" + std::string(field) + "\">" +
            (text.empty() ? std::string("<span class=\"hint\">(none)</span>") : HtmlEscape(text)) + "</dd>\n";
  };
  block("Summary", "summary", review.summary());
  block("Impact", "impact_summary", review.impact_summary());
  block("Root cause", "root_cause", review.root_cause());
  html += "<dt>Contributing factors</dt><dd data-review=\"contributing_factors\">";
  if (review.contributing_factors_size() == 0) {
    html += "<span class=\"hint\">(none)</span>";
  } else {
    html += "<ul>";
    for (const std::string& factor : review.contributing_factors()) html += "<li>" + HtmlEscape(factor) + "</li>";
    html += "</ul>";
  }
  html += "</dd>\n";
  block("Lessons", "lessons", review.lessons());
  html += "</dl>\n";
  return html;
}

std::string ReviewFormHtml(const Principal& viewer, const std::string& ticket, const projections::ReviewVersion* base,
                           uint32_t version) {
  const proto::ReviewPayload empty;
  const proto::ReviewPayload& review = base != nullptr ? base->content : empty;
  std::string factors;
  for (const std::string& factor : review.contributing_factors()) factors += factor + "\n";
  std::string html = "<form id=\"review-form\" class=\"submission\" method=\"post\" action=\"/reviews/" +
                     UrlEncodeComponent(ticket) + "\">\n";
  const auto area = [&](std::string_view name, std::string_view label, const std::string& value) {
    html += "<p><label for=\"review-" + std::string(name) + "\">" + std::string(label) + "</label>\n<textarea id=\"review-" +
            std::string(name) + "\" name=\"" + std::string(name) + "\" rows=\"3\">" + HtmlEscape(value) +
            "</textarea></p>\n";
  };
  area("summary", "Summary (required to publish)", review.summary());
  area("impact_summary", "Impact", review.impact_summary());
  area("root_cause", "Root cause (required to publish)", review.root_cause());
  area("contributing_factors", "Contributing factors (one per line)", factors);
  area("lessons", "Lessons", review.lessons());
  html += "<input type=\"hidden\" name=\"expected_version\" value=\"" + std::to_string(version) + "\">";
  html += HiddenCsrf(viewer);
  html += "<p><label class=\"choice\"><input type=\"checkbox\" name=\"publish\" value=\"true\"> Publish (the incident "
          "must be closed; subscribers are mailed)</label></p>\n";
  html += "<p><button type=\"submit\" class=\"primary\">Save review</button></p>\n</form>\n";
  return html;
}

std::string ItemRowHtml(const Principal& viewer, const projections::ActionItem& item, bool overdue, bool with_ticket) {
  std::string html = "<tr data-item=\"" + HtmlEscape(item.item) + "\"><td>" + HtmlEscape(item.item) + "</td>";
  if (with_ticket) {
    html += "<td><a href=\"/incidents/" + UrlEncodeComponent(item.ticket) + "\">" + HtmlEscape(item.ticket) + "</a></td>";
  }
  html += "<td class=\"item-title\">" + HtmlEscape(item.title) + "</td><td>" + HtmlEscape(item.owner) + "</td><td>" +
          (item.due.empty() ? std::string("—") : HtmlEscape(item.due)) + "</td><td class=\"item-status\"><span class=\"badge item-" +
          projections::ItemStatusName(item.status) + "\">" + projections::ItemStatusName(item.status) + "</span>";
  if (overdue) html += " <span class=\"badge item-overdue\">overdue</span>";
  html += "</td><td>" + (item.link.empty() ? std::string() : LinkHtml(item.link)) + "</td><td class=\"multiline\">" +
          HtmlEscape(item.note) + "</td>";
  if (viewer.Has(Role::kHelpdesk)) {
    html += "<td><form class=\"inline\" method=\"post\" action=\"/actions/" + UrlEncodeComponent(item.item) +
            "\"><label>Status <select name=\"status\">";
    for (const char* status : {"open", "done", "dropped"}) {
      html += "<option value=\"" + std::string(status) + "\"" +
              (status == std::string_view(projections::ItemStatusName(item.status)) ? " selected" : "") + ">" + status +
              "</option>";
    }
    html += "</select></label> <label>Note <input type=\"text\" name=\"note\" maxlength=\"8000\"></label>" +
            HiddenCsrf(viewer) + " <button type=\"submit\">Save</button></form></td>";
  }
  html += "</tr>\n";
  return html;
}

std::string ItemsTableHtml(const Principal& viewer, const std::vector<projections::ActionItem>& items,
                           const std::vector<bool>& overdue, bool with_ticket) {
  std::string html = "<table class=\"action-items\"><thead><tr><th scope=\"col\">Item</th>";
  if (with_ticket) html += "<th scope=\"col\">Incident</th>";
  html += "<th scope=\"col\">Title</th><th scope=\"col\">Owner</th><th scope=\"col\">Due</th><th scope=\"col\">State</th>"
          "<th scope=\"col\">Link</th><th scope=\"col\">Note</th>";
  if (viewer.Has(Role::kHelpdesk)) html += "<th scope=\"col\">Change</th>";
  html += "</tr></thead><tbody>\n";
  for (size_t i = 0; i < items.size(); ++i) html += ItemRowHtml(viewer, items[i], overdue[i], with_ticket);
  html += "</tbody></table>\n";
  return html;
}

std::string FollowUpHtml(const Principal& viewer, const projections::TicketState& state, const FollowUpView& view) {
  if (!view.enabled) return "";
  const bool helpdesk = viewer.Has(Role::kHelpdesk);
  std::vector<const projections::ReviewVersion*> shown;
  if (view.follow_up) {
    for (const projections::ReviewVersion& version : view.follow_up->versions) {
      if (helpdesk || version.published) shown.push_back(&version);
    }
  }
  std::string html = "<section id=\"review\" aria-labelledby=\"review-heading\">\n<h2 id=\"review-heading\">Post-incident review</h2>\n";
  if (shown.empty()) {
    html += "<p id=\"no-review\">No review yet.</p>\n";
  } else {
    const projections::ReviewVersion& current = *shown.back();
    const projections::ReviewVersion* published = view.follow_up->LatestPublished();
    html += "<p><span class=\"badge review-" + std::string(current.published ? "published" : "draft") + "\">" +
            (current.published ? "published" : "draft") + "</span> version " + std::to_string(current.version) +
            " by " + HtmlEscape(current.actor) + ", " + MicrosHtml(current.recorded_at_micros) + "</p>\n";
    if (published != nullptr) {
      const uint64_t through = published->content.reviewed_through_seq();
      html += "<p class=\"hint\" id=\"review-head\">Published version " + std::to_string(published->version) +
              " was written against the ledger through event " + std::to_string(through) + " (hash <code>" +
              HexEncode(published->content.reviewed_head_hash()) + "</code>).</p>\n";
      if (state.last_seq > through) {
        html += "<div class=\"notice notice-error\" id=\"review-stale\" role=\"note\"><p>Events were recorded after "
                "this review:</p><ul>";
        for (const projections::LaterChange& change : view.follow_up->later_changes) {
          if (change.seq <= through) continue;
          std::string fields;
          for (const std::string& field : change.fields) fields += (fields.empty() ? "" : ", ") + HtmlEscape(field);
          html += "<li>event " + std::to_string(change.seq) + " (" + EventTypeName(change.type) + ", " +
                  MicrosHtml(change.recorded_at_micros) + ")" + (fields.empty() ? "" : ": " + fields) + "</li>";
        }
        html += "</ul><p>The review predates them.</p></div>\n";
      }
    }
    html += ReviewVersionHtml(current);
    html += "<h3>Versions</h3>\n<table class=\"review-versions\"><thead><tr><th scope=\"col\">Version</th>"
            "<th scope=\"col\">State</th><th scope=\"col\">By</th><th scope=\"col\">Recorded</th>"
            "<th scope=\"col\">Written against</th></tr></thead><tbody>\n";
    for (const projections::ReviewVersion* version : shown) {
      html += "<tr><td>" + std::to_string(version->version) + " (event " + std::to_string(version->seq) + ")</td><td>" +
              (version->published ? "published" : "draft") + "</td><td>" + HtmlEscape(version->actor) + "</td><td>" +
              MicrosHtml(version->recorded_at_micros) + "</td><td>";
      if (version->published) {
        const std::string hash = HexEncode(version->content.reviewed_head_hash());
        html += "event " + std::to_string(version->content.reviewed_through_seq()) + ", <code title=\"" + hash + "\">" +
                hash.substr(0, 12) + "…</code>";
      } else {
        html += "—";
      }
      html += "</td></tr>\n";
    }
    html += "</tbody></table>\n";
    if (shown.size() > 1) {
      html += "<details><summary>Earlier versions</summary>\n";
      for (size_t i = 0; i + 1 < shown.size(); ++i) {
        html += "<h4>Version " + std::to_string(shown[i]->version) + "</h4>\n" + ReviewVersionHtml(*shown[i]);
      }
      html += "</details>\n";
    }
  }
  if (helpdesk) {
    const projections::ReviewVersion* base =
        view.follow_up && !view.follow_up->versions.empty() ? &view.follow_up->versions.back() : nullptr;
    html += std::string("<details") + (shown.empty() ? " open" : "") + "><summary>" +
            (shown.empty() ? "Write the review" : "Amend the review") + "</summary>\n" +
            ReviewFormHtml(viewer, state.ticket, base, view.follow_up ? view.follow_up->review_version() : 0) +
            "</details>\n";
  }
  html += "</section>\n<section id=\"action-items\" aria-labelledby=\"items-heading\">\n<h2 id=\"items-heading\">Action items</h2>\n";
  if (view.items.empty()) {
    html += "<p>No action items yet.</p>\n";
  } else {
    html += ItemsTableHtml(viewer, view.items, view.overdue, false);
  }
  if (helpdesk) {
    html += "<details><summary>Add an action item</summary>\n<form id=\"item-form\" class=\"submission\" method=\"post\" "
            "action=\"/actions/new/" + UrlEncodeComponent(state.ticket) + "\">\n"
            "<p><label for=\"item-title\">Title</label><input id=\"item-title\" name=\"title\" maxlength=\"200\" required></p>\n"
            "<p><label for=\"item-owner\">Owner (e-mail address)</label><input id=\"item-owner\" name=\"owner\" type=\"email\" required></p>\n"
            "<p><label for=\"item-due\">Due</label><input id=\"item-due\" name=\"due\" type=\"date\"></p>\n"
            "<p><label for=\"item-link\">Link (tracker)</label><input id=\"item-link\" name=\"link\" type=\"url\"></p>\n" +
            HiddenCsrf(viewer) + "<p><button type=\"submit\" class=\"primary\">Add</button></p>\n</form>\n</details>\n";
  }
  html += "</section>\n";
  return html;
}

// `head_seq`: the ledger's head when the page was read (at most what the
// state includes); incident.js follows the event stream from there.
std::string RenderIncident(const Principal& viewer, const projections::TicketState& state, const std::vector<StoredEvent>& events,
                           std::optional<uint64_t> recorded_seq, int64_t now_micros, uint64_t head_seq,
                           const FollowUpView& follow_ups, const DeliveryTally& deliveries) {
  const bool open = state.status == projections::TicketStatus::kOpen;
  std::string main = "<article id=\"incident\" data-ticket=\"" + HtmlEscape(state.ticket) + "\" data-head-seq=\"" +
                     std::to_string(head_seq) + "\">\n";
  if (recorded_seq) {
    main += "<p class=\"notice notice-ok\" role=\"status\">Recorded as event " + std::to_string(*recorded_seq) + ".</p>\n";
  }
  main += "<h1><span class=\"ticket\">" + HtmlEscape(state.ticket) + "</span> <span id=\"incident-title\">" +
          HtmlEscape(state.title) + "</span></h1>\n";
  main += "<p><span class=\"badge status-" + std::string(projections::StatusName(state.status)) + "\">" +
          (open ? "ongoing" : "closed") + "</span> <span class=\"badge severity-" +
          projections::SeverityName(state.severity) + "\">" + projections::SeverityName(state.severity) +
          "</span> <span id=\"incident-impact\" class=\"badge impact-" + projections::ImpactName(state.impact) +
          "\">impact: " + projections::ImpactName(state.impact) + "</span> <span id=\"incident-phase\" class=\"badge phase-" +
          projections::PhaseName(state) + "\">" + projections::PhaseName(state) + "</span></p>\n";
  main += "<dl class=\"facts\">\n";
  std::string systems;
  for (const std::string& system : state.systems) systems += (systems.empty() ? "" : ", ") + HtmlEscape(system);
  main += "<dt>Affected systems</dt><dd id=\"incident-systems\">" + systems + "</dd>\n";
  main += "<dt>Engineer responsible</dt><dd id=\"incident-engineer\">" + HtmlEscape(state.engineer) + "</dd>\n";
  const projections::Period& latest = state.periods.back();
  main += "<dt>Started</dt><dd>" + TimeHtml(latest.start) + "</dd>\n";
  main += "<dt>Ended</dt><dd>" + (latest.end ? TimeHtml(*latest.end) : std::string("ongoing")) + "</dd>\n";
  if (!state.link.empty()) main += "<dt>Link</dt><dd>" + LinkHtml(state.link) + "</dd>\n";
  // Fields without rules of their own in the ticket state, in table order.
  ingest::ForEachGivenValue(projections::OtherFields(state), [&main](const ingest::GivenValue& given) {
    main += "<dt>" + HtmlEscape(given.field->form_label) + "</dt><dd data-field=\"" + std::string(given.field->name) +
            "\">" + GivenValueHtml(given) + "</dd>\n";
  });
  main += "<dt>Version</dt><dd>" + std::to_string(state.version) + " (events " + std::to_string(state.opened_seq) +
          "–" + std::to_string(state.last_seq) + ")</dd>\n";
  main += "</dl>\n";
  if (!state.description.empty()) {
    main += "<h2>Description</h2>\n<p id=\"incident-description\" class=\"multiline\">" + HtmlEscape(state.description) + "</p>\n";
  }
  if (!state.last_note.empty()) {
    main += "<h2>Latest note</h2>\n<p class=\"multiline\">" + HtmlEscape(state.last_note) + "</p>\n";
  }
  main += "<p class=\"actions\">";
  const std::string ticket_query = UrlEncodeComponent(state.ticket);
  main += "<a class=\"button\" href=\"/submit?action=update&amp;ticket=" + ticket_query + "\">Update</a> ";
  main += open ? "<a class=\"button\" href=\"/submit?action=close&amp;ticket=" + ticket_query + "\">Close</a>"
               : "<a class=\"button\" href=\"/submit?action=reopen&amp;ticket=" + ticket_query + "\">Reopen</a>";
  main += " <a href=\"/api/v1/incidents/" + ticket_query + "\">JSON</a> <a href=\"/api/v1/incidents/" + ticket_query +
          "/events\">events as JSON</a></p>\n";

  main += "<h2>Outage periods</h2>\n<table class=\"periods\"><thead><tr><th scope=\"col\">Start</th><th scope=\"col\">End</th>"
          "<th scope=\"col\">Duration</th></tr></thead><tbody>\n";
  for (const projections::Period& period : state.periods) {
    const int64_t end = period.end ? period.end->unix_micros : now_micros;
    main += "<tr><td>" + TimeHtml(period.start) + "</td><td>" +
            (period.end ? TimeHtml(*period.end) : std::string("ongoing")) + "</td><td>" +
            DurationText(end - period.start.unix_micros) + (period.end ? "" : " so far") + "</td></tr>\n";
  }
  main += "</tbody></table>\n";
  main += DeliveryHtml(deliveries);
  main += FollowUpHtml(viewer, state, follow_ups);

  main += "<h2>History</h2>\n<p class=\"hint\">Every event of this ticket, in order, as recorded in the ledger "
          "(each hash chains to the one before it in the whole log; <a href=\"/api/v1/verify\">verify the chain</a>).</p>\n";
  main += "<table class=\"history\"><thead><tr><th scope=\"col\">Event</th><th scope=\"col\">Recorded</th>"
          "<th scope=\"col\">By</th><th scope=\"col\">What</th><th scope=\"col\">Changes</th><th scope=\"col\">Hash</th>"
          "</tr></thead><tbody>\n";
  for (const StoredEvent& stored : events) {
    const std::string hash = HexEncode(stored.hash);
    main += "<tr><td>" + std::to_string(stored.seq) + "</td><td>" + TimeHtml(Instant{stored.event.recorded_at_micros(), 0}) +
            "</td><td>" + HtmlEscape(stored.event.actor()) + "</td><td>" + EventTypeName(stored.event.type()) +
            "</td><td>" + PayloadHtml(stored.event) + "</td><td><code title=\"" + hash + "\">" + hash.substr(0, 12) +
            "…</code></td></tr>\n";
  }
  main += "</tbody></table>\n</article>\n";
  return Layout(viewer, state.ticket + " " + state.title, "", main, {"/static/incident.js"});
}

// ---------------------------------------------------------------- sign-in

constexpr size_t kNextBytesMax = 2048;

// Where to go after signing in: a path of this service, never another site
// ("//host", "/\\host" and absolute URLs fall back to the dashboard).
std::string SafeNext(std::string_view next) {
  if (next.empty() || next.size() > kNextBytesMax || next.front() != '/' || next.starts_with("//") ||
      next.starts_with("/\\")) {
    return "/";
  }
  for (const char c : next) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return "/";
  }
  return std::string(next);
}

HttpResponse SignInPage(const Principal& viewer, unsigned status, std::string_view next, std::string_view message,
                        bool open_mode) {
  std::string main = "<h1>Sign in</h1>\n";
  if (open_mode) {
    main += "<p class=\"notice notice-ok\">This service runs without an auth file: everyone who can reach it "
            "(this machine only) may read and submit. Nobody needs to sign in.</p>\n<p><a href=\"/\">To the "
            "dashboard</a></p>\n";
    return HtmlAnswer(status, Layout(viewer, "Sign in", "", main, {}));
  }
  if (!message.empty()) {
    main += "<p class=\"notice notice-error\" role=\"alert\">";
    AppendHtmlEscaped(&main, message);
    main += "</p>\n";
  }
  main += "<form class=\"signin\" method=\"post\" action=\"/signin\">\n"
          "<div class=\"field\"><label for=\"f-token\">Access token</label>\n"
          "<input id=\"f-token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\n"
          "<p class=\"hint\">The token your administrator gave you. The browser then keeps a session for 12 hours; "
          "the token itself is not stored.</p></div>\n"
          "<input type=\"hidden\" name=\"next\" value=\"" +
          HtmlEscape(SafeNext(next)) + "\">\n<p><button type=\"submit\" class=\"primary\">Sign in</button></p>\n</form>\n";
  return HtmlAnswer(status, Layout(viewer, "Sign in", "", main, {}));
}

}  // namespace

HttpResponse Web::Refusal(const HttpRequest& request, const Error& error) const {
  const bool open_mode = deps_.access == nullptr || deps_.access->open_mode();
  if (error.code == ErrorCode::kUnauthenticated) {
    const std::string next = request.method == "GET" || request.method == "HEAD" ? request.target : "/";
    return SignInPage(Principal{}, 401, next, error.message, open_mode);
  }
  // A locked-out address (the router answers 429 with Retry-After).
  const bool locked_out = error.field == kLockedOutField;
  const std::string_view heading = locked_out ? "Too many refused credentials" : "Not allowed";
  std::string main = "<h1>" + std::string(heading) + "</h1>\n<p class=\"notice notice-error\" role=\"alert\">";
  AppendHtmlEscaped(&main, error.message);
  main += "</p>\n<p><a href=\"/\">Back to the dashboard</a> · <a href=\"/signin\">Sign in with another token</a></p>\n";
  return HtmlAnswer(locked_out ? 429 : 403, Layout(Principal{}, heading, "", main, {}));
}

PageAnswers Web::Pages() const {
  return PageAnswers{
      .refusal = [this](const HttpRequest& request, const Error& error) { return Refusal(request, error); },
      .method_not_allowed = [](const Principal& principal,
                               std::string_view allow) { return PageMethodNotAllowed(principal, allow); },
  };
}

namespace {

// GET /api/v1/availability?days=90&timezone=Europe/Berlin[&system=mail][&end_date=YYYY-MM-DD]
// {"timezone","days","now","systems":[{"system","days":[{"date","start","end",
//   "downtime_seconds","availability","tickets","planned_seconds",
//   "degraded_seconds","windows"}]}],
//  "incidents":{"INC-1":{"title","severity","impact","phase","status","periods":[{"started_at","ended_at"}]}},
//  "windows":{"MNT-1":{"title","status","started_at","ended_at"}}}
// Every system named by a current incident, or by a maintenance window run
// on one of the days, by name, unless `system` picks one.
struct AvailabilityRequest {
  int days = kAvailabilityDaysDefault;
  std::string timezone = "UTC";
  std::string end_date;  // empty: the last day is today in the zone
  std::optional<std::string> system;
  std::string key;  // the parameters and whether internal incidents are shown, for the answer cache
  Principal reader;  // whose answer: internal incidents are named only to those who see them (visibility.h)
};

Result<AvailabilityRequest> ParseAvailabilityRequest(std::string_view query_text, const Principal& reader) {
  Result<Query> query = ParseQuery(query_text, {"days", "timezone", "system", "end_date"});
  if (!query) return query.error();
  AvailabilityRequest request;
  if (const auto found = query->find("days"); found != query->end()) {
    const std::optional<uint64_t> parsed = ParseUnsigned(found->second);
    if (!parsed || *parsed < 1 || *parsed > static_cast<uint64_t>(kAvailabilityDaysMax)) {
      return InvalidArgument("days", "days must be a whole number from 1 to " + std::to_string(kAvailabilityDaysMax));
    }
    request.days = static_cast<int>(*parsed);
  }
  if (const auto found = query->find("timezone"); found != query->end()) request.timezone = found->second;
  if (const auto found = query->find("end_date"); found != query->end()) request.end_date = found->second;
  if (const auto found = query->find("system"); found != query->end()) request.system = found->second;
  request.key = std::to_string(request.days) + '\0' + request.timezone + '\0' + request.end_date + '\0' +
                (request.system ? "=" + *request.system : std::string("*")) + '\0' +
                (SeesInternal(reader) ? "internal" : "everyone");
  request.reader = reader;
  return request;
}

// One rendered answer and how long it holds.
struct AvailabilityAnswer {
  std::shared_ptr<const std::string> body;
  // The same bytes gzip-compressed (null when compressing failed): 40
  // systems over 90 days are about 1.5 MB of JSON and compress tenfold.
  std::shared_ptr<const std::string> gzip_body;
  std::string etag;
  uint64_t applied_seq = 0;  // the read model's seq it was computed at
  int64_t valid_until_micros = 0;  // INT64_MAX: until the next event
};

// The answer changes when an event is applied, when the last day shown ends
// (the days move on, or the last one is complete), and, while an incident
// shown is ongoing, as its time runs: then it holds kOngoingFreshness.
constexpr int64_t kOngoingFreshnessMicros = 10'000'000;
constexpr size_t kAvailabilityAnswersMax = 64;

Result<AvailabilityAnswer> ComputeAvailability(const projections::ReadModel& read_model,
                                               const AvailabilityRequest& request, const StopToken& stop) {
  const int64_t now = NowMicros();
  Result<AvailabilityAnswer> answer = MakeError(ErrorCode::kUnavailable, "not computed");
  read_model.ReadFiguresAt([&](const projections::TicketStore& store, const projections::MaintenanceStore& maintenance,
                                const Head& head) {
    const uint64_t applied_seq = head.seq;
    std::vector<std::string> systems;
    // Systems only a maintenance window names (none of their incidents
    // does): shown when a run falls on one of the days.
    std::set<std::string> maintenance_only;
    if (request.system) {
      systems.push_back(*request.system);
    } else {
      if (!store.SystemsInUse(&systems)) {
        std::set<std::string> named;
        for (const auto& [number, state] : store.all()) named.insert(state.systems.begin(), state.systems.end());
        systems.assign(named.begin(), named.end());
      }
      // One row per system, whatever case or alias its incidents use.
      systems = projections::DistinctSystems(store.names(), systems);
      std::set<std::string> named(systems.begin(), systems.end());
      for (const auto& [number, window] : maintenance.all()) {
        if (!window.started_at) continue;
        for (const std::string& system : window.systems) {
          const std::string shown = store.names().Display(system);
          if (named.insert(shown).second) maintenance_only.insert(shown);
        }
      }
      systems.assign(named.begin(), named.end());
    }
    if (systems.size() > kAvailabilitySystemsMax) systems.resize(kAvailabilitySystemsMax);
    Result<std::vector<projections::SystemDays>> figures = projections::DailyAvailabilityOfSystems(
        store, maintenance,
        projections::DailyQuery{
            .system = {}, .timezone = request.timezone, .end_date = request.end_date, .days = request.days, .now_micros = now},
        systems, stop);
    if (!figures) {
      answer = figures.error();
      return;
    }
    std::erase_if(*figures, [&](const projections::SystemDays& system) {
      return maintenance_only.contains(system.system) &&
             std::all_of(system.days.begin(), system.days.end(),
                         [](const projections::DayFigure& day) { return day.windows.empty(); });
    });
    JsonWriter json;
    json.BeginObject();
    json.Key("timezone").String(request.timezone);
    json.Key("days").Int(request.days);
    json.Key("now").String(FormatRfc3339Utc(now));
    json.Key("head_seq").Uint(head.seq);
    json.Key("head_hash").String(HexEncode(head.hash));
    json.Key("systems").BeginArray();
    std::set<std::string> tickets;
    std::set<std::string> windows;
    int64_t last_day_end = INT64_MAX;
    for (const projections::SystemDays& system : *figures) {
      json.BeginObject().Key("system").String(system.system).Key("days").BeginArray();
      for (const projections::DayFigure& day : system.days) {
        json.BeginObject();
        json.Key("date").String(day.date);
        json.Key("start").String(FormatRfc3339Utc(day.start_micros));
        json.Key("end").String(FormatRfc3339Utc(day.end_micros));
        json.Key("downtime_seconds").Int(day.downtime_seconds);
        json.Key("availability").Double(day.availability);
        json.Key("tickets").BeginArray();
        for (const std::string& ticket : day.tickets) {
          // The day's figures count every incident; a reader names only
          // those it may see.
          const projections::TicketState* state = store.Find(ticket);
          if (state != nullptr && !MaySee(request.reader, *state)) continue;
          json.String(ticket);
          tickets.insert(ticket);
        }
        json.EndArray();
        json.Key("planned_seconds").Int(day.planned_seconds);
        json.Key("degraded_seconds").Int(day.degraded_seconds);
        json.Key("windows").BeginArray();
        for (const std::string& window : day.windows) {
          json.String(window);
          windows.insert(window);
        }
        json.EndArray().EndObject();
      }
      json.EndArray().EndObject();
      if (!system.days.empty()) last_day_end = system.days.back().end_micros;
    }
    json.EndArray();
    bool ongoing = false;
    json.Key("incidents").BeginObject();
    for (const std::string& ticket : tickets) {
      const projections::TicketState* state = store.Find(ticket);
      if (state == nullptr) continue;
      json.Key(ticket).BeginObject();
      json.Key("title").String(state->title);
      json.Key("severity").String(projections::SeverityName(state->severity));
      json.Key("impact").String(projections::ImpactName(state->impact));
      json.Key("phase").String(projections::PhaseName(*state));
      json.Key("status").String(projections::StatusName(state->status));
      json.Key("periods").BeginArray();
      for (const projections::Period& period : state->periods) {
        json.BeginObject().Key("started_at").String(FormatRfc3339(period.start)).Key("ended_at");
        if (period.end) {
          json.String(FormatRfc3339(*period.end));
        } else {
          json.Null();
          ongoing = true;
        }
        json.EndObject();
      }
      json.EndArray().EndObject();
    }
    json.EndObject();
    json.Key("windows").BeginObject();
    for (const std::string& name : windows) {
      const projections::MaintenanceWindow* window = maintenance.Find(name);
      if (window == nullptr) continue;
      if (window->status == projections::MaintenanceStatus::kInProgress) ongoing = true;
      json.Key(name).BeginObject();
      json.Key("title").String(window->title);
      json.Key("status").String(projections::MaintenanceStatusName(window->status));
      json.Key("started_at").String(window->started_at ? FormatRfc3339(*window->started_at) : std::string());
      json.Key("ended_at");
      if (window->ended_at) {
        json.String(FormatRfc3339(*window->ended_at));
      } else {
        json.Null();
      }
      json.EndObject();
    }
    json.EndObject();
    json.EndObject();
    int64_t valid_until = INT64_MAX;
    if (last_day_end > now) valid_until = last_day_end;
    if (ongoing) valid_until = std::min(valid_until, now + kOngoingFreshnessMicros);
    std::string body = json.Take();
    Result<std::string> compressed = GzipCompress(body);
    answer = AvailabilityAnswer{.body = std::make_shared<const std::string>(std::move(body)),
                                .gzip_body = compressed ? std::make_shared<const std::string>(std::move(*compressed))
                                                        : nullptr,
                                .etag = "\"availability-" + std::to_string(applied_seq) + "-" + std::to_string(now) + "\"",
                                .applied_seq = applied_seq,
                                .valid_until_micros = valid_until};
  });
  return answer;
}

HttpResponse AvailabilityResponse(const AvailabilityAnswer& answer, const HttpRequest& request) {
  const bool gzip = answer.gzip_body != nullptr && AcceptsGzip(request.accept_encoding);
  // One ETag per encoding, as for the assets.
  const std::string etag = gzip ? answer.etag.substr(0, answer.etag.size() - 1) + "-gzip\"" : answer.etag;
  HttpResponse response = RevalidatedAnswer(request, etag, gzip);
  if (response.status != 304) response.shared_body = gzip ? answer.gzip_body : answer.body;
  return response;
}

}  // namespace

// Rendered availability answers by their parameters (see AvailabilityAnswer
// for how long each holds). Thread-safe.
class AvailabilityCache {
 public:
  std::optional<AvailabilityAnswer> Find(const std::string& key, uint64_t applied_seq, int64_t now_micros) {
    std::lock_guard lock(mutex_);
    const auto found = answers_.find(key);
    if (found == answers_.end()) return std::nullopt;
    const AvailabilityAnswer& answer = found->second;
    if (answer.applied_seq != applied_seq || now_micros >= answer.valid_until_micros) return std::nullopt;
    return answer;
  }
  void Store(const std::string& key, const AvailabilityAnswer& answer) {
    std::lock_guard lock(mutex_);
    if (answers_.size() >= kAvailabilityAnswersMax && !answers_.contains(key)) answers_.clear();
    answers_[key] = answer;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, AvailabilityAnswer> answers_;
};

Web::Web(WebDependencies dependencies)
    : deps_(dependencies), availability_(std::make_shared<AvailabilityCache>()) {}

namespace {

// GET /imports: every run's counts and refused rows, each with what its
// author typed; all of it text (escaped).
std::string ImportsHtml(const std::vector<ImportRunView>& runs, bool polled) {
  std::string main = "<h1>Sheet imports</h1>\n";
  if (!polled) {
    return main + "<p class=\"hint\">No form-responses sheet is polled here (serve --poll-csv).</p>\n";
  }
  main += "<p class=\"hint\">The sheet's imports since the service started, newest first; refused rows are "
          "recorded in the ledger and their authors mailed once. <a href=\"/api/v1/imports\">JSON</a></p>\n";
  if (runs.empty()) main += "<p>No import yet.</p>\n";
  for (const ImportRunView& run : runs) {
    main += "<section class=\"import-run\"><h2>" + TimeHtml(Instant{run.at_micros, 0}) + " · ";
    AppendHtmlEscaped(&main, run.file);
    main += "</h2>\n";
    if (!run.file_error.empty()) {
      main += "<p class=\"notice notice-error\">The file was not imported: " + HtmlEscape(run.file_error) + "</p>\n";
    }
    main += "<p>rows read " + std::to_string(run.rows_read) + ", appended " + std::to_string(run.appended) +
            ", already present " + std::to_string(run.already_present) + ", rejected " +
            std::to_string(run.rejected) + "</p>\n";
    if (run.refused.empty()) {
      main += "</section>\n";
      continue;
    }
    main += "<table class=\"refused\"><thead><tr><th>Row</th><th>Column</th><th>Rule</th><th>Author</th>"
            "<th>Told</th><th>What the row says</th></tr></thead><tbody>\n";
    for (const RefusedRowView& row : run.refused) {
      main += "<tr><td>" + std::to_string(row.row) + "</td><td>";
      if (!row.column.empty()) main += HtmlEscape(row.column) + " (" + HtmlEscape(row.column_letters) + ")";
      main += "</td><td>" + HtmlEscape(row.rule) + "</td><td>" + HtmlEscape(row.author) + "</td><td>";
      if (row.told()) {
        main += "yes";
      } else if (row.mail) {
        main += std::string("no (mail ") + projections::JobStateName(*row.mail) + ")";
      } else {
        main += row.seq == 0 ? "no (not recorded)" : "no (no valid address)";
      }
      main += "</td><td>";
      if (!row.cells.empty()) {
        main += "<dl class=\"cells\">";
        for (const auto& [column, text] : row.cells) {
          main += "<dt>" + HtmlEscape(column) + "</dt><dd>" + HtmlEscape(text) + "</dd>";
        }
        main += "</dl>";
      }
      main += "</td></tr>\n";
    }
    main += "</tbody></table></section>\n";
  }
  return main;
}

// ---------------------------------------------------------------- the systems catalog

// A field of the catalog's forms (POST /api/v1/systems).
struct SystemFormField {
  std::string_view name;
  std::string_view label;
  bool required;
  std::string_view hint;
};

struct SystemForm {
  std::string_view action;  // the API's `action`
  std::string_view heading;
  std::string_view lead;
  std::string_view button;
  std::array<SystemFormField, 4> fields;  // an empty name ends the list
};

constexpr std::array<SystemForm, 4> kSystemForms = {{
    {"define", "Define a system", "A name incidents may use, with its group (a site, a team), owner and description.",
     "Define",
     {{{"name", "Name", true, "As it should be shown, e.g. E-mail. Case never matters when it is matched."},
       {"group", "Group", false, "Systems of a group are offered together and can be filtered and subscribed to as one."},
       {"owner", "Owner", false, "The e-mail address of the team or person responsible."},
       {"description", "Description", false, ""}}}},
    {"update", "Update a system", "The fields filled in replace the system's; empty ones stay as they are.", "Update",
     {{{"name", "Name", true, "The system to change."},
       {"group", "Group", false, ""},
       {"owner", "Owner", false, ""},
       {"description", "Description", false, ""}}}},
    {"alias", "Merge a spelling into a system",
     "From now on incidents and maintenance windows that name the spelling count for the system: this changes "
     "the figures \"as corrected\" (downtime, availability, rows, filters and subscriptions), also for incidents "
     "recorded before; figures \"as known\" at an earlier moment stay as they were. Incidents keep the spelling "
     "they were written with.",
     "Merge",
     {{{"alias", "Spelling", true, "The spelling to merge, e.g. Mail."},
       {"name", "Into the system", true, "The catalog's name it stands for, e.g. E-mail."},
       {},
       {}}}},
    {"retire", "Retire a system",
     "A retired system is no longer offered for new incidents; its past incidents and figures stay.", "Retire",
     {{{"name", "Name", true, "The system to retire."}, {}, {}, {}}}},
}};

// GET /systems: the catalog's table (filled by systems.js from
// GET /api/v1/systems) and, for admins, the forms that change it (posted
// by systems.js to POST /api/v1/systems). No user text is rendered here.
std::string SystemsHtml(const Principal& viewer) {
  std::string main = "<h1>Systems</h1>\n";
  main += "<p class=\"lead\">The catalog of systems incidents name: one system whatever the case it is written in, "
          "and whatever spelling has been merged into it. Figures, the dashboard's rows and filters, the feed, the "
          "calendar and subscriptions go by it. <a href=\"/api/v1/systems\">JSON</a></p>\n";
  main += "<p id=\"systems-error\" class=\"notice notice-error\" role=\"alert\" hidden></p>\n";
  main += "<noscript><p class=\"notice\">This page needs JavaScript; the catalog is also "
          "<a href=\"/api/v1/systems\">plain JSON</a>.</p></noscript>\n";
  main += "<table id=\"system-table\" class=\"incidents systems\">\n<caption class=\"visually-hidden\">Every system of "
          "the catalog, by group</caption>\n<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Group</th>"
          "<th scope=\"col\">Owner</th><th scope=\"col\">Description</th><th scope=\"col\">Merged spellings</th>"
          "<th scope=\"col\">Retired</th></tr></thead>\n<tbody></tbody>\n</table>\n";
  if (!viewer.Has(Role::kAdmin)) {
    main += "<p class=\"hint\" id=\"systems-read-only\">Only an administrator changes the catalog.</p>\n";
    return main;
  }
  main += "<datalist id=\"catalog-names\"></datalist>\n<div class=\"system-forms\">\n";
  for (const SystemForm& form : kSystemForms) {
    const std::string action(form.action);
    main += "<section class=\"system-form-section\" aria-labelledby=\"heading-" + action + "\">\n<h2 id=\"heading-" +
            action + "\">" + std::string(form.heading) + "</h2>\n";
    main += "<p class=\"hint" + std::string(action == "alias" ? " alias-warning" : "") + "\">" +
            HtmlEscape(form.lead) + "</p>\n";
    main += "<form id=\"system-form-" + action + "\" class=\"submission system-form\" data-action=\"" + action +
            "\" novalidate>\n";
    for (const SystemFormField& field : form.fields) {
      if (field.name.empty()) break;
      const std::string name(field.name);
      const std::string id = "sys-" + action + "-" + name;
      main += "<div class=\"field field-" + name + (field.required ? " required" : "") + "\">\n<label for=\"" + id +
              "\">" + std::string(field.label) + "</label>\n";
      if (name == "description") {
        main += "<textarea id=\"" + id + "\" name=\"" + name + "\" rows=\"2\"></textarea>\n";
      } else {
        // A name that must exist is picked from the catalog.
        const bool existing = name == "name" && action != "define";
        main += "<input id=\"" + id + "\" name=\"" + name + "\" type=\"text\" autocomplete=\"off\"" +
                (existing ? " list=\"catalog-names\"" : "") + (field.required ? " required" : "") + ">\n";
      }
      if (!field.hint.empty()) main += "<p class=\"hint\">" + std::string(field.hint) + "</p>\n";
      main += "</div>\n";
    }
    main += "<p class=\"notice notice-error form-error\" role=\"alert\" hidden></p>\n"
            "<p class=\"notice notice-ok form-result\" role=\"status\" hidden></p>\n"
            "<p><button type=\"submit\" class=\"primary\">" +
            std::string(form.button) + "</button></p>\n</form>\n</section>\n";
  }
  main += "</div>\n";
  return main;
}

class WebHandlers {
 public:
  WebHandlers(const WebDependencies& deps, const StaticAssets& assets, const Principal& principal)
      : deps_(deps), assets_(assets), principal_(principal) {}

  HttpResponse Dashboard(std::string_view query_text) {
    // The range and the filters live in the URL (from, to, range, rows, q,
    // system); dashboard.js reads them. Unknown parameters are refused here
    // too, as in the API.
    Result<Query> query = ParseQuery(query_text, {"from", "to", "range", "rows", "q", "system"});
    if (!query) return ErrorPage(principal_, 400, "Bad dashboard address", query.error().message);
    return HtmlAnswer(200, Layout(principal_, "Dashboard", "/", kDashboardMain,
                                  {"/static/timeline.js", "/static/dashboard.js", "/feed.atom"}));
  }

  HttpResponse FormPage(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"action", "ticket"});
    if (!query) return ErrorPage(principal_, 400, "Bad form address", query.error().message);
    FormState state;
    for (const auto& [name, value] : *query) state.values[name] = value;
    return HtmlAnswer(200, RenderForm(principal_, state, KnownSystems()));
  }

  void SubmitForm(const HttpRequest& request, Respond respond) {
    if (MediaType(request.content_type) != "application/x-www-form-urlencoded") {
      return respond(ErrorPage(principal_, 415, "Unsupported form encoding",
                               "The form posts application/x-www-form-urlencoded; JSON goes to /api/v1/submissions."));
    }
    FormState state;
    std::optional<std::vector<std::pair<std::string, std::string>>> pairs = DecodePairs(request.body, kFormFieldsMax);
    if (!pairs) {
      state.error = InvalidArgument("", "the form body is malformed (bad %-escape or too many fields)");
      return respond(HtmlAnswer(400, RenderForm(principal_, state, KnownSystems())));
    }
    std::string offset = "Z";
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& [name, value] : *pairs) {
      // Shown again on an error exactly as typed; repeated names are refused
      // by the parser below.
      if (name == "csrf_token") continue;  // checked before this handler runs (auth.h)
      state.values[name] = value;
      if (name == "utc_offset") {
        if (IsOffset(value)) offset = value;
        continue;
      }
      fields.emplace_back(name, value);
    }
    for (auto& [name, value] : fields) {
      const ingest::PayloadField* payload_field = ingest::FindPayloadField(name);
      if (payload_field != nullptr && payload_field->kind == ingest::FieldKind::kTime) value = WithOffset(value, offset);
    }
    // Re-encoded so that the form's fields pass exactly the checks of any
    // other form body (ingest::ParseFormSubmission).
    std::string body;
    for (const auto& [name, value] : fields) {
      if (!body.empty()) body += '&';
      body += UrlEncodeComponent(name) + "=" + UrlEncodeComponent(value);
    }
    Result<ingest::Command> command = ingest::ParseFormSubmission(body);
    std::vector<FormSystem> systems = KnownSystems();
    if (!command) {
      state.error = command.error();
      return respond(HtmlAnswer(StatusFor(command.error().code), RenderForm(principal_, state, systems)));
    }
    command->actor = principal_.RecordedActor(command->actor, ingest::kAnonymousActor);
    deps_.processor->SubmitAsync(
        std::move(*command),
        [respond = std::move(respond), state = std::move(state), systems = std::move(systems),
         viewer = principal_](Result<ingest::SubmissionResult> result) mutable {
          if (!result) {
            state.error = result.error();
            return respond(HtmlAnswer(StatusFor(result.error().code), RenderForm(viewer, state, systems)));
          }
          // Post/Redirect/Get: a reload of the result does not post again.
          const std::string location =
              "/incidents/" + UrlEncodeComponent(result->ticket) + "?recorded=" + std::to_string(result->seq);
          HttpResponse response = HtmlAnswer(303, "<!doctype html><title>Recorded</title><p>Recorded: <a href=\"" +
                                                      HtmlEscape(location) + "\">" + HtmlEscape(result->ticket) +
                                                      "</a></p>\n");
          response.headers.emplace_back("Location", location);
          respond(std::move(response));
        });
  }

  std::string MaintenanceWindowsHtml() const {
    std::string html;
    deps_.read_model->ReadProjection<projections::MaintenanceProjection>(
        [&](const projections::MaintenanceProjection& projection, uint64_t) {
          html = MaintenanceListHtml(projection.store());
        });
    return html;
  }

  HttpResponse MaintenancePage(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"action", "window", "recorded"});
    if (!query) return ErrorPage(principal_, 400, "Bad form address", query.error().message);
    FormState state;
    std::string recorded;
    for (const auto& [name, value] : *query) {
      if (name == "recorded") {
        recorded = value;
      } else {
        state.values[name] = value;
      }
    }
    return HtmlAnswer(200, RenderMaintenanceForm(principal_, state, recorded, MaintenanceWindowsHtml()));
  }

  // POST /maintenance: the form's fields through POST /api/v1/maintenance's
  // parser (ingest::ParseMaintenanceForm); 303 back to the page, or the form
  // again with the error next to the field it names.
  void SubmitMaintenanceForm(const HttpRequest& request, Respond respond) {
    if (deps_.maintenance == nullptr) {
      return respond(ErrorPage(principal_, 503, "Maintenance unavailable", "This service records no maintenance."));
    }
    if (MediaType(request.content_type) != "application/x-www-form-urlencoded") {
      return respond(ErrorPage(principal_, 415, "Unsupported form encoding",
                               "The form posts application/x-www-form-urlencoded; JSON goes to /api/v1/maintenance."));
    }
    FormState state;
    std::optional<std::vector<std::pair<std::string, std::string>>> pairs = DecodePairs(request.body, kFormFieldsMax);
    if (!pairs) {
      state.error = InvalidArgument("", "the form body is malformed (bad %-escape or too many fields)");
      return respond(HtmlAnswer(400, RenderMaintenanceForm(principal_, state, "", MaintenanceWindowsHtml())));
    }
    std::string offset = "Z";
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& [name, value] : *pairs) {
      if (name == "csrf_token") continue;  // checked before this handler runs (auth.h)
      state.values[name] = value;
      if (name == "utc_offset") {
        if (IsOffset(value)) offset = value;
        continue;
      }
      // A field left empty is a field not given (the form sends them all).
      if (value.empty() && name != "action") continue;
      fields.emplace_back(name, value);
    }
    for (auto& [name, value] : fields) {
      if (name == "starts_at" || name == "ends_at" || name == "at") value = WithOffset(value, offset);
    }
    std::string body;
    for (const auto& [name, value] : fields) {
      if (!body.empty()) body += '&';
      body += UrlEncodeComponent(name) + "=" + UrlEncodeComponent(value);
    }
    Result<ingest::MaintenanceCommand> command = ingest::ParseMaintenanceForm(body);
    if (!command) {
      state.error = command.error();
      return respond(HtmlAnswer(StatusFor(command.error().code),
                                RenderMaintenanceForm(principal_, state, "", MaintenanceWindowsHtml())));
    }
    command->actor = principal_.RecordedActor(command->actor, ingest::kAnonymousActor);
    deps_.maintenance->SubmitAsync(
        std::move(*command), [respond = std::move(respond), state = std::move(state), viewer = principal_,
                              read_model = deps_.read_model](Result<ingest::MaintenanceResult> result) mutable {
          if (!result) {
            state.error = result.error();
            std::string windows;
            read_model->ReadProjection<projections::MaintenanceProjection>(
                [&](const projections::MaintenanceProjection& projection, uint64_t) {
                  windows = MaintenanceListHtml(projection.store());
                });
            return respond(HtmlAnswer(StatusFor(result.error().code), RenderMaintenanceForm(viewer, state, "", windows)));
          }
          // Post/Redirect/Get: a reload of the result does not post again.
          const std::string recorded = result->window + " (version " + std::to_string(result->version) + ")";
          const std::string location = "/maintenance?recorded=" + UrlEncodeComponent(recorded);
          HttpResponse response = HtmlAnswer(303, "<!doctype html><title>Recorded</title><p>Recorded: <a href=\"" +
                                                      HtmlEscape(location) + "\">" + HtmlEscape(result->window) +
                                                      "</a></p>\n");
          response.headers.emplace_back("Location", location);
          respond(std::move(response));
        });
  }

  HttpResponse SignInForm(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"next"});
    if (!query) return ErrorPage(principal_, 400, "Bad sign-in address", query.error().message);
    const std::string next = query->contains("next") ? query->at("next") : "/";
    return SignInPage(principal_, 200, next, "", OpenMode());
  }

  // POST /signin (token, next): a session cookie and 303 to `next`.
  HttpResponse SignIn(const HttpRequest& request) {
    if (OpenMode()) return SignInPage(principal_, 200, "/", "", true);
    if (MediaType(request.content_type) != "application/x-www-form-urlencoded") {
      return SignInPage(principal_, 415, "/", "The sign-in form posts application/x-www-form-urlencoded.", false);
    }
    std::optional<std::vector<std::pair<std::string, std::string>>> pairs = DecodePairs(request.body, kFormFieldsMax);
    if (!pairs) return SignInPage(principal_, 400, "/", "The sign-in form's body is malformed.", false);
    std::string token;
    std::string next = "/";
    for (const auto& [name, value] : *pairs) {
      if (name == "token") token = value;
      if (name == "next") next = value;
    }
    if (!token.empty()) {
      if (const std::optional<std::chrono::seconds> left = deps_.access->LockedOutFor(request.client_address)) {
        HttpResponse locked = SignInPage(principal_, 429, next,
                                         "Too many refused sign-ins from this address: try again in " +
                                             std::to_string(left->count()) + " seconds.",
                                         false);
        locked.headers.emplace_back("Retry-After", std::to_string(left->count()));
        return locked;
      }
    }
    std::optional<NewSession> session = deps_.access->SignIn(token, request.client_address);
    if (!session) {
      return SignInPage(principal_, 401, next, token.empty() ? "Enter your access token." : "That token is not valid.",
                        false);
    }
    const std::string location = SafeNext(next);
    HttpResponse response = HtmlAnswer(303, "<!doctype html><title>Signed in</title><p>Signed in: <a href=\"" +
                                                HtmlEscape(location) + "\">continue</a></p>\n");
    response.headers.emplace_back("Location", location);
    response.headers.emplace_back("Set-Cookie",
                                  AccessControl::SessionCookieHeader(session->cookie_value, ServedOverHttps(request)));
    return response;
  }

  // POST /signout: the session ends here and in the browser.
  HttpResponse SignOut(const HttpRequest& request) {
    if (deps_.access != nullptr) deps_.access->SignOut(request);
    HttpResponse response = HtmlAnswer(303, "<!doctype html><title>Signed out</title><p>Signed out: <a "
                                            "href=\"/signin\">sign in again</a></p>\n");
    response.headers.emplace_back("Location", "/signin");
    response.headers.emplace_back("Set-Cookie", AccessControl::ClearedCookieHeader(ServedOverHttps(request)));
    return response;
  }

  HttpResponse IncidentPage(std::string_view ticket_text, std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"recorded"});
    if (!query) return ErrorPage(principal_, 400, "Bad incident address", query.error().message);
    std::optional<uint64_t> recorded;
    if (const auto found = query->find("recorded"); found != query->end()) recorded = ParseUnsigned(found->second);
    std::optional<std::string> decoded = ingest::PercentDecode(ticket_text);
    Result<std::string> ticket = decoded ? ingest::NormalizeTicket(*decoded) : Result<std::string>(InvalidArgument("ticket", ""));
    if (!ticket) return ErrorPage(principal_, 404, "No such incident", "Ticket numbers look like INC-42.");
    const uint64_t head_seq = deps_.ledger->head().seq;
    std::optional<projections::TicketState> state;
    deps_.read_model->Read([&](const projections::TicketStore& store, uint64_t) {
      if (const projections::TicketState* found = store.Find(*ticket)) state = *found;
    });
    if (!state || !MaySee(principal_, *state)) {
      return ErrorPage(principal_, 404, "No such incident", "There is no incident " + *ticket + ".");
    }
    Result<std::vector<StoredEvent>> events = deps_.ledger->ReadTicket(*ticket);
    if (!events) return ErrorPage(principal_, StatusFor(events.error().code), "Cannot read the history", events.error().message);
    const int64_t now = NowMicros();
    FollowUpView view;
    if (deps_.followups != nullptr) {
      view.enabled = true;
      deps_.read_model->ReadProjection<projections::FollowUpProjection>(
          [&](const projections::FollowUpProjection& projection, uint64_t) {
            const projections::FollowUpState& follow_ups = projection.state();
            if (const projections::TicketFollowUp* found = follow_ups.FindTicket(*ticket)) view.follow_up = *found;
            for (const projections::ActionItem* item : follow_ups.ItemsOf(*ticket)) {
              view.items.push_back(*item);
              view.overdue.push_back(projections::IsOverdue(*item, now, *deps_.zone));
            }
          });
    }
    DeliveryTally deliveries;
    deps_.read_model->ReadNotifications([&](const projections::NotificationQueue& queue, uint64_t) {
      deliveries = TallyDeliveries(queue, *events);
    });
    return HtmlAnswer(200, RenderIncident(principal_, *state, *events, recorded, now, head_seq, view, deliveries));
  }

  // GET /imports: the sheet's imports (imports_api.h).
  HttpResponse ImportsPage(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {});
    if (!query) return ErrorPage(principal_, 400, "Bad address", query.error().message);
    const bool polled = deps_.imports != nullptr && deps_.imports->runs;
    const std::vector<ImportRunView> runs = polled ? CollectImports(*deps_.imports) : std::vector<ImportRunView>{};
    return HtmlAnswer(200, Layout(principal_, "Sheet imports", "/imports", ImportsHtml(runs, polled), {}));
  }

  // GET /systems: the catalog, and its forms for admins.
  HttpResponse SystemsPage(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {});
    if (!query) return ErrorPage(principal_, 400, "Bad address", query.error().message);
    return HtmlAnswer(200, Layout(principal_, "Systems", "/systems", SystemsHtml(principal_), {"/static/systems.js"}));
  }

  // GET /actions: every action item, filtered like GET /api/v1/action-items.
  HttpResponse ActionsPage(std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"owner", "status", "overdue", "system", "ticket"});
    if (!query) return ErrorPage(principal_, 400, "Bad address", query.error().message);
    if (deps_.followups == nullptr) return ErrorPage(principal_, 404, "No such page", "Action items are not served here.");
    std::string api_query;
    for (const auto& [name, value] : *query) {
      if (value.empty()) continue;
      api_query += (api_query.empty() ? "" : "&") + UrlEncodeComponent(name) + "=" + UrlEncodeComponent(value);
    }
    const FollowUpRoutes routes{.processor = deps_.followups, .read_model = deps_.read_model, .zone = deps_.zone};
    std::vector<projections::ActionItem> items;
    std::vector<bool> overdue;
    std::string error;
    Result<ListedItems> listed = ListActionItems(routes, api_query, principal_);
    if (listed) {
      items = std::move(listed->items);
      overdue = std::move(listed->overdue);
    } else {
      error = listed.error().message;
    }
    const auto value = [&](const std::string& name) { return query->contains(name) ? query->at(name) : std::string(); };
    std::string main = "<h1>Action items</h1>\n<form class=\"toolbar\" method=\"get\" action=\"/actions\">";
    for (const char* name : {"owner", "system", "ticket"}) {
      main += "<label>" + std::string(name) + " <input name=\"" + name + "\" value=\"" + HtmlEscape(value(name)) + "\"></label> ";
    }
    main += "<label>status <select name=\"status\"><option value=\"\">any</option>";
    for (const char* status : {"open", "done", "dropped"}) {
      main += "<option" + std::string(value("status") == status ? " selected" : "") + ">" + status + "</option>";
    }
    main += "</select></label> <label>overdue <select name=\"overdue\"><option value=\"\">any</option>";
    for (const char* flag : {"true", "false"}) {
      main += "<option" + std::string(value("overdue") == flag ? " selected" : "") + ">" + flag + "</option>";
    }
    main += "</select></label> <button type=\"submit\">Show</button></form>\n";
    if (!error.empty()) {
      main += "<p class=\"notice notice-error\" role=\"alert\">" + HtmlEscape(error) + "</p>\n";
      return HtmlAnswer(400, Layout(principal_, "Action items", "/actions", main, {}));
    }
    main += "<p class=\"hint\">" + std::to_string(items.size()) + " items, overdue first. <a href=\"/api/v1/action-items" +
            (api_query.empty() ? "" : "?" + HtmlEscape(api_query)) + "\">JSON</a></p>\n";
    main += ItemsTableHtml(principal_, items, overdue, true);
    return HtmlAnswer(200, Layout(principal_, "Action items", "/actions", main, {}));
  }

  // POST /reviews/{t}, /actions/new/{t}, /actions/{item}: the forms of the
  // incident page and /actions, through the same parsers as the API; then
  // back to the incident page (Post/Redirect/Get), or an error page.
  void FollowUpForm(const HttpRequest& request, std::string_view segment, ingest::FollowUpKind kind, Respond respond) {
    if (deps_.followups == nullptr) return respond(ErrorPage(principal_, 404, "No such page", "Not served here."));
    if (MediaType(request.content_type) != "application/x-www-form-urlencoded") {
      return respond(ErrorPage(principal_, 415, "Unsupported form encoding",
                               "The form posts application/x-www-form-urlencoded."));
    }
    const std::optional<std::string> decoded = ingest::PercentDecode(segment);
    const std::string target = decoded.value_or("");
    Result<ingest::FollowUpCommand> command =
        kind == ingest::FollowUpKind::kReview    ? ingest::ParseReview(target, request.body, true)
        : kind == ingest::FollowUpKind::kAddItem ? ingest::ParseAddItem(target, request.body, true)
                                                 : ingest::ParseUpdateItem(target, request.body, true);
    if (!command) {
      return respond(ErrorPage(principal_, StatusFor(command.error().code), "Not recorded",
                               command.error().message + ". Go back to correct it."));
    }
    command->actor = principal_.RecordedActor(command->actor, ingest::kAnonymousActor);
    deps_.followups->SubmitAsync(std::move(*command), [respond = std::move(respond), viewer = principal_](
                                                          Result<ingest::FollowUpResult> result) {
      if (!result) {
        return respond(ErrorPage(viewer, StatusFor(result.error().code), "Not recorded",
                                 result.error().message + ". Go back to correct it."));
      }
      const std::string location = "/incidents/" + UrlEncodeComponent(result->ticket) +
                                   "?recorded=" + std::to_string(result->seq);
      HttpResponse response = HtmlAnswer(303, "<!doctype html><title>Recorded</title><p>Recorded: <a href=\"" +
                                                  HtmlEscape(location) + "\">" + HtmlEscape(result->ticket) + "</a></p>\n");
      response.headers.emplace_back("Location", location);
      respond(std::move(response));
    });
  }

  HttpResponse Asset(const HttpRequest& request, std::string_view path) {
    std::optional<HttpResponse> answer = assets_.Answer(path.substr(1), request);
    if (!answer) return ErrorResponse(MakeError(ErrorCode::kNotFound, "no such asset", "path"));
    return std::move(*answer);
  }

  // GET /api/v1/events/stream[?after=N]; a Last-Event-ID header (sent by
  // EventSource when it reconnects) takes precedence over `after`.
  HttpResponse EventStream(const HttpRequest& request, std::string_view query_text) {
    Result<Query> query = ParseQuery(query_text, {"after"});
    if (!query) return ErrorResponse(query.error());
    std::optional<uint64_t> after;
    if (const auto found = query->find("after"); found != query->end()) {
      after = ParseUnsigned(found->second);
      if (!after) return ErrorResponse(InvalidArgument("after", "after must be a seq (a whole number)"));
    }
    if (!request.last_event_id.empty()) {
      after = ParseUnsigned(request.last_event_id);
      if (!after) return ErrorResponse(InvalidArgument("Last-Event-ID", "Last-Event-ID must be a seq (a whole number)"));
    }
    HttpResponse response;
    response.content_type = "text/event-stream; charset=utf-8";
    response.headers.emplace_back("X-Accel-Buffering", "no");
    if (request.method == "HEAD") return response;
    Result<std::shared_ptr<ResponseStream>> stream = deps_.event_hub->Open(after, StreamReaderOf(request));
    if (!stream) {
      HttpResponse busy = ErrorResponse(stream.error());
      if (stream.error().field == kEventStreamsPerPrincipalField) busy.status = 429;
      if (busy.status == 401) {
        // The credential was revoked between the check and here.
        busy.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"incident-ledger\"");
      } else {
        busy.headers.emplace_back("Retry-After", "5");
      }
      return busy;
    }
    response.stream = std::move(*stream);
    return response;
  }


 private:
  bool OpenMode() const { return deps_.access == nullptr || deps_.access->open_mode(); }

  // Who follows the event stream, and what they may see, asked again while
  // it runs (event_hub.h): the credential the request came with loses the
  // stream with its token (SIGHUP), its session (sign-out, expiry) or its
  // role. Subscriptions and delivery receipts name people's addresses: only
  // auditors (and admins) follow them; the pages need incidents alone.
  StreamReader StreamReaderOf(const HttpRequest& request) const {
    const auto access_of = [](RoleSet roles) {
      if (!Grants(roles, Role::kViewer)) return StreamAccess::kNothing;
      return Grants(roles, Role::kAuditor) ? StreamAccess::kEverything : StreamAccess::kIncidents;
    };
    if (OpenMode()) {
      const StreamAccess fixed = access_of(principal_.roles);
      return StreamReader{.access = [fixed] { return fixed; }};
    }
    std::shared_ptr<HeldCredential> held = deps_.access->Hold(request);
    // Anonymous readers share a name but not a browser: their streams are
    // counted per client address.
    std::string counted_as = principal_.anonymous ? principal_.name + " from " + request.client_address : principal_.name;
    // Internal incidents (visibility.h) by the credential's roles now: a
    // reader who loses the help desk role stops seeing them at once.
    auto hides = [held, read_model = deps_.read_model](std::string_view ticket) {
      const std::optional<RoleSet> roles = held->Roles();
      return !MaySeeTicket(Principal{.roles = roles.value_or(0)}, *read_model, ticket);
    };
    return StreamReader{.principal = std::move(counted_as),
                        .access =
                            [held, access_of] {
                              const std::optional<RoleSet> roles = held->Roles();
                              return roles ? access_of(*roles) : StreamAccess::kNothing;
                            },
                        .hides = std::move(hides)};
  }

  // The systems the catalog offers for new incidents (neither retired nor
  // merged by an alias), by group, at most kFormSystemsListedMax.
  std::vector<FormSystem> KnownSystems() {
    std::vector<FormSystem> systems;
    deps_.read_model->ReadProjection<projections::SystemProjection>(
        [&](const projections::SystemProjection& catalog, uint64_t) {
          for (const projections::SystemEntry* entry : projections::OfferedSystems(catalog.catalog())) {
            if (systems.size() >= kFormSystemsListedMax) break;
            systems.push_back(FormSystem{.name = entry->name, .group = entry->group});
          }
        });
    return systems;
  }

  const WebDependencies& deps_;
  const StaticAssets& assets_;
  const Principal& principal_;
};

}  // namespace

HttpResponse FramedPage(const Principal& viewer, unsigned status, std::string_view title, std::string_view main_html,
                        std::initializer_list<std::string_view> assets) {
  return HtmlAnswer(status, Layout(viewer, title, "", main_html, assets));
}

std::vector<Route> Web::Routes() {
  const RequiredAccess viewer = RequiredAccess::Needs(Role::kViewer);
  const auto handlers = [this](const RouteCall& call) { return WebHandlers(deps_, assets_, call.principal); };
  return {
      {"/", "GET, HEAD", viewer, "page_dashboard", RouteKind::kPage, "page_dashboard",
       [handlers](RouteCall call) { call.respond(handlers(call).Dashboard(call.query)); }},
      {"/submit", "GET, HEAD, POST", RequiredAccess::Needs(Role::kHelpdesk), "page_submit", RouteKind::kPage,
       "page_submit",
       [handlers](RouteCall call) {
         // The form's POST answers from the ledger's writer thread.
         if (call.request.method == "POST") return handlers(call).SubmitForm(call.request, std::move(call.respond));
         call.respond(handlers(call).FormPage(call.query));
       }},
      {"/maintenance", "GET, HEAD, POST", RequiredAccess::Needs(Role::kHelpdesk), "page_maintenance", RouteKind::kPage,
       "page_maintenance",
       [handlers](RouteCall call) {
         // The form's POST answers from the ledger's writer thread.
         if (call.request.method == "POST") {
           return handlers(call).SubmitMaintenanceForm(call.request, std::move(call.respond));
         }
         call.respond(handlers(call).MaintenancePage(call.query));
       }},
      {"/signin", "GET, HEAD, POST", RequiredAccess::Public(), "page_signin", RouteKind::kPage, "page_signin",
       [handlers](RouteCall call) {
         if (call.request.method == "POST") return call.respond(handlers(call).SignIn(call.request));
         call.respond(handlers(call).SignInForm(call.query));
       }},
      {"/signout", "POST", viewer, "page_signout", RouteKind::kPage, "page_signout",
       [handlers](RouteCall call) { call.respond(handlers(call).SignOut(call.request)); }},
      {"/incidents/**", "GET, HEAD", viewer, "page_incident", RouteKind::kPage, "page_incident",
       [handlers](RouteCall call) {
         if (call.segment.empty() || call.segment.find('/') != std::string_view::npos) {
           return call.respond(
               ErrorPage(call.principal, 404, "No such page", "Incident pages look like /incidents/INC-42."));
         }
         call.respond(handlers(call).IncidentPage(call.segment, call.query));
       }},
      {"/imports", "GET, HEAD", RequiredAccess::Needs(Role::kHelpdesk), "page_imports", RouteKind::kPage,
       "page_imports", [handlers](RouteCall call) { call.respond(handlers(call).ImportsPage(call.query)); }},
      {"/systems", "GET, HEAD", viewer, "page_systems", RouteKind::kPage, "page_systems",
       [handlers](RouteCall call) { call.respond(handlers(call).SystemsPage(call.query)); }},
      {"/actions", "GET, HEAD", viewer, "page_actions", RouteKind::kPage, "page_actions",
       [handlers](RouteCall call) { call.respond(handlers(call).ActionsPage(call.query)); }},
      {"/actions/*", "POST", RequiredAccess::Needs(Role::kHelpdesk), "page_action_update", RouteKind::kPage,
       "page_action_update",
       [handlers](RouteCall call) {
         handlers(call).FollowUpForm(call.request, call.segment, ingest::FollowUpKind::kUpdateItem, std::move(call.respond));
       }},
      {"/actions/new/*", "POST", RequiredAccess::Needs(Role::kHelpdesk), "page_action_add", RouteKind::kPage,
       "page_action_add",
       [handlers](RouteCall call) {
         handlers(call).FollowUpForm(call.request, call.segment, ingest::FollowUpKind::kAddItem, std::move(call.respond));
       }},
      {"/reviews/*", "POST", RequiredAccess::Needs(Role::kHelpdesk), "page_review", RouteKind::kPage, "page_review",
       [handlers](RouteCall call) {
         handlers(call).FollowUpForm(call.request, call.segment, ingest::FollowUpKind::kReview, std::move(call.respond));
       }},
      {"/static/**", "GET, HEAD", RequiredAccess::Public(), "static", RouteKind::kAsset, "static",
       [handlers](RouteCall call) { call.respond(handlers(call).Asset(call.request, call.path)); }},
      {"/api/v1/events/stream", "GET, HEAD", viewer, "events_stream", RouteKind::kStream, "events_stream",
       [handlers](RouteCall call) { call.respond(handlers(call).EventStream(call.request, call.query)); }},
      {"/api/v1/availability", "GET, HEAD", viewer, "availability", RouteKind::kJson, "availability",
       [this](RouteCall call) { Availability(call.request, call.query, call.principal, std::move(call.respond)); }},
  };
}

void Web::Availability(const HttpRequest& request, std::string_view query, const Principal& principal,
                       Respond respond) {
  Result<AvailabilityRequest> asked = ParseAvailabilityRequest(query, principal);
  if (!asked) return respond(ErrorResponse(asked.error()));
  if (std::optional<AvailabilityAnswer> cached =
          availability_->Find(asked->key, deps_.read_model->applied_seq(), NowMicros())) {
    return respond(AvailabilityResponse(*cached, request));
  }
  // Figures over many days and systems: on the pool (work_pool.h).
  Offload(
      deps_.pool, request,
      [cache = availability_, read_model = deps_.read_model, asked = std::move(*asked),
       encodings = HttpRequest{.accept_encoding = request.accept_encoding, .if_none_match = request.if_none_match}](
          const StopToken& stop) {
        Result<AvailabilityAnswer> answer = ComputeAvailability(*read_model, asked, stop);
        if (!answer) return ErrorResponse(answer.error());
        cache->Store(asked.key, *answer);
        return AvailabilityResponse(*answer, encodings);
      },
      std::move(respond));
}

}  // namespace ledger::http
