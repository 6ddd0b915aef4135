#pragma once
// gzip (RFC 1952) compression with zlib, for answers to clients that send
// Accept-Encoding: gzip. Pure function, thread-safe.

#include <string>
#include <string_view>

#include "common/result.h"

namespace ledger::http {

// The gzip member holding `data`, at zlib's best compression (assets are
// compressed once, at start-up). Fails with kIoError only when zlib does
// (out of memory).
Result<std::string> GzipCompress(std::string_view data);

// True when an Accept-Encoding header value accepts gzip ("gzip" or "*",
// without q=0).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace ledger::http
