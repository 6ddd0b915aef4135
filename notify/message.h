#pragma once
// The notification mail: an RFC 5322 message, plain text, built from a queue
// job and the notice of its incident event. Pure functions, no I/O.
//
// Everything in it that a user typed (title, systems, engineer, note,
// description, link) is untrusted. It goes only into the subject (with CR,
// LF and every other control character removed, then RFC 2047-encoded when
// it is not plain ASCII) and into the text/plain body (quoted-printable, so
// no line of the body can end the message or start a header). Addresses were
// validated to plain ASCII when subscribed; they are checked again here.
//
// The same job always gives the same bytes: the Date header is the incident
// event's recorded time, and the Message-ID is derived from the event's hash
// and the recipient, so a mail client can drop a repeat of the same job.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "projections/notifications.h"

namespace ledger::notify {

constexpr size_t kHeaderLineBytesMax = 78;
constexpr size_t kQuotedPrintableLineBytesMax = 76;

// The links a mail carries (DeliveryOptions::links; none without
// `serve --public-url`). Built by the service from its public URL: absolute
// http(s) URLs of printable ASCII, checked again here.
struct MailLinks {
  // <public-url>/unsubscribe?token=...: said in the body and in the
  // List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058). Only
  // mails to subscribers carry it (incident, review and maintenance
  // notices), not those to an action item's owner.
  std::string unsubscribe_url;
  // The page of the notice's incident (<public-url>/incidents/INC-n).
  std::string page_url;
};

struct Mail {
  std::string envelope_from;  // bare address
  std::string envelope_to;    // bare address
  std::string message_id;     // with angle brackets
  std::string subject;        // decoded (UTF-8), for logs and tests
  std::string text;           // the whole message, CRLF line ends
};

// Composes the mail for `job` (an incident event's notice, or a review's
// or an action item's: projections/notifications.h); `from` is the sender address (validated).
// `tree_head_header`, when given, is the X-Ledger-Tree-Head value
// (ledger/tree_head.h: "size=N; root=HEX; time=T; sig=B64"), folded at its
// "; " so that each line stays short; it must be printable ASCII.
// Fails with kInvalidArgument when an address is unsafe for a header.
// `links` (optional): see MailLinks; a link that is not a printable ASCII
// http(s) URL is refused (kInvalidArgument, field "links").
Result<Mail> ComposeMail(const projections::Notice& notice, const projections::Job& job, std::string_view from,
                         std::string_view tree_head_header = {}, const MailLinks& links = {});

// The confirmation mail of a self-service subscription request: to `to`
// (normalised), naming `systems`, with the link that confirms
// (`confirm_url`, where a page with a button appends the subscription) and
// the one-click `unsubscribe_url` (List-Unsubscribe, as every mail).
// `sent_at_micros` is its Date. Its Message-ID is random-free: derived from
// the confirm URL. Fails as ComposeMail does.
Result<Mail> ComposeConfirmationMail(std::string_view from, std::string_view to, const std::vector<std::string>& systems,
                                     std::string_view confirm_url, std::string_view unsubscribe_url,
                                     int64_t sent_at_micros);

// The header block of `mail` (its subject and Message-ID set), ending in the
// blank line; the body follows.
// `tree_head_header`: as for ComposeMail (empty: none); refused when it is
// not printable ASCII.
Result<std::string> Headers(const projections::Notice& notice, const Mail& mail, std::string_view sender,
                            std::string_view to, std::string_view tree_head_header,
                            std::string_view unsubscribe_url = {});

// "<inc-7.12.3f9a0c1d2b4e5f60@example.org>": ticket, event seq, and 16 hex
// digits of SHA-256(event hash || recipient), at the sender's domain.
std::string MessageIdFor(const projections::Notice& notice, std::string_view recipient, std::string_view from);

// Header-safe text: CR, LF, tabs, other control characters and every code
// point one-line text refuses (U+2028, U+2029, direction controls, invisible
// characters; common/encoding.h) become one space; invalid UTF-8 is replaced; runs of
// spaces collapse.
std::string HeaderSafe(std::string_view text);
// An unstructured header value: as is when short printable ASCII, otherwise
// RFC 2047 "B" encoded-words of at most 75 characters, folded with CRLF SP.
// `text` must already be HeaderSafe.
std::string EncodeHeaderText(std::string_view text, size_t name_bytes);
// Quoted-printable (RFC 2045) of UTF-8 text whose lines end in LF or CRLF;
// output lines end in CRLF and are at most 76 characters.
std::string QuotedPrintable(std::string_view text);
// RFC 5322 date-time in UTC: "Tue, 24 Nov 2026 07:40:00 +0000".
std::string Rfc5322Date(int64_t unix_micros);

}  // namespace ledger::notify
