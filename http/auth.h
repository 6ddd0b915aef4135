#pragma once
// Access control of the HTTP edge: who may call which route.
//
// Roles: viewer (pages and reads), helpdesk (submissions), auditor (the whole
// log, verify), admin (subscriptions, the notification queue, backups). A
// helpdesk or auditor token also reads what a viewer reads; admin may do
// everything. Route -> role is a column of the route table (router.h).
//
// Credentials:
//   - `Authorization: Bearer TOKEN` on any request (scripts, integrations);
//   - a session cookie for browsers: POST /signin with a token once, then the
//     HttpOnly, SameSite=Strict cookie `ledger_session`. Every state-changing
//     request that rides on the cookie must carry the session's CSRF token
//     (header X-CSRF-Token, or a `csrf_token` form field).
// Tokens live in the auth file only as SHA-256 hashes (tokens are 256-bit
// random strings made by `incident-ledger add-token`, so a fast hash is
// enough); a presented token is hashed and compared with every entry in
// constant time.
//
// Without an auth file the service is open: every request has every role,
// and app/main.cc then listens on loopback addresses only, and the server
// answers only a Host that names it (ServerOptions::allowed_hosts, against
// DNS rebinding). Whatever the mode,
// a state-changing request a browser marks as coming from another site
// (Origin or Sec-Fetch-Site) is refused unless it carries a Bearer token.
//
// Auth file: text, one token per line, `#` comments and blank lines ignored:
//   NAME ROLES sha256:HEX
//   ana        helpdesk          sha256:9f86d081884c7d65...
//   audit-bot  auditor,viewer    sha256:...
// NAME: 1-64 of A-Z a-z 0-9 . _ @ - (unique); ROLES: comma-separated.
//
// Sessions last kSessionLifetime and survive a restart: `serve` keeps them in
// DIR/sessions (SessionStore::Persist).
//
// The file is read at start and again on SIGHUP (app/main.cc calls Reload):
// a token removed from it stops working at once, Bearer and sessions alike,
// and a session takes its token's new roles. A file that does not parse on
// reload changes nothing (the tokens in use stay).
//
// Thread safety: AccessControl and SessionStore may be used from any thread.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"
#include "http/message.h"

namespace ledger::http {

// Limits.
constexpr size_t kAuthFileBytesMax = 1024 * 1024;
constexpr size_t kAuthEntriesMax = 10'000;
constexpr size_t kTokenNameBytesMax = 64;
constexpr size_t kPresentedTokenBytesMax = 512;
constexpr size_t kTokenRandomBytes = 32;
constexpr size_t kSessionsMax = 10'000;
constexpr std::chrono::hours kSessionLifetime{12};

enum class Role : uint8_t { kViewer = 1, kHelpdesk = 2, kAuditor = 4, kAdmin = 8 };
using RoleSet = uint8_t;
constexpr RoleSet kAllRoles = 0x0f;

std::string_view RoleName(Role role);

// Who may call a route: anyone (Public) or holders of a role (Needs). It has
// no default, so a route row (router.h) that forgets to say does not compile.
class RequiredAccess {
 public:
  static constexpr RequiredAccess Public() { return RequiredAccess(std::nullopt); }
  static constexpr RequiredAccess Needs(Role role) { return RequiredAccess(role); }
  constexpr std::optional<Role> role() const { return role_; }
  constexpr bool operator==(const RequiredAccess&) const = default;

 private:
  explicit constexpr RequiredAccess(std::optional<Role> role) : role_(role) {}
  std::optional<Role> role_;
};
// "viewer" -> kViewer; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);
// True when holding `held` allows what `needed` allows (see the top).
bool Grants(RoleSet held, Role needed);
// "helpdesk,viewer"
std::string RoleSetText(RoleSet roles);

struct AuthEntry {
  std::string name;
  RoleSet roles = 0;
  Sha256Digest token_hash{};
};

class AuthFile {
 public:
  // Fails with kInvalidArgument naming the line and what is wrong with it.
  static Result<AuthFile> Parse(std::string_view text);
  // Reads `path` (at most kAuthFileBytesMax) and parses it; errors name the file.
  static Result<AuthFile> Load(const std::string& path);

  // The entry whose token is `token`, comparing with every entry in constant
  // time; nullptr when none.
  const AuthEntry* Find(std::string_view token) const;
  const std::vector<AuthEntry>& entries() const { return entries_; }

 private:
  std::vector<AuthEntry> entries_;
};

// A new random token ("ilt_" + base64url of kTokenRandomBytes) and the auth
// file line that admits it.
struct NewToken {
  std::string token;
  std::string line;
};
Result<NewToken> MakeToken(std::string_view name, std::string_view roles_text);

// Who a request is from, once access is granted.
struct Principal {
  std::string name;        // the token's name; empty in open mode
  RoleSet roles = 0;
  std::string csrf_token;  // the session's, when it came with the cookie
  bool open_mode = false;  // no auth file: nobody signs in

