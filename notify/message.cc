#include "notify/message.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/encoding.h"
#include "common/text.h"
#include "common/time.h"
#include "ingest/fields.h"
#include "ingest/subscription_links.h"
#include "ingest/subscriptions.h"

namespace ledger::notify {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kSenderName = "Incident ledger";
constexpr size_t kEncodedWordChunkBytes = 45;  // 45 bytes -> 60 base64 chars + 12 of framing = 72 < 75
constexpr size_t kMessageIdHashHexDigits = 16;
// A header line may hold 998 characters (RFC 5322 2.1.1); the
// List-Unsubscribe URL is folded onto a line of its own.
constexpr size_t kLinkBytesMax = 900;

// A link for a mail: an absolute http(s) URL of printable ASCII without
// spaces or angle brackets (it goes between < > in a header).
Status CheckLink(std::string_view url) {
  if (url.empty()) return {};
  if (url.size() > kLinkBytesMax) return InvalidArgument("links", "a link is longer than " + std::to_string(kLinkBytesMax) + " bytes");
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return InvalidArgument("links", "a link must be an http or https URL");
  }
  for (const char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"') {
      return InvalidArgument("links", "a link may hold only printable ASCII without spaces, quotes or angle brackets");
    }
  }
  return {};
}

// Mails to subscribers (incidents, reviews, maintenance) carry the
// unsubscribe link; those to an action item's owner do not (unsubscribing
// would not stop them).
bool ToSubscribers(proto::EventType type) {
  // A refused sheet row's mail goes to the row's author, not to subscribers.
  if (type == proto::SHEET_ROW_REFUSED) return false;
  return !projections::IsFollowUpNoticeEvent(type) || type == proto::REVIEW_PUBLISHED;
}

// RFC 2369 and RFC 8058: the one-click unsubscribe headers; none without a
// link. The URL goes on a folded line of its own (it may be long).
std::string UnsubscribeHeaders(std::string_view unsubscribe_url) {
  if (unsubscribe_url.empty()) return {};
  return "List-Unsubscribe:\r\n <" + std::string(unsubscribe_url) + ">\r\n" +
         "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
}

// The lines of the signature about the links.
std::string LinkLines(const MailLinks& links, bool to_subscribers) {
  std::string lines;
  if (to_subscribers && !links.unsubscribe_url.empty()) {
    lines += "To stop these mails, open " + links.unsubscribe_url + "\n";
  }
  return lines;
}

const char* ActionPhrase(proto::EventType type) {
  switch (type) {
    case proto::INCIDENT_OPENED: return "opened";
    case proto::INCIDENT_CLOSED: return "closed";
    case proto::INCIDENT_REOPENED: return "reopened";
    default: return "updated";
  }
}

const char* SubjectVerb(proto::EventType type) {
  switch (type) {
    case proto::INCIDENT_OPENED: return "Opened";
    case proto::INCIDENT_CLOSED: return "Closed";
    case proto::INCIDENT_REOPENED: return "Reopened";
    default: return "Updated";
  }
}

// Field names as a reader says them (the field table's mail label).
std::string FieldLabel(std::string_view field) {
  const ingest::PayloadField* payload_field = ingest::FindPayloadField(field);
  return std::string(payload_field == nullptr ? field : payload_field->mail_label);
}

// Body text: keeps newlines and tabs, drops other control characters and
// the direction overrides a multi-line text may not hold (TextShape in
// common/encoding.h; ingest refuses them, but an event stored before it did
// may hold one) and replaces invalid UTF-8, so the body is valid text/plain;
// charset=utf-8 that reads as it was stored.
std::string BodySafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (!IsValidUtf8(text)) return HeaderSafe(text);
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const size_t length = byte < 0x80 ? 1 : std::max<size_t>(Utf8SequenceLength(text, i), 1);
    const std::string_view piece = text.substr(i, length);
    i += length;
    if (piece == "\r") continue;
    if (FirstRefusedCodePoint(piece, TextShape::kMultiLine)) continue;
    out += piece;
  }
  return out;
}

