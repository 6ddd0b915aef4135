#pragma once
// What the HTTP unit tests build requests and auth files from.

#include <string>
#include <utility>

#include "common/encoding.h"
#include "http/message.h"

namespace ledger::http::test_support {

// One line of an auth file: a name, its roles, the token's SHA-256.
inline std::string HashLine(const std::string& name, const std::string& roles, const std::string& token) {
  return name + " " + roles + " sha256:" + HexEncode(Sha256(token));
}

// A request as a browser on the service's own origin would send it.
inline HttpRequest Request(std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.host = "127.0.0.1:8080";
  return request;
}

}  // namespace ledger::http::test_support
