#pragma once
// The request digest every processor stores in its events
// (Event.request_digest): SHA-256 over a command's canonical content, so a
// repeated submission_id with the same content answers the original event
// and one with other content is a conflict (RepeatedSubmission,
// command.h). Each command writes its own canonical text; these are the
// pieces they share.
//
// Thread safety: plain functions.

#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace ledger::ingest {

// Appends `message` in protobuf's deterministic serialization (the same
// bytes for the same content, whatever order its fields were set in).
void AppendDeterministic(std::string* canonical, const google::protobuf::MessageLite& message);

// SHA-256 of `canonical`, as the raw 32 bytes request_digest holds.
std::string DigestOf(std::string_view canonical);

}  // namespace ledger::ingest