// Indents every line of a multi-line value by two spaces.
std::string Indented(std::string_view text) {
  std::string out = "  ";
  for (const char c : text) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

// Length of the UTF-8 sequence starting with `lead` (1 for a stray byte).
size_t SequenceLength(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

std::string DomainOf(std::string_view address) {
  const size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string("localhost") : std::string(address.substr(at + 1));
}

// What the mail about a review or an action item says: its subject (before
// HeaderSafe) and body. `notice.follow_up` holds the payload (see
// projections/notifications.h).
struct FollowUpText {
  std::string subject;
  std::string body;
};

FollowUpText FollowUpMail(const projections::Notice& notice, std::string_view to) {
  const projections::TicketState& state = notice.ticket_state;
  const std::string title = HeaderSafe(state.title);
  FollowUpText text;
  std::string& body = text.body;
  if (notice.type == proto::REVIEW_PUBLISHED) {
    proto::ReviewPayload review;
    (void)review.ParseFromString(notice.follow_up);  // written by the fold; an empty review reads as such
    text.subject = "[" + notice.ticket + "] Review published: " + title;
    body += "The post-incident review of " + notice.ticket + " was published.\n\n";
    body += "Ticket:    " + notice.ticket + "\n";
    body += "Title:     " + BodySafe(title) + "\n";
    body += "Severity:  " + std::string(projections::SeverityName(state.severity)) + "\n";
    body += "Systems:   " + HeaderSafe(Join(state.systems, ", ")) + "\n";
    const projections::Period& latest = state.periods.back();
    body += "Start:     " + FormatRfc3339(state.periods.front().start) + "\n";
    body += "End:       " + (latest.end ? FormatRfc3339(*latest.end) : std::string("ongoing")) + "\n";
    const auto block = [&](std::string_view label, const std::string& value) {
      if (value.empty()) return;
      body += "\n" + std::string(label) + ":\n" + Indented(BodySafe(value)) + "\n";
    };
    block("Summary", review.summary());
    block("Impact", review.impact_summary());
    block("Root cause", review.root_cause());
    if (review.contributing_factors_size() > 0) {
      body += "\nContributing factors:\n";
      for (const std::string& factor : review.contributing_factors()) body += "  - " + HeaderSafe(factor) + "\n";
    }
    block("Lessons", review.lessons());
    body += "\nThe review was written against the ledger through event " +
            std::to_string(review.reviewed_through_seq()) + " (hash " + HexEncode(review.reviewed_head_hash()) +
            ").\n";
    body += "\n-- \n";
    body += "You receive this because " + std::string(to) + " is subscribed to notices about " +
            HeaderSafe(Join(notice.affected_systems, ", ")) + " (or all systems).\n";
  } else {
    proto::ActionItemPayload item;
    (void)item.ParseFromString(notice.follow_up);  // written by the fold
    const std::string item_title = HeaderSafe(item.title());
    if (notice.type == proto::ACTION_ITEM_OVERDUE) {
      text.subject = "[" + notice.ticket + "] Action item " + item.item() + " is overdue (due " + item.due() +
                     "): " + item_title;
      body += "Action item " + item.item() + " of " + notice.ticket + " was due on " + item.due() +
              " and is still open.\n\n";
    } else {
      text.subject = "[" + notice.ticket + "] Action item " + item.item() + " assigned to you: " + item_title;
      body += "Action item " + item.item() + " of " + notice.ticket + " is yours.\n\n";
    }
    body += "Item:      " + item.item() + "\n";
    body += "Title:     " + BodySafe(item_title) + "\n";
    body += "Due:       " + (item.due().empty() ? std::string("(none)") : HeaderSafe(item.due())) + "\n";
    body += "Link:      " + (item.link().empty() ? std::string("(none)") : HeaderSafe(item.link())) + "\n";
    body += "Incident:  " + notice.ticket + ": " + BodySafe(title) + "\n";
    body += "Systems:   " + HeaderSafe(Join(state.systems, ", ")) + "\n";
    if (!item.note().empty()) body += "\nNote:\n" + Indented(BodySafe(item.note())) + "\n";
    body += "\n-- \n";
    body += "You receive this because " + std::string(to) + " owns this action item.\n";
  }
  body += "Ledger event " + std::to_string(notice.seq) + ", recorded " + FormatRfc3339Utc(notice.recorded_at_micros) +
          ".\n";
  return text;
}

// What the mail about a maintenance window says (before HeaderSafe for
// the subject). `notice.follow_up` holds the whole window (see
// projections/notifications.h).
FollowUpText MaintenanceMail(const projections::Notice& notice, std::string_view to) {
  proto::MaintenancePayload window;
  (void)window.ParseFromString(notice.follow_up);  // written by the fold
  const std::string title = HeaderSafe(window.title());
  const auto time_of = [](const proto::Timestamp& timestamp) {
    return FormatRfc3339(Instant{timestamp.unix_micros(), timestamp.offset_minutes()});
  };
  FollowUpText text;
  std::string& body = text.body;
  std::string verb = "scheduled";
  std::string status = "scheduled";
  if (notice.type == proto::MAINTENANCE_STARTED) {
    verb = "started";
    status = "in progress";
  } else if (notice.type == proto::MAINTENANCE_ENDED) {
    verb = "ended";
    status = "completed";
  }
  text.subject = "[" + notice.ticket + "] Maintenance " + verb + ": " + title;
  body += "Maintenance window " + notice.ticket + " was " + verb + ".\n\n";
  body += "Window:    " + notice.ticket + "\n";
  body += "Title:     " + BodySafe(title) + "\n";
  body += "Status:    " + status + "\n";
  body += "Systems:   " + HeaderSafe(Join(notice.affected_systems, ", ")) + "\n";
  body += "Planned:   " + time_of(window.starts_at()) + " to " + time_of(window.ends_at()) + "\n";
  if (window.has_started_at()) body += "Started:   " + time_of(window.started_at()) + "\n";
  if (window.has_ended_at()) body += "Ended:     " + time_of(window.ended_at()) + "\n";
  body += "Link:      " + (window.link().empty() ? std::string("(none)") : HeaderSafe(window.link())) + "\n";
  if (!window.description().empty()) body += "\nDescription:\n" + Indented(BodySafe(window.description())) + "\n";
  body += "\n-- \n";
  body += "You receive this because " + std::string(to) + " is subscribed to notices about " +
          HeaderSafe(Join(notice.affected_systems, ", ")) + " (or all systems).\n";
  body += "Ledger event " + std::to_string(notice.seq) + ", recorded " + FormatRfc3339Utc(notice.recorded_at_micros) +
          ".\n";
  return text;
}

// What the mail to the submitter of a refused sheet row says (before
// HeaderSafe for the subject). `notice.follow_up` holds the event's
// SheetRowRefusal. Every cell is quoted as text: the body is text/plain.
FollowUpText SheetRefusalMail(const projections::Notice& notice, std::string_view to) {
  proto::SheetRowRefusal refusal;
  (void)refusal.ParseFromString(notice.follow_up);  // written by the fold
  const std::string row = std::to_string(refusal.row());
  const std::string column =
      refusal.column().empty() ? std::string() : HeaderSafe(refusal.column()) + " (" + HeaderSafe(refusal.column_letters()) + ")";
  FollowUpText text;
  std::string& body = text.body;
  text.subject = "Sheet row " + row + " was not imported" + (column.empty() ? "" : ": " + column);
  body += "Your response on row " + row + " of the incident sheet " + HeaderSafe(refusal.file()) +
          " was not imported into the incident ledger.\n\n";
  body += "Row:       " + row + "\n";
  body += "Column:    " + (column.empty() ? std::string("(the row as a whole)") : column) + "\n";
  body += "Rule:\n" + Indented(BodySafe(refusal.rule())) + "\n";
  body += "\nWhat the row says:\n";
  for (const proto::SheetCell& cell : refusal.cells()) {
    const bool blamed = !refusal.column().empty() && cell.column() == refusal.column();
    body += "  " + HeaderSafe(cell.column()) + (blamed ? " (this one)" : "") + ":\n";
    body += Indented(Indented(BodySafe(cell.text()))) + "\n";
  }
  body += "\nHow to fix it: edit the row in the sheet so that " +
          (column.empty() ? std::string("it follows the rule above") : "the " + column + " cell follows the rule above") +
          " (or submit the form again with the corrected answer). The sheet is read again when it changes, and the "
          "corrected row goes in then. You will not be mailed again about this row as it stands now.\n";
  body += "\n-- \n";
  body += "You receive this because " + std::string(to) + " is the e-mail address of that row.\n";
  body += "Ledger event " + std::to_string(notice.seq) + ", recorded " + FormatRfc3339Utc(notice.recorded_at_micros) +
          ".\n";
  return text;
}

}  // namespace

std::string HeaderSafe(std::string_view text) {
  const std::string valid = Utf8OrAscii(text);
  std::string out;
  out.reserve(valid.size());
  size_t i = 0;
  while (i < valid.size()) {
    const auto byte = static_cast<unsigned char>(valid[i]);
    const size_t length = byte < 0x80 ? 1 : std::max<size_t>(Utf8SequenceLength(valid, i), 1);
    std::string_view piece = std::string_view(valid).substr(i, length);
    i += length;
    if (FirstRefusedCodePoint(piece, TextShape::kOneLine)) piece = " ";
    if (piece == " " && (out.empty() || out.back() == ' ')) continue;
    out += piece;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string EncodeHeaderText(std::string_view text, size_t name_bytes) {
  bool plain = name_bytes + 2 + text.size() <= kHeaderLineBytesMax;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) plain = false;
  }
  // "=?" at the start of a word would be read as an encoded-word.
  if (text.find("=?") != std::string_view::npos) plain = false;
  if (plain) return std::string(text);
  std::string out;
  size_t position = 0;
  while (position < text.size()) {
    size_t end = position;
    while (end < text.size()) {
      const size_t length = SequenceLength(static_cast<unsigned char>(text[end]));
      if (end + length - position > kEncodedWordChunkBytes) break;
      end += length;
    }
    if (end == position) end = std::min(text.size(), position + 1);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(text.substr(position, end - position)) + "?=";
    position = end;
  }
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  size_t line_bytes = 0;
  const auto emit = [&](std::string_view piece) {
    // Keep room for the soft break's "=" within the line limit.
    if (line_bytes + piece.size() > kQuotedPrintableLineBytesMax - 1) {
      out += "=\r\n";
      line_bytes = 0;
    }
    out += piece;
    line_bytes += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      out += kCrlf;
      line_bytes = 0;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    const bool literal = (byte >= 33 && byte <= 126 && c != '=' && !(c == '.' && line_bytes == 0)) ||
                         ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      emit(std::string_view(&c, 1));
    } else {
      const char escaped[3] = {'=', kHex[byte >> 4], kHex[byte & 0x0f]};
      emit(std::string_view(escaped, 3));
    }
  }
  return out;
}

