#pragma once
// The subcommands that check the ledger from outside the service
// (docs/AUDIT.md, "Proving one ticket"):
//
//   incident-ledger verify-bundle FILE --public-key KEY
//
// verify-bundle checks a bundle (GET /api/v1/incidents/{t}/bundle) offline,
// with nothing but the file and the public key: the head's signature and
// key id, each event's hash and that its JSON says what its record holds,
// and each event's inclusion proof against the signed root. It prints
// "ok: ..." and exits 0, or names the first part that fails ("events[1]
// (seq 7): ...", "proofs[0]: ...", "tree_head: ...") and exits 1.

namespace ledger::app {

int VerifyBundle(int argc, char** argv);

}  // namespace ledger::app
