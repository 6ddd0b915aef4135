#pragma once
// Answers for the embedded web assets (embedded_assets.h): the right
// Content-Type, gzip when the client accepts it (compressed once, at
// construction), a strong ETag per representation, and 304 Not Modified for
// a matching If-None-Match. Clients revalidate on every use
// (Cache-Control: no-cache), so a new build is picked up at once.
//
// Thread safety: immutable after construction.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "http/embedded_assets.h"

namespace ledger::http {

// "text/css; charset=utf-8" etc., from the name's extension;
// application/octet-stream when unknown.
std::string ContentTypeFor(std::string_view name);

class StaticAssets {
 public:
  StaticAssets();

  bool Contains(std::string_view name) const { return assets_.contains(name); }

  // The answer for asset `name` (e.g. "static/app.css"), or nullopt when
  // there is none. GET or HEAD only; the caller checks the method.
  std::optional<HttpResponse> Answer(std::string_view name, const HttpRequest& request) const;

 private:
  struct Prepared {
    EmbeddedAsset asset;
    std::string content_type;
    std::string etag;       // quoted
    std::string gzip;       // empty when compressing does not make it smaller
    std::string gzip_etag;  // quoted
  };
  std::map<std::string, Prepared, std::less<>> assets_;
};

// True when an If-None-Match header value matches `etag` (quoted), or is "*".
// Weak comparison, as RFC 9110 asks for If-None-Match.
bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag);

// The headers of an answer kept by the browser but asked for again every
// time: `etag` (quoted), Cache-Control: no-cache, Vary: Accept-Encoding,
// and Content-Encoding: gzip when `gzip`. Status 304 (send no body) when
// the request's If-None-Match matches, else 200 (the caller adds the body).
HttpResponse RevalidatedAnswer(const HttpRequest& request, const std::string& etag, bool gzip);

}  // namespace ledger::http
