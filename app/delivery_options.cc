#include "app/delivery_options.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "common/file.h"
#include "ingest/subscriptions.h"

namespace ledger::app {
namespace {

constexpr size_t kPasswordFileBytesMax = 4096;
constexpr size_t kUrlBytesMax = 2048;

Result<uint64_t> ParseNumber(const std::map<std::string, std::string>& options, const std::string& name,
                             uint64_t default_value, uint64_t minimum, uint64_t maximum) {
  const auto found = options.find(name);
  if (found == options.end()) return default_value;
  const std::string& text = found->second;
  const std::string rule = name + " must be a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  if (text.empty() || text.size() > 12 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgument(name, rule);
  }
  const uint64_t value = std::stoull(text);
  if (value < minimum || value > maximum) return InvalidArgument(name, rule);
  return value;
}

// Where the authority of "scheme://authority/..." ends and begins; npos for
// a URL without "://".
std::pair<size_t, size_t> AuthorityOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
  const size_t begin = scheme_end + 3;
  size_t end = url.find_first_of("/?#", begin);
  if (end == std::string_view::npos) end = url.size();
  return {begin, end};
}

}  // namespace

bool HasUserinfo(std::string_view url) {
  const auto [begin, end] = AuthorityOf(url);
  if (begin == std::string_view::npos) return url.find('@') != std::string_view::npos;
  return url.substr(begin, end - begin).find('@') != std::string_view::npos;
}

Result<std::optional<std::string>> ParsePublicUrl(const std::map<std::string, std::string>& options) {
  const auto found = options.find("--public-url");
  if (found == options.end()) return std::optional<std::string>();
  const std::string& url = found->second;
  const auto bad = [](const std::string& why) {
    return InvalidArgument("--public-url", "--public-url must be the service's address as readers reach it, like "
                                           "https://incidents.example.org: " + why);
  };
  if (url.size() > kPublicUrlBytesMax) return bad("it is longer than " + std::to_string(kPublicUrlBytesMax) + " bytes");
  for (const char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\') {
      return bad("it may hold only printable ASCII without spaces, quotes, backslashes or angle brackets");
    }
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) return bad("it must start with http:// or https://");
  if (url.find_first_of("?#") != std::string::npos) return bad("it may not hold a query (?) or a fragment (#)");
  if (HasUserinfo(url)) return bad("it may not hold a user name or password (@)");
  const auto [begin, end] = AuthorityOf(url);
  std::string_view authority = std::string_view(url).substr(begin, end - begin);
  if (authority.empty() || authority.front() == ':') return bad("it names no host");
  if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos && authority.back() != ']') {
    const std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(std::string(port)) > 65535) {
      return bad("its port must be a number from 0 to 65535");
    }
  }
  std::string trimmed = url;
  while (trimmed.size() > end && trimmed.back() == '/') trimmed.pop_back();
  return std::optional<std::string>(trimmed);
}

bool SendsCredentialsWithoutTls(const notify::DeliveryOptions& options) {
  return !options.smtp.username.empty() && !options.smtp.url.starts_with("smtps://") && !options.smtp.starttls;
}

std::string UrlForLog(std::string_view url) {
  const auto [begin, end] = AuthorityOf(url);
  if (begin == std::string_view::npos) return HasUserinfo(url) ? std::string("(a URL with credentials)") : std::string(url);
  const std::string_view authority = url.substr(begin, end - begin);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, begin)) + "***@" + std::string(authority.substr(at + 1)) + std::string(url.substr(end));
}

const std::vector<std::string>& DeliveryOptionNames() {
  static const std::vector<std::string> kNames = {
      "--smtp-url",         "--smtp-from",          "--smtp-starttls",      "--smtp-user",
      "--smtp-password-file", "--smtp-concurrency", "--smtp-retry-initial-ms", "--smtp-retry-max-ms",
      "--smtp-attempts-max", "--smtp-receipt-linger-ms",
  };
  return kNames;
}

