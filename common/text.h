#pragma once
// Small text helpers shared by every module. Pure functions: no I/O, no
// state, callable from any thread.

#include <string>
#include <string_view>
#include <vector>

namespace ledger {

// `text` without leading and trailing blanks (space, tab, CR, LF). A view of
// `text`: it lives as long as `text` does.
constexpr std::string_view Trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

// The items with `separator` between each two: Join({"a", "b"}, ", ") is
// "a, b"; no items give "".
inline std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

}  // namespace ledger
