#pragma once
// The /api/v1 contract: maps an HTTP request to a response. No sockets here;
// server.h feeds it parsed requests and writes what it answers.
//
// Routes (see DESIGN.md): POST /api/v1/submissions, GET /api/v1/incidents,
// GET /api/v1/incidents/{ticket}, GET /api/v1/incidents/{ticket}/events,
// GET /api/v1/events, GET /healthz, GET /metrics, GET /api/v1/openapi.json
// (the API described, openapi.h); and the rows of the pages
// (web.h), the notification routes (notifications_api.h) and the
// maintenance windows (maintenance_api.h).
//
// Thread safety: Handle may be called from many threads at once. `respond`
// is called exactly once, possibly on another thread (the ledger's writer
// thread for submissions), and must not block.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/answer_cache.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/proofs_api.h"
#include "http/response_stream.h"
#include "http/work_pool.h"
#include "ingest/processor.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"

namespace ledger::http {

class Web;
class Router;
struct Route;
class AccessControl;
struct NotificationRoutes;
struct FollowUpRoutes;
struct MaintenanceRoutes;
class SelfService;
struct ImportRoutes;
struct SystemRoutes;
struct Principal;

// Limits of the HTTP edge.
constexpr size_t kEventsPageMax = 10'000;
constexpr size_t kEventsPageDefault = 1'000;
constexpr size_t kIncidentsPageMax = 1'000;
constexpr size_t kIncidentsPageDefault = 100;
constexpr int64_t kDefaultWindowMicros = 7LL * 24 * 3600 * 1'000'000;


// Where POST /api/v1/backup may write (CheckBackupDestination in
// common/file.h).
struct BackupOptions {
  std::string data_folder;     // the ledger's folder (--data): a backup is never written inside it
  std::string allowed_parent;  // serve --backup-dir, resolved; empty: the API writes no backup at all
};

struct ApiDependencies {
  Ledger* ledger;
  ingest::CommandProcessor* processor;
  projections::ReadModel* read_model;
  Metrics* metrics;
  Web* web = nullptr;  // pages, assets, the event stream (web.h); none: API only
  const NotificationRoutes* notifications = nullptr;  // subscriptions and the queue (notifications_api.h)
  // Reviews and action items (followups_api.h); none: no such routes, and
  // incidents answer without "review" and "action_items".
  const FollowUpRoutes* followups = nullptr;
  const MaintenanceRoutes* maintenance = nullptr;     // maintenance windows (maintenance_api.h)
  // Self-service subscriptions and one-click unsubscribe (self_service.h);
  // none: no such routes.
  SelfService* self_service = nullptr;
  const ImportRoutes* imports = nullptr;              // the sheet's imports (imports_api.h)
  const SystemRoutes* systems = nullptr;              // the catalog of systems (systems_api.h)
  // Who may call what (auth.h); none: every request has every role (tests).
  const AccessControl* access = nullptr;
  // Where work that can take long runs (work_pool.h); none: on the calling
  // thread, with no budget (tests).
  WorkPool* pool = nullptr;
  BackupOptions backup;  // default: no backups through the API
  // Signs tree heads (tree_head.h); none: the routes that sign answer 503.
  const TreeHeadSigner* signer = nullptr;
  // A mirror (serve --read-only, --follow): every write answers 503
  // (router.h).
  bool read_only = false;
};


class Api {
 public:
  explicit Api(ApiDependencies dependencies);
  ~Api();

  // Answers through the route table (router.h): the rows of the API below,
  // of the pages (Web::Routes) and of the notification routes.
  void Handle(const HttpRequest& request, Respond respond);
  const Router& router() const;


 private:
  // The /api/v1 rows (and /healthz, /metrics).
  std::vector<Route> Routes();

  ApiDependencies deps_;
  ProofRoutes proofs_;  // what the proof rows (proofs_api.h) read
  AnswerCache answers_;  // GET /api/v1/incidents
  std::unique_ptr<Router> router_;
  // GET /api/v1/openapi.json: written from router_'s table once, at start
  // (openapi.h).
  std::shared_ptr<const std::string> openapi_;
};

}  // namespace ledger::http
