#pragma once
// Writing HTML from untrusted text. Every piece of user text (titles,
// descriptions, notes, names, systems) goes through HtmlEscape before it
// reaches a page, in element content and in quoted attribute values alike.
// Pure functions.

#include <string>
#include <string_view>

namespace ledger::http {

// Escapes & < > " ' so that the text stays text inside element content and
// inside a double- or single-quoted attribute value. Bytes that are not
// well-formed UTF-8 become U+FFFD, so that a page is always valid UTF-8.
std::string HtmlEscape(std::string_view text);
void AppendHtmlEscaped(std::string* out, std::string_view text);

// Percent-encodes everything but unreserved characters (RFC 3986), for a
// value placed in a URL's query or path segment.
std::string UrlEncodeComponent(std::string_view text);

}  // namespace ledger::http
