#include "http/auth.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/file.h"
#include "common/log.h"
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

const AuthEntry* AuthFile::Find(std::string_view token) const { return FindHash(Sha256(token)); }

const AuthEntry* AuthFile::FindHash(const Sha256Digest& hash) const {
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

constexpr std::string_view kSessionsFileHeaderV1 = "# incident-ledger sessions 1";
constexpr std::string_view kSessionsFileHeader = "# incident-ledger sessions 2";

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

std::string DigestKey(const Sha256Digest& digest) { return std::string(AsBytes(digest)); }

std::string BeginLine(std::string_view key, const Sha256Digest& token_hash,
                      std::chrono::steady_clock::time_point expires, std::string_view csrf_token) {
  return "+ " + HexEncode(key) + " " + HexEncode(AsBytes(token_hash)) + " " + std::to_string(ToUnixSeconds(expires)) +
         " " + std::string(csrf_token) + "\n";
}

std::string EndLine(std::string_view key) { return "- " + HexEncode(key) + "\n"; }

// Writes all of `text` to `fd`; false (errno set) when it cannot.
bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t wrote = ::write(fd, text.data(), text.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    text.remove_prefix(static_cast<size_t>(wrote));
  }
  return true;
}

}  // namespace

SessionStore::~SessionStore() {
  if (fd_ >= 0) ::close(fd_);
}

Result<SessionsRestored> SessionStore::Persist(std::string path, const AuthFile& file) {
  std::lock_guard saving(save_mutex_);
  path_ = std::move(path);
  // Whatever happens below, the next change writes a sound file.
  rewrite_ = true;
  const auto refused = [this](const std::string& why) {
    return InvalidArgument("sessions", "the sessions file " + path_ + " " + why + "; nobody stays signed in from it");
  };
  SessionsRestored restored;
  std::error_code missing;
  // The first change creates the file (the data folder may not exist yet).
  if (!std::filesystem::exists(path_, missing) && !missing) return restored;
  Result<std::string> text = ReadWholeFile(path_, kSessionsFileBytesMax, "sessions file");
  if (!text && text.error().code == ErrorCode::kTooLarge) {
    return refused("is larger than " + std::to_string(kSessionsFileBytesMax) + " bytes");
  }
  if (!text) return refused("cannot be read");
  // A last line without its newline was cut short by a crash mid-append.
  if (const size_t end = text->rfind('\n'); end + 1 != text->size()) {
    if (end != std::string::npos) {
      text->resize(end + 1);
      restored.torn_line = true;
    }
  }

  // The lines in order: begins and ends, each begin numbered by its place.
  struct Saved {
    Sha256Digest token_hash;
    int64_t expires;
    std::string csrf_token;
    uint64_t order;
  };
  std::unordered_map<std::string, Saved> saved;
  size_t line_number = 0;
  bool version_1 = false;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line_number == 1) {
      version_1 = line == kSessionsFileHeaderV1;
      if (line != kSessionsFileHeader && !version_1) {
        return refused("does not start with '" + std::string(kSessionsFileHeader) + "'");
      }
      continue;
    }
    if (line.empty()) continue;
    const auto bad = [&](const std::string& why) { return refused("line " + std::to_string(line_number) + ": " + why); };
    std::istringstream fields(line);
    std::string mark = "+";
    if (!version_1 && !(fields >> mark)) return bad("expected '+' or '-'");
    std::string key_hex, token_hex, expires_text, csrf, extra;
    if (mark == "-") {
      if (!(fields >> key_hex) || (fields >> extra)) return bad("expected - SESSION_KEY");
      const std::optional<Sha256Digest> key = DigestFromHex(key_hex);
      if (!key) return bad("a session key is not 64 hex digits");
      saved.erase(DigestKey(*key));
      continue;
    }
    if (mark != "+") return bad("expected '+' or '-'");
    if (!(fields >> key_hex >> token_hex >> expires_text >> csrf) || (fields >> extra)) {
      return bad(std::string(version_1 ? "" : "+ ") + "SESSION_KEY TOKEN_HASH EXPIRES CSRF_TOKEN expected");
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
    if (saved.size() == kSessionsMax) return bad("more than " + std::to_string(kSessionsMax) + " sessions");
    saved[DigestKey(*key)] = Saved{.token_hash = *token_hash, .expires = expires, .csrf_token = csrf, .order = line_number};
  }

  std::map<Sha256Digest, const AuthEntry*> by_hash;
  for (const AuthEntry& entry : file.entries()) by_hash.emplace(entry.token_hash, &entry);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t latest = now + std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
  // Oldest first, so that the per-token limit keeps the newest.
  std::vector<std::pair<uint64_t, std::string>> in_order;
  in_order.reserve(saved.size());
  for (const auto& [key, session] : saved) in_order.emplace_back(session.order, key);
  std::sort(in_order.begin(), in_order.end());
  {
    std::lock_guard lock(mutex_);
    sessions_.clear();
    by_token_.clear();
    std::vector<std::string> ended;
    for (const auto& [order, key] : in_order) {
      const Saved& session = saved.at(key);
      if (session.expires <= now) {
        ++restored.expired;
        continue;
      }
      const auto entry = by_hash.find(session.token_hash);
      if (entry == by_hash.end()) {
        ++restored.ended;
        continue;
      }
      // A clock set back cannot lengthen a session beyond its lifetime.
      InsertLocked(key,
                   Session{.principal = Principal{.name = entry->second->name,
                                                  .roles = entry->second->roles,
                                                  .csrf_token = session.csrf_token},
                           .token_hash = session.token_hash,
                           .expires = FromUnixSeconds(std::min(session.expires, latest))},
                   &ended);
    }
    restored.ended += ended.size();
    restored.restored = sessions_.size();
  }
  Compact();
  return restored;
}

