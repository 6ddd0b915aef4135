// The ledger's Merkle tree (ledger.h, "The Merkle tree"): kept as events
// commit, equal to the tree rebuilt from the event hashes, proofs that
// verify, the catch-up of a ledger without a tree, and what Open and Verify
// say about a tree that does not match the log.

#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "test_util.h"

namespace ledger {
namespace {

using testing::TempDir;

std::unique_ptr<Ledger> OpenLedger(const std::string& path, bool read_only = false) {
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = path, .read_only = read_only});
  EXPECT_TRUE(opened) << (opened ? "" : opened.error().message);
  return opened ? std::move(*opened) : nullptr;
}

DecideFn Event(std::string ticket) {
  return [ticket](AppendContext&) -> Result<Decision> {
    proto::Event event;
    event.set_ticket(ticket);
    event.set_type(proto::INCIDENT_UPDATED);
    event.mutable_incident()->set_note("n");
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

// The tree of the event hashes, as a reader of an export would build it.
std::vector<Sha256Digest> EventHashes(const Ledger& log) {
  std::vector<Sha256Digest> hashes;
  Status walked = log.ForEach(0, [&hashes](const StoredEvent& stored) -> Result<Flow> {
    hashes.push_back(stored.hash);
    return Flow::kContinue;
  });
  EXPECT_TRUE(walked);
  return hashes;
}

Sha256Digest RootOf(const std::vector<Sha256Digest>& hashes, size_t size) {
  merkle::Frontier frontier;
  for (size_t i = 0; i < size; ++i) frontier.Append(merkle::LeafHash(hashes[i]), [](auto&, auto&) {});
  return frontier.Root();
}

std::unique_ptr<rocksdb::DB> OpenRaw(const std::string& path) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(rocksdb::Options(), path, &raw);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

// Removes every tree node and the tree size, as a ledger written before the
// tree existed looks.
void DropTree(const std::string& path) {
  auto db = OpenRaw(path);
  ASSERT_TRUE(db->DeleteRange(rocksdb::WriteOptions(), db->DefaultColumnFamily(), std::string(1, keys::kTreeNodePrefix),
                              std::string(1, static_cast<char>(keys::kTreeNodePrefix + 1)))
                  .ok());
  ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), keys::kTreeSizeKey).ok());
}

void ExpectProofsVerify(const Ledger& log, const std::vector<Sha256Digest>& hashes) {
  const uint64_t size = hashes.size();
  for (uint64_t tree_size = 1; tree_size <= size; ++tree_size) {
    const Sha256Digest root = RootOf(hashes, tree_size);
    Result<Sha256Digest> stored_root = log.TreeRoot(tree_size);
    ASSERT_TRUE(stored_root) << stored_root.error().message;
    ASSERT_EQ(*stored_root, root) << "tree_size " << tree_size;
    for (uint64_t seq = 1; seq <= tree_size; ++seq) {
      Result<std::vector<Sha256Digest>> path = log.InclusionProof(seq, tree_size);
      ASSERT_TRUE(path) << path.error().message;
      ASSERT_TRUE(merkle::VerifyInclusion(merkle::LeafHash(hashes[seq - 1]), seq - 1, tree_size, *path, root))
          << "seq " << seq << " in " << tree_size;
    }
    for (uint64_t first = 1; first <= tree_size; ++first) {
      Result<std::vector<Sha256Digest>> proof = log.ConsistencyProof(first, tree_size);
      ASSERT_TRUE(proof) << proof.error().message;
      ASSERT_TRUE(merkle::VerifyConsistency(first, tree_size, RootOf(hashes, first), root, *proof))
          << first << " to " << tree_size;
    }
  }
}

