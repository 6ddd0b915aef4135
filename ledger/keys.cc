#include "ledger/keys.h"

#include "common/encoding.h"
#include "common/result.h"

namespace ledger::keys {

std::string Event(uint64_t seq) {
  std::string key(1, kEventPrefix);
  AppendBigEndian64(&key, seq);
  return key;
}

std::string TicketPrefix(std::string_view ticket) {
  LEDGER_ASSERT(ticket.size() <= kTicketBytesMax);
  std::string key(1, kTicketPrefix);
  key.push_back(static_cast<char>(ticket.size()));
  key.append(ticket);
  return key;
}

std::string TicketEvent(std::string_view ticket, uint64_t seq) {
  std::string key = TicketPrefix(ticket);
  AppendBigEndian64(&key, seq);
  return key;
}

std::string Submission(std::string_view submission_id) {
  std::string key(1, kSubmissionPrefix);
  key.append(submission_id);
  return key;
}

std::string TreeNode(uint8_t level, uint64_t index) {
  std::string key(1, kTreeNodePrefix);
  key.push_back(static_cast<char>(level));
  AppendBigEndian64(&key, index);
  return key;
}

std::string NumberCounter(uint32_t sequence) {
  if (sequence == 0) return std::string(kTicketCounterKey);
  return std::string(kNumberCounterKeyPrefix) + std::to_string(sequence);
}

bool IsEventKey(std::string_view key) { return key.size() == kEventKeyBytes && key[0] == kEventPrefix; }

uint64_t EventSeq(std::string_view key) {
  LEDGER_ASSERT(IsEventKey(key));
  return ReadBigEndian64(key.substr(1));
}

}  // namespace ledger::keys