void SessionStore::InsertLocked(std::string key, Session session, std::vector<std::string>* ended) {
  const std::string token_key = DigestKey(session.token_hash);
  std::map<uint64_t, std::string>& own = by_token_[token_key];
  // The token's own oldest first: a token never ends another's sessions
  // while it is within its share.
  while (own.size() >= kSessionsPerTokenMax) {
    ended->push_back(own.begin()->second);
    EraseLocked(sessions_.find(own.begin()->second));
  }
  const auto now = std::chrono::steady_clock::now();
  // Expired sessions go first, looked for at most once a second: a full
  // store under a sign-in flood must not walk every session each time.
  if (sessions_.size() >= kSessionsMax && now - last_expiry_sweep_ >= std::chrono::seconds(1)) {
    last_expiry_sweep_ = now;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      const auto next = std::next(it);
      if (it->second.expires <= now) {
        ended->push_back(it->first);
        EraseLocked(it);
      }
      it = next;
    }
  }
  while (sessions_.size() >= kSessionsMax) {
    // The store is full of live sessions of many tokens: the one holding
    // the most gives up its oldest.
    auto largest = by_token_.end();
    for (auto it = by_token_.begin(); it != by_token_.end(); ++it) {
      if (!it->second.empty() && (largest == by_token_.end() || it->second.size() > largest->second.size())) {
        largest = it;
      }
    }
    LEDGER_ASSERT(largest != by_token_.end());
    ended->push_back(largest->second.begin()->second);
    EraseLocked(sessions_.find(largest->second.begin()->second));
  }
  session.serial = next_serial_++;
  by_token_[token_key].emplace(session.serial, key);
  sessions_[std::move(key)] = std::move(session);
}

void SessionStore::EraseLocked(SessionMap::iterator it) {
  LEDGER_ASSERT(it != sessions_.end());
  const auto own = by_token_.find(DigestKey(it->second.token_hash));
  if (own != by_token_.end()) {
    own->second.erase(it->second.serial);
    if (own->second.empty()) by_token_.erase(own);
  }
  sessions_.erase(it);
}

