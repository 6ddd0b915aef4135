// Fuzz target for application/x-www-form-urlencoded submission bodies: the
// parser POST /api/v1/submissions uses for them
// (ingest::ParseFormSubmission), and the path the page form and the sheet
// importer take: the pairs split and decoded (http::DecodePairs), then
// ingest::BuildCommandFromFields. Built like csv_reader_fuzz (see
// tests/fuzz/README.md).
//
// Properties checked on every input:
//   - nothing crashes; a refusal is invalid_argument with a valid UTF-8
//     message that names the field it is about;
//   - an accepted command satisfies every shape rule of command.h;
//   - the command written back as a form body, as JSON, and as fields parses
//     to the same command (same Digest());
//   - where the two paths can agree (no name given twice: only the body
//     parser takes `systems` repeated), they do: both accept with the same
//     command, or both refuse;
//   - percent-decoding inverts encoding, for the decoded names and values.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/query_params.h"
#include "ingest/command.h"
#include "tests/fuzz/command_checks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using ledger::Result;
using Fields = std::vector<std::pair<std::string, std::string>>;

// More than any form has, fewer than the fuzzer would like to pile up.
constexpr size_t kPairsMax = 64;

void CheckAccepted(const ledger::ingest::Command& command) {
  ledger::fuzz::CheckCommand(command);
  const Fields fields = ledger::fuzz::CommandFields(command);
  const std::string form = ledger::fuzz::FormBody(fields);
  ledger::fuzz::CheckSameCommand(ledger::ingest::ParseFormSubmission(form), command,
                                 "a command written back as a form body parses the same", form);
  ledger::fuzz::CheckSameCommand(ledger::ingest::BuildCommandFromFields(fields), command,
                                 "a command given as fields builds the same", form);
  const std::string json = ledger::fuzz::CommandJson(command);
  ledger::fuzz::CheckSameCommand(ledger::ingest::ParseJsonSubmission(json), command,
                                 "a command written as JSON parses the same", json);
}

bool NamesRepeat(const Fields& fields) {
  std::map<std::string, int> counts;
  for (const auto& [name, value] : fields) {
    if (++counts[name] > 1) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const Result<ledger::ingest::Command> parsed = ledger::ingest::ParseFormSubmission(body);
  if (parsed) {
    CheckAccepted(*parsed);
  } else {
    ledger::fuzz::CheckSubmissionError(parsed.error());
  }

  const std::optional<Fields> pairs = ledger::http::DecodePairs(body, kPairsMax);
  if (!pairs) return 0;
  for (const auto& [name, value] : *pairs) {
    for (const std::string& text : {name, value}) {
      const std::optional<std::string> decoded = ledger::ingest::PercentDecode(ledger::fuzz::FormEncode(text));
      LEDGER_FUZZ_CHECK(decoded && *decoded == text, "percent-decoding inverts encoding", text);
    }
  }
  const Result<ledger::ingest::Command> built = ledger::ingest::BuildCommandFromFields(*pairs);
  if (built) {
    CheckAccepted(*built);
  } else {
    ledger::fuzz::CheckSubmissionError(built.error());
  }
  if (NamesRepeat(*pairs)) return 0;
  LEDGER_FUZZ_CHECK(parsed.has_value() == built.has_value(), "the body parser and the field builder agree", body);
  if (parsed) {
    LEDGER_FUZZ_CHECK(parsed->Digest() == built->Digest(), "the body parser and the field builder build the same command",
                      body);
  }
  return 0;
}
