#include "http/auth.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/file.h"
#include "http/query_params.h"

namespace ledger::http {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr std::string_view kTokenPrefix = "ilt_";
constexpr size_t kSessionRandomBytes = 32;
constexpr size_t kCsrfRandomBytes = 32;
constexpr size_t kFormFieldsMax = 64;

constexpr std::array<Role, 4> kRoles = {Role::kViewer, Role::kHelpdesk, Role::kAuditor, Role::kAdmin};

std::string RandomBase64Url(size_t bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string raw(bytes, '\0');
  // RAND_bytes fails only when the system has no entropy source at all; a
  // predictable token or session would be worse than stopping.
  LEDGER_ASSERT(RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) == 1);
  std::string text;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : raw) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += kAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) text += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  return text;
}

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == '-';
}

Result<std::string> CheckedName(std::string_view name) {
  if (name.empty() || name.size() > kTokenNameBytesMax || !std::all_of(name.begin(), name.end(), IsNameByte)) {
    return InvalidArgument("name", "a token name is 1 to " + std::to_string(kTokenNameBytesMax) +
                                       " of the characters A-Z a-z 0-9 . _ @ -");
  }
  return std::string(name);
}

Result<RoleSet> ParseRoles(std::string_view text) {
  RoleSet roles = 0;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view name = text.substr(begin, end - begin);
    const std::optional<Role> role = ParseRole(name);
    if (!role) {
      // The name is echoed only when it is printable and short.
      const bool printable = name.size() <= 32 && std::all_of(name.begin(), name.end(), IsNameByte);
      return InvalidArgument("roles", "unknown role" + (printable ? " '" + std::string(name) + "'" : std::string()) +
                                          " (roles: viewer, helpdesk, auditor, admin, comma-separated)");
    }
    roles |= static_cast<RoleSet>(*role);
    begin = end + 1;
  }
  return roles;
}

std::vector<std::string_view> SplitWhitespace(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t begin = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > begin) words.push_back(line.substr(begin, i - begin));
  }
  return words;
}

std::string HashKey(std::string_view cookie_value) { return std::string(AsBytes(Sha256(cookie_value))); }

bool IsStateChanging(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

// A browser says where a request came from: Sec-Fetch-Site (current
// browsers) and Origin (on every cross-origin request and every POST).
// Clients that are not browsers send neither, and pass.
std::optional<Error> CrossSiteRefusal(const HttpRequest& request) {
  const std::string_view site = request.sec_fetch_site;
  if (!site.empty() && site != "same-origin" && site != "none") {
    return MakeError(ErrorCode::kPermissionDenied,
                     "cross-site request refused: a page of another site may not change this ledger");
  }
  if (request.origin.empty()) return std::nullopt;
  if (request.host.empty() ||
      (request.origin != "http://" + request.host && request.origin != "https://" + request.host)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "cross-origin request refused: the Origin header does not name this service");
  }
  return std::nullopt;
}

// The csrf_token field of a form body; empty when there is none.
std::string FormCsrfToken(const HttpRequest& request) {
  if (MediaType(request.content_type) != "application/x-www-form-urlencoded") return {};
  std::optional<std::vector<std::pair<std::string, std::string>>> pairs = DecodePairs(request.body, kFormFieldsMax);
  if (!pairs) return {};
  for (const auto& [name, value] : *pairs) {
    if (name == "csrf_token") return value;
  }
  return {};
}

Error NeedsCredentials() {
  return MakeError(ErrorCode::kUnauthenticated,
                   "this route needs credentials: send Authorization: Bearer TOKEN, or sign in at /signin");
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kHelpdesk: return "helpdesk";
    case Role::kAuditor: return "auditor";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const Role role : kRoles) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

bool Grants(RoleSet held, Role needed) {
  if ((held & static_cast<RoleSet>(Role::kAdmin)) != 0) return true;
  if ((held & static_cast<RoleSet>(needed)) != 0) return true;
  // Whoever submits or audits also reads.
  return needed == Role::kViewer && held != 0;
}

