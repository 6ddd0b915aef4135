// ledger-tamper: alters a ledger straight through RocksDB, as an attacker
// with disk access would. Used by the integration tests.
//
//   ledger-tamper DIR SEQ            flips one bit in the last byte of event
//                                    SEQ's stored record (verify names it)
//   ledger-tamper --rewrite DIR SEQ  rewrites event SEQ (its title, or its
//                                    actor when it has none) and covers the
//                                    tracks: re-hashes every event after it,
//                                    the head record and the whole Merkle
//                                    tree, so the ledger verifies and serves
//                                    as if it had always been so. Only a head
//                                    kept outside (a mail, a follower) can
//                                    tell.

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "ledger/keys.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: ledger-tamper [--rewrite] DIR SEQ\n");
  return 2;
}

int FlipBit(rocksdb::DB& db, uint64_t seq) {
  const std::string key = ledger::keys::Event(seq);
  std::string value;
  if (!db.Get(rocksdb::ReadOptions(), key, &value).ok() || value.empty()) {
    std::fprintf(stderr, "no event %llu\n", static_cast<unsigned long long>(seq));
    return 2;
  }
  value.back() = static_cast<char>(value.back() ^ 0x01);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  if (!db.Put(write_options, key, value).ok()) return 2;
  return 0;
}

int Rewrite(rocksdb::DB& db, uint64_t seq) {
  std::string value;
  if (!db.Get(rocksdb::ReadOptions(), ledger::keys::kHeadKey, &value).ok()) return Usage();
  ledger::Head head;
  if (!ledger::record::DecodeHead(value, &head)) return 2;
  if (seq == 0 || seq > head.seq) {
    std::fprintf(stderr, "no event %llu\n", static_cast<unsigned long long>(seq));
    return 2;
  }
  rocksdb::WriteBatch batch;
  ledger::Sha256Digest previous{};
  ledger::merkle::Frontier tree;
  for (uint64_t at = 1; at <= head.seq; ++at) {
    if (!db.Get(rocksdb::ReadOptions(), ledger::keys::Event(at), &value).ok()) return 2;
    ledger::Result<ledger::StoredEvent> stored = ledger::DecodeStoredEvent(at, value);
    if (!stored) {
      std::fprintf(stderr, "%s\n", stored.error().message.c_str());
      return 2;
    }
    std::string record = stored->record;
    if (at == seq) {
      ledger::proto::Event& event = stored->event;
      if (event.has_incident() && event.incident().has_title()) {
        event.mutable_incident()->set_title(event.incident().title() + " (rewritten)");
      } else {
        event.set_actor(event.actor() + " (rewritten)");
      }
      if (!ledger::record::EncodeRecord(event, &record)) return 2;
    }
    const ledger::Sha256Digest hash = ledger::Sha256(ledger::AsBytes(previous), record);
    batch.Put(ledger::keys::Event(at), ledger::record::EncodeStoredValue(previous, hash, record));
    tree.Append(ledger::merkle::LeafHash(hash), [&batch](const ledger::merkle::NodeId& id, const ledger::Sha256Digest& node) {
      batch.Put(ledger::keys::TreeNode(id.level, id.index), ledger::AsBytes(node));
    });
    previous = hash;
  }
  head.hash = previous;
  batch.Put(ledger::keys::kHeadKey, ledger::record::EncodeHead(head));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  if (!db.Write(write_options, &batch).ok()) return 2;
  std::printf("rewrote event %llu; new head hash %s, tree root %s\n", static_cast<unsigned long long>(seq),
              ledger::HexEncode(head.hash).c_str(), ledger::HexEncode(tree.Root()).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool rewrite = argc == 4 && std::strcmp(argv[1], "--rewrite") == 0;
  if (argc != 3 && !rewrite) return Usage();
  const char* path = argv[rewrite ? 2 : 1];
  const uint64_t seq = std::stoull(argv[rewrite ? 3 : 2]);
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(rocksdb::Options(), path, &raw);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", path, opened.ToString().c_str());
    return 2;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  return rewrite ? Rewrite(*db, seq) : FlipBit(*db, seq);
}