TEST(LedgerTree, GrowsWithTheLogAndProvesEveryEvent) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  EXPECT_EQ(log->tree_head().tree_size, 0u);
  EXPECT_EQ(log->tree_head().root_hash, merkle::EmptyRoot());
  // Batches of several events (group commit) as well as single ones.
  std::vector<std::future<Result<Appended>>> pending;
  for (int i = 0; i < 37; ++i) {
    auto promise = std::make_shared<std::promise<Result<Appended>>>();
    pending.push_back(promise->get_future());
    log->AppendAsync(Event("INC-1"), [promise](Result<Appended> result) { promise->set_value(std::move(result)); });
  }
  for (auto& future : pending) ASSERT_TRUE(future.get());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Event("INC-2")));
  const std::vector<Sha256Digest> hashes = EventHashes(*log);
  ASSERT_EQ(hashes.size(), 42u);
  EXPECT_EQ(log->tree_head().tree_size, 42u);
  EXPECT_EQ(log->tree_head().root_hash, RootOf(hashes, 42));
  ExpectProofsVerify(*log, hashes);
  Result<VerifyReport> report = log->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_TRUE(report->tree_checked);
  EXPECT_EQ(report->tree_root, RootOf(hashes, 42));
}

TEST(LedgerTree, SurvivesReopenAndContinues) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 11; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  }
  auto log = OpenLedger(dir.path());
  EXPECT_EQ(log->tree_head().tree_size, 11u);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  const std::vector<Sha256Digest> hashes = EventHashes(*log);
  EXPECT_EQ(log->tree_head().root_hash, RootOf(hashes, 17));
  ExpectProofsVerify(*log, hashes);
}

TEST(LedgerTree, ProofArgumentsOutOfRangeAreNamed) {
  TempDir dir;
  auto log = OpenLedger(dir.path());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  const auto expect_error = [](const auto& result, ErrorCode code, const std::string& field) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_EQ(result.error().field, field) << result.error().message;
  };
  expect_error(log->InclusionProof(0, 5), ErrorCode::kNotFound, "seq");
  expect_error(log->InclusionProof(6, 6), ErrorCode::kNotFound, "seq");
  expect_error(log->InclusionProof(3, 6), ErrorCode::kInvalidArgument, "tree_size");
  expect_error(log->InclusionProof(3, 2), ErrorCode::kInvalidArgument, "tree_size");
  expect_error(log->ConsistencyProof(0, 5), ErrorCode::kInvalidArgument, "first");
  expect_error(log->ConsistencyProof(4, 3), ErrorCode::kInvalidArgument, "first");
  expect_error(log->ConsistencyProof(1, 6), ErrorCode::kInvalidArgument, "second");
  expect_error(log->TreeRoot(6), ErrorCode::kInvalidArgument, "tree_size");
  EXPECT_EQ(*log->TreeRoot(0), merkle::EmptyRoot());
  EXPECT_TRUE(log->ConsistencyProof(5, 5)->empty());
}

// A ledger written before the tree existed: Open builds the tree from the
// events (read-write), or computes the head only and refuses proofs
// (read-only) until then.
TEST(LedgerTree, OpenBuildsTheTreeOfALedgerWithoutOne) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 23; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  }
  DropTree(dir.path());
  std::vector<Sha256Digest> hashes;
  {
    auto reader = OpenLedger(dir.path(), /*read_only=*/true);
    ASSERT_TRUE(reader);
    hashes = EventHashes(*reader);
    EXPECT_EQ(reader->tree_head().tree_size, 23u);
    EXPECT_EQ(reader->tree_head().root_hash, RootOf(hashes, 23));
    Result<std::vector<Sha256Digest>> refused = reader->InclusionProof(1, 23);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
    Result<VerifyReport> report = reader->Verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok) << report->problem;
    EXPECT_FALSE(report->tree_checked);
    EXPECT_EQ(report->tree_root, RootOf(hashes, 23));
  }
  auto log = OpenLedger(dir.path());
  EXPECT_EQ(log->tree_head().root_hash, RootOf(hashes, 23));
  ExpectProofsVerify(*log, hashes);
  ASSERT_TRUE(log->Append(Event("INC-1")));
  hashes = EventHashes(*log);
  EXPECT_EQ(log->tree_head().root_hash, RootOf(hashes, 24));
  Result<VerifyReport> report = log->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_TRUE(report->tree_checked);
}