void SessionStore::WriteFailed(const std::string& why) {
  if (write_failed_) return;
  write_failed_ = true;
  Log("auth", "signed-in sessions not saved (they last until the service stops): " + why);
}

void SessionStore::Record(const std::string& lines, size_t count, size_t live, bool sync) {
  if (path_.empty() || count == 0) return;
  const bool grown = file_lines_ + count > kSessionsFileCompactFactor * live + kSessionsFileCompactSlackLines ||
                     file_bytes_ + lines.size() > kSessionsFileBytesMax / 2;
  if (rewrite_ || fd_ < 0 || grown) return Compact();
  if (!WriteAll(fd_, lines)) {
    // Part of a line may be on disk: rewrite the file whole next time.
    rewrite_ = true;
    return WriteFailed("cannot append to " + path_ + ": " + std::strerror(errno));
  }
  file_lines_ += count;
  file_bytes_ += lines.size();
  if (sync && ::fdatasync(fd_) != 0) {
    rewrite_ = true;
    return WriteFailed("cannot sync " + path_ + ": " + std::strerror(errno));
  }
  write_failed_ = false;
}

void SessionStore::Compact() {
  if (path_.empty()) return;
  std::string text(kSessionsFileHeader);
  text += '\n';
  size_t count = 0;
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    for (const auto& [key, session] : sessions_) {
      if (session.expires <= now) continue;
      text += BeginLine(key, session.token_hash, session.expires, session.principal.csrf_token);
      ++count;
    }
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  rewrite_ = true;
  if (Status written = WriteFileAtomically(path_, text); !written) return WriteFailed(written.error().message);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return WriteFailed("cannot open " + path_ + ": " + std::strerror(errno));
  file_lines_ = count;
  file_bytes_ = text.size();
  rewrite_ = false;
  write_failed_ = false;
}

NewSession SessionStore::Create(const AuthEntry& entry) {
  NewSession made{.cookie_value = RandomBase64Url(kSessionRandomBytes), .csrf_token = RandomBase64Url(kCsrfRandomBytes)};
  const std::string key = HashKey(made.cookie_value);
  const auto expires = std::chrono::steady_clock::now() + kSessionLifetime;
  std::lock_guard saving(save_mutex_);
  std::string lines;
  size_t count = 0;
  size_t live = 0;
  {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ended;
    InsertLocked(key,
                 Session{.principal = Principal{.name = entry.name, .roles = entry.roles, .csrf_token = made.csrf_token},
                         .token_hash = entry.token_hash,
                         .expires = expires},
                 &ended);
    if (!ended.empty()) changes_.fetch_add(1);
    for (const std::string& gone : ended) lines += EndLine(gone);
    lines += BeginLine(key, entry.token_hash, expires, made.csrf_token);
    count = ended.size() + 1;
    live = sessions_.size();
  }
  Record(lines, count, live, /*sync=*/false);
  return made;
}

SessionsRetained SessionStore::Retain(const AuthFile& file) {
  std::map<Sha256Digest, const AuthEntry*> by_hash;
  for (const AuthEntry& entry : file.entries()) by_hash.emplace(entry.token_hash, &entry);
  SessionsRetained retained;
  std::lock_guard saving(save_mutex_);
  std::string lines;
  size_t live = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      const auto next = std::next(it);
      const auto entry = by_hash.find(it->second.token_hash);
      if (entry == by_hash.end()) {
        lines += EndLine(it->first);
        EraseLocked(it);
        ++retained.ended;
      } else {
        it->second.principal.name = entry->second->name;
        it->second.principal.roles = entry->second->roles;
        ++retained.kept;
      }
      it = next;
    }
    live = sessions_.size();
    changes_.fetch_add(1);
  }
  Record(lines, retained.ended, live, /*sync=*/false);
  return retained;
}

