#pragma once
// The routes that let a reader check the ledger without trusting the
// service (DESIGN.md, "Proofs and followers"; docs/AUDIT.md):
//
//   GET /api/v1/public-key                         the tree heads' Ed25519 key (PEM)
//   GET /api/v1/tree-head                          {tree_size, root_hash, timestamp, signature, key_id}
//   GET /api/v1/proofs/inclusion?seq&tree_size     {seq, leaf_index, tree_size, audit_path}
//   GET /api/v1/proofs/consistency?first&second    {first, second, consistency_path}
//   GET /api/v1/incidents/{ticket}/bundle          {ticket, events, proofs, tree_head}
//
// All need the viewer role. Parameters are refused by name: a missing or
// malformed one, or one out of its range (400: tree_size or second beyond
// the current tree, tree_size below seq, first above second, first 0); an
// event that does not exist is 404 naming seq, a ticket that does not 404
// naming ticket. A proof's tree_size (second) defaults to the current tree.
// Everything is read from the ledger's stored tree in O(log n) reads per
// proof (a bundle: one per event), on the socket thread. Without a signer
// (tests), the routes that sign answer 503.
//
// Thread safety: the handlers may run on many threads at once.

#include <vector>

#include "http/router.h"
#include "ledger/ledger.h"
#include "ledger/tree_head.h"
#include "projections/read_model.h"

namespace ledger::http {

struct ProofRoutes {
  const Ledger* ledger = nullptr;
  const TreeHeadSigner* signer = nullptr;  // none: public-key, tree-head and bundle answer 503
  // The current tickets, for the bundle's visibility (visibility.h); null:
  // every ticket is shown.
  const projections::ReadModel* read_model = nullptr;
};

// The rows above, for Api's table; `routes` must outlive them.
std::vector<Route> ProofRouteRows(const ProofRoutes& routes);

}  // namespace ledger::http