std::string Rfc5322Date(int64_t unix_micros) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t seconds = unix_micros / 1'000'000;
  if (unix_micros < 0 && unix_micros % 1'000'000 != 0) seconds -= 1;
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[utc.tm_wday], utc.tm_mday,
                kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

std::string MessageIdFor(const projections::Notice& notice, std::string_view recipient, std::string_view from) {
  // A refused sheet row has no ticket.
  std::string ticket = notice.ticket.empty() ? std::string("sheet-row") : notice.ticket;
  for (char& c : ticket) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const Sha256Digest digest = Sha256(AsBytes(notice.event_hash), recipient);
  return "<" + ticket + "." + std::to_string(notice.seq) + "." +
         HexEncode(digest).substr(0, kMessageIdHashHexDigits) + "@" + DomainOf(from) + ">";
}

Result<Mail> ComposeMail(const projections::Notice& notice, const projections::Job& job, std::string_view from,
                         std::string_view tree_head_header, const MailLinks& links) {
  if (Status checked = CheckLink(links.unsubscribe_url); !checked) return checked.error();
  if (Status checked = CheckLink(links.page_url); !checked) return checked.error();
  const bool to_subscribers = ToSubscribers(notice.type);
  const std::string unsubscribe_url = to_subscribers ? links.unsubscribe_url : std::string();
  // Addresses were validated when subscribed and at startup; checking again
  // here keeps a header from ever carrying anything but an addr-spec.
  Result<std::string> to = ingest::NormalizeEmail(job.key.recipient, "recipient");
  if (!to) return to.error();
  if (*to != job.key.recipient) return InvalidArgument("recipient", "the recipient address is not normalised");
  Result<std::string> sender = ingest::NormalizeEmail(from, "from");
  if (!sender) return sender.error();

  const bool maintenance = projections::IsMaintenanceNoticeEvent(notice.type);
  const bool refusal = notice.type == proto::SHEET_ROW_REFUSED;
  if (maintenance || refusal || projections::IsFollowUpNoticeEvent(notice.type)) {
    FollowUpText follow_up = maintenance ? MaintenanceMail(notice, *to)
                             : refusal   ? SheetRefusalMail(notice, *to)
                                         : FollowUpMail(notice, *to);
    // A refused sheet row names no incident: no page to link.
    if (!maintenance && !refusal && !links.page_url.empty()) {
      follow_up.body += "Incident page: " + links.page_url + "\n";
    }
    follow_up.body += LinkLines(links, to_subscribers);
    Mail mail;
    mail.envelope_from = *sender;
    mail.envelope_to = *to;
    mail.message_id = MessageIdFor(notice, *to, *sender);
    mail.subject = HeaderSafe(follow_up.subject);
    Result<std::string> headers = Headers(notice, mail, *sender, *to, tree_head_header, unsubscribe_url);
    if (!headers) return headers.error();
    mail.text = std::move(*headers);
    mail.text += QuotedPrintable(follow_up.body);
    return mail;
  }
  const projections::TicketState& state = notice.ticket_state;
  const std::string title = HeaderSafe(state.title);
  std::string what = SubjectVerb(notice.type);
  std::vector<std::string> changed_labels;
  for (const std::string& field : notice.changed) changed_labels.push_back(FieldLabel(field));
  if (notice.type == proto::INCIDENT_UPDATED && !changed_labels.empty()) {
    what += " (" + Join(changed_labels, ", ") + ")";
  }

  Mail mail;
  mail.envelope_from = *sender;
  mail.envelope_to = *to;
  mail.message_id = MessageIdFor(notice, *to, *sender);
  mail.subject = HeaderSafe("[" + notice.ticket + "] " + what + ": " + title);

  const projections::Period& latest = state.periods.back();
  std::string body;
  body += notice.ticket + " was " + ActionPhrase(notice.type) + ".\n\n";
  body += "Ticket:    " + notice.ticket + "\n";
  body += "Title:     " + BodySafe(HeaderSafe(state.title)) + "\n";
  std::string changed = Join(changed_labels, ", ");
  if (notice.type == proto::INCIDENT_OPENED) {
    changed = "opened";
  } else if (notice.type != proto::INCIDENT_UPDATED) {
    changed = ActionPhrase(notice.type) + (changed.empty() ? std::string() : "; " + changed);
  }
  body += "Changed:   " + changed + "\n";
  body += "Status:    " + std::string(projections::StatusName(state.status)) + "\n";
  body += "Severity:  " + std::string(projections::SeverityName(state.severity)) + "\n";
  body += "Impact:    " + std::string(projections::ImpactName(state.impact)) + "\n";
  body += "Phase:     " + std::string(projections::PhaseName(state)) + "\n";
  body += "Systems:   " + HeaderSafe(Join(state.systems, ", ")) + "\n";
  body += "Engineer:  " + HeaderSafe(state.engineer) + "\n";
  body += "Start:     " + FormatRfc3339(latest.start) + "\n";
  body += "End:       " + (latest.end ? FormatRfc3339(*latest.end) : std::string("ongoing")) + "\n";
  body += "Link:      " + (state.link.empty() ? std::string("(none)") : HeaderSafe(state.link)) + "\n";
  if (!links.page_url.empty()) body += "Page:      " + links.page_url + "\n";
  // Fields without rules of their own in the ticket state, in table order:
  // a line each, multi-line text as a block after the description.
  std::string other_blocks;
  ingest::ForEachGivenValue(projections::OtherFields(state), [&](const ingest::GivenValue& given) {
    const std::string label(given.field->form_label);
    if (given.field->kind == ingest::FieldKind::kText) {
      other_blocks += "\n" + label + ":\n" + Indented(BodySafe(given.text)) + "\n";
    } else {
      body += label + ": " + HeaderSafe(ingest::DisplayText(given)) + "\n";
    }
  });
  const bool has_note = std::find(notice.changed.begin(), notice.changed.end(), "note") != notice.changed.end();
  if (has_note && !state.last_note.empty()) body += "\nNote:\n" + Indented(BodySafe(state.last_note)) + "\n";
  if (!state.description.empty()) body += "\nDescription:\n" + Indented(BodySafe(state.description)) + "\n";
  body += other_blocks;
  body += "\n-- \n";
  body += "You receive this because " + *to + " is subscribed to notices about " +
          HeaderSafe(Join(notice.affected_systems, ", ")) + " (or all systems).\n";
  body += "Ledger event " + std::to_string(notice.seq) + ", recorded " + FormatRfc3339Utc(notice.recorded_at_micros) +
          ".\n";
  body += LinkLines(links, to_subscribers);

  Result<std::string> headers = Headers(notice, mail, *sender, *to, tree_head_header, unsubscribe_url);
  if (!headers) return headers.error();
  mail.text = std::move(*headers);
  mail.text += QuotedPrintable(body);
  return mail;
}

