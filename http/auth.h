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
//     HttpOnly, SameSite=Strict cookie `ledger_session` (`__Host-ledger_session`,
//     also Secure, when the request came over HTTPS: see ServedOverHttps).
//     Every state-changing request that rides on the cookie must carry the
//     session's CSRF token (header X-CSRF-Token, or a `csrf_token` form field).
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
// DIR/sessions (SessionStore::Persist). A token holds at most
// kSessionsPerTokenMax of them: signing in once more ends that token's own
// oldest session, never another token's.
//
// Refused credentials (a sign-in or a Bearer token that is not valid) are said
// on stderr, at most one line per client address per kAuthFailureLogInterval
// (AuthFailureLog), so that an operator sees a guessing attempt. They are
// also counted: after LockoutPolicy::failures_max refusals from one client
// address within LockoutPolicy::window, that address is locked out for
// LockoutPolicy::lockout: every Bearer token and every sign-in from there,
// a valid one too, answers 429 with Retry-After (seconds) until it ends, and
// the log says so once per lockout. A session cookie made before is no guess
// and still works, and requests without credentials are never locked out
// (anonymous readers keep reading).
//
// Anonymous readers (AccessOptions::anonymous; `serve --anonymous viewer`,
// which needs an auth file): a request that sends no credentials (or a
// session cookie that has expired) may still call the routes that need only
// viewer, as the principal named `anonymous` (so in the access log), when
// its client address lies in one of AnonymousReaders::trusted_networks, or
// from anywhere when that list is empty. Every other route still needs a
// token (401 without one), and anonymous readers may sign in to get more.
//
// The file is read at start and again on SIGHUP (app/main.cc calls Reload):
// a token removed from it stops working at once, Bearer and sessions alike,
// and a session takes its token's new roles. A file that does not parse on
// reload changes nothing (the tokens in use stay). Answers that outlive their
// request (the event stream) hold the credential (HeldCredential) and ask it
// again while they run; generation() moves whenever a right may have been
// taken away, so that asking is cheap when nothing changed.
//
// Thread safety: AccessControl and SessionStore may be used from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
// Sessions one token may hold at once (one per browser that signed in with
// it); a sign-in beyond it ends that token's oldest session.
constexpr size_t kSessionsPerTokenMax = 64;
constexpr std::chrono::hours kSessionLifetime{12};
// Refused credentials: at most one stderr line per client address per
// interval; this many addresses are followed at once.
constexpr std::chrono::seconds kAuthFailureLogInterval{10};
constexpr size_t kAuthFailureAddressesMax = 1024;

// Failed credentials that lock a client address out (see the top).
constexpr size_t kLockoutFailuresMaxDefault = 10;
constexpr std::chrono::seconds kLockoutWindowDefault{300};
constexpr std::chrono::seconds kLockoutDefault{300};
// The field of the error Check returns for a locked-out address (the router
// answers it with 429 and Retry-After: LockedOutFor).
constexpr std::string_view kLockedOutField = "lockout";
// The name of an anonymous reader's principal.
constexpr std::string_view kAnonymousName = "anonymous";

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

// An IPv4 or IPv6 network, ADDRESS/PREFIX ("10.0.0.0/8", "::1/128").
class Network {
 public:
  // Fails with kInvalidArgument naming `text` and what is wrong with it: no
  // '/', an address that is not IPv4 or IPv6, a prefix that is not a number
  // up to 32 (IPv4) or 128 (IPv6), or bits set beyond the prefix (the
  // message names the network meant).
  static Result<Network> Parse(std::string_view text);
  // Whether `address` (as the server spells a peer: "10.1.2.3", "::1",
  // "::ffff:10.1.2.3", "fe80::1%eth0") lies in the network. An IPv4 address
  // mapped into IPv6 is taken as the IPv4 address; anything that does not
  // parse lies in no network.
  bool Contains(std::string_view address) const;
  // "10.0.0.0/8"
  std::string Text() const;

 private:
  bool ipv6_ = false;
  std::array<uint8_t, 16> bytes_{};  // IPv4 in the first 4
  unsigned prefix_bits_ = 0;
};

struct AnonymousReaders {
  std::vector<Network> trusted_networks;  // empty: from anywhere
  // Whether a request from `client_address` without credentials may read.
  bool Admits(std::string_view client_address) const;
};