std::optional<Principal> SessionStore::Find(std::string_view cookie_value) {
  std::optional<std::pair<Principal, std::chrono::steady_clock::time_point>> found = FindKey(HashKey(cookie_value));
  if (!found) return std::nullopt;
  return std::move(found->first);
}

std::optional<std::pair<Principal, std::chrono::steady_clock::time_point>> SessionStore::FindKey(std::string_view key) {
  std::lock_guard lock(mutex_);
  const auto found = sessions_.find(std::string(key));
  if (found == sessions_.end()) return std::nullopt;
  if (found->second.expires <= std::chrono::steady_clock::now()) {
    // Its line stays in the file until the next rewrite, which leaves it out.
    EraseLocked(found);
    return std::nullopt;
  }
  return std::make_pair(found->second.principal, found->second.expires);
}

void SessionStore::Remove(std::string_view cookie_value) {
  const std::string key = HashKey(cookie_value);
  std::lock_guard saving(save_mutex_);
  size_t live = 0;
  {
    std::lock_guard lock(mutex_);
    const auto found = sessions_.find(key);
    if (found == sessions_.end()) return;
    EraseLocked(found);
    changes_.fetch_add(1);
    live = sessions_.size();
  }
  // Synced: a signed-out cookie must not come back after a crash.
  Record(EndLine(key), 1, live, /*sync=*/true);
}

size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

size_t SessionStore::SessionsOf(const Sha256Digest& token_hash) const {
  std::lock_guard lock(mutex_);
  const auto own = by_token_.find(DigestKey(token_hash));
  return own == by_token_.end() ? 0 : own->second.size();
}

// ------------------------------------------------------------- networks

namespace {

constexpr size_t kNetworkTextBytesMax = 64;

// The bytes of an IPv4 or IPv6 address (an IPv6 scope, "%eth0", left off);
// IPv4 addresses mapped into IPv6 come back as IPv4.
struct ParsedAddress {
  bool ipv6 = false;
  std::array<uint8_t, 16> bytes{};
};

std::optional<ParsedAddress> ParseAddress(std::string_view text) {
  if (text.empty() || text.size() > kNetworkTextBytesMax) return std::nullopt;
  const std::string address(text.substr(0, text.find('%')));
  ParsedAddress parsed;
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    std::memcpy(parsed.bytes.data(), &v4, 4);
    return parsed;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, address.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(parsed.bytes.data(), reinterpret_cast<const uint8_t*>(&v6) + 12, 4);
    return parsed;
  }
  parsed.ipv6 = true;
  std::memcpy(parsed.bytes.data(), &v6, 16);
  return parsed;
}

