#pragma once
// Expected failures travel as values: a function that can fail returns
// Result<T>, which holds either a T or an Error. Ignoring one is a compile
// warning (made fatal), so a deliberate ignore is spelled out with (void).

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace ledger {

enum class ErrorCode {
  kInvalidArgument,  // the caller's input breaks a rule; HTTP 400
  kNotFound,         // HTTP 404
  kConflict,         // HTTP 409
  kTooLarge,         // HTTP 413
  kCorruption,       // stored data failed a check after reading
  kIoError,          // the storage failed; HTTP 503
  kUnavailable,      // shutting down or otherwise not accepting work; HTTP 503
  kUnauthenticated,  // no valid credentials; HTTP 401
  kPermissionDenied, // credentials without the right, or a cross-site write; HTTP 403
};

struct Error {
  ErrorCode code;
  std::string message;
  std::string field;  // the input field the error is about, or empty
};

template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result(Error error) : tl::expected<T, Error>(tl::unexpected<Error>(std::move(error))) {}
};

// Result<void> is spelled Status.
class [[nodiscard]] Status : public tl::expected<void, Error> {
 public:
  Status() = default;
  Status(Error error) : tl::expected<void, Error>(tl::unexpected<Error>(std::move(error))) {}
};

inline Error MakeError(ErrorCode code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), std::move(field)};
}
inline Error InvalidArgument(std::string field, std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

const char* ErrorCodeName(ErrorCode code);

}  // namespace ledger

// Always-on assertion for programmer errors. Never used on user input.
#define LEDGER_ASSERT(condition)                                                   \
  do {                                                                             \
    if (!(condition)) ::ledger::AssertFailed(#condition, __FILE__, __LINE__);      \
  } while (false)

namespace ledger {
[[noreturn]] void AssertFailed(const char* condition, const char* file, int line);
}
