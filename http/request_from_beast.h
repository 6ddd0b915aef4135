#pragma once
// Turns a request Beast has parsed into the HttpRequest the handlers take.
// The one place that picks headers out of a Beast message: the server uses
// it, and so does the end-to-end HTTP fuzz target.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/api.h"

namespace ledger::http {

HttpRequest RequestFromBeast(const boost::beast::http::request<boost::beast::http::string_body>& message);

}  // namespace ledger::http