// Whether the first `bits` bits of `a` and `b` are the same.
bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, unsigned bits) {
  size_t i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

std::string AddressText(bool ipv6, const std::array<uint8_t, 16>& bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  (void)::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

}  // namespace

Result<Network> Network::Parse(std::string_view text) {
  const std::string shown(text.substr(0, kNetworkTextBytesMax));
  const auto refuse = [&shown](const std::string& why) {
    return InvalidArgument("network", "'" + shown + "' is not a network: " + why +
                                          " (give ADDRESS/PREFIX, e.g. 10.0.0.0/8, 127.0.0.1/32 or ::1/128)");
  };
  if (text.size() > kNetworkTextBytesMax) return refuse("too long");
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return refuse("no /PREFIX");
  const std::string_view address = text.substr(0, slash);
  const std::string_view prefix = text.substr(slash + 1);
  // A scope ("%eth0") names an interface, not a network.
  const std::optional<ParsedAddress> parsed =
      address.find('%') == std::string_view::npos ? ParseAddress(address) : std::nullopt;
  // "::ffff:10.0.0.0/104" would come back as IPv4 with a prefix meant for IPv6.
  if (!parsed || (!parsed->ipv6 && address.find(':') != std::string_view::npos)) {
    return refuse("'" + std::string(address.substr(0, kNetworkTextBytesMax)) + "' is not an IPv4 or IPv6 address");
  }
  const unsigned bits_max = parsed->ipv6 ? 128 : 32;
  unsigned bits = 0;
  const auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (prefix.empty() || prefix.size() > 3 || error != std::errc() || end != prefix.data() + prefix.size() ||
      bits > bits_max) {
    return refuse("the prefix must be a number from 0 to " + std::to_string(bits_max));
  }
  Network network;
  network.ipv6_ = parsed->ipv6;
  network.prefix_bits_ = bits;
  // The network's own address: every bit past the prefix cleared.
  network.bytes_ = parsed->bytes;
  for (unsigned bit = bits; bit < bits_max; ++bit) {
    network.bytes_[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (network.bytes_ != parsed->bytes) {
    return refuse("bits are set past the /" + std::to_string(bits) + " prefix; the network is " + network.Text());
  }
  return network;
}

bool Network::Contains(std::string_view address) const {
  const std::optional<ParsedAddress> parsed = ParseAddress(address);
  if (!parsed || parsed->ipv6 != ipv6_) return false;
  return SamePrefix(parsed->bytes, bytes_, prefix_bits_);
}

std::string Network::Text() const { return AddressText(ipv6_, bytes_) + "/" + std::to_string(prefix_bits_); }

bool AnonymousReaders::Admits(std::string_view client_address) const {
  if (trusted_networks.empty()) return true;
  return std::any_of(trusted_networks.begin(), trusted_networks.end(),
                     [client_address](const Network& network) { return network.Contains(client_address); });
}

// ------------------------------------------------------ refused credentials

AuthFailureLog::AuthFailureLog(Sink sink, LockoutPolicy policy) : sink_(std::move(sink)), policy_(policy) {
  if (!sink_) sink_ = [](const std::string& line) { Log("auth", line); };
}

void AuthFailureLog::Note(std::string_view client_address, std::string_view what) {
  Note(client_address, what, std::chrono::steady_clock::now());
}

void AuthFailureLog::Note(std::string_view client_address, std::string_view what,
                          std::chrono::steady_clock::time_point now) {
  constexpr std::string_view kOthers = "(other addresses)";
  constexpr std::string_view kPrefix = "incident-ledger: refused credentials: ";
  const std::string key = client_address.empty() ? std::string("(unknown address)") : std::string(client_address);
  std::vector<std::string> lines;
  {
    std::lock_guard lock(mutex_);
    // Many addresses at once: one line for them all per interval.
    const auto say_for_others = [&] {
      if (others_.said && now - others_.last_line < kAuthFailureLogInterval) {
        ++others_.unsaid;
        return;
      }
      std::string line = std::string(kPrefix) + std::string(what) + ", from " + std::string(kOthers);
      if (others_.unsaid > 0) {
        line += " (and " + std::to_string(others_.unsaid) + " more from there since the last line, not shown)";
      }
      others_ = LineCount{.last_line = now, .unsaid = 0, .said = true};
      lines.push_back(std::move(line));
    };
    auto found = addresses_.find(key);
    if (found == addresses_.end()) {
      const bool quiet_room = MakeRoomLocked(now, &lines);
      found = addresses_.emplace(key, Address{.last_line = now, .last_seen = now, .crowded = !quiet_room}).first;
      if (quiet_room) {
        lines.push_back(std::string(kPrefix) + std::string(what) + ", from " + key);
      } else {
        say_for_others();
      }
    } else if (found->second.crowded) {
      say_for_others();
    } else if (now - found->second.last_line >= kAuthFailureLogInterval) {
      std::string line = std::string(kPrefix) + std::string(what) + ", from " + key;
      if (found->second.unsaid > 0) {
        line += " (and " + std::to_string(found->second.unsaid) + " more from there since the last line, not shown)";
      }
      found->second.last_line = now;
      found->second.unsaid = 0;
      lines.push_back(std::move(line));
    } else {
      ++found->second.unsaid;
    }

    // The lockout: the latest refusals, at most failures_max of them; when
    // that many fall within the window, the address is locked out.
    Address& address = found->second;
    address.last_seen = now;
    if (policy_.failures_max > 0 && now >= address.locked_until) {
      std::erase_if(address.recent, [&](TimePoint at) { return now - at >= policy_.window; });
      if (address.recent.size() >= policy_.failures_max) address.recent.erase(address.recent.begin());
      address.recent.push_back(now);
      if (address.recent.size() >= policy_.failures_max) {
        address.locked_until = now + policy_.lockout;
        address.recent.clear();
        lines.push_back("incident-ledger: locked out " + key + " for " + std::to_string(policy_.lockout.count()) +
                        " s after " + std::to_string(policy_.failures_max) + " refused credentials within " +
                        std::to_string(policy_.window.count()) +
                        " s: its Bearer tokens and sign-ins answer 429 until then");
      }
    }
  }
  for (const std::string& line : lines) sink_(line);
}

bool AuthFailureLog::MakeRoomLocked(TimePoint now, std::vector<std::string>* lines) {
  if (addresses_.size() < kAuthFailureAddressesMax) return true;
  // Forget the addresses that have been quiet for a whole interval and are
  // not locked out; what they did since their last line is said once, in sum.
  size_t forgotten_refusals = 0;
  size_t forgotten_addresses = 0;
  std::erase_if(addresses_, [&](const auto& item) {
    const Address& address = item.second;
    if (now - address.last_seen < kAuthFailureLogInterval || now < address.locked_until) return false;
    if (!address.crowded) {
      forgotten_refusals += address.unsaid;
      forgotten_addresses += address.unsaid > 0 ? 1 : 0;
    }
    return true;
  });
  if (forgotten_refusals > 0) {
    lines->push_back("incident-ledger: refused credentials: " + std::to_string(forgotten_refusals) + " more from " +
                     std::to_string(forgotten_addresses) + " addresses since their last line, not shown");
  }
  if (addresses_.size() < kAuthFailureAddressesMax) return true;
  // Still full: the address seen least recently goes (a lockout it was
  // under goes with it: the bound on memory comes first).
  const auto oldest = std::min_element(addresses_.begin(), addresses_.end(), [](const auto& a, const auto& b) {
    return a.second.last_seen < b.second.last_seen;
  });
  others_.unsaid += oldest->second.crowded ? 0 : oldest->second.unsaid;
  addresses_.erase(oldest);
  return false;
}

std::optional<std::chrono::seconds> AuthFailureLog::LockedOutFor(std::string_view client_address) const {
  return LockedOutFor(client_address, std::chrono::steady_clock::now());
}

std::optional<std::chrono::seconds> AuthFailureLog::LockedOutFor(std::string_view client_address,
                                                                 std::chrono::steady_clock::time_point now) const {
  const std::string key = client_address.empty() ? std::string("(unknown address)") : std::string(client_address);
  std::lock_guard lock(mutex_);
  const auto found = addresses_.find(key);
  if (found == addresses_.end() || now >= found->second.locked_until) return std::nullopt;
  // Rounded up: a client that waits Retry-After seconds is let in.
  const auto left = found->second.locked_until - now;
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(left);
  return std::max(seconds, std::chrono::seconds(1));
}

size_t AuthFailureLog::addresses_followed() const {
  std::lock_guard lock(mutex_);
  return addresses_.size();
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

bool ServedOverHttps(const HttpRequest& request) {
  // The first value: the proxy nearest the client.
  std::string_view proto = request.forwarded_proto;
  proto = proto.substr(0, proto.find(','));
  while (!proto.empty() && (proto.front() == ' ' || proto.front() == '\t')) proto.remove_prefix(1);
  while (!proto.empty() && (proto.back() == ' ' || proto.back() == '\t')) proto.remove_suffix(1);
  if (proto.size() != 5) return false;
  std::string lower(proto);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower == "https";
}

std::string_view SessionCookieName(const HttpRequest& request) {
  return ServedOverHttps(request) ? kSecureSessionCookie : kSessionCookie;
}

namespace {

// The token of an `Authorization: Bearer TOKEN` header; nullopt when the
// header is something else.
std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  return authorization.substr(kScheme.size());
}

}  // namespace

std::optional<RoleSet> HeldCredential::Roles() {
  if (kind_ == Kind::kOpen) return kAllRoles;
  if (kind_ == Kind::kAnonymous) return static_cast<RoleSet>(Role::kViewer);
  std::lock_guard lock(mutex_);
  if (looked_ && !roles_) return std::nullopt;
  // Read before the look-up: a change during it moves the generation again,
  // and the next call looks once more.
  const uint64_t generation = access_->generation();
  const auto now = std::chrono::steady_clock::now();
  if (looked_ && generation == generation_ && now < expires_) return roles_;
  looked_ = true;
  generation_ = generation;
  roles_.reset();
  if (kind_ == Kind::kBearer) {
    const std::shared_ptr<const AuthFile> file = access_->File();
    Sha256Digest hash{};
    std::copy(key_.begin(), key_.end(), hash.begin());
    if (const AuthEntry* entry = file->FindHash(hash)) roles_ = entry->roles;
    return roles_;
  }
  if (auto session = access_->sessions_.FindKey(key_)) {
    roles_ = session->first.roles;
    expires_ = session->second;
  }
  return roles_;
}

AccessControl::AccessControl(std::optional<AuthFile> auth_file, AuthFailureLog::Sink failure_sink,
                             AccessOptions options)
    : open_mode_(!auth_file), options_(std::move(options)), failures_(std::move(failure_sink), options_.lockout) {
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
  // After the swap: a held credential that sees the new generation looks in
  // the new file.
  file_generation_.fetch_add(1);
  // A session made between the swap and this pass was made from the new
  // file, so it survives it.
  return sessions_.Retain(*replacement);
}

Result<Principal> AccessControl::Check(const HttpRequest& request, RequiredAccess access) const {
  const std::optional<Role> needed = access.role();
  const bool state_changing = IsStateChanging(request.method);

  // A locked-out address may not try a token, not even a valid one.
  if (!open_mode_ && !request.authorization.empty()) {
    if (const std::optional<std::chrono::seconds> left = failures_.LockedOutFor(request.client_address)) {
      return MakeError(ErrorCode::kUnavailable,
                       "too many refused credentials from this address: tokens from it are refused for " +
                           std::to_string(left->count()) + " more seconds",
                       std::string(kLockedOutField));
    }
  }

  // Credentials, when any are sent.
  std::optional<std::string_view> bearer;
  if (!request.authorization.empty()) {
    bearer = BearerToken(request.authorization);
    if (!bearer) {
      if (!open_mode_) failures_.Note(request.client_address, "an Authorization header that is not 'Bearer TOKEN'");
      return MakeError(ErrorCode::kUnauthenticated, "the Authorization header must be 'Bearer TOKEN'",
                       "Authorization");
    }
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
      failures_.Note(request.client_address, "a Bearer token that is not valid");
      return MakeError(ErrorCode::kUnauthenticated, "the Bearer token is not valid", "Authorization");
    }
    principal = Principal{.name = entry->name, .roles = entry->roles};
  } else if (const std::optional<std::string_view> cookie = CookieValue(request.cookie, SessionCookieName(request))) {
    principal = sessions_.Find(*cookie);
    // An expired cookie on a read: the reader reads on anonymously, when
    // anonymous readers are admitted.
    if (!principal && needed && !(*needed == Role::kViewer && AdmitsAnonymous(request))) {
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
  if (!principal && *needed == Role::kViewer && AdmitsAnonymous(request)) {
    return Principal{.name = std::string(kAnonymousName), .roles = static_cast<RoleSet>(Role::kViewer),
                     .anonymous = true};
  }
  if (!principal) return NeedsCredentials();
  if (!principal->Has(*needed)) {
    return MakeError(ErrorCode::kPermissionDenied, "'" + principal->name + "' has the role " +
                                                       RoleSetText(principal->roles) + "; this route needs " +
                                                       std::string(RoleName(*needed)));
  }
  return *principal;
}

bool AccessControl::AdmitsAnonymous(const HttpRequest& request) const {
  return !open_mode_ && options_.anonymous && options_.anonymous->Admits(request.client_address);
}

std::optional<NewSession> AccessControl::SignIn(std::string_view token, std::string_view client_address) {
  if (open_mode_) return std::nullopt;
  // An empty form tries no token: it is neither refused nor counted.
  if (!token.empty() && failures_.LockedOutFor(client_address)) return std::nullopt;
  const std::shared_ptr<const AuthFile> file = File();
  const AuthEntry* entry = token.size() <= kPresentedTokenBytesMax ? file->Find(token) : nullptr;
  if (entry == nullptr) {
    // An empty form is a person who forgot to paste, not a guess.
    if (!token.empty()) failures_.Note(client_address, "a sign-in with a token that is not valid");
    return std::nullopt;
  }
  return sessions_.Create(*entry);
}

void AccessControl::SignOut(const HttpRequest& request) {
  if (const std::optional<std::string_view> cookie = CookieValue(request.cookie, SessionCookieName(request))) {
    sessions_.Remove(*cookie);
  }
}

std::shared_ptr<HeldCredential> AccessControl::Hold(const HttpRequest& request) const {
  using Kind = HeldCredential::Kind;
  if (open_mode_) return std::shared_ptr<HeldCredential>(new HeldCredential(this, Kind::kOpen, {}));
  // The credential Check took: Bearer when the header is there, else the cookie.
  if (!request.authorization.empty()) {
    const std::optional<std::string_view> token = BearerToken(request.authorization);
    // An unusable header holds a key no token hashes to: it admits nobody.
    const std::string key = token ? DigestKey(Sha256(*token)) : std::string(kSha256Bytes, '\0');
    return std::shared_ptr<HeldCredential>(new HeldCredential(this, Kind::kBearer, key));
  }
  const std::optional<std::string_view> cookie = CookieValue(request.cookie, SessionCookieName(request));
  // Check admitted an anonymous reader when no session stood behind the
  // cookie (or there was none): that right lasts while the service runs.
  if (AdmitsAnonymous(request) && (!cookie || !sessions_.Find(*cookie))) {
    return std::shared_ptr<HeldCredential>(new HeldCredential(this, Kind::kAnonymous, {}));
  }
  return std::shared_ptr<HeldCredential>(
      new HeldCredential(this, Kind::kSession, cookie ? HashKey(*cookie) : std::string()));
}

std::string AccessControl::SessionCookieHeader(std::string_view cookie_value, bool https) {
  // `__Host-` needs Secure, Path=/ and no Domain, all of which it has.
  return std::string(https ? kSecureSessionCookie : kSessionCookie) + "=" + std::string(cookie_value) + "; Path=/; " +
         (https ? "Secure; " : "") + "HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(std::chrono::seconds(kSessionLifetime).count());
}

std::string AccessControl::ClearedCookieHeader(bool https) {
  return std::string(https ? kSecureSessionCookie : kSessionCookie) + "=; Path=/; " + (https ? "Secure; " : "") +
         "HttpOnly; SameSite=Strict; Max-Age=0";
}

}  // namespace ledger::http
