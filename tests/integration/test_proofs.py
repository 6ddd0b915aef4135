"""Proofs against the real binary (docs/AUDIT.md, "Proving one ticket" and
"Witnessed heads"):

- the tree head's signature verifies with the served public key, and every
  inclusion and consistency proof verifies against heads taken along the way
- parameters out of range are refused naming the parameter
- a ticket's bundle verifies with the Python verifier printed in
  docs/AUDIT.md (extracted from the page here, so the page cannot rot) and
  with `incident-ledger verify-bundle`; altering any byte of it makes both
  fail, saying where
- the signing key is made once (0600) and kept across restarts
- a tree head taken from a mail (aiosmtpd) before a tampering is shown
  inconsistent with the tampered ledger by `check-head`

Run: LEDGER_BINARY=build/debug/app/incident-ledger LEDGER_TAMPER_TOOL=build/debug/tests/ledger-tamper \
     python3 tests/integration/test_proofs.py
"""

import os
import sys
import base64
import hashlib
import json
import random
import re
import stat
import subprocess
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

service.require_modules(["aiosmtpd", "cryptography"], ["python3-aiosmtpd", "python3-cryptography"])
from cryptography.hazmat.primitives import serialization  # noqa: E402
from test_notifications import Mailbox, SmtpServer, smtp_args  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIT_PAGE = os.path.join(HERE, "..", "..", "docs", "AUDIT.md")
VERIFIER_MARKER = "<!-- bundle-verifier:"
VERIFIER_LINES_MAX = 59  # "under 60 lines of Python"
TIMEOUT_SECONDS = 120
WAIT_SECONDS = 90


def tamper_tool():
    tool = os.environ.get("LEDGER_TAMPER_TOOL")
    if not tool:
        raise RuntimeError("LEDGER_TAMPER_TOOL is not set (ctest sets it to the ledger-tamper binary)")
    return tool


def run_cli(*arguments, stdin=None):
    completed = subprocess.run([service.ledger_binary(), *arguments], input=stdin, capture_output=True,
                               timeout=TIMEOUT_SECONDS)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def verifier_source():
    """The Python block that follows the marker in docs/AUDIT.md."""
    with open(AUDIT_PAGE, encoding="utf-8") as page:
        text = page.read()
    at = text.index(VERIFIER_MARKER)
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, at)
    return match.group(1)


def load_verifier():
    namespace = {"__name__": "audit_md_bundle_verifier"}
    exec(compile(verifier_source(), AUDIT_PAGE + " (bundle verifier)", "exec"), namespace)
    return namespace["verify"]


# -- RFC 9162, written out again here (independent of the service's code) --

