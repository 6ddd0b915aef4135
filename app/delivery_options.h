#pragma once
// The `serve` options of mail delivery (--smtp-*), read into the worker's
// DeliveryOptions (notify/worker.h). Every flag is parsed in app/; the
// modules below take plain option structs.
//
// Failures: an option that breaks its rule is an kInvalidArgument naming it
// (field = the flag) and the rule; an unreadable --smtp-password-file says
// so. Reads --smtp-password-file; otherwise no I/O. Callable from any thread.
//
// Credentials never ride in --smtp-url: a URL with userinfo
// (smtp://user:password@host) is refused, pointing to --smtp-user and
// --smtp-password-file, because a command line is visible to every user of
// the machine (ps, /proc) and URLs end up in logs. The refusal does not
// repeat the URL.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "notify/worker.h"

namespace ledger::app {

// The options read here, e.g. "--smtp-url".
const std::vector<std::string>& DeliveryOptionNames();

// Reads them from parsed command-line options; nullopt when --smtp-url is
// absent (no worker: jobs stay pending). Logs nothing, so `serve` checks them
// once before it touches the data folder and again where it starts mail.
Result<std::optional<notify::DeliveryOptions>> ParseDeliveryOptions(const std::map<std::string, std::string>& options);

// serve --public-url (LEDGER_PUBLIC_URL): the address readers reach the
// service at, which the links in mails start with (one-click unsubscribe,
// self-service confirmation, incident pages). An absolute http or https URL
// of printable ASCII, at most kPublicUrlBytesMax bytes, with a host, an
// optional port and path, and no userinfo, query or fragment; answered
// without a trailing "/". nullopt when not given (mails carry no links and
// self-service subscription is off). kInvalidArgument (field
// "--public-url") naming the rule.
constexpr size_t kPublicUrlBytesMax = 200;
Result<std::optional<std::string>> ParsePublicUrl(const std::map<std::string, std::string>& options);

// True when a user name would be sent over plain smtp:// without STARTTLS,
// which the start warns about.
bool SendsCredentialsWithoutTls(const notify::DeliveryOptions& options);

// True when the URL's authority (between "scheme://" and the next '/', '?'
// or '#') holds a '@', i.e. userinfo such as "user:password@".
bool HasUserinfo(std::string_view url);

// `url` with any userinfo replaced by "***@", for log lines: whatever a URL
// came from, a log never shows its user name or password.
std::string UrlForLog(std::string_view url);

}  // namespace ledger::app