  bool Has(Role role) const { return Grants(roles, role); }
  bool signed_in() const { return !csrf_token.empty(); }
  // The actor recorded on an event: the token's name, with the actor the
  // submission named when it named another ("Maria (via form-bot)").
  std::string RecordedActor(std::string_view given, std::string_view default_actor) const;
};

struct NewSession {
  std::string cookie_value;  // what the browser sends back
  std::string csrf_token;
};

// What a reload did to the sessions.
struct SessionsRetained {
  size_t kept = 0;
  size_t ended = 0;
};

// What a start took back from the sessions file.
struct SessionsRestored {
  size_t restored = 0;
  size_t expired = 0;
  size_t ended = 0;  // their token is no longer in the auth file
};

// The sessions file (DIR/sessions, mode 0600): a header line, then one line
// per session, `SESSION_KEY TOKEN_HASH EXPIRES CSRF_TOKEN`: the SHA-256 of
// the cookie value and of the token it was made with (hex), when it expires
// (Unix seconds), and its CSRF token. The cookie value itself is never
// written, so the file does not let anyone in; names and roles come from the
// auth file when it is read back.
constexpr size_t kSessionsFileBytesMax = 4 * 1024 * 1024;

class SessionStore {
 public:
  // Keeps the sessions in the file at `path` from now on: rewritten whole
  // (write, sync, rename) after every sign-in, sign-out and reload, so that a
  // restart signs nobody out. First takes back the sessions saved there that
  // have not expired and whose token is still in `file`. A missing file is
  // no error; one that cannot be read or does not parse is kInvalidArgument
  // naming the file and line, and nothing in it is used (the next save
  // replaces it). A save that fails is said on stderr; the sessions then
  // last until the process stops.
  Result<SessionsRestored> Persist(std::string path, const AuthFile& file);

  NewSession Create(const AuthEntry& entry);
  // After the auth file changed: ends the sessions whose token is no longer
  // in `file`; the others take their entry's name and roles.
  SessionsRetained Retain(const AuthFile& file);
  // The session of a cookie value, when it exists and has not expired.
  std::optional<Principal> Find(std::string_view cookie_value);
  void Remove(std::string_view cookie_value);
  size_t size() const;

 private:
  struct Session {
    Principal principal;
    Sha256Digest token_hash{};  // the token it was made with
    std::chrono::steady_clock::time_point expires;
  };
  // Writes the sessions file, when there is one.
  void Save();

  mutable std::mutex mutex_;
  // Keyed by the SHA-256 of the cookie value, so that the map's own timing
  // says nothing about a valid value.
  std::unordered_map<std::string, Session> sessions_;
  // Held while the file is written, so that saves land in the order their
  // contents were taken. Taken before mutex_, never after.
  std::mutex save_mutex_;
  std::string path_;  // set once by Persist, before any other call
};

constexpr std::string_view kSessionCookie = "ledger_session";

class AccessControl {
 public:
  // `auth_file` empty: open mode (for good: a reload cannot leave it).
  explicit AccessControl(std::optional<AuthFile> auth_file);

  bool open_mode() const { return open_mode_; }

  // Keeps the browser sessions in the file at `path` across restarts (see
  // SessionStore::Persist); fails in open mode, where nobody signs in.
  Result<SessionsRestored> PersistSessions(std::string path);

  // Replaces the tokens with those of `auth_file` (see the top); fails in
  // open mode. Requests being checked meanwhile see the old or the new file.
  Result<SessionsRetained> Reload(AuthFile auth_file);

  // Checks credentials, role and, for state-changing requests, where the
  // request came from and its CSRF token (the X-CSRF-Token header, or the
  // `csrf_token` field of a form body). Refusals are kUnauthenticated (401:
  // no or unknown credentials, an expired session) or kPermissionDenied (403:
  // the wrong role, a missing or wrong CSRF token, a cross-site write), with
  // a message saying which and what to do.
  // `needed` is the route's row (router.h): a public route admits anyone
  // (credentials, when sent and valid, still name the principal).
  Result<Principal> Check(const HttpRequest& request, RequiredAccess needed) const;

  // The sign-in page's work: a session for a valid token; nullopt when the
  // token is unknown (or in open mode, where nobody signs in).
  std::optional<NewSession> SignIn(std::string_view token);
  void SignOut(const HttpRequest& request);

  // Set-Cookie values: the session, and the one that removes it.
  static std::string SessionCookieHeader(std::string_view cookie_value);
  static std::string ClearedCookieHeader();

 private:
  // The file in use; null in open mode. Replaced whole by Reload.
  std::shared_ptr<const AuthFile> File() const;

  bool open_mode_;
  mutable std::mutex file_mutex_;
  std::shared_ptr<const AuthFile> auth_file_;
  mutable SessionStore sessions_;
};


// The value of cookie `name` in a Cookie header; nullopt when absent.
std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ledger::http