std::string RoleSetText(RoleSet roles) {
  std::string text;
  for (const Role role : kRoles) {
    if ((roles & static_cast<RoleSet>(role)) == 0) continue;
    if (!text.empty()) text += ',';
    text += RoleName(role);
  }
  return text;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ------------------------------------------------------------- the auth file

Result<AuthFile> AuthFile::Parse(std::string_view text) {
  AuthFile file;
  std::set<std::string> names;
  std::set<Sha256Digest> hashes;
  size_t line_number = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto at_line = [&](const std::string& message) {
      return InvalidArgument("auth-file", "line " + std::to_string(line_number) + ": " + message);
    };
    if (!IsValidUtf8(line)) return at_line("not valid UTF-8");
    const std::vector<std::string_view> words = SplitWhitespace(line);
    if (words.empty() || words.front().starts_with('#')) continue;
    if (words.size() != 3) {
      return at_line("expected NAME ROLES sha256:HEX (3 words), found " + std::to_string(words.size()));
    }
    Result<std::string> name = CheckedName(words[0]);
    if (!name) return at_line(name.error().message);
    if (!names.insert(*name).second) return at_line("the name '" + *name + "' is given twice");
    Result<RoleSet> roles = ParseRoles(words[1]);
    if (!roles) return at_line(roles.error().message);
    if (!words[2].starts_with(kHashPrefix)) {
      return at_line("the third word must be sha256: and the token's hash in hex (never the token itself)");
    }
    const std::optional<std::string> hash = HexDecode(words[2].substr(kHashPrefix.size()));
    if (!hash || hash->size() != kSha256Bytes) return at_line("the hash must be 64 hex digits after sha256:");
    AuthEntry entry{.name = *name, .roles = *roles};
    std::copy(hash->begin(), hash->end(), entry.token_hash.begin());
    if (!hashes.insert(entry.token_hash).second) return at_line("the same token hash is given twice");
    if (file.entries_.size() >= kAuthEntriesMax) {
      return at_line("more than " + std::to_string(kAuthEntriesMax) + " tokens");
    }
    file.entries_.push_back(std::move(entry));
  }
  if (file.entries_.empty()) {
    return InvalidArgument("auth-file", "no tokens in it: add one with `incident-ledger add-token`");
  }
  return file;
}

Result<AuthFile> AuthFile::Load(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path, kAuthFileBytesMax, "auth file");
  if (!text && text.error().code == ErrorCode::kTooLarge) {
    return InvalidArgument("auth-file",
                           "the auth file " + path + " is larger than " + std::to_string(kAuthFileBytesMax) + " bytes");
  }
  if (!text) return InvalidArgument("auth-file", "cannot read the auth file " + path);
  Result<AuthFile> file = Parse(*text);
  if (!file) return InvalidArgument("auth-file", "auth file " + path + ", " + file.error().message);
  return file;
}

const AuthEntry* AuthFile::Find(std::string_view token) const {
  const Sha256Digest hash = Sha256(token);
  const AuthEntry* found = nullptr;
  // Every entry is compared, so that the time says nothing about which one
  // (or whether one) matched.
  for (const AuthEntry& entry : entries_) {
    const bool equal = CRYPTO_memcmp(hash.data(), entry.token_hash.data(), hash.size()) == 0;
    if (equal) found = &entry;
  }
  return found;
}

Result<NewToken> MakeToken(std::string_view name, std::string_view roles_text) {
  Result<std::string> checked_name = CheckedName(name);
  if (!checked_name) return checked_name.error();
  Result<RoleSet> roles = ParseRoles(roles_text);
  if (!roles) return roles.error();
  NewToken made;
  made.token = std::string(kTokenPrefix) + RandomBase64Url(kTokenRandomBytes);
  made.line = *checked_name + " " + RoleSetText(*roles) + " " + std::string(kHashPrefix) + HexEncode(Sha256(made.token));
  return made;
}

std::string Principal::RecordedActor(std::string_view given, std::string_view default_actor) const {
  if (open_mode || name.empty()) return std::string(given);
  if (given.empty() || given == default_actor || given == name) return name;
  return std::string(given) + " (via " + name + ")";
}

