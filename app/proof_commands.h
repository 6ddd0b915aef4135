#pragma once
// The subcommands that check the ledger from outside the service
// (docs/AUDIT.md, "Proving one ticket" and "Witnessed heads"):
//
//   incident-ledger verify-bundle FILE --public-key KEY
//   incident-ledger check-head --data DIR [--public-key KEY] HEADER
//
// verify-bundle checks a bundle (GET /api/v1/incidents/{t}/bundle) offline,
// with nothing but the file and the public key: the head's signature and
// key id, each event's hash and that its JSON says what its record holds,
// and each event's inclusion proof against the signed root. It prints
// "ok: ..." and exits 0, or names the first part that fails ("events[1]
// (seq 7): ...", "proofs[0]: ...", "tree_head: ...") and exits 1.
//
// check-head takes the X-Ledger-Tree-Head of a mail (the value, or the whole
// header line, folded or not; "-" reads it from stdin) and says whether the
// ledger in DIR now is consistent with it: the signature (with DIR's key, or
// KEY), the whole chain and tree (Verify), and the root of the ledger's first
// `size` events, computed from their hashes, against the head's root; then
// the stored tree's consistency proof from that size to the head. Prints a
// JSON report and a sentence; exits 0 when consistent, 1 when not (naming
// why), 2 on a usage or I/O problem. It opens the ledger read-only, so it
// works while the service runs.

#include <string>

namespace ledger::app {

// The arguments as app/command_line.h reads them; `public_key` empty: not
// given (verify-bundle needs it; check-head then uses DIR's key).
int VerifyBundle(const std::string& public_key, const std::string& file);
int CheckHead(const std::string& data, const std::string& public_key, const std::string& header_argument);

}  // namespace ledger::app
