#pragma once
// A parsed, shape-checked submission. Parsing checks everything that can be
// checked without the ledger: known fields only, types, lengths, counts,
// RFC 3339 times, enum values, valid UTF-8, no control characters in one-line
// fields. Rules that need the ticket's state live in processor.h.
//
// Every error is kInvalidArgument with `field` naming the input field and the
// message naming the rule. The payload fields, their kinds, limits and create
// rules come from the table in fields.h; the envelope fields (action, ticket,
// submission_id, expected_version, actor) are this file's own.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "event.pb.h"
#include "ingest/fields.h"
#include "ledger/ledger.h"

namespace ledger::ingest {

// Limits on a submission, in bytes (UTF-8) or counts. The payload fields'
// limits are in fields.h, beside the rest of each field's rules.
constexpr size_t kSubmissionIdBytesMax = 128;
constexpr size_t kActorBytesMax = 200;
// The actor of a submission that names none.
constexpr std::string_view kAnonymousActor = "anonymous";
constexpr size_t kTicketTextBytesMax = 32;
constexpr size_t kJsonDepthMax = 8;
constexpr uint32_t kExpectedVersionMax = 1'000'000'000;

enum class Action { kCreate, kUpdate, kClose, kReopen };
const char* ActionName(Action action);

struct Command {
  Action action = Action::kCreate;
  std::string ticket;  // normalized "INC-<n>"; empty for create
  std::string submission_id;
  std::optional<uint32_t> expected_version;
  std::string actor;  // who submitted; "anonymous" when not given
  proto::IncidentPayload payload;  // only the fields the submission gave

  // SHA-256 over the command's canonical content (not the time it arrived):
  // equal for two submissions that say the same thing.
  std::string Digest() const;
};

// Parses a JSON object body.
Result<Command> ParseJsonSubmission(std::string_view body);
// Parses an application/x-www-form-urlencoded body; `systems` is
// comma-separated (or repeated).
Result<Command> ParseFormSubmission(std::string_view body);

// Builds a command from named text fields, by the rules of a form body: the
// names are the field names above, a blank value counts as not given,
// `systems` is comma-separated, and a name given twice is refused. For
// sources other than HTTP (the sheet importer, see sheet_import.h), so that
// every submission passes the same checks.
Result<Command> BuildCommandFromFields(const std::vector<std::pair<std::string, std::string>>& fields);

// Normalizes what a user types for a ticket: "INC-7", "inc-7", "7" -> "INC-7".
Result<std::string> NormalizeTicket(std::string_view text, std::string_view field = "ticket");

// One line of text a person typed (a title, a name, a system, an actor):
// valid UTF-8, at most `bytes_max` bytes, and none of the code points one
// line refuses (TextShape::kOneLine: controls, U+2028, U+2029, direction
// marks and overrides, invisible characters). kInvalidArgument names `field`
// and, for a refused character, its code point ("found U+202E (a
// text-direction control)"). Does not trim.
Status CheckLine(std::string_view field, std::string_view value, size_t bytes_max);

// Multi-line text (a description, a note): like CheckLine, but line breaks,
// tabs and direction marks are fine (TextShape::kMultiLine). Does not trim.
Status CheckText(std::string_view field, std::string_view value, size_t bytes_max);

// One line, trimmed, checked as CheckLine does; answers the trimmed text.
Result<std::string> CheckedLine(std::string_view field, std::string_view value, size_t bytes_max);

// A link: one line, empty or an http:// or https:// URL without spaces.
// Does not trim.
Status CheckLink(std::string_view field, std::string_view link, size_t bytes_max);

// Checks who a request says made it (one line of at most kActorBytesMax,
// trimmed); blank: kAnonymousActor.
Result<std::string> CheckedActor(std::string_view text);

// The idempotency rule every processor applies first, on the ledger's
// writer thread: nullopt when `submission_id` is empty or not used yet; a
// Decision repeating the original event when it was used with the same
// content (`digest`, the request digest); 409 naming submission_id when it
// was used with other content; the ledger's error when the lookup fails.
Result<std::optional<Decision>> RepeatedSubmission(std::string_view submission_id, std::string_view digest,
                                                   AppendContext& context);

// Decodes application/x-www-form-urlencoded percent escapes ('+' is a space).
// Fails on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);

}  // namespace ledger::ingest