// ---------------------------------------------------------------- sessions

namespace {

constexpr std::string_view kSessionsFileHeader = "# incident-ledger sessions 1";

// Unix seconds of a steady-clock instant, and back.
int64_t ToUnixSeconds(std::chrono::steady_clock::time_point at) {
  const auto offset = at - std::chrono::steady_clock::now();
  return std::chrono::duration_cast<std::chrono::seconds>((std::chrono::system_clock::now() + offset).time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point FromUnixSeconds(int64_t seconds) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - std::chrono::system_clock::now());
}

std::optional<Sha256Digest> DigestFromHex(std::string_view hex) {
  std::optional<std::string> bytes = HexDecode(hex);
  if (!bytes || bytes->size() != kSha256Bytes) return std::nullopt;
  Sha256Digest digest{};
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

bool IsBase64UrlText(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

Result<SessionsRestored> SessionStore::Persist(std::string path, const AuthFile& file) {
  path_ = std::move(path);
  const auto refused = [this](const std::string& why) {
    return InvalidArgument("sessions", "the sessions file " + path_ + " " + why + "; nobody stays signed in from it");
  };
  std::error_code missing;
  if (!std::filesystem::exists(path_, missing) && !missing) return SessionsRestored{};
  Result<std::string> text = ReadWholeFile(path_, kSessionsFileBytesMax, "sessions file");
  if (!text && text.error().code == ErrorCode::kTooLarge) {
    return refused("is larger than " + std::to_string(kSessionsFileBytesMax) + " bytes");
  }
  if (!text) return refused("cannot be read");

  std::map<Sha256Digest, const AuthEntry*> by_hash;
  for (const AuthEntry& entry : file.entries()) by_hash.emplace(entry.token_hash, &entry);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t latest = now + std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
  std::unordered_map<std::string, Session> loaded;
  SessionsRestored restored;
  size_t line_number = 0;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line_number == 1) {
      if (line != kSessionsFileHeader) return refused("does not start with '" + std::string(kSessionsFileHeader) + "'");
      continue;
    }
    if (line.empty()) continue;
    const auto bad = [&](const std::string& why) { return refused("line " + std::to_string(line_number) + ": " + why); };
    std::istringstream fields(line);
    std::string key_hex, token_hex, expires_text, csrf, extra;
    if (!(fields >> key_hex >> token_hex >> expires_text >> csrf) || (fields >> extra)) {
      return bad("expected SESSION_KEY TOKEN_HASH EXPIRES CSRF_TOKEN");
    }
    const std::optional<Sha256Digest> key = DigestFromHex(key_hex);
    const std::optional<Sha256Digest> token_hash = DigestFromHex(token_hex);
    if (!key || !token_hash) return bad("a session key or token hash is not 64 hex digits");
    int64_t expires = 0;
    const auto [end, parsed] = std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires);
    if (parsed != std::errc() || end != expires_text.data() + expires_text.size() || expires < 0) {
      return bad("the expiry is not Unix seconds");
    }
    if (!IsBase64UrlText(csrf)) return bad("the CSRF token is malformed");
    if (loaded.size() == kSessionsMax) return bad("more than " + std::to_string(kSessionsMax) + " sessions");
    if (expires <= now) {
      ++restored.expired;
      continue;
    }
    const auto entry = by_hash.find(*token_hash);
    if (entry == by_hash.end()) {
      ++restored.ended;
      continue;
    }
    // A clock set back cannot lengthen a session beyond its lifetime.
    loaded[std::string(AsBytes(*key))] =
        Session{.principal = Principal{.name = entry->second->name, .roles = entry->second->roles, .csrf_token = csrf},
                .token_hash = *token_hash,
                .expires = FromUnixSeconds(std::min(expires, latest))};
  }
  restored.restored = loaded.size();
  {
    std::lock_guard lock(mutex_);
    sessions_ = std::move(loaded);
  }
  if (restored.expired > 0 || restored.ended > 0) Save();
  return restored;
}