TEST(LedgerTree, VerifyNamesTheEventOfANodeThatDiffers) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  }
  {
    // Node (level 1, index 1) covers events 3 and 4: completed by event 4.
    auto db = OpenRaw(dir.path());
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), keys::TreeNode(1, 1), &value).ok());
    value[0] ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::TreeNode(1, 1), value).ok());
  }
  auto log = OpenLedger(dir.path());
  ASSERT_TRUE(log);  // Open checks only the last leaf
  Result<VerifyReport> report = log->Verify();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->bad_seq, 4u);
  EXPECT_NE(report->problem.find("level 1, index 1"), std::string::npos) << report->problem;
}

TEST(LedgerTree, VerifyNamesAMissingNode) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  }
  {
    auto db = OpenRaw(dir.path());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), keys::TreeNode(0, 6)).ok());
  }
  auto log = OpenLedger(dir.path());
  Result<VerifyReport> report = log->Verify();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->bad_seq, 7u);
  EXPECT_NE(report->problem.find("missing"), std::string::npos) << report->problem;
  Result<std::vector<Sha256Digest>> proof = log->InclusionProof(8, 9);  // leaf 7's sibling is leaf 6
  ASSERT_FALSE(proof);
  EXPECT_EQ(proof.error().code, ErrorCode::kCorruption);
}

TEST(LedgerTree, OpenRefusesATreeThatDoesNotEndAtTheHead) {
  TempDir dir;
  {
    auto log = OpenLedger(dir.path());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->Append(Event("INC-1")));
  }
  {
    auto db = OpenRaw(dir.path());
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), keys::TreeNode(0, 3), &value).ok());
    value[5] ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::TreeNode(0, 3), value).ok());
  }
  Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.path()});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kCorruption);
  EXPECT_NE(opened.error().message.find("event 4"), std::string::npos) << opened.error().message;

  {
    auto db = OpenRaw(dir.path());
    std::string size;
    AppendBigEndian64(&size, 5);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), keys::kTreeSizeKey, size).ok());
  }
  opened = Ledger::Open(LedgerOptions{.path = dir.path()});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kCorruption);
  EXPECT_NE(opened.error().message.find("holds 5 events"), std::string::npos) << opened.error().message;
}

TEST(LedgerTree, AnImportBuildsTheSameTree) {
  TempDir source_dir;
  TempDir copy_dir;
  auto source = OpenLedger(source_dir.path());
  for (int i = 0; i < 13; ++i) ASSERT_TRUE(source->Append(Event("INC-1")));
  std::vector<ImportedEvent> exported;
  ASSERT_TRUE(source->ForEach(0, [&exported](const StoredEvent& stored) -> Result<Flow> {
    exported.push_back(ImportedEvent{.record = stored.record, .prev_hash = stored.prev_hash, .hash = stored.hash});
    return Flow::kContinue;
  }));
  auto copy = OpenLedger(copy_dir.path());
  const auto no_number = [](std::string_view) { return std::optional<NumberedName>(); };
  ASSERT_TRUE(copy->ImportVerbatim(std::vector<ImportedEvent>(exported.begin(), exported.begin() + 5), no_number));
  ASSERT_TRUE(copy->ImportVerbatim(std::vector<ImportedEvent>(exported.begin() + 5, exported.end()), no_number));
  EXPECT_EQ(copy->tree_head().tree_size, 13u);
  EXPECT_EQ(copy->tree_head().root_hash, source->tree_head().root_hash);
  ExpectProofsVerify(*copy, EventHashes(*source));
  copy.reset();
  copy = OpenLedger(copy_dir.path());
  EXPECT_EQ(copy->tree_head().root_hash, source->tree_head().root_hash);
  Result<VerifyReport> report = copy->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
}

}  // namespace
}  // namespace ledger
