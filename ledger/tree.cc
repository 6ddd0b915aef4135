// The ledger's Merkle tree (see "The Merkle tree" in ledger.h): loading it
// at Open and catching it up when it lags, its stored nodes, the proofs, and
// the node-by-node check Verify runs. The writer adds nodes in writer.cc.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/log.h"
#include "ledger/chain_reader.h"
#include "ledger/keys.h"
#include "ledger/ledger_impl.h"
#include "ledger/record.h"

namespace ledger {
namespace {

// Catching up a lagging tree writes this many events' nodes per WriteBatch
// (about two nodes of 42 bytes each per event: ~5 MB).
constexpr uint64_t kCatchUpBatchEvents = 65'536;

std::string_view NodeValue(const Sha256Digest& hash) { return AsBytes(hash); }

Error NodeCorruption(const merkle::NodeId& id, std::string_view why) {
  return MakeError(ErrorCode::kCorruption, "Merkle tree node (level " + std::to_string(id.level) + ", index " +
                                               std::to_string(id.index) + "): " + std::string(why));
}

}  // namespace

Result<Sha256Digest> StoredTreeNodes::Node(const merkle::NodeId& id) const {
  std::string value;
  const rocksdb::Status status = db_.Get(rocksdb::ReadOptions(), keys::TreeNode(id.level, id.index), &value);
  if (status.IsNotFound()) return NodeCorruption(id, "missing");
  if (!status.ok()) return IoError(status, "reading a Merkle tree node");
  if (value.size() != kSha256Bytes) return NodeCorruption(id, "not 32 bytes");
  Sha256Digest hash;
  std::copy(value.begin(), value.end(), hash.begin());
  return hash;
}

StoredTreeCheck::StoredTreeCheck(const rocksdb::DB& db, bool compare) : db_(db), compare_(compare) {}
StoredTreeCheck::~StoredTreeCheck() = default;

Result<std::optional<std::string>> StoredTreeCheck::Append(uint64_t seq, const Sha256Digest& event_hash) {
  std::optional<std::string> problem;
  std::optional<Error> io_error;
  frontier_.Append(merkle::LeafHash(event_hash), [&](const merkle::NodeId& id, const Sha256Digest& hash) {
    if (!compare_ || problem || io_error) return;
    if (levels_.size() <= id.level) {
      rocksdb::ReadOptions options;
      options.fill_cache = false;  // a pass over every node: leave the cache to the service's reads
      while (levels_.size() <= id.level) {
        const auto level = static_cast<uint8_t>(levels_.size());
        // Level L holds half the nodes of level L-1: 2 MiB of read-ahead
        // for the leaves, half as much a level up, and RocksDB's own
        // adaptive read-ahead (0) from level 4. A fixed 2 MiB for each of
        // the ~20 levels of a million events held ~40 MiB of buffers at
        // once, which the allocator kept after the check ended.
        options.readahead_size = level < 4 ? (size_t{2} << 20) >> level : 0;
        levels_.emplace_back(const_cast<rocksdb::DB&>(db_).NewIterator(options));
        levels_.back()->Seek(keys::TreeLevel(level));
      }
    }
    // A level's nodes come in index order, as its keys do: each iterator
    // only ever moves to the next key.
    rocksdb::Iterator& at = *levels_[id.level];
    const std::string key = keys::TreeNode(id.level, id.index);
    if (!at.Valid() || at.key() != rocksdb::Slice(key)) {
      if (!at.status().ok()) {
        io_error = IoError(at.status(), "reading the Merkle tree nodes");
        return;
      }
      problem = "Merkle tree node (level " + std::to_string(id.level) + ", index " + std::to_string(id.index) +
                ") is missing";
      return;
    }
    if (at.value() != rocksdb::Slice(NodeValue(hash).data(), kSha256Bytes)) {
      problem = "Merkle tree node (level " + std::to_string(id.level) + ", index " + std::to_string(id.index) +
                ") differs from the tree of the event hashes";
    }
    at.Next();
  });
  (void)seq;  // the caller names the seq in its report
  if (io_error) return *io_error;
  return problem;
}

Status Ledger::Impl::LoadTree() {
  const Head loaded = head();
  uint64_t tree_size = 0;
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), keys::kTreeSizeKey, &value);
  if (status.ok()) {
    Result<uint64_t> decoded = record::DecodeNumber(value, "Merkle tree size");
    if (!decoded) return decoded.error();
    tree_size = *decoded;
  } else if (!status.IsNotFound()) {
    return IoError(status, "reading the Merkle tree size");
  }
  if (tree_size > loaded.seq) {
    return MakeError(ErrorCode::kCorruption, "the Merkle tree holds " + std::to_string(tree_size) +
                                                 " events, the log only " + std::to_string(loaded.seq));
  }
  StoredTreeNodes nodes(*db_);
  Result<merkle::Frontier> frontier = merkle::Frontier::Load(nodes, tree_size);
  if (!frontier) return frontier.error();
  frontier_ = std::move(*frontier);
  if (tree_size < loaded.seq) {
    if (Status caught_up = CatchUpTree(tree_size, loaded.seq); !caught_up) return caught_up;
  }
  // The tree's last leaf must be the head event's: O(1) reads, and with the
  // head record's own check (LoadHead) it ties the tree to the chain's end.
  if (loaded.seq > 0 && !tree_behind_) {
    Result<Sha256Digest> last_leaf = nodes.Node(merkle::NodeId{.level = 0, .index = loaded.seq - 1});
    if (!last_leaf) return last_leaf.error();
    if (*last_leaf != merkle::LeafHash(loaded.hash)) {
      return record::Corruption(loaded.seq, "the Merkle tree's last leaf is not this event's hash");
    }
  }
  std::lock_guard lock(head_mutex_);
  tree_head_ = TreeHead{.tree_size = frontier_.size(), .root_hash = frontier_.Root()};
  return {};
}