void SessionStore::Save() {
  if (path_.empty()) return;
  std::lock_guard saving(save_mutex_);
  std::string text(kSessionsFileHeader);
  text += '\n';
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    for (const auto& [key, session] : sessions_) {
      if (session.expires <= now) continue;
      text += HexEncode(key) + " " + HexEncode(AsBytes(session.token_hash)) + " " +
              std::to_string(ToUnixSeconds(session.expires)) + " " + session.principal.csrf_token + "\n";
    }
  }
  if (Status written = WriteFileAtomically(path_, text); !written) {
    std::fprintf(stderr, "incident-ledger: signed-in sessions not saved (they last until the service stops): %s\n",
                 written.error().message.c_str());
  }
}

NewSession SessionStore::Create(const AuthEntry& entry) {
  NewSession made{.cookie_value = RandomBase64Url(kSessionRandomBytes), .csrf_token = RandomBase64Url(kCsrfRandomBytes)};
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (sessions_.size() >= kSessionsMax) {
      // Expired ones go first; if none has, the one closest to expiring.
      std::erase_if(sessions_, [&](const auto& item) { return item.second.expires <= now; });
      if (sessions_.size() >= kSessionsMax) {
        const auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
          return a.second.expires < b.second.expires;
        });
        sessions_.erase(oldest);
      }
    }
    sessions_[HashKey(made.cookie_value)] =
        Session{.principal = Principal{.name = entry.name, .roles = entry.roles, .csrf_token = made.csrf_token},
                .token_hash = entry.token_hash,
                .expires = now + kSessionLifetime};
  }
  Save();
  return made;
}

SessionsRetained SessionStore::Retain(const AuthFile& file) {
  std::map<Sha256Digest, const AuthEntry*> by_hash;
  for (const AuthEntry& entry : file.entries()) by_hash.emplace(entry.token_hash, &entry);
  SessionsRetained retained;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      const auto entry = by_hash.find(it->second.token_hash);
      if (entry == by_hash.end()) {
        it = sessions_.erase(it);
        ++retained.ended;
        continue;
      }
      it->second.principal.name = entry->second->name;
      it->second.principal.roles = entry->second->roles;
      ++retained.kept;
      ++it;
    }
  }
  if (retained.ended > 0) Save();
  return retained;
}

std::optional<Principal> SessionStore::Find(std::string_view cookie_value) {
  const std::string key = HashKey(cookie_value);
  std::lock_guard lock(mutex_);
  const auto found = sessions_.find(key);
  if (found == sessions_.end()) return std::nullopt;
  if (found->second.expires <= std::chrono::steady_clock::now()) {
    sessions_.erase(found);
    return std::nullopt;
  }
  return found->second.principal;
}

void SessionStore::Remove(std::string_view cookie_value) {
  const std::string key = HashKey(cookie_value);
  size_t erased = 0;
  {
    std::lock_guard lock(mutex_);
    erased = sessions_.erase(key);
  }
  if (erased > 0) Save();
}

size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

// ------------------------------------------------------------ the checks

std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name) {
  size_t begin = 0;
  while (begin < header.size()) {
    size_t end = header.find(';', begin);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(begin, end - begin);
    begin = end + 1;
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (pair.substr(0, equals) == name) return pair.substr(equals + 1);
  }
  return std::nullopt;
}

AccessControl::AccessControl(std::optional<AuthFile> auth_file) : open_mode_(!auth_file) {
  if (auth_file) auth_file_ = std::make_shared<const AuthFile>(std::move(*auth_file));
}

std::shared_ptr<const AuthFile> AccessControl::File() const {
  std::lock_guard lock(file_mutex_);
  return auth_file_;
}

Result<SessionsRestored> AccessControl::PersistSessions(std::string path) {
  if (open_mode_) {
    return MakeError(ErrorCode::kConflict, "the service runs without --auth-file: nobody signs in, so there are no sessions to keep");
  }
  return sessions_.Persist(std::move(path), *File());
}

