#!/usr/bin/env python3
"""An auditor's independent check of an incident-ledger export.

Usage: verify_export.py EXPORT.ndjson   (the output of `incident-ledger export`
or of GET /api/v1/events with Accept: application/x-ndjson)

Trusts nothing but the bytes: each line's `record` (base64) is the event's
stored protobuf, `prev_hash` and `hash` are hex SHA-256 digests, and
hash = SHA-256(prev_hash || record), with 32 zero bytes before event 1.
Prints the head and exits 0, or names the first bad line and exits 1.
"""
import base64, hashlib, json, sys

previous = bytes(32)
seq = 0
with open(sys.argv[1], encoding="utf-8") as export:
    for line_number, line in enumerate(export, 1):
        event = json.loads(line)
        record = base64.b64decode(event["record"], validate=True)
        seq += 1
        if event["seq"] != seq or bytes.fromhex(event["prev_hash"]) != previous:
            sys.exit("line %d: chain broken at seq %d" % (line_number, seq))
        previous = hashlib.sha256(previous + record).digest()
        if previous.hex() != event["hash"]:
            sys.exit("line %d: hash of seq %d does not match its record" % (line_number, seq))
print(json.dumps({"ok": True, "events": seq, "head_hash": previous.hex()}))
