#include "ingest/form_body.h"

#include "common/encoding.h"
#include "ingest/command.h"

namespace ledger::ingest {
namespace {

constexpr size_t kFieldNameBytesMax = 64;

}  // namespace

Status ForEachFormField(std::string_view body,
                        const std::function<Status(std::string name, std::string value)>& visit) {
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, equals));
    if (!name) return InvalidArgument("", "the form body has a malformed %-escape in a field name");
    std::optional<std::string> value =
        PercentDecode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!value) {
      const std::string shown = QuotableText(*name, kFieldNameBytesMax);
      return InvalidArgument(shown, shown + " has a malformed %-escape");
    }
    if (Status visited = visit(std::move(*name), std::move(*value)); !visited) return visited;
  }
  return {};
}

}  // namespace ledger::ingest