Result<SessionsRetained> AccessControl::Reload(AuthFile auth_file) {
  if (open_mode_) {
    return MakeError(ErrorCode::kConflict,
                     "the service was started without --auth-file: restart it with one to require tokens");
  }
  auto replacement = std::make_shared<const AuthFile>(std::move(auth_file));
  {
    std::lock_guard lock(file_mutex_);
    auth_file_ = replacement;
  }
  // A session made between the swap and this pass was made from the new
  // file, so it survives it.
  return sessions_.Retain(*replacement);
}

Result<Principal> AccessControl::Check(const HttpRequest& request, RequiredAccess access) const {
  const std::optional<Role> needed = access.role();
  const bool state_changing = IsStateChanging(request.method);

  // Credentials, when any are sent.
  std::optional<std::string_view> bearer;
  if (!request.authorization.empty()) {
    constexpr std::string_view kScheme = "bearer ";
    std::string scheme = request.authorization.substr(0, std::min(request.authorization.size(), kScheme.size()));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    if (scheme != kScheme || request.authorization.size() == kScheme.size()) {
      return MakeError(ErrorCode::kUnauthenticated, "the Authorization header must be 'Bearer TOKEN'",
                       "Authorization");
    }
    bearer = std::string_view(request.authorization).substr(kScheme.size());
  }
  if (state_changing && !bearer) {
    if (std::optional<Error> refusal = CrossSiteRefusal(request)) return *refusal;
  }
  if (open_mode_) return Principal{.roles = kAllRoles, .open_mode = true};

  std::optional<Principal> principal;
  if (bearer) {
    const std::shared_ptr<const AuthFile> file = File();
    const AuthEntry* entry = bearer->size() <= kPresentedTokenBytesMax ? file->Find(*bearer) : nullptr;
    if (entry == nullptr) {
      return MakeError(ErrorCode::kUnauthenticated, "the Bearer token is not valid", "Authorization");
    }
    principal = Principal{.name = entry->name, .roles = entry->roles};
  } else if (const std::optional<std::string_view> cookie = CookieValue(request.cookie, kSessionCookie)) {
    principal = sessions_.Find(*cookie);
    if (!principal && needed) {
      return MakeError(ErrorCode::kUnauthenticated, "the session has expired or was signed out: sign in again at /signin");
    }
    if (principal && state_changing && needed) {
      const std::string form_token = request.csrf_token.empty() ? FormCsrfToken(request) : std::string();
      const std::string_view presented = request.csrf_token.empty() ? std::string_view(form_token) : request.csrf_token;
      if (presented.empty() || !ConstantTimeEquals(presented, principal->csrf_token)) {
        return MakeError(ErrorCode::kPermissionDenied,
                         "missing or wrong CSRF token: reload the page and submit again", "csrf_token");
      }
    }
  }
  if (!needed) return principal ? *principal : Principal{};
  if (!principal) return NeedsCredentials();
  if (!principal->Has(*needed)) {
    return MakeError(ErrorCode::kPermissionDenied, "'" + principal->name + "' has the role " +
                                                       RoleSetText(principal->roles) + "; this route needs " +
                                                       std::string(RoleName(*needed)));
  }
  return *principal;
}

std::optional<NewSession> AccessControl::SignIn(std::string_view token) {
  if (open_mode_ || token.size() > kPresentedTokenBytesMax) return std::nullopt;
  const std::shared_ptr<const AuthFile> file = File();
  const AuthEntry* entry = file->Find(token);
  if (entry == nullptr) return std::nullopt;
  return sessions_.Create(*entry);
}

void AccessControl::SignOut(const HttpRequest& request) {
  if (const std::optional<std::string_view> cookie = CookieValue(request.cookie, kSessionCookie)) {
    sessions_.Remove(*cookie);
  }
}

std::string AccessControl::SessionCookieHeader(std::string_view cookie_value) {
  return std::string(kSessionCookie) + "=" + std::string(cookie_value) + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(std::chrono::seconds(kSessionLifetime).count());
}

std::string AccessControl::ClearedCookieHeader() {
  return std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
}

}  // namespace ledger::http
