#include "ingest/request_digest.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "common/encoding.h"
#include "common/result.h"

namespace ledger::ingest {

void AppendDeterministic(std::string* canonical, const google::protobuf::MessageLite& message) {
  google::protobuf::io::StringOutputStream stream(canonical);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  // A message built from parsed or set fields always serializes.
  LEDGER_ASSERT(message.SerializeToCodedStream(&coded));
}

std::string DigestOf(std::string_view canonical) {
  const Sha256Digest digest = Sha256(canonical);
  return std::string(AsBytes(digest));
}

}  // namespace ledger::ingest
