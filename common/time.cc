#include "common/time.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ledger {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int kYearMin = 1;
constexpr int kYearMax = 9999;

bool Digits(std::string_view text, size_t position, size_t count, int* value) {
  if (position + count > text.size()) return false;
  int result = 0;
  for (size_t i = position; i < position + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *value = result;
  return true;
}

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned month_index = (5 * day_of_year + 2) / 153;
  *day = day_of_year - (153 * month_index + 2) / 5 + 1;
  *month = month_index < 10 ? month_index + 3 : month_index - 9;
  *year = static_cast<int64_t>(year_of_era) + era * 400 + (*month <= 2);
}

Error Bad(std::string_view field, std::string_view why) {
  return InvalidArgument(std::string(field),
                         std::string(field) + " must be an RFC 3339 time with an offset, e.g. "
                                              "2026-11-24T09:30:00Z: " + std::string(why));
}

// Appends `value` (0 <= value < 10^width) as exactly `width` decimal digits.
void AppendDigits(std::string* out, int64_t value, int width) {
  char digits[8];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(digits, static_cast<size_t>(width));
}

}  // namespace

Result<Instant> ParseRfc3339(std::string_view text, std::string_view field) {
  constexpr size_t kTextLengthMax = 40;
  if (text.size() > kTextLengthMax) return Bad(field, "too long");
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !Digits(text, 11, 2, &hour) ||
      text[13] != ':' || !Digits(text, 14, 2, &minute) || text[16] != ':' ||
      !Digits(text, 17, 2, &second)) {
    return Bad(field, "expected YYYY-MM-DDTHH:MM:SS");
  }
  if (year < kYearMin || year > kYearMax) return Bad(field, "year out of range");
  if (month < 1 || month > 12) return Bad(field, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(field, "day out of range");
  if (hour > 23 || minute > 59) return Bad(field, "hour or minute out of range");
  // A leap second (":60") has no representation in Unix time; reject it.
  if (second > 59) return Bad(field, "second out of range");
  size_t position = 19;
  int64_t fraction_micros = 0;
  if (position < text.size() && text[position] == '.') {
    ++position;
    size_t digits = 0;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      if (digits == 6) return Bad(field, "fractions finer than microseconds are not kept");
      fraction_micros = fraction_micros * 10 + (text[position] - '0');
      ++digits;
      ++position;
    }
    if (digits == 0) return Bad(field, "empty fraction");
    for (size_t i = digits; i < 6; ++i) fraction_micros *= 10;
  }
  if (position >= text.size()) return Bad(field, "missing offset (Z or +hh:mm)");
  int32_t offset_minutes = 0;
  const char sign = text[position];
  if (sign == 'Z' || sign == 'z') {
    ++position;
  } else if (sign == '+' || sign == '-') {
    int offset_hours = 0, offset_mins = 0;
    if (!Digits(text, position + 1, 2, &offset_hours) || position + 3 >= text.size() ||
        text[position + 3] != ':' || !Digits(text, position + 4, 2, &offset_mins)) {
      return Bad(field, "offset must be Z or +hh:mm");
    }
    if (offset_hours > 23 || offset_mins > 59) return Bad(field, "offset out of range");
    offset_minutes = offset_hours * 60 + offset_mins;
    if (sign == '-') offset_minutes = -offset_minutes;
    position += 6;
  } else {
    return Bad(field, "missing offset (Z or +hh:mm)");
  }
  if (position != text.size()) return Bad(field, "unexpected text after the offset");
  LEDGER_ASSERT(offset_minutes <= kOffsetMinutesMax && offset_minutes >= -kOffsetMinutesMax);
  const int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t local_seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  const int64_t utc_seconds = local_seconds - static_cast<int64_t>(offset_minutes) * 60;
  return Instant{utc_seconds * kMicrosPerSecond + fraction_micros, offset_minutes};
}

std::string FormatRfc3339(const Instant& instant) {
  const int64_t local_micros =
      instant.unix_micros + static_cast<int64_t>(instant.offset_minutes) * 60 * kMicrosPerSecond;
  int64_t seconds = local_micros / kMicrosPerSecond;
  int64_t micros = local_micros % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    seconds -= 1;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  int64_t year = 0;
  unsigned month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  // Formatted by hand: snprintf was a tenth of the CPU of a large JSON answer.
  std::string text;
  text.reserve(40);
  if (year >= 0 && year <= 9999) {
    AppendDigits(&text, year, 4);
  } else {
    char buffer[32];
    const int length = std::snprintf(buffer, sizeof buffer, "%04lld", static_cast<long long>(year));
    text.append(buffer, static_cast<size_t>(length));
  }
  text += '-';
  AppendDigits(&text, month, 2);
  text += '-';
  AppendDigits(&text, day, 2);
  text += 'T';
  AppendDigits(&text, second_of_day / 3600, 2);
  text += ':';
  AppendDigits(&text, second_of_day / 60 % 60, 2);
  text += ':';
  AppendDigits(&text, second_of_day % 60, 2);
  if (micros != 0) {
    text += '.';
    AppendDigits(&text, micros, 6);
  }
  if (instant.offset_minutes == 0) {
    text += 'Z';
  } else {
    const int32_t magnitude = std::abs(instant.offset_minutes);
    text += instant.offset_minutes < 0 ? '-' : '+';
    AppendDigits(&text, magnitude / 60, 2);
    text += ':';
    AppendDigits(&text, magnitude % 60, 2);
  }
  return text;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kCorruption: return "corruption";
    case ErrorCode::kIoError: return "io_error";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
  }
  return "unknown";
}

void AssertFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "assertion failed: %s at %s:%d\n", condition, file, line);
  std::abort();
}

}  // namespace ledger