// When refused credentials lock a client address out (see the top).
struct LockoutPolicy {
  size_t failures_max = kLockoutFailuresMaxDefault;
  std::chrono::seconds window = kLockoutWindowDefault;
  std::chrono::seconds lockout = kLockoutDefault;
};

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
  // The same, for the SHA-256 of a token.
  const AuthEntry* FindHash(const Sha256Digest& token_hash) const;
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
  bool anonymous = false;  // an anonymous reader (name kAnonymousName, viewer)

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
  size_t ended = 0;       // their token is no longer in the auth file
  bool torn_line = false;  // the last line was cut short (a crash while appending) and left out
};

// The sessions file (DIR/sessions, mode 0600) is a log of session changes,
// appended one line per change, so that a sign-in costs one short write
// whatever the number of sessions:
//
//   # incident-ledger sessions 2
//   + SESSION_KEY TOKEN_HASH EXPIRES CSRF_TOKEN     a session begins
//   - SESSION_KEY                                   it ends (sign-out, eviction, reload)
//
// SESSION_KEY and TOKEN_HASH are the SHA-256 of the cookie value and of the
// token it was made with (hex), EXPIRES is Unix seconds. The cookie value
// itself is never written, so the file does not let anyone in; names and
// roles come from the auth file when it is read back. Version 1 files (a
// line per session without the `+`) are still read.
//
// When the file holds more than kSessionsFileCompactFactor times the lines
// of the live sessions (plus kSessionsFileCompactSlackLines), or more than
// half of kSessionsFileBytesMax, it is rewritten whole with only the live
// sessions (write, sync, rename), as it is at every start. A begin line is
// not synced (a machine crash may sign the newest browsers out, which costs
// a sign-in); an end line by sign-out is, so that a signed-out cookie never
// comes back. A last line without its newline is what a crash in the middle
// of an append leaves: it is left out when the file is read.
constexpr size_t kSessionsFileBytesMax = 16 * 1024 * 1024;
constexpr size_t kSessionsFileCompactFactor = 4;
constexpr size_t kSessionsFileCompactSlackLines = 64;

class SessionStore {
 public:
  SessionStore() = default;
  ~SessionStore();  // closes the file
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Keeps the sessions in the file at `path` from now on (see above), so
  // that a restart signs nobody out. First takes back the sessions saved
  // there that have not expired and whose token is still in `file`, and
  // rewrites the file with them. A missing file is no error; one that cannot
  // be read or does not parse is kInvalidArgument naming the file and line,
  // and nothing in it is used (the next change replaces it). A write that
  // fails is said on stderr; the sessions then last until the process stops,
  // and the next change tries to rewrite the file whole.
  Result<SessionsRestored> Persist(std::string path, const AuthFile& file);

  // A new session for `entry`'s token. When the token already holds
  // kSessionsPerTokenMax sessions its oldest ends; when the store holds
  // kSessionsMax, expired sessions go first, then the oldest of the token
  // that holds the most.
  NewSession Create(const AuthEntry& entry);
  // After the auth file changed: ends the sessions whose token is no longer
  // in `file`; the others take their entry's name and roles.
  SessionsRetained Retain(const AuthFile& file);
  // The session of a cookie value, when it exists and has not expired.
  std::optional<Principal> Find(std::string_view cookie_value);
  // The same by session key (the SHA-256 of the cookie value, as bytes),
  // with when it expires.
  std::optional<std::pair<Principal, std::chrono::steady_clock::time_point>> FindKey(std::string_view key);
  void Remove(std::string_view cookie_value);
  size_t size() const;
  // Sessions held by the token with this hash.
  size_t SessionsOf(const Sha256Digest& token_hash) const;
  // Moves whenever a session ends before its time or its roles may change
  // (sign-out, eviction, Retain).
  uint64_t changes() const { return changes_.load(); }

 private:
  struct Session {
    Principal principal;
    Sha256Digest token_hash{};  // the token it was made with
    std::chrono::steady_clock::time_point expires;
    uint64_t serial = 0;  // order of creation: lower is older
  };
  using SessionMap = std::unordered_map<std::string, Session>;

  // Under mutex_: adds a session, ending the ones the limits push out; their
  // keys go to `ended`.
  void InsertLocked(std::string key, Session session, std::vector<std::string>* ended);
  // Under mutex_: removes one session, from the map and the per-token index.
  void EraseLocked(SessionMap::iterator it);
  // Under save_mutex_: appends `lines` (`count` of them) to the file, or
  // rewrites it whole when it has grown past its bounds (see above).
  void Record(const std::string& lines, size_t count, size_t live, bool sync);
  // Under save_mutex_: rewrites the file with the live sessions.
  void Compact();
  // Under save_mutex_: says a failed write on stderr, once per run of them.
  void WriteFailed(const std::string& why);

