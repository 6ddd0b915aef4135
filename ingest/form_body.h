#pragma once
// application/x-www-form-urlencoded bodies, read field by field: the one
// splitting and decoding every form route shares (incidents, maintenance
// windows, the catalog of systems). What a field means, and which fields
// exist, stays with each route's parser.
//
// Failures: kInvalidArgument for a malformed %-escape, naming the field
// (printable, cut) when its name decoded; whatever `visit` answers stops the
// walk and comes back as is.
//
// Thread safety: a plain function.

#include <functional>
#include <future>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ledger::ingest {

// Calls `visit(name, value)` for each `name=value` pair of `body`, in order,
// both percent-decoded ('+' a space); empty pairs ("a=1&&b=2") are skipped.
Status ForEachFormField(std::string_view body,
                        const std::function<Status(std::string name, std::string value)>& visit);

// A submission made through a processor's SubmitAsync, waited for (tools,
// tests, the sheet importer): `submit_async(done)` must call `done` exactly
// once, on any thread.
template <class T, class SubmitAsync>
Result<T> WaitFor(SubmitAsync submit_async) {
  std::promise<Result<T>> promise;
  std::future<Result<T>> future = promise.get_future();
  submit_async([&promise](Result<T> result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace ledger::ingest
