// Fuzz target for the notification side's records in a projection
// checkpoint (projections/checkpoint.h): a subscriber's systems, a notice
// (with the ticket it carries, projections/ticket_codec.h) and a delivery
// job, a system of the catalog and an alias (projections/systems.h); saved
// tickets and outlines are stored_event_fuzz's. A checkpoint is a
// file on disk; a damaged one must fail its decode (and the start
// rebuilds), never crash or allocate without bound.
// Built two ways (CMakeLists.txt here): as a libFuzzer binary, and linked
// with random_driver.cc for ctest.
//
// The first byte of an input picks the record kind (modulo the kinds); the
// rest is the record. Properties checked on every input:
//   - decoding never crashes and never reads past the bytes (ASan);
//   - what decodes, encoded again, decodes to the same encoding (a saved
//     record survives a save and a load unchanged).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "projections/notification_projection.h"
#include "projections/systems.h"

namespace {

namespace projections = ledger::projections;

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "checkpoint_record_fuzz: property failed: %s\n", what);
  std::abort();
}

// `reencode(bytes, &out)` decodes bytes and, when they decode, encodes the
// result into out. Checks decode -> encode -> decode -> encode: the two
// encodings are equal.
template <class Reencode>
void RoundTrip(std::string_view bytes, Reencode reencode, const char* property) {
  std::string first;
  if (!reencode(bytes, &first)) return;  // refused: fine
  std::string second;
  Check(reencode(first, &second), property);
  Check(first == second, property);
}

constexpr uint64_t kNoticeSeq = 42;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view record(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      RoundTrip(
          record,
          [](std::string_view bytes, std::string* out) {
            std::set<std::string> systems;
            uint64_t last_change_seq = 0;
            if (!projections::DecodeSubscriptions(bytes, &systems, &last_change_seq)) return false;
            *out = projections::EncodeSubscriptions(&systems, last_change_seq);
            return true;
          },
          "a decoded subscription encodes and decodes to the same bytes");
      break;
    case 1:
      RoundTrip(
          record,
          [](std::string_view bytes, std::string* out) {
            projections::Notice notice;
            if (!projections::DecodeNotice(kNoticeSeq, bytes, &notice)) return false;
            Check(notice.seq == kNoticeSeq, "a notice takes the seq of its key");
            *out = projections::EncodeNotice(notice);
            return true;
          },
          "a decoded notice encodes and decodes to the same bytes");
      break;
    case 3:
      RoundTrip(
          record,
          [](std::string_view bytes, std::string* out) {
            projections::SystemEntry entry;
            if (!projections::DecodeSystemEntry(bytes, &entry)) return false;
            *out = projections::EncodeSystemEntry(entry);
            return true;
          },
          "a decoded system encodes and decodes to the same bytes");
      break;
    case 4:
      RoundTrip(
          record,
          [](std::string_view bytes, std::string* out) {
            projections::SystemAlias alias;
            if (!projections::DecodeSystemAlias(bytes, &alias)) return false;
            *out = projections::EncodeSystemAlias(alias);
            return true;
          },
          "a decoded system alias encodes and decodes to the same bytes");
      break;
    default:
      RoundTrip(
          record,
          [](std::string_view bytes, std::string* out) {
            projections::Job job;
            if (!projections::DecodeJob(bytes, &job)) return false;
            *out = projections::EncodeJob(job);
            return true;
          },
          "a decoded job encodes and decodes to the same bytes");
      break;
  }
  return 0;
}
