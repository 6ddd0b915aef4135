#include "http/gzip.h"

#include "common/text.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

namespace ledger::http {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr int kMemoryLevel = 9;

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

Result<std::string> GzipCompress(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemoryLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return MakeError(ErrorCode::kIoError, "zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (status != Z_STREAM_END) return MakeError(ErrorCode::kIoError, "zlib: deflate did not finish");
  out.resize(written);
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  const std::string header = Lowercase(accept_encoding);
  std::string_view rest = header;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t semicolon = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semicolon));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    std::string_view parameters = Trim(item.substr(semicolon + 1));
    if (parameters.starts_with("q=")) {
      parameters.remove_prefix(2);
      const bool zero = !parameters.empty() && parameters.find_first_not_of("0.") == std::string_view::npos;
      if (!zero) return true;
      continue;
    }
    return true;
  }
  return false;
}

}  // namespace ledger::http