def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def mth(leaves):
    if not leaves:
        return h()
    if len(leaves) == 1:
        return h(b"\0", leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\1", mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf_hash, path, root):
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\1", p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = h(b"\1", r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = h(b"\1", c, fr), h(b"\1", c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = h(b"\1", sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def signed_text(head):
    return ("incident-ledger tree head v1\n%d\n%s\n%s\n" % (head["tree_size"], head["root_hash"],
                                                            head["timestamp"])).encode()


class ProofsTest(service.ServiceTestCase):

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-proofs-")
        self.addCleanup(self.scratch.cleanup)

    def path(self, name):
        return os.path.join(self.scratch.name, name)

    def create(self, svc, title, **fields):
        body = {"action": "create", "title": title, "systems": fields.pop("systems", ["mail"]), "engineer": "Ana"}
        body.update(fields)
        response = svc.submit(body)
        self.assertStatus(response, 201)
        return response.data["ticket"]

    def public_key(self, svc):
        response = svc.get("/api/v1/public-key")
        self.assertStatus(response, 200)
        self.assertEqual(response.content_type, "application/x-pem-file")
        return serialization.load_pem_public_key(response.raw), response.raw

    def tree_head(self, svc, key):
        response = svc.get("/api/v1/tree-head")
        self.assertStatus(response, 200)
        head = response.data
        self.assertEqual(set(head), {"tree_size", "root_hash", "timestamp", "signature", "key_id"})
        key.verify(base64.b64decode(head["signature"], validate=True), signed_text(head))  # raises if not
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.assertEqual(head["key_id"], hashlib.sha256(der).hexdigest())
        return head

    def fill(self, svc):
        first = self.create(svc, "Mail <down> & out", systems=["mail", "vpn"], severity="major",
                            started_at="2026-11-24T08:40:00.250+01:00", link="https://helpdesk.example.org/t/1",
                            submission_id="form-1")
        second = self.create(svc, "DNS langsam \u2014 St\u00f6rung", systems=["dns"], severity="critical")
        self.assertStatus(svc.submit({"action": "update", "ticket": first, "note": "MX rebooted\n\ttwice",
                                      "systems": ["mail"], "description": "Multi-line\ntext"}), 201)
        self.assertStatus(svc.submit({"action": "close", "ticket": first, "ended_at": "2026-11-24T10:05:00-03:30"}),
                          201)
        self.assertStatus(svc.submit({"action": "reopen", "ticket": first}), 201)
        self.assertStatus(svc.submit({"action": "close", "ticket": second}), 201)
        return first, second

    def test_heads_and_proofs_verify_and_bad_parameters_are_named(self):
        svc = self.start_service()
        key, _ = self.public_key(svc)
        empty = self.tree_head(svc, key)
        self.assertEqual((empty["tree_size"], empty["root_hash"]), (0, hashlib.sha256().hexdigest()))
        heads = {}
        for i in range(13):
            self.create(svc, "Incident %d" % i)
            head = self.tree_head(svc, key)
            heads[head["tree_size"]] = head
        events = svc.all_events()
        leaves = [bytes.fromhex(event["hash"]) for event in events]
        self.assertEqual(len(leaves), 13)
        for size, head in heads.items():
            self.assertEqual(head["root_hash"], mth(leaves[:size]).hex(), "size %d" % size)
        for size in (1, 5, 8, 13):
            root = bytes.fromhex(heads[size]["root_hash"])
            for seq in range(1, size + 1):
                proof = svc.get("/api/v1/proofs/inclusion?seq=%d&tree_size=%d" % (seq, size))
                self.assertStatus(proof, 200)
                self.assertEqual((proof.data["seq"], proof.data["leaf_index"], proof.data["tree_size"]),
                                 (seq, seq - 1, size))
                path = [bytes.fromhex(step) for step in proof.data["audit_path"]]
                self.assertTrue(verify_inclusion(seq - 1, size, h(b"\0", leaves[seq - 1]), path, root),
                                "seq %d in %d" % (seq, size))
            for first in range(1, size + 1):
                proof = svc.get("/api/v1/proofs/consistency?first=%d&second=%d" % (first, size))
                self.assertStatus(proof, 200)
                path = [bytes.fromhex(step) for step in proof.data["consistency_path"]]
                self.assertTrue(verify_consistency(first, size, bytes.fromhex(heads[first]["root_hash"]), root, path),
                                "%d to %d" % (first, size))
        # The defaults: the current tree.
        self.assertEqual(svc.get("/api/v1/proofs/inclusion?seq=3").data["tree_size"], 13)
        self.assertEqual(svc.get("/api/v1/proofs/consistency?first=3").data["second"], 13)
        # Refusals name the parameter.
        cases = [
            ("/api/v1/proofs/inclusion", 400, "seq"),
            ("/api/v1/proofs/inclusion?seq=x", 400, "seq"),
            ("/api/v1/proofs/inclusion?seq=0", 400, "seq"),
            ("/api/v1/proofs/inclusion?seq=14", 404, "seq"),
            ("/api/v1/proofs/inclusion?seq=3&tree_size=2", 400, "tree_size"),
            ("/api/v1/proofs/inclusion?seq=3&tree_size=14", 400, "tree_size"),
            ("/api/v1/proofs/inclusion?seq=3&tree_size=-1", 400, "tree_size"),
            ("/api/v1/proofs/inclusion?seq=3&size=4", 400, "size"),
            ("/api/v1/proofs/consistency?second=4", 400, "first"),
            ("/api/v1/proofs/consistency?first=0&second=4", 400, "first"),
            ("/api/v1/proofs/consistency?first=5&second=4", 400, "first"),
            ("/api/v1/proofs/consistency?first=1&second=99", 400, "second"),
            ("/api/v1/tree-head?size=1", 400, "size"),
            ("/api/v1/incidents/INC-99/bundle", 404, "ticket"),
            ("/api/v1/incidents/nonsense/bundle", 404, "ticket"),
        ]
        for target, status, field in cases:
            self.assertRefused(svc.get(target), status, field, target)

    def assertRefused(self, response, status, field, what=""):
        self.assertEqual(response.status, status, "%s: %r" % (what, response))
        self.assertEqual(response.data["error"]["field"], field, "%s: %r" % (what, response))

    def test_bundle_verifies_and_any_altered_byte_fails_saying_where(self):
        svc = self.start_service()
        first, _ = self.fill(svc)
        _, pem = self.public_key(svc)
        response = svc.get("/api/v1/incidents/%s/bundle" % first.lower().replace("inc-", ""))
        self.assertStatus(response, 200)
        bundle = response.raw
        self.assertEqual(response.data["ticket"], first)
        self.assertEqual([event["version"] for event in response.data["events"]], [1, 2, 3, 4])
        self.assertEqual(response.data["tree_head"]["tree_size"], 6)
        with open(self.path("bundle.json"), "wb") as out:
            out.write(bundle)
        with open(self.path("key.pem"), "wb") as out:
            out.write(pem)

        source = verifier_source()
        self.assertLessEqual(len(source.splitlines()), VERIFIER_LINES_MAX, "the AUDIT.md verifier grew past 59 lines")
        # hashlib, an Ed25519 library, and the standard library's plumbing.
        modules = set()
        for line in source.splitlines():
            if line.startswith("import "):
                modules.update(name.strip() for name in line[len("import "):].split(","))
            elif line.startswith("from "):
                modules.add(line.split()[1])
        self.assertLessEqual(modules, {"base64", "datetime", "hashlib", "json", "re", "sys",
                                       "cryptography.hazmat.primitives"}, modules)
        with open(self.path("verify_bundle.py"), "w") as out:
            out.write(source)
        checked = subprocess.run([sys.executable, self.path("verify_bundle.py"), self.path("bundle.json"),
                                  self.path("key.pem")], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertTrue(checked.stdout.startswith("ok: %s: 4 events" % first), checked.stdout)
        code, out, err = run_cli("verify-bundle", self.path("bundle.json"), "--public-key", self.path("key.pem"))
        self.assertEqual(code, 0, out + err)
        self.assertTrue(out.startswith("ok: %s: 4 events" % first), out)

        # Every byte, altered in turn: the verifier from AUDIT.md refuses each
        # copy and says where (a place in the bundle, or where the JSON broke).
        verify = load_verifier()
        self.assertTrue(verify(bundle, pem).startswith("ok:"))
        places = re.compile(r"^FAILED at (the file|tree_head|proofs|events\[\d\]|proofs\[\d\]|a record)")
        for position in range(len(bundle)):
            for flip in (0x01, 0x20):
                altered = bytearray(bundle)
                altered[position] ^= flip
                try:
                    verdict = verify(bytes(altered), pem)
                except SystemExit as refusal:
                    self.assertRegex(str(refusal), places, "byte %d ^ %#x" % (position, flip))
                    continue
                # Only a change that leaves the JSON's meaning the same may pass:
                # the case of a hex digit in a \\u escape.
                self.assertEqual(json.loads(bytes(altered)), json.loads(bundle),
                                 "byte %d ^ %#x (%r) passed: %s" % (position, flip, bundle[position:position + 1],
                                                                    verdict))
                self.assertEqual(flip, 0x20)
        # The same for the binary's own checker, on a sample of places (each
        # run is a process), and the message names the part.
        rng = random.Random(len(bundle))
        samples = [bundle.index(b'"root_hash"') + 15, bundle.index(b'"record"') + 20,
                   bundle.index(b'"audit_path"') + 16, bundle.index(b'"title"') + 10]
        samples += rng.sample(range(len(bundle)), 8)
        for position in samples:
            altered = bytearray(bundle)
            altered[position] ^= 0x01
            with open(self.path("altered.json"), "wb") as out:
                out.write(altered)
            code, out, err = run_cli("verify-bundle", self.path("altered.json"), "--public-key", self.path("key.pem"))
            self.assertEqual(code, 1, "byte %d: %s%s" % (position, out, err))
            self.assertRegex(out, r"^FAILED at (the file|tree_head|ticket|events|proofs)", "byte %d" % position)

        # Another key: the head does not verify.
        other = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"], capture_output=True, check=True)
        other_public = subprocess.run(["openssl", "pkey", "-pubout"], input=other.stdout, capture_output=True,
                                      check=True).stdout
        with self.assertRaises(SystemExit) as refusal:
            verify(bundle, other_public)
        self.assertIn("FAILED at tree_head", str(refusal.exception))

    def test_the_signing_key_is_made_once_private_and_kept(self):
        svc = self.start_service()
        key_file = os.path.join(svc.data_dir, "tree-head-signing-key.pem")
        self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
        _, pem = self.public_key(svc)
        key_id = svc.get("/api/v1/tree-head").data["key_id"]
        svc.stop()
        svc.start()
        self.assertEqual(self.public_key(svc)[1], pem)
        self.assertEqual(svc.get("/api/v1/tree-head").data["key_id"], key_id)
        svc.stop()
        os.chmod(key_file, 0o644)
        started = subprocess.run([service.ledger_binary(), "serve", "--data", svc.data_dir, "--listen", "127.0.0.1:0"],
                                 capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        self.assertEqual(started.returncode, 2)
        self.assertIn("chmod 600", started.stderr)
        os.chmod(key_file, 0o600)


class RawMailbox(Mailbox):
    """Keeps each message's bytes as the service sent them, too (Python's
    email package folds long headers its own way when it writes one out)."""

    def __init__(self):
        super().__init__()
        self.raw = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.raw.append(envelope.original_content or envelope.content)
        return await super().handle_DATA(server, session, envelope)


class WitnessedHeadTest(service.ServiceTestCase):

    def wait_until(self, what, condition, seconds=WAIT_SECONDS):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        self.fail("timed out waiting for %s" % what)

    def test_a_head_from_a_mail_shows_a_later_rewrite(self):
        smtp = SmtpServer()
        smtp.mailbox = RawMailbox()
        smtp.start()
        self.addCleanup(smtp.stop)
        svc = self.start_service(extra_args=smtp_args(smtp))
        self.assertStatus(svc.request("POST", "/api/v1/subscriptions",
                                      {"email": "ana@example.org", "systems": ["mail"]}), 201)
        opened = svc.submit({"action": "create", "title": "Mail delayed", "systems": ["mail"], "engineer": "Ana"})
        self.assertStatus(opened, 201)
        seq = opened.data["seq"]
        messages = self.wait_until("the mail", lambda: smtp.mailbox.snapshot())
        message = messages[0][1]
        header = message["X-Ledger-Tree-Head"]
        self.assertIsNotNone(header, message.as_string())
        fields = dict(part.strip().split("=", 1) for part in str(header).split(";"))
        self.assertEqual(set(fields), {"size", "root", "time", "sig"})
        self.assertEqual(int(fields["size"]), seq)  # the tree up to the mailed event
        # The header as sent: one field per folded line, each line short;
        # check-head takes it as it is (name, folds and all).
        raw = smtp.mailbox.raw[0].decode()
        folded = re.search(r"X-Ledger-Tree-Head:.*?\r\n(?=\S)", raw, re.S).group(0)
        self.assertEqual(folded.count("\r\n "), 3, folded)
        self.assertLessEqual(max(len(line) for line in folded.split("\r\n")), 100, folded)

        # Consistent now (the service is running: check-head reads beside it),
        # and after more events.
        code, out, err = run_cli("check-head", "--data", svc.data_dir, folded)
        self.assertEqual(code, 0, out + err)
        self.assertTrue(json.loads(out)["consistent"])
        for note in ("queue draining", "still draining"):
            self.assertStatus(svc.submit({"action": "update", "ticket": opened.data["ticket"], "note": note}), 201)
        code, out, err = run_cli("check-head", "--data", svc.data_dir, "-", stdin=str(header).encode())
        self.assertEqual(code, 0, out + err)
        self.assertIn("consistent: the ledger's first %d events" % seq, err)
        svc.stop()
        code, out, err = run_cli("verify", "--data", svc.data_dir)
        self.assertEqual(code, 0, out + err)
        before = json.loads(out)

        # Someone with the disk rewrites the mailed event and covers every
        # track: chain, head record and tree all re-hashed.
        subprocess.run([tamper_tool(), "--rewrite", svc.data_dir, str(seq)], check=True, capture_output=True)
        code, out, err = run_cli("verify", "--data", svc.data_dir)
        self.assertEqual(code, 0, "the rewritten ledger verifies on its own: " + out + err)
        after = json.loads(out)
        self.assertEqual(after["head_seq"], before["head_seq"])
        self.assertNotEqual(after["tree_root"], before["tree_root"])
        code, out, err = run_cli("check-head", "--data", svc.data_dir, str(header))
        self.assertEqual(code, 1, out + err)
        report = json.loads(out)
        self.assertFalse(report["consistent"])
        self.assertTrue(report["signature_ok"])
        self.assertIn("INCONSISTENT", report["finding"])
        self.assertIn("history up to seq %d was changed" % seq, err)

        # The service serves the rewritten ledger; a client holding the mailed
        # head sees the consistency proof to the served head fail.
        svc.start()
        head_after = svc.get("/api/v1/tree-head").data
        proof = svc.get("/api/v1/proofs/consistency?first=%s" % fields["size"]).data
        path = [bytes.fromhex(step) for step in proof["consistency_path"]]
        self.assertFalse(verify_consistency(int(fields["size"]), head_after["tree_size"], bytes.fromhex(fields["root"]),
                                            bytes.fromhex(head_after["root_hash"]), path))

        # A header that was altered does not pass for a signed one.
        forged = str(header).replace("size=%d" % seq, "size=%d" % (seq + 1))
        code, out, err = run_cli("check-head", "--data", svc.data_dir, forged)
        self.assertEqual(code, 1, out + err)
        self.assertFalse(json.loads(out)["signature_ok"])
        code, out, err = run_cli("check-head", "--data", svc.data_dir, "size=1; root=zz")
        self.assertEqual(code, 2, out + err)
        self.assertIn("root", err)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
