#pragma once
// Turns a request Beast has parsed into the HttpRequest the handlers take.
// The one place that picks headers out of a Beast message: the server uses
// it, and so does the end-to-end HTTP fuzz target.
//
// Before that, the server refuses what Beast's parser lets through but
// RFC 9112 does not, each with a 400 naming the problem and before any
// handler runs: a proxy in front of the service could read such a request
// differently (request smuggling), or one header could speak for another.
// All are defined in server.cc and pure.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/api.h"

namespace ledger::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

HttpRequest RequestFromBeast(const BeastRequest& message);

// `header` is the request line and the header fields exactly as received,
// through the empty line that ends them. Refuses a line that starts with a
// space or tab: obsolete line folding (RFC 9112 section 5.2), which Beast
// would silently join to the field above.
std::optional<Error> FoldedHeaderLine(std::string_view header);

// Refuses, in a parsed header: Transfer-Encoding other than exactly one
// `chunked` (`gzip, chunked` included), or on HTTP/1.0; Transfer-Encoding
// together with Content-Length; Content-Length given twice or as a list;
// no Host on HTTP/1.1; and a second copy of any field the service reads as
// one value (Host, Authorization, Cookie, X-CSRF-Token, Origin,
// Sec-Fetch-Site, Content-Type, Content-Length, Transfer-Encoding,
// Last-Event-ID): of two Authorization headers, neither "wins".
std::optional<Error> HeaderFault(const BeastRequest& message);

// Refuses trailer fields after a chunked body: Beast adds them to the
// message's fields, where an `Authorization` sent after the body would
// authenticate it. `header_fields` is how many fields the message had when
// its header was parsed; any past those came in the trailer.
std::optional<Error> TrailerFault(const BeastRequest& message, size_t header_fields);

// Whether the Host header value `host` (`name` or `name:port`; an IPv6
// address in brackets) names `listen_address` (the IP address the service
// listens on, as text), `localhost`, or one of `names` (lower case), in any
// letter case and with any port. The check of open mode (ServerOptions::
// allowed_hosts): a page that rebinds its own DNS name to 127.0.0.1 still
// sends its own name as Host.
bool HostNamesService(std::string_view host, std::string_view listen_address, const std::vector<std::string>& names);

}  // namespace ledger::http