namespace {

// The header lines every mail starts with: date, addresses, subject,
// Message-ID, a quoted-printable UTF-8 text body, auto-generated.
std::string CommonHeaders(int64_t date_micros, std::string_view sender, std::string_view to, const Mail& mail) {
  std::string text;
  text += "Date: " + Rfc5322Date(date_micros) + std::string(kCrlf);
  text += "From: " + std::string(kSenderName) + " <" + std::string(sender) + ">" + std::string(kCrlf);
  text += "To: <" + std::string(to) + ">" + std::string(kCrlf);
  text += "Subject: " + EncodeHeaderText(mail.subject, std::string_view("Subject").size()) + std::string(kCrlf);
  text += "Message-ID: " + mail.message_id + std::string(kCrlf);
  text += "MIME-Version: 1.0" + std::string(kCrlf);
  text += "Content-Type: text/plain; charset=utf-8" + std::string(kCrlf);
  text += "Content-Transfer-Encoding: quoted-printable" + std::string(kCrlf);
  text += "Auto-Submitted: auto-generated" + std::string(kCrlf);
  return text;
}

}  // namespace

Result<std::string> Headers(const projections::Notice& notice, const Mail& mail, std::string_view sender,
                            std::string_view to, std::string_view tree_head_header,
                            std::string_view unsubscribe_url) {
  if (Status checked = CheckLink(unsubscribe_url); !checked) return checked.error();
  std::string text = CommonHeaders(notice.recorded_at_micros, sender, to, mail);
  if (projections::IsMaintenanceNoticeEvent(notice.type)) {
    text += "X-Maintenance-Window: " + notice.ticket + std::string(kCrlf);
  } else if (!notice.ticket.empty()) {
    text += "X-Incident-Ticket: " + notice.ticket + std::string(kCrlf);
  }
  text += "X-Ledger-Seq: " + std::to_string(notice.seq) + std::string(kCrlf);
  text += UnsubscribeHeaders(unsubscribe_url);
  if (!tree_head_header.empty()) {
    for (const char c : tree_head_header) {
      if (c < 0x20 || c > 0x7e) return InvalidArgument("tree_head_header", "the tree head header is not printable ASCII");
    }
    // One field per line: folded after each "; " (RFC 5322 unfolding gives
    // the value back with a space where each break was).
    std::string folded(tree_head_header);
    for (size_t at = folded.find("; "); at != std::string::npos; at = folded.find("; ", at + 4)) {
      folded.replace(at, 2, ";\r\n ");
    }
    text += "X-Ledger-Tree-Head: " + folded + std::string(kCrlf);
  }
  text += kCrlf;
  return text;
}

