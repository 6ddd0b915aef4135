#pragma once
// The one place the service asks the IANA time-zone database (date/tz) for a
// zone. date/tz reports an unknown name and an unreadable database by
// throwing; the exceptions stop here and become errors.
//
// Failures: kNotFound when `name` is not a zone the database knows (callers
// turn it into their own 400 naming their field and an example), kIoError
// when the database cannot be read. Thread safety: callable from any thread;
// the returned zone lives as long as the process.

#include <string_view>

#include "common/result.h"

namespace date {
class time_zone;
}

namespace ledger {

Result<const date::time_zone*> LocateTimeZone(std::string_view name, std::string_view field);

}  // namespace ledger
