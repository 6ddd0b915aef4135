#pragma once
// Following another ledger: a copy (a mirror) that mirrors a primary
// through its HTTP API, for an auditor of their own or readers elsewhere.
//
//   incident-ledger follow --from URL --data DIR [--token-file F] [--poll-ms N]
//   incident-ledger serve --follow URL --data DIR [--token-file F] ...
//
// The Follower asks the primary for the events after its own head
// (GET /api/v1/events?after=N, JSON pages with the primary's head_seq) and
// appends them verbatim through Ledger::ImportVerbatim, the import's own
// checks: each event's hash is SHA-256(prev_hash || record), its prev_hash
// is this copy's head, its seq the next one, its record decodes. Since the
// copy's head is durable with every batch, a follower killed at any moment
// resumes where its ledger stops, and never asks for or writes an event
// twice.
//
// Besides the chain it checks the primary's signed tree heads (at the start
// and then at most every kTreeHeadCheckInterval): GET /api/v1/tree-head,
// signed by the key the primary served the first time this copy followed it
// (pinned in DIR/kPrimaryKeyFile), and either the copy's own root at that
// size (a head it has passed) or an RFC 9162 consistency proof
// (GET /api/v1/proofs/consistency) from the copy's tree to the head's.
//
// Divergence: when the primary serves an event that does not continue the
// copy's chain, a head whose root the copy's events do not give, a proof
// that fails, fewer events than the copy holds, or a head signed by another
// key, the follower looks for the first seq where the primary's history
// differs from the copy's (a binary search over event hashes, O(log n)
// requests) and stops with kCorruption naming it. It never overwrites or
// removes anything of the copy. A primary that cannot be reached, or answers
// an error, is asked again (with a growing pause, at most kRetryDelayMax);
// that is not a divergence.
//
// Thread safety: Run runs on one thread; stats() may be called from any.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/metrics.h"
#include "ledger/ledger.h"

namespace ledger::app {

constexpr std::string_view kPrimaryKeyFile = "primary-public-key.pem";
constexpr std::chrono::milliseconds kPollIntervalDefault{50};
constexpr std::chrono::milliseconds kTreeHeadCheckInterval{1000};
constexpr std::chrono::milliseconds kRetryDelayMax{5000};
// Events asked for in one request (the primary answers at most 10,000).
constexpr size_t kFollowPageEvents = 1000;
// An answer of the primary larger than this is refused (a page of
// kFollowPageEvents events is a few MB).
constexpr size_t kFollowAnswerBytesMax = 256 << 20;
constexpr long kFollowRequestTimeoutSeconds = 60;

struct FollowOptions {
  std::string primary_url;  // http://host:port, without a trailing '/'
  std::string token;        // sent as Authorization: Bearer; empty: none
  std::string data_folder;  // the copy's --data (where the primary's key is pinned)
  std::chrono::milliseconds poll_interval = kPollIntervalDefault;
};

// Checks and normalizes --from (http:// or https://, no path, query or
// credentials) and reads --token-file (its first line).
Result<FollowOptions> ParseFollowOptions(const std::string& url, const std::string& token_file,
                                         const std::string& poll_ms, const std::string& data_folder);

class Follower {
 public:
  // `log` must outlive the follower; nothing else may append to it.
  Follower(Ledger* log, FollowOptions options);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Follows until RequestStop (then OK) or a divergence (kCorruption, the
  // message naming the first bad seq) or a local write that fails.
  Status Run();
  // May be called from any thread, also before Run.
  void RequestStop();

  http::FollowerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The `follow` subcommand: runs a Follower on DIR until SIGINT or SIGTERM
// (exit 0), a divergence (exit 1) or a problem it cannot go on from (2).
int Follow(const std::string& data, const std::string& url, const std::string& token_file, const std::string& poll_ms);

}  // namespace ledger::app
