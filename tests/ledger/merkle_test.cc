// ledger/merkle.h against RFC 9162 as written: a reference implementation
// of the RFC's recursive definitions (MTH, PATH, SUBPROOF) over plain lists
// of leaves, independent of the code under test, and RFC 6962's published
// test vectors (certificate-transparency's merkle_tree_test), for every
// tree size and index up to sizes that are not powers of two.

#include <bit>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ledger/merkle.h"

namespace ledger::merkle {
namespace {

// ---------------------------------------------------------------------------
// The reference: RFC 9162 section 2.1, transcribed.

using Leaves = std::vector<std::string>;

Sha256Digest RefHash(std::string_view prefix, std::string_view a, std::string_view b = {}) {
  return Sha256(std::string(prefix) + std::string(a), b);
}

uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Sha256Digest RefMth(const Leaves& d, size_t begin, size_t end) {
  if (end == begin) return RefHash("", "");
  if (end - begin == 1) return RefHash(std::string(1, '\0'), d[begin]);
  const size_t k = RefSplit(end - begin);
  const Sha256Digest left = RefMth(d, begin, begin + k);
  const Sha256Digest right = RefMth(d, begin + k, end);
  return RefHash(std::string(1, '\1'), AsBytes(left), AsBytes(right));
}

std::vector<Sha256Digest> RefPath(uint64_t m, const Leaves& d, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n <= 1) return {};
  const size_t k = RefSplit(n);
  std::vector<Sha256Digest> path;
  if (m < k) {
    path = RefPath(m, d, begin, begin + k);
    path.push_back(RefMth(d, begin + k, end));
  } else {
    path = RefPath(m - k, d, begin + k, end);
    path.push_back(RefMth(d, begin, begin + k));
  }
  return path;
}

std::vector<Sha256Digest> RefSubproof(uint64_t m, const Leaves& d, size_t begin, size_t end, bool b) {
  const size_t n = end - begin;
  if (m == n) {
    if (b) return {};
    return {RefMth(d, begin, end)};
  }
  const size_t k = RefSplit(n);
  std::vector<Sha256Digest> proof;
  if (m <= k) {
    proof = RefSubproof(m, d, begin, begin + k, b);
    proof.push_back(RefMth(d, begin + k, end));
  } else {
    proof = RefSubproof(m - k, d, begin + k, end, false);
    proof.push_back(RefMth(d, begin, begin + k));
  }
  return proof;
}

// ---------------------------------------------------------------------------
// The code under test, with its nodes in memory.

class MemoryNodes : public NodeSource {
 public:
  explicit MemoryNodes(const Leaves& leaves) {
    for (const std::string& leaf : leaves) {
      frontier.Append(LeafHash(leaf), [this](const NodeId& id, const Sha256Digest& hash) {
        const bool fresh = nodes.emplace(std::make_pair(id.level, id.index), hash).second;
        EXPECT_TRUE(fresh) << "node emitted twice: level " << int(id.level) << " index " << id.index;
      });
    }
  }
  Result<Sha256Digest> Node(const NodeId& id) const override {
    ++reads;
    const auto found = nodes.find({id.level, id.index});
    if (found == nodes.end()) return MakeError(ErrorCode::kCorruption, "missing node");
    return found->second;
  }
  Frontier frontier;
  std::map<std::pair<uint8_t, uint64_t>, Sha256Digest> nodes;
  mutable uint64_t reads = 0;
};

Leaves NumberedLeaves(size_t count) {
  Leaves leaves;
  for (size_t i = 0; i < count; ++i) leaves.push_back("leaf " + std::to_string(i));
  return leaves;
}

std::string Hex(const Sha256Digest& digest) { return HexEncode(digest); }

std::vector<std::string> Hexes(const std::vector<Sha256Digest>& digests) {
  std::vector<std::string> out;
  for (const Sha256Digest& digest : digests) out.push_back(Hex(digest));
  return out;
}

// RFC 6962's test leaves, as certificate-transparency publishes them.
Leaves PublishedLeaves() {
  return {std::string(),
          std::string("\x00", 1),
          std::string("\x10", 1),
          std::string("\x20\x21", 2),
          std::string("\x30\x31", 2),
          std::string("\x40\x41\x42\x43", 4),
          std::string("\x50\x51\x52\x53\x54\x55\x56\x57", 8),
          std::string("\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16)};
}

TEST(Merkle, EmptyTreeIsTheHashOfNothing) {
  EXPECT_EQ(Hex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Frontier().Root()), Hex(EmptyRoot()));
  MemoryNodes nodes({});
  EXPECT_EQ(Hex(*RootHash(nodes, 0)), Hex(EmptyRoot()));
}

TEST(Merkle, PublishedRootsForEverySizeUpToEight) {
  const std::vector<std::string> roots = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  const Leaves leaves = PublishedLeaves();
  MemoryNodes nodes(leaves);
  Frontier growing;
  for (size_t size = 1; size <= leaves.size(); ++size) {
    growing.Append(LeafHash(leaves[size - 1]), [](const NodeId&, const Sha256Digest&) {});
    EXPECT_EQ(Hex(growing.Root()), roots[size - 1]) << "size " << size;
    EXPECT_EQ(Hex(*RootHash(nodes, size)), roots[size - 1]) << "size " << size;
    EXPECT_EQ(Hex(RefMth(leaves, 0, size)), roots[size - 1]) << "the reference, size " << size;
  }
}

TEST(Merkle, PublishedInclusionAndConsistencyPaths) {
  const Leaves leaves = PublishedLeaves();
  MemoryNodes nodes(leaves);
  EXPECT_EQ(Hexes(*InclusionPath(nodes, 0, 8)),
            (std::vector<std::string>{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}));
  EXPECT_EQ(Hexes(*InclusionPath(nodes, 5, 8)),
            (std::vector<std::string>{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}));
  EXPECT_EQ(Hexes(*InclusionPath(nodes, 2, 3)),
            (std::vector<std::string>{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}));
  EXPECT_EQ(Hexes(*ConsistencyPath(nodes, 1, 8)),
            (std::vector<std::string>{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}));
  EXPECT_EQ(Hexes(*ConsistencyPath(nodes, 6, 8)),
            (std::vector<std::string>{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}));
  EXPECT_EQ(Hexes(*ConsistencyPath(nodes, 2, 5)),
            (std::vector<std::string>{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}));
  EXPECT_TRUE(ConsistencyPath(nodes, 8, 8)->empty());
}

// Every tree size up to 70 (most of them not powers of two), every leaf and
// every earlier size: the paths equal the reference's, the verifiers accept
// them, and refuse them when any part is wrong.
TEST(Merkle, EveryPathEqualsTheReferenceAndVerifies) {
  constexpr size_t kSizeMax = 70;
  const Leaves leaves = NumberedLeaves(kSizeMax);
  MemoryNodes nodes(leaves);
  std::vector<Sha256Digest> roots(kSizeMax + 1);
  for (size_t size = 0; size <= kSizeMax; ++size) {
    roots[size] = RefMth(leaves, 0, size);
    ASSERT_EQ(Hex(*RootHash(nodes, size)), Hex(roots[size])) << "size " << size;
  }
  for (uint64_t size = 1; size <= kSizeMax; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      const std::vector<Sha256Digest> path = *InclusionPath(nodes, index, size);
      ASSERT_EQ(Hexes(path), Hexes(RefPath(index, leaves, 0, size))) << "leaf " << index << " of " << size;
      const Sha256Digest leaf = LeafHash(leaves[index]);
      ASSERT_TRUE(VerifyInclusion(leaf, index, size, path, roots[size])) << index << " of " << size;
      EXPECT_FALSE(VerifyInclusion(leaf, index, size, path, roots[size - 1]));
      EXPECT_FALSE(VerifyInclusion(LeafHash("other"), index, size, path, roots[size]));
      // (The tree size is not bound by the path: for some sizes a path of
      // one size also fits the next. It is bound by the signed head.)
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion(leaf, (index + 1) % size, size, path, roots[size])) << index << " of " << size;
      }
      EXPECT_FALSE(VerifyInclusion(leaf, size, size, path, roots[size]));
      for (size_t i = 0; i < path.size(); ++i) {
        std::vector<Sha256Digest> bent = path;
        bent[i][i % kSha256Bytes] ^= 0x01;
        EXPECT_FALSE(VerifyInclusion(leaf, index, size, bent, roots[size])) << "sibling " << i;
      }
      if (!path.empty()) {
        std::vector<Sha256Digest> shorter(path.begin(), path.end() - 1);
        EXPECT_FALSE(VerifyInclusion(leaf, index, size, shorter, roots[size]));
      }
      std::vector<Sha256Digest> longer = path;
      longer.push_back(leaf);
      EXPECT_FALSE(VerifyInclusion(leaf, index, size, longer, roots[size]));
    }
    for (uint64_t first = 1; first <= size; ++first) {
      const std::vector<Sha256Digest> proof = *ConsistencyPath(nodes, first, size);
      ASSERT_EQ(Hexes(proof), Hexes(RefSubproof(first, leaves, 0, size, true))) << first << " to " << size;
      ASSERT_TRUE(VerifyConsistency(first, size, roots[first], roots[size], proof)) << first << " to " << size;
      if (first == size) continue;
      EXPECT_FALSE(VerifyConsistency(first, size, roots[first - 1], roots[size], proof));
      EXPECT_FALSE(VerifyConsistency(first, size, roots[first], roots[size - 1], proof));
      EXPECT_FALSE(VerifyConsistency(first, size, roots[first], roots[size], {}));
      EXPECT_FALSE(VerifyConsistency(size, first, roots[size], roots[first], proof));
      for (size_t i = 0; i < proof.size(); ++i) {
        std::vector<Sha256Digest> bent = proof;
        bent[i][31] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(first, size, roots[first], roots[size], bent)) << first << " to " << size;
      }
    }
  }
  EXPECT_FALSE(VerifyConsistency(0, 5, EmptyRoot(), roots[5], {}));
}

