#include "http/static_assets.h"

#include "common/text.h"

#include "http/gzip.h"

namespace ledger::http {
namespace {

// Compressing tiny files costs more in headers than it saves.
constexpr size_t kCompressBytesMin = 256;

}  // namespace

std::string ContentTypeFor(std::string_view name) {
  const size_t dot = name.rfind('.');
  const std::string_view extension = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (extension == "html") return "text/html; charset=utf-8";
  if (extension == "css") return "text/css; charset=utf-8";
  if (extension == "js") return "text/javascript; charset=utf-8";
  if (extension == "json") return "application/json";
  if (extension == "svg") return "image/svg+xml";
  if (extension == "png") return "image/png";
  if (extension == "ico") return "image/x-icon";
  if (extension == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view candidate = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (candidate == "*") return true;
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);
    if (candidate == etag) return true;
  }
  return false;
}

HttpResponse RevalidatedAnswer(const HttpRequest& request, const std::string& etag, bool gzip) {
  HttpResponse response;
  response.headers.emplace_back("ETag", etag);
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (IfNoneMatchMatches(request.if_none_match, etag)) {
    response.status = 304;
    return response;
  }
  if (gzip) response.headers.emplace_back("Content-Encoding", "gzip");
  return response;
}

StaticAssets::StaticAssets() {
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    if (asset.name.empty()) continue;
    Prepared prepared{.asset = asset,
                      .content_type = ContentTypeFor(asset.name),
                      .etag = "\"" + std::string(asset.etag) + "\"",
                      .gzip = {},
                      .gzip_etag = "\"" + std::string(asset.etag) + "-gzip\""};
    if (asset.bytes.size() >= kCompressBytesMin) {
      // A failure to compress (zlib out of memory) only costs bandwidth: the
      // asset is then always sent as it is.
      Result<std::string> compressed = GzipCompress(asset.bytes);
      if (compressed && compressed->size() < asset.bytes.size()) prepared.gzip = std::move(*compressed);
    }
    assets_.emplace(std::string(asset.name), std::move(prepared));
  }
}

std::optional<HttpResponse> StaticAssets::Answer(std::string_view name, const HttpRequest& request) const {
  const auto found = assets_.find(name);
  if (found == assets_.end()) return std::nullopt;
  const Prepared& prepared = found->second;
  const bool gzip = !prepared.gzip.empty() && AcceptsGzip(request.accept_encoding);
  const std::string& etag = gzip ? prepared.gzip_etag : prepared.etag;
  HttpResponse response = RevalidatedAnswer(request, etag, gzip);
  response.content_type = prepared.content_type;
  if (response.status == 304) return response;
  if (gzip) {
    response.body = prepared.gzip;
  } else {
    response.body = std::string(prepared.asset.bytes);
  }
  return response;
}

}  // namespace ledger::http