Status Ledger::Impl::CatchUpTree(uint64_t tree_size, uint64_t head_seq) {
  // Read-only: the tree is built in memory only, for tree_head(); proofs
  // need stored nodes and wait for a read-write open.
  const bool write = !options_.read_only;
  if (!write) tree_behind_ = true;
  if (write) {
    Log("ledger", "building the Merkle tree of events " + std::to_string(tree_size + 1) + " to " +
                      std::to_string(head_seq));
  }
  Result<Sha256Digest> before = HashBefore(tree_size);
  if (!before) return before.error();
  record::LinkChecker links(*before);
  ChainReader reader(*db_, ChainReadOptions{.after_seq = tree_size, .last_seq = head_seq, .whole_log_pass = true});
  rocksdb::WriteBatch batch;
  const auto flush = [&]() -> Status {
    if (!write || batch.Count() == 0) return {};
    batch.Put(keys::kTreeSizeKey, record::EncodeNumber(frontier_.size()));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    const rocksdb::Status written = db_->Write(write_options, &batch);
    if (!written.ok()) return IoError(written, "writing the Merkle tree");
    batch.Clear();
    return {};
  };
  while (reader.Next()) {
    const uint64_t seq = reader.seq();
    const std::string_view value = reader.value();
    // Only what the chain vouches for goes into the tree.
    if (Status checked = record::CheckStoredValue(seq, value); !checked) return checked;
    if (Status linked = links.Link(seq, value); !linked) return linked;
    frontier_.Append(merkle::LeafHash(links.last_hash()), [&](const merkle::NodeId& id, const Sha256Digest& hash) {
      if (write) batch.Put(keys::TreeNode(id.level, id.index), NodeValue(hash));
    });
    if (seq % kCatchUpBatchEvents == 0) {
      if (Status flushed = flush(); !flushed) return flushed;
    }
  }
  if (Status finished = reader.Finish(); !finished) return finished;
  return flush();
}

Status Ledger::Impl::CheckTreeSize(uint64_t tree_size, std::string_view field) const {
  if (tree_behind_) {
    return MakeError(ErrorCode::kUnavailable,
                     "the Merkle tree of this ledger is not built yet: open it once read-write (start the service)");
  }
  const uint64_t size = tree_head().tree_size;
  if (tree_size > size) {
    return InvalidArgument(std::string(field), std::string(field) + " " + std::to_string(tree_size) +
                                                   " is beyond the tree, which holds " + std::to_string(size) +
                                                   " events");
  }
  return {};
}

Result<Sha256Digest> Ledger::Impl::TreeRoot(uint64_t tree_size) const {
  if (Status checked = CheckTreeSize(tree_size, "tree_size"); !checked) return checked.error();
  return merkle::RootHash(StoredTreeNodes(*db_), tree_size);
}

Result<std::vector<Sha256Digest>> Ledger::Impl::InclusionProof(uint64_t seq, uint64_t tree_size) const {
  if (tree_behind_) return CheckTreeSize(tree_size, "tree_size").error();
  const uint64_t size = tree_head().tree_size;
  if (seq == 0 || seq > size) {
    return MakeError(ErrorCode::kNotFound,
                     "no event " + std::to_string(seq) + ": the ledger holds events 1 to " + std::to_string(size),
                     "seq");
  }
  if (Status checked = CheckTreeSize(tree_size, "tree_size"); !checked) return checked.error();
  if (tree_size < seq) {
    return InvalidArgument("tree_size", "tree_size " + std::to_string(tree_size) + " is below seq " +
                                            std::to_string(seq) + ": the event is not in that tree");
  }
  return merkle::InclusionPath(StoredTreeNodes(*db_), seq - 1, tree_size);
}

Result<std::vector<Sha256Digest>> Ledger::Impl::ConsistencyProof(uint64_t first, uint64_t second) const {
  if (first == 0) return InvalidArgument("first", "first must be at least 1 (the empty tree proves nothing)");
  if (Status checked = CheckTreeSize(second, "second"); !checked) return checked.error();
  if (first > second) {
    return InvalidArgument("first", "first " + std::to_string(first) + " is above second " + std::to_string(second));
  }
  return merkle::ConsistencyPath(StoredTreeNodes(*db_), first, second);
}

}  // namespace ledger