Result<Mail> ComposeConfirmationMail(std::string_view from, std::string_view to, const std::vector<std::string>& systems,
                                     std::string_view confirm_url, std::string_view unsubscribe_url,
                                     int64_t sent_at_micros) {
  Result<std::string> recipient = ingest::NormalizeEmail(to, "recipient");
  if (!recipient) return recipient.error();
  Result<std::string> sender = ingest::NormalizeEmail(from, "from");
  if (!sender) return sender.error();
  if (confirm_url.empty()) return InvalidArgument("links", "a confirmation mail needs its confirm link");
  if (Status checked = CheckLink(unsubscribe_url); !checked) return checked.error();
  // The confirm link goes only into the quoted-printable body, so it may be
  // longer than a header line; it must still be one printable line.
  for (const char c : confirm_url) {
    if (c <= 0x20 || c >= 0x7f) return InvalidArgument("links", "the confirm link must be printable ASCII");
  }
  Mail mail;
  mail.envelope_from = *sender;
  mail.envelope_to = *recipient;
  const Sha256Digest digest = Sha256(confirm_url);
  mail.message_id = "<confirm." + HexEncode(digest).substr(0, kMessageIdHashHexDigits * 2) + "@" + DomainOf(*sender) + ">";
  mail.subject = "Confirm your subscription to incident notices";

  std::string body;
  body += "Someone (probably you) asked that " + *recipient + " be told about incidents and\n";
  body += "maintenance on these systems:\n\n";
  for (const std::string& system : systems) {
    body += "  - " + (system == projections::kAllSystems ? std::string("all systems") : HeaderSafe(system)) + "\n";
  }
  body += "\nTo confirm, open this link and press the button on its page:\n\n  " + std::string(confirm_url) + "\n\n";
  body += "If you did not ask for this, ignore this mail: nothing is subscribed until the\n";
  body += "link is used, and it stops working in " +
          std::to_string(std::chrono::duration_cast<std::chrono::hours>(ingest::kConfirmLinkLifetime).count()) +
          " hours.\n";
  body += "\n-- \n";
  if (!unsubscribe_url.empty()) body += "To stop all mails to this address, open " + std::string(unsubscribe_url) + "\n";

  std::string text = CommonHeaders(sent_at_micros, *sender, *recipient, mail);
  text += UnsubscribeHeaders(unsubscribe_url);
  text += kCrlf;
  mail.text = std::move(text);
  mail.text += QuotedPrintable(body);
  return mail;
}

}  // namespace ledger::notify
