// ledger-tamper DIR SEQ: flips one bit in the last byte of event SEQ's stored
// record, straight through RocksDB, as an attacker with disk access would.
// Used by the integration tests to show that verification names the event.

#include <cstdio>
#include <memory>
#include <string>

#include <rocksdb/db.h>

#include "ledger/keys.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ledger-tamper DIR SEQ\n");
    return 2;
  }
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(rocksdb::Options(), argv[1], &raw);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", argv[1], opened.ToString().c_str());
    return 2;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string key = ledger::keys::Event(std::stoull(argv[2]));
  std::string value;
  if (!db->Get(rocksdb::ReadOptions(), key, &value).ok() || value.empty()) {
    std::fprintf(stderr, "no event %s\n", argv[2]);
    return 2;
  }
  value.back() = static_cast<char>(value.back() ^ 0x01);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  if (!db->Put(write_options, key, value).ok()) return 2;
  return 0;
}