Result<std::optional<notify::DeliveryOptions>> ParseDeliveryOptions(const std::map<std::string, std::string>& options) {
  const auto url = options.find("--smtp-url");
  if (url == options.end()) {
    for (const std::string& name : DeliveryOptionNames()) {
      if (options.contains(name)) return InvalidArgument(name, name + " needs --smtp-url");
    }
    return std::optional<notify::DeliveryOptions>();
  }
  notify::DeliveryOptions delivery;
  const std::string& url_text = url->second;
  if (url_text.size() > kUrlBytesMax || !(url_text.starts_with("smtp://") || url_text.starts_with("smtps://")) ||
      std::any_of(url_text.begin(), url_text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20; })) {
    return InvalidArgument("--smtp-url", "--smtp-url must look like smtp://host:port or smtps://host:port");
  }
  if (HasUserinfo(url_text)) {
    return InvalidArgument("--smtp-url",
                           "--smtp-url must not carry a user name or password (user:password@): a command line is "
                           "readable by every user of this machine. Give --smtp-user USER and --smtp-password-file "
                           "FILE (a file only the service's user can read) instead");
  }
  delivery.smtp.url = url_text;
  const auto from = options.find("--smtp-from");
  if (from == options.end()) return InvalidArgument("--smtp-from", "--smtp-from ADDRESS is required with --smtp-url");
  Result<std::string> sender = ingest::NormalizeEmail(from->second, "--smtp-from");
  if (!sender) return sender.error();
  delivery.smtp.from = *sender;
  if (const auto starttls = options.find("--smtp-starttls"); starttls != options.end()) {
    if (starttls->second == "on" || starttls->second == "true" || starttls->second == "yes") {
      delivery.smtp.starttls = true;
    } else if (starttls->second != "off" && starttls->second != "false" && starttls->second != "no") {
      return InvalidArgument("--smtp-starttls", "--smtp-starttls must be on or off");
    }
  }
  if (const auto user = options.find("--smtp-user"); user != options.end()) delivery.smtp.username = user->second;
  if (const auto password_file = options.find("--smtp-password-file"); password_file != options.end()) {
    if (delivery.smtp.username.empty()) return InvalidArgument("--smtp-password-file", "--smtp-password-file needs --smtp-user");
    Result<std::string> read = ReadWholeFile(password_file->second, kPasswordFileBytesMax, "password file");
    if (!read && read.error().code == ErrorCode::kTooLarge) {
      return InvalidArgument("--smtp-password-file", "the password file is too large");
    }
    if (!read) return InvalidArgument("--smtp-password-file", "cannot read " + password_file->second);
    std::string password = std::move(*read);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    delivery.smtp.password = std::move(password);
  }
  Result<uint64_t> concurrency = ParseNumber(options, "--smtp-concurrency", delivery.concurrency, 1, notify::kConcurrencyMax);
  if (!concurrency) return concurrency.error();
  delivery.concurrency = *concurrency;
  Result<uint64_t> initial = ParseNumber(options, "--smtp-retry-initial-ms",
                                        static_cast<uint64_t>(delivery.retry_delay_initial_ms), 1, notify::kRetryDelayMsMax);
  if (!initial) return initial.error();
  Result<uint64_t> maximum = ParseNumber(options, "--smtp-retry-max-ms",
                                        static_cast<uint64_t>(delivery.retry_delay_max_ms), 1, notify::kRetryDelayMsMax);
  if (!maximum) return maximum.error();
  if (*maximum < *initial) return InvalidArgument("--smtp-retry-max-ms", "--smtp-retry-max-ms must be at least --smtp-retry-initial-ms");
  delivery.retry_delay_initial_ms = static_cast<int64_t>(*initial);
  delivery.retry_delay_max_ms = static_cast<int64_t>(*maximum);
  Result<uint64_t> attempts = ParseNumber(options, "--smtp-attempts-max", delivery.attempts_max, 1, notify::kAttemptsMax);
  if (!attempts) return attempts.error();
  delivery.attempts_max = static_cast<uint32_t>(*attempts);
  Result<uint64_t> linger = ParseNumber(options, "--smtp-receipt-linger-ms",
                                        static_cast<uint64_t>(delivery.receipt_linger_ms), 0, notify::kReceiptLingerMsMax);
  if (!linger) return linger.error();
  delivery.receipt_linger_ms = static_cast<int64_t>(*linger);
  return std::optional<notify::DeliveryOptions>(std::move(delivery));
}

}  // namespace ledger::app
