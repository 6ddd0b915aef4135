// RFC 9162's Merkle tree over perfect subtrees (see merkle.h).
//
// Why every call reads O(log n) nodes: the RFC's recursions split a range
// at k, the largest power of two below its size, and every range they reach
// starts at a multiple of its own split size. So the left part of a split is
// always a perfect, aligned subtree (one stored node), and only a range that
// ends at the tree's right edge can be imperfect; RangeHash spends one read
// per set bit on such a range. A path walks down one side; it meets at most
// two imperfect ranges (the right edge below the first split it leaves to
// the left, and for a consistency proof the first tree's own edge), so a
// proof reads at most about 3 log2(n) nodes.

#include "ledger/merkle.h"

#include <bit>

namespace ledger::merkle {
namespace {

// The largest power of two strictly below n (n >= 2).
uint64_t SplitOf(uint64_t n) {
  LEDGER_ASSERT(n >= 2);
  return std::bit_floor(n - 1);
}

bool IsPerfectAligned(uint64_t begin, uint64_t size) { return std::has_single_bit(size) && begin % size == 0; }

Status AppendInclusion(const NodeSource& nodes, uint64_t leaf, uint64_t begin, uint64_t end,
                       std::vector<Sha256Digest>* path) {
  const uint64_t size = end - begin;
  if (size == 1) return {};
  const uint64_t split = begin + SplitOf(size);
  Result<Sha256Digest> sibling = Sha256Digest{};
  if (leaf < split) {
    if (Status deeper = AppendInclusion(nodes, leaf, begin, split, path); !deeper) return deeper;
    sibling = RangeHash(nodes, split, end);
  } else {
    if (Status deeper = AppendInclusion(nodes, leaf, split, end, path); !deeper) return deeper;
    sibling = RangeHash(nodes, begin, split);
  }
  if (!sibling) return sibling.error();
  path->push_back(*sibling);
  return {};
}

// SUBPROOF(first - begin, D[begin:end], whole) of RFC 9162 2.1.4.1, with
// `first` the absolute size of the first tree.
Status AppendConsistency(const NodeSource& nodes, uint64_t first, uint64_t begin, uint64_t end, bool whole,
                         std::vector<Sha256Digest>* path) {
  if (first == end) {
    if (whole) return {};
    Result<Sha256Digest> hash = RangeHash(nodes, begin, end);
    if (!hash) return hash.error();
    path->push_back(*hash);
    return {};
  }
  const uint64_t split = begin + SplitOf(end - begin);
  Result<Sha256Digest> sibling = Sha256Digest{};
  if (first <= split) {
    if (Status deeper = AppendConsistency(nodes, first, begin, split, whole, path); !deeper) return deeper;
    sibling = RangeHash(nodes, split, end);
  } else {
    if (Status deeper = AppendConsistency(nodes, first, split, end, false, path); !deeper) return deeper;
    sibling = RangeHash(nodes, begin, split);
  }
  if (!sibling) return sibling.error();
  path->push_back(*sibling);
  return {};
}

}  // namespace

Sha256Digest LeafHash(std::string_view data) { return Sha256(std::string_view("\x00", 1), data); }

Sha256Digest NodeHash(const Sha256Digest& left, const Sha256Digest& right) {
  std::string both;
  both.reserve(2 * kSha256Bytes);
  both.append(AsBytes(left));
  both.append(AsBytes(right));
  return Sha256(std::string_view("\x01", 1), both);
}

Sha256Digest EmptyRoot() { return Sha256(std::string_view()); }

Result<Sha256Digest> RangeHash(const NodeSource& nodes, uint64_t begin, uint64_t end) {
  LEDGER_ASSERT(begin < end);
  const uint64_t size = end - begin;
  if (IsPerfectAligned(begin, size)) {
    const auto level = static_cast<uint8_t>(std::countr_zero(size));
    return nodes.Node(NodeId{.level = level, .index = begin >> level});
  }
  const uint64_t split = begin + SplitOf(size);
  Result<Sha256Digest> left = RangeHash(nodes, begin, split);
  if (!left) return left.error();
  Result<Sha256Digest> right = RangeHash(nodes, split, end);
  if (!right) return right.error();
  return NodeHash(*left, *right);
}

Result<Sha256Digest> RootHash(const NodeSource& nodes, uint64_t tree_size) {
  if (tree_size == 0) return EmptyRoot();
  return RangeHash(nodes, 0, tree_size);
}

Result<std::vector<Sha256Digest>> InclusionPath(const NodeSource& nodes, uint64_t leaf_index, uint64_t tree_size) {
  LEDGER_ASSERT(leaf_index < tree_size);
  std::vector<Sha256Digest> path;
  if (Status built = AppendInclusion(nodes, leaf_index, 0, tree_size, &path); !built) return built.error();
  return path;
}

Result<std::vector<Sha256Digest>> ConsistencyPath(const NodeSource& nodes, uint64_t first, uint64_t second) {
  LEDGER_ASSERT(first > 0 && first <= second);
  std::vector<Sha256Digest> path;
  if (Status built = AppendConsistency(nodes, first, 0, second, true, &path); !built) return built.error();
  return path;
}

bool VerifyInclusion(const Sha256Digest& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                     const std::vector<Sha256Digest>& path, const Sha256Digest& root) {
  if (leaf_index >= tree_size) return false;
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Sha256Digest r = leaf_hash;
  for (const Sha256Digest& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t first, uint64_t second, const Sha256Digest& first_root,
                       const Sha256Digest& second_root, const std::vector<Sha256Digest>& path) {
  if (first == 0 || first > second) return false;
  if (first == second) return path.empty() && first_root == second_root;
  if (path.empty()) return false;
  std::vector<Sha256Digest> steps;
  steps.reserve(path.size() + 1);
  if (std::has_single_bit(first)) steps.push_back(first_root);
  steps.insert(steps.end(), path.begin(), path.end());
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Sha256Digest fr = steps.front();
  Sha256Digest sr = steps.front();
  for (size_t i = 1; i < steps.size(); ++i) {
    const Sha256Digest& c = steps[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_root && sr == second_root && sn == 0;
}

void Frontier::Append(const Sha256Digest& leaf_hash, const EmitNode& emit) {
  LEDGER_ASSERT(size_ != UINT64_MAX);
  Sha256Digest hash = leaf_hash;
  uint64_t index = size_;
  uint8_t level = 0;
  emit(NodeId{.level = level, .index = index}, hash);
  // Each set low bit of the old size is a perfect subtree on the left of
  // the new leaf's: they merge into one of the next level up.
  while ((index & 1) != 0) {
    hash = NodeHash(subtrees_[level], hash);
    ++level;
    index >>= 1;
    emit(NodeId{.level = level, .index = index}, hash);
  }
  subtrees_[level] = hash;
  ++size_;
}

Sha256Digest Frontier::Root() const {
  if (size_ == 0) return EmptyRoot();
  // The smallest subtree is the rightmost; each larger one joins on its left.
  bool have = false;
  Sha256Digest root{};
  for (int level = 0; level < kLevels; ++level) {
    if (((size_ >> level) & 1) == 0) continue;
    root = have ? NodeHash(subtrees_[level], root) : subtrees_[level];
    have = true;
  }
  return root;
}

Result<Frontier> Frontier::Load(const NodeSource& nodes, uint64_t size) {
  Frontier frontier;
  frontier.size_ = size;
  for (int level = 0; level < kLevels; ++level) {
    if (((size >> level) & 1) == 0) continue;
    // The subtree of this level in the decomposition ends where the smaller
    // ones begin: its index is (size >> level) - 1.
    Result<Sha256Digest> node =
        nodes.Node(NodeId{.level = static_cast<uint8_t>(level), .index = (size >> level) - 1});
    if (!node) return node.error();
    frontier.subtrees_[level] = *node;
  }
  return frontier;
}

}  // namespace ledger::merkle
