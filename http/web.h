#pragma once
// The browser side of the service: the dashboard (/), the help-desk form
// (/submit), the maintenance form (/maintenance, posting like /submit), the incident page (/incidents/{ticket}),
// the sheet's imports and refused rows (/imports, for the help desk), the catalog of
// systems (/systems: everyone reads it, an admin's copy has the forms that post
// to POST /api/v1/systems), signing in and out
// (/signin, /signout; see auth.h), the embedded assets
// (/static/...), and the two JSON routes the pages need beyond the contract's:
// GET /api/v1/events/stream (Server-Sent Events, DESIGN.md) and
// GET /api/v1/availability (per-system, per-day availability bars).
//
// Pages are rendered here from the read model, with every piece of user text
// escaped (html.h), and served with a Content-Security-Policy that allows no
// inline script or style. The form works without JavaScript: it posts to
// POST /submit, which answers 303 to the incident page, or the form again
// with the error next to the field it names. With JavaScript, submit.js
// posts JSON to /api/v1/submissions instead and shows the same errors.
//
// No sockets here: Handle maps a request to a response like Api::Handle.
// Thread safety: Handle may be called from many threads at once; `respond`
// runs exactly once, possibly on the ledger's writer thread (POST /submit).

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "ingest/followups.h"
#include "ingest/maintenance.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/static_assets.h"

namespace date {
class time_zone;
}

namespace ledger::http {

// Limits of the pages' own routes.
constexpr int kAvailabilityDaysMax = 366;
constexpr int kAvailabilityDaysDefault = 90;
constexpr size_t kAvailabilitySystemsMax = 200;
constexpr size_t kFormSystemsListedMax = 500;  // known systems offered in the form

struct ImportRoutes;

struct WebDependencies {
  Ledger* ledger;
  ingest::CommandProcessor* processor;
  projections::ReadModel* read_model;
  EventHub* event_hub;
  AccessControl* access = nullptr;  // sessions for /signin and /signout; none: open mode
  WorkPool* pool = nullptr;         // long work (availability); none: on the calling thread
  // Reviews and action items on the incident page, /actions and their forms
  // (ingest/followups.h); none: the pages show neither.
  ingest::FollowUpProcessor* followups = nullptr;
  const date::time_zone* zone = nullptr;  // the service's --timezone (overdue); required with followups
  // The maintenance form (/maintenance); none: its POST answers 503.
  ingest::MaintenanceProcessor* maintenance = nullptr;
  // The sheet's imports and refused rows (/imports, imports_api.h); none:
  // the page says no sheet is polled.
  const ImportRoutes* imports = nullptr;
};

// A page in the service's frame (the header, navigation, sign-out, the
// Content-Security-Policy and the other page headers) for the page routes
// that live outside web.cc (self_service.h). `title` is escaped here;
// `main_html` must hold escaped text only. `assets`: the page's own
// scripts (.js) and stylesheets (.css) under /static/.
HttpResponse FramedPage(const Principal& viewer, unsigned status, std::string_view title, std::string_view main_html,
                        std::initializer_list<std::string_view> assets);

class AvailabilityCache;
struct Route;
struct PageAnswers;

class Web {
 public:
  explicit Web(WebDependencies dependencies);

  // The rows of the pages, the assets, the event stream and availability
  // (router.h). They refer to this object, which must outlive them.
  std::vector<Route> Routes();

  // The page for a request AccessControl refused: 401 is the sign-in form
  // (returning to the page asked for), 403 says what is missing.
  HttpResponse Refusal(const HttpRequest& request, const Error& error) const;

  // How the router answers refusals and 405s on pages.
  PageAnswers Pages() const;

 private:
  // GET /api/v1/availability: from the cache, or computed on the pool.
  void Availability(const HttpRequest& request, std::string_view query, const Principal& principal, Respond respond);

  WebDependencies deps_;
  StaticAssets assets_;
  std::shared_ptr<AvailabilityCache> availability_;  // GET /api/v1/availability answers
};

}  // namespace ledger::http