  mutable std::mutex mutex_;
  // Keyed by the SHA-256 of the cookie value, so that the map's own timing
  // says nothing about a valid value.
  SessionMap sessions_;
  // The session keys of each token (by the token hash's bytes), oldest first.
  std::unordered_map<std::string, std::map<uint64_t, std::string>> by_token_;
  uint64_t next_serial_ = 0;
  std::chrono::steady_clock::time_point last_expiry_sweep_{};  // under mutex_
  std::atomic<uint64_t> changes_{0};

  // Held from a change in the map until its line is written, so that lines
  // land in the order of the changes. Taken before mutex_, never after.
  std::mutex save_mutex_;
  std::string path_;          // set once by Persist, before any other call
  int fd_ = -1;               // the file, open for appending (under save_mutex_)
  size_t file_lines_ = 0;     // session lines in the file (under save_mutex_)
  size_t file_bytes_ = 0;     // (under save_mutex_)
  bool rewrite_ = false;      // the next change rewrites the file whole (under save_mutex_)
  bool write_failed_ = false;  // the last write failed: said once (under save_mutex_)
};

// The cookie's name over plain HTTP, and over HTTPS: the `__Host-` prefix
// makes browsers accept it only with Secure, Path=/ and no Domain, so that
// neither a plain-HTTP page nor a neighbouring host can plant one.
constexpr std::string_view kSessionCookie = "ledger_session";
constexpr std::string_view kSecureSessionCookie = "__Host-ledger_session";

// Whether the request reached the service over HTTPS. The service speaks
// plain HTTP; only a TLS proxy in front of it knows, and it says so with
// `X-Forwarded-Proto: https`. A client that sends the header itself only
// changes the name and Secure flag of its own cookie (a browser keeps a
// Secure cookie from HTTPS pages only), so trusting it gives nothing away.
bool ServedOverHttps(const HttpRequest& request);
// The cookie name a request's session rides on (one or the other, never
// both: over HTTPS a plain `ledger_session` is not taken).
std::string_view SessionCookieName(const HttpRequest& request);

// Says refused credentials on stderr (or to `sink`) so that an operator sees
// a guessing attempt, and locks out the addresses that keep guessing
// (`policy`, see the top). Per client address, at most one line per
// kAuthFailureLogInterval, which counts the refusals from there since the
// line before, and one line when a lockout begins. Never writes a token.
// At most kAuthFailureAddressesMax addresses are followed: past it, those
// quiet for an interval and not locked out are forgotten (their uncounted
// refusals said in one line), then the one seen least recently; the lines
// of addresses that came in that way share one entry, so that many
// addresses cannot flood the log. Thread-safe.
class AuthFailureLog {
 public:
  using Sink = std::function<void(const std::string& line)>;
  explicit AuthFailureLog(Sink sink = nullptr, LockoutPolicy policy = {});  // null: stderr

  // `what`: "a sign-in with a token that is not valid", ... Counts towards
  // the address's lockout.
  void Note(std::string_view client_address, std::string_view what);
  void Note(std::string_view client_address, std::string_view what, std::chrono::steady_clock::time_point now);

  // How long `client_address` stays locked out (at least a second); nullopt
  // when it is not.
  std::optional<std::chrono::seconds> LockedOutFor(std::string_view client_address) const;
  std::optional<std::chrono::seconds> LockedOutFor(std::string_view client_address,
                                                   std::chrono::steady_clock::time_point now) const;
  size_t addresses_followed() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Address {
    TimePoint last_line;
    size_t unsaid = 0;               // refusals since last_line
    std::vector<TimePoint> recent;   // the latest refusals, at most policy_.failures_max
    TimePoint locked_until{};        // locked out before this
    TimePoint last_seen{};
    bool crowded = false;            // came in by dropping a busy address: its lines go to others_
  };
  struct LineCount {
    TimePoint last_line{};
    size_t unsaid = 0;
    bool said = false;
  };
  // Under mutex_: makes room for one more address; returns false when that
  // dropped an address that was not quiet (the new one's lines then go to
  // others_).
  bool MakeRoomLocked(TimePoint now, std::vector<std::string>* lines);

