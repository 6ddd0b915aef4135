#pragma once
// The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1,
// over the ledger's event hashes in seq order: leaf i (0-based) is event
// i + 1, so an event's leaf index is seq - 1.
//
//   leaf hash  = SHA-256(0x00 || event hash)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//
// Pure code: no I/O, no state beyond its arguments. The tree is kept as its
// perfect subtrees ("nodes"): node (level L, index i) is the hash of leaves
// [i * 2^L, (i + 1) * 2^L). A node never changes once its last leaf exists,
// so a store of them serves every tree size up to the one it was built to.
// Reads go through a NodeSource, which the ledger backs with RocksDB
// (ledger.cc) and the tests with memory; every function below reads
// O(log n) nodes (see merkle.cc for why).
//
// Thread safety: the free functions may be called from any thread; a
// Frontier is used by one thread at a time.

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"

namespace ledger::merkle {

// Levels 0 (leaves) to 63: enough for 2^64 - 1 leaves.
constexpr int kLevels = 64;

struct NodeId {
  uint8_t level = 0;
  uint64_t index = 0;
};

// SHA-256(0x00 || data). The ledger's leaves hash an event hash (32 bytes);
// any bytes work, so the tests can use RFC 6962's published vectors.
Sha256Digest LeafHash(std::string_view data);
inline Sha256Digest LeafHash(const Sha256Digest& event_hash) { return LeafHash(AsBytes(event_hash)); }
// SHA-256(0x01 || left || right).
Sha256Digest NodeHash(const Sha256Digest& left, const Sha256Digest& right);
// The root of the empty tree: SHA-256 of nothing.
Sha256Digest EmptyRoot();

// Where the nodes come from. Node() is asked only for nodes whose leaves
// all exist in the tree being read; it fails with kCorruption or kIoError
// when it cannot answer (never kNotFound for such a node).
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  virtual Result<Sha256Digest> Node(const NodeId& id) const = 0;
};

// MTH(D[0:tree_size]).
Result<Sha256Digest> RootHash(const NodeSource& nodes, uint64_t tree_size);
// MTH(D[begin:end]), begin < end.
Result<Sha256Digest> RangeHash(const NodeSource& nodes, uint64_t begin, uint64_t end);

// PATH(leaf_index, D[0:tree_size]) (RFC 9162 2.1.3.1), the sibling nearest
// the leaf first. Needs leaf_index < tree_size (a programmer error otherwise:
// callers check their input first).
Result<std::vector<Sha256Digest>> InclusionPath(const NodeSource& nodes, uint64_t leaf_index, uint64_t tree_size);
// PROOF(first, D[0:second]) (RFC 9162 2.1.4.1). Needs 0 < first <= second;
// empty when they are equal.
Result<std::vector<Sha256Digest>> ConsistencyPath(const NodeSource& nodes, uint64_t first, uint64_t second);

// RFC 9162 2.1.3.2: does `path` lead from `leaf_hash` at `leaf_index` to
// `root` in a tree of `tree_size` leaves?
bool VerifyInclusion(const Sha256Digest& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                     const std::vector<Sha256Digest>& path, const Sha256Digest& root);
// RFC 9162 2.1.4.2: is the tree of `second` leaves with `second_root` an
// extension of the one of `first` leaves with `first_root`? Needs
// 0 < first <= second (false otherwise).
bool VerifyConsistency(uint64_t first, uint64_t second, const Sha256Digest& first_root,
                       const Sha256Digest& second_root, const std::vector<Sha256Digest>& path);

// The right edge of a growing tree: the perfect subtrees of the binary
// decomposition of its size (one per set bit), which is all that appending
// a leaf or computing the root needs. Held in memory by the ledger's writer.
class Frontier {
 public:
  using EmitNode = std::function<void(const NodeId& id, const Sha256Digest& hash)>;

  // Appends a leaf and calls `emit` for every node it completes: the leaf
  // itself (level 0), then each ancestor that it makes perfect.
  void Append(const Sha256Digest& leaf_hash, const EmitNode& emit);
  uint64_t size() const { return size_; }
  // MTH of the leaves appended so far; O(log n) hashing, no reads.
  Sha256Digest Root() const;

  // The frontier of a tree of `size` leaves, from its nodes: one read per
  // set bit of `size`.
  static Result<Frontier> Load(const NodeSource& nodes, uint64_t size);

 private:
  uint64_t size_ = 0;
  Sha256Digest subtrees_[kLevels] = {};  // subtrees_[L] holds a node when bit L of size_ is set
};

}  // namespace ledger::merkle
