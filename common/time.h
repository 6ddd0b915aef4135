#pragma once
// Times: microseconds since the Unix epoch in UTC, plus the offset (minutes)
// the writer used. RFC 3339 in and out.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ledger {

struct Instant {
  int64_t unix_micros = 0;
  int32_t offset_minutes = 0;
};

// The instants ParseRfc3339 can produce (years 0001 to 9999 written with
// any offset, here with a day to spare on either side) and the largest
// offset, in minutes. Times read back from disk are checked against them
// (IsRepresentable), so that a sum or difference of two never overflows.
constexpr int64_t kInstantMicrosMin = (-62'135'596'800LL - 86'400) * 1'000'000;
constexpr int64_t kInstantMicrosMax = (253'402'300'800LL + 86'400) * 1'000'000;
constexpr int32_t kOffsetMinutesMax = 24 * 60 - 1;

inline bool IsRepresentable(const Instant& instant) {
  return instant.unix_micros >= kInstantMicrosMin && instant.unix_micros <= kInstantMicrosMax &&
         instant.offset_minutes >= -kOffsetMinutesMax && instant.offset_minutes <= kOffsetMinutesMax;
}

// Parses an RFC 3339 date-time with a mandatory offset ("Z" or "+hh:mm"),
// e.g. "2026-11-24T09:30:00.250+01:00". Fractions beyond microseconds are
// rejected rather than rounded. `field` names the input in the error.
Result<Instant> ParseRfc3339(std::string_view text, std::string_view field);

// Formats in the instant's own offset; fraction digits only when non-zero
// (6 digits then), e.g. "2026-11-24T09:30:00+01:00" or "...00.000250Z".
std::string FormatRfc3339(const Instant& instant);
inline std::string FormatRfc3339Utc(int64_t unix_micros) {
  return FormatRfc3339(Instant{unix_micros, 0});
}

// Wall clock now, in microseconds since the epoch.
int64_t NowMicros();

}  // namespace ledger