  Sink sink_;
  const LockoutPolicy policy_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Address> addresses_;
  LineCount others_;
};

class AccessControl;

// The credential a request was granted with, held by an answer that
// outlives the request (the event stream, web.cc) to ask again while it
// runs. Roles() is cheap when nothing changed: it looks the credential up
// again only after AccessControl::generation() moved or the session's
// expiry passed. The AccessControl must outlive it. Thread-safe.
class HeldCredential {
 public:
  // The roles the credential holds now; nullopt once it admits nobody (its
  // token left the auth file, its session was signed out, ended by a newer
  // one or expired). Once nullopt, always nullopt.
  std::optional<RoleSet> Roles();

 private:
  friend class AccessControl;
  enum class Kind : uint8_t { kOpen, kBearer, kSession, kAnonymous };
  HeldCredential(const AccessControl* access, Kind kind, std::string key) : access_(access), kind_(kind), key_(std::move(key)) {}

  const AccessControl* access_;
  const Kind kind_;
  const std::string key_;  // the token hash (Bearer) or session key (session), as bytes
  std::mutex mutex_;
  bool looked_ = false;
  uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point expires_ = std::chrono::steady_clock::time_point::max();
  std::optional<RoleSet> roles_;
};

struct AccessOptions {
  // Requests without credentials read as viewers (see the top); nullopt:
  // they may call public routes only. Ignored in open mode, where every
  // request may do everything.
  std::optional<AnonymousReaders> anonymous;
  LockoutPolicy lockout;
};

class AccessControl {
 public:
  // `auth_file` empty: open mode (for good: a reload cannot leave it).
  // Refused credentials are said through `failure_sink` (null: stderr).
  explicit AccessControl(std::optional<AuthFile> auth_file, AuthFailureLog::Sink failure_sink = nullptr,
                         AccessOptions options = {});

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
  // a message saying which and what to do; a request with credentials from
  // a locked-out address is kUnavailable with field kLockedOutField (the
  // router answers 429, Retry-After: LockedOutFor). Without credentials,
  // an admitted anonymous reader passes routes that need viewer.
  // `needed` is the route's row (router.h): a public route admits anyone
  // (credentials, when sent and valid, still name the principal).
  Result<Principal> Check(const HttpRequest& request, RequiredAccess needed) const;

  // The sign-in page's work: a session for a valid token; nullopt when the
  // token is unknown (said in the failure log, naming `client_address`) or
  // in open mode, where nobody signs in.
  // A locked-out address gets nullopt whatever the token (ask LockedOutFor
  // first to tell it apart).
  std::optional<NewSession> SignIn(std::string_view token, std::string_view client_address = {});
  // How long credentials from `client_address` stay refused (see the top).
  std::optional<std::chrono::seconds> LockedOutFor(std::string_view client_address) const {
    return failures_.LockedOutFor(client_address);
  }
  bool anonymous_readers() const { return !open_mode_ && options_.anonymous.has_value(); }
  void SignOut(const HttpRequest& request);

  // The credential `request` was granted with (Check passed it), to be asked
  // again later. When it no longer admits anyone, the credential says so at
  // once. In open mode it holds every role for good; an anonymous reader's
  // holds viewer for good (the options do not change while serving).
  std::shared_ptr<HeldCredential> Hold(const HttpRequest& request) const;
  // Moves when a token file is loaded and when a session ends before its
  // time or changes roles: a held credential looks again only then.
  uint64_t generation() const { return file_generation_.load() + sessions_.changes(); }

  // Set-Cookie values: the session, and the one that removes it; with
  // `https`, the `__Host-` name and Secure (ServedOverHttps).
  static std::string SessionCookieHeader(std::string_view cookie_value, bool https = false);
  static std::string ClearedCookieHeader(bool https = false);

 private:
  friend class HeldCredential;
  // The file in use; null in open mode. Replaced whole by Reload.
  std::shared_ptr<const AuthFile> File() const;

  // Whether a request without usable credentials reads as anonymous.
  bool AdmitsAnonymous(const HttpRequest& request) const;

  bool open_mode_;
  const AccessOptions options_;
  mutable std::mutex file_mutex_;
  std::shared_ptr<const AuthFile> auth_file_;
  std::atomic<uint64_t> file_generation_{0};
  mutable SessionStore sessions_;
  mutable AuthFailureLog failures_;
};


// The value of cookie `name` in a Cookie header; nullopt when absent.
std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ledger::http
