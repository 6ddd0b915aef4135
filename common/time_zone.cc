#include "common/time_zone.h"

#include <exception>
#include <string>

#include <date/tz.h>

namespace ledger {

Result<const date::time_zone*> LocateTimeZone(std::string_view name, std::string_view field) {
  try {
    (void)date::get_tzdb();
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kIoError, std::string("time zone database unavailable: ") + error.what(),
                     std::string(field));
  }
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return MakeError(ErrorCode::kNotFound, "\"" + std::string(name) + "\" is not a known IANA time zone",
                     std::string(field));
  }
}

}  // namespace ledger