TEST(Merkle, FrontierLoadedFromNodesContinuesLikeTheOneThatGrew) {
  const Leaves leaves = NumberedLeaves(300);
  for (uint64_t size : {0u, 1u, 2u, 3u, 127u, 128u, 129u, 255u, 299u}) {
    MemoryNodes nodes(Leaves(leaves.begin(), leaves.begin() + static_cast<long>(size)));
    Result<Frontier> loaded = Frontier::Load(nodes, size);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(Hex(loaded->Root()), Hex(nodes.frontier.Root())) << size;
    for (size_t i = size; i < leaves.size(); ++i) {
      loaded->Append(LeafHash(leaves[i]), [](const NodeId&, const Sha256Digest&) {});
    }
    EXPECT_EQ(Hex(loaded->Root()), Hex(RefMth(leaves, 0, leaves.size()))) << size;
  }
}

// Counts reads without storing a million nodes: every node is some hash.
class CountingNodes : public NodeSource {
 public:
  Result<Sha256Digest> Node(const NodeId& id) const override {
    ++reads;
    return Sha256(std::to_string(id.level) + "/" + std::to_string(id.index));
  }
  mutable uint64_t reads = 0;
};

// The proofs read O(log n) nodes (merkle.cc says why: at most ~3 log2 n).
TEST(Merkle, ProofsReadLogarithmicallyManyNodes) {
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  for (uint64_t size : {1'000'000ull, 1'048'576ull, 1'048'577ull, 999'999'999'999ull}) {
    const uint64_t bound = 3 * static_cast<uint64_t>(std::bit_width(size));
    CountingNodes nodes;
    for (int trial = 0; trial < 200; ++trial) {
      const uint64_t index = trial == 0 ? size - 1 : random() % size;
      nodes.reads = 0;
      ASSERT_TRUE(InclusionPath(nodes, index, size));
      EXPECT_LE(nodes.reads, bound) << "leaf " << index << " of " << size << ", seed " << seed;
      const uint64_t first = 1 + random() % size;
      nodes.reads = 0;
      ASSERT_TRUE(ConsistencyPath(nodes, first, size));
      EXPECT_LE(nodes.reads, bound) << first << " to " << size << ", seed " << seed;
      nodes.reads = 0;
      ASSERT_TRUE(RootHash(nodes, first));
      EXPECT_LE(nodes.reads, static_cast<uint64_t>(std::bit_width(first))) << "root of " << first;
    }
  }
}

TEST(Merkle, ANodeThatCannotBeReadFailsTheProof) {
  const Leaves leaves = NumberedLeaves(10);
  MemoryNodes nodes(leaves);
  nodes.nodes.erase({1, 4});  // leaves 8 and 9
  EXPECT_FALSE(InclusionPath(nodes, 3, 10));
  EXPECT_FALSE(RootHash(nodes, 10));
  EXPECT_TRUE(RootHash(nodes, 8));
}

}  // namespace
}  // namespace ledger::merkle
