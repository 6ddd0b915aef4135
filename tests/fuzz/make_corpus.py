#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/).

    tests/fuzz/make_corpus.py [--stored-event-seeds BUILD/tests/fuzz/stored_event_seeds]

Each target's folder is rewritten from the lists below: small, meaningful
inputs (valid submissions of every action, forms, CSV sheets, a request for
every route and method), plus a few that break one rule each. The
stored_event_fuzz seeds come from a real ledger, so they are written by the
C++ tool stored_event_seeds (built with the tests) when its path is given.
Inputs that once made a target fail live in corpus/TARGET/regression-* and
are kept as they are.
"""

import argparse
import pathlib
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

CREATE = ('{"action":"create","title":"Mail delayed","systems":["mail","vpn"],"engineer":"Ana Ruiz",'
          '"severity":"major","started_at":"2026-11-24T08:40:00+01:00",'
          '"link":"https://helpdesk.example.org/t/4711","submission_id":"form-4711-1"}')

JSON_BODIES = {
    "create": CREATE,
    "create-minimal": '{"action":"create","title":"VPN down","systems":["vpn"],"engineer":"Bo Li"}',
    "create-systems-string": '{"action":"create","title":"t","systems":"mail, vpn ,","engineer":"e","severity":"CRITICAL"}',
    "create-unicode": '{"action":"create","title":"Z\\u00fcrich \\u2013 \u2713","systems":["Zeiterfassung"],'
                      '"engineer":"Zo\u00eb","description":"line one\\nline two\\ttab"}',
    "update": '{"action":"update","ticket":"INC-1","note":"MX queue draining","systems":["mail"],"expected_version":1}',
    "update-times": '{"action":"update","ticket":"inc-1","started_at":"2026-11-24T08:30:00.123456-05:30",'
                    '"ended_at":"2026-11-24T09:00:00Z"}',
    "update-version-string": '{"action":"update","ticket":"7","expected_version":"3","description":""}',
    "close": '{"action":"close","ticket":"INC-1","ended_at":"2026-11-24T10:05:00+01:00","note":"fixed"}',
    "reopen": '{"action":"reopen","ticket":"INC-2","started_at":"2026-11-25T00:00:00Z","actor":"desk"}',
    "nulls": '{"action":"update","ticket":"INC-1","title":null,"note":"n","link":null}',
    "unknown-field": '{"action":"create","titel":"typo"}',
    "duplicate-field": '{"action":"close","ticket":"INC-1","ticket":"INC-2"}',
    "wrong-types": '{"action":1,"systems":[1,2],"expected_version":-1}',
    "bad-time": '{"action":"close","ticket":"INC-1","ended_at":"2026-02-30T25:61:00+24:00"}',
    "end-before-start": '{"action":"update","ticket":"INC-1","started_at":"2026-11-24T10:00:00Z",'
                        '"ended_at":"2026-11-24T09:00:00Z"}',
    "control-char": '{"action":"create","title":"a\\u0007b","systems":["s"],"engineer":"e"}',
    "long-title": '{"action":"create","title":"' + "x" * 201 + '","systems":["s"],"engineer":"e"}',
    "bad-link": '{"action":"create","title":"t","systems":["s"],"engineer":"e","link":"javascript:alert(1)"}',
    "too-deep": '{"action":[[[[[[[[[["x"]]]]]]]]]]}',
    "not-object": '["action","create"]',
    "not-json": '{"action":"create",',
    "invalid-utf8": b'{"action":"create","title":"\xc3\x28"}',
    "empty": "",
    "subscribe": '{"email":"Ana.Ruiz@Example.org ","systems":["Mail","*"],"actor":"ana"}',
    "unsubscribe-all": '{"email":"ana.ruiz@example.org"}',
    "subscribe-bad-email": '{"email":"\\"ana\\"@[127.0.0.1]","systems":["mail"]}',
    "subscribe-empty-systems": '{"email":"a@b.example.org","systems":[]}',
    "impact-phase": '{"action":"update","ticket":"INC-1","impact":"Degraded","phase":"monitoring"}',
    "impact-unknown": '{"action":"update","ticket":"INC-1","impact":"total"}',
    "close-with-phase": '{"action":"close","ticket":"INC-1","phase":"identified"}',
    "maintenance-schedule": '{"action":"schedule","title":"Patch mail","systems":["mail","smtp"],'
                            '"starts_at":"2026-11-28T22:00:00+01:00","ends_at":"2026-11-29T01:00:00+01:00",'
                            '"description":"relays restart","link":"https://change.example/9","submission_id":"chg-9"}',
    "maintenance-start": '{"action":"start","window":"mnt-1","at":"2026-11-28T22:20:00Z","expected_version":1}',
    "maintenance-end": '{"action":"end","window":"1"}',
    "maintenance-update": '{"action":"update","window":"MNT-1","ended_at":"2026-11-29T00:30:00Z","systems":"mail, db"}',
    "maintenance-cancel": '{"action":"cancel","window":"MNT-2","actor":"desk"}',
    "maintenance-order": '{"action":"schedule","title":"t","systems":["s"],"starts_at":"2026-11-28T22:00:00Z",'
                         '"ends_at":"2026-11-28T21:00:00Z"}',
    "maintenance-misplaced": '{"action":"start","window":"MNT-1","title":"x"}',
    "system-define": '{"action":"define","name":"E-mail","group":"Mail services","owner":"Mail@Example.org",'
                     '"description":"<b>IMAP</b>","submission_id":"sys-1"}',
    "system-alias": '{"action":"alias","name":"e-mail","alias":"Mail"}',
    "system-bad": '{"action":"define","name":"a,b\\u202e","colour":"red"}',
}

FORM_BODIES = {
    "create": "action=create&title=Mail+delayed&systems=mail%2Cvpn&engineer=Ana+Ruiz&severity=major"
              "&started_at=2026-11-24T08%3A40%3A00%2B01%3A00&link=https%3A%2F%2Fhelpdesk.example.org%2Ft%2F4711",
    "create-blank-fields": "action=create&ticket=&title=VPN+down&systems=vpn&engineer=Bo&description=&note=&link=",
    "create-repeated-systems": "action=create&title=t&systems=mail&systems=vpn,+dns&engineer=e",
    "update": "action=update&ticket=INC-1&note=MX+queue+draining%0Aline+two&systems=mail",
    "update-version": "action=update&ticket=inc-1&expected_version=2&severity=critical",
    "close": "action=close&ticket=INC-1&ended_at=2026-11-24T10%3A05%3A00Z",
    "reopen": "action=reopen&ticket=2&started_at=2026-11-25T00%3A00%3A00.5-03%3A00&actor=desk",
    "unicode": "action=create&title=Z%C3%BCrich+%E2%80%93+%E2%9C%93&systems=Zeiterfassung&engineer=Zo%C3%AB",
    "unknown-field": "action=create&titel=typo",
    "duplicate-field": "action=close&ticket=INC-1&ticket=INC-2",
    "bad-escape": "action=create&title=%G1",
    "bad-escape-name": "act%2on=create",
    "truncated-escape": "action=create&title=%E",
    "invalid-utf8": "action=create&title=%C3%28&systems=s&engineer=e",
    "control-char": "action=create&title=a%07b&systems=s&engineer=e",
    "nul": "action=create&title=a%00b&systems=s&engineer=e",
    "empty-pairs": "&&action=update&&ticket=INC-1&&&note=n&",
    "no-equals": "action&ticket",
    "too-many-systems": "action=create&title=t&engineer=e&systems=" + ",".join("s%d" % i for i in range(51)),
    "long-name": "x" * 80 + "=1",
    "form-page-offset": "action=create&title=t&systems=s&engineer=e&started_at=2026-11-24T08%3A40&utc_offset=%2B01%3A00",
    "empty": "",
}

CSV_FILES = {
    "minimal": "Timestamp,Action,Title,Affected Systems,Engineer Responsible\r\n"
               "11/24/2025 8:40:00,Create new incident,Mail delayed,\"Mail, VPN\",Ana Ruiz\r\n",
    "quotes-and-breaks": 'a,"b ""quoted""","multi\r\nline",d\n1,2,3,4\n',
    "bom-lf": "\ufeffTimestamp,Action\n3/30/2025 2:30,close\n",
    "unterminated": 'a,"b\n1,2\n',
    "stray-quote": 'a,b"c\n',
    "formula": 'Timestamp,Title\n11/24/2025 8:40:00,"=HYPERLINK(""x"")"\n',
    "empty": "",
}


def http(method, target, headers=(), body=b"", version="1.1", length=True, role="admin"):
    """A request with a bearer token of the auth file http_request_fuzz
    serves with (ilt_fuzz-ROLE), or none when role is None."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s HTTP/%s" % (method, target, version), "Host: localhost"]
    if role:
        lines.append("Authorization: Bearer ilt_fuzz-" + role)
    lines += list(headers)
    if length and (body or method in ("POST", "DELETE")):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(method, target, content_type, body):
    body = body.encode()
    half = len(body) // 2
    chunks = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
    return http(method, target, ["Content-Type: " + content_type, "Transfer-Encoding: chunked"], length=False) + chunks


JSON_TYPE = "Content-Type: application/json"
FORM_TYPE = "Content-Type: application/x-www-form-urlencoded"

HTTP_REQUESTS = {
    "get-dashboard": http("GET", "/"),
    "get-dashboard-range": http("GET", "/?from=2026-11-20T00:00:00Z&to=2026-11-25T00:00:00Z&rows=incident"),
    "head-dashboard": http("HEAD", "/?range=24h"),
    "get-submit-form": http("GET", "/submit?action=update&ticket=INC-1"),
    "post-submit-form": http("POST", "/submit", [FORM_TYPE], FORM_BODIES["create"] + "&utc_offset=Z"),
    "post-submit-form-error": http("POST", "/submit", [FORM_TYPE], "action=close&ticket=INC-404"),
    "get-incident-page": http("GET", "/incidents/INC-1?recorded=1"),
    "get-incident-page-missing": http("GET", "/incidents/INC-404"),
    "get-static-gzip": http("GET", "/static/app.css", ["Accept-Encoding: gzip, deflate"]),
    "get-static-etag": http("GET", "/static/dashboard.js", ['If-None-Match: "abc"']),
    "get-event-stream": http("GET", "/api/v1/events/stream?after=0"),
    "get-event-stream-resume": http("GET", "/api/v1/events/stream", ["Last-Event-ID: 2"]),
    "get-availability": http("GET", "/api/v1/availability?days=3&timezone=Europe/Berlin&system=mail&end_date=2026-11-24"),
    "post-submission-json": http("POST", "/api/v1/submissions", [JSON_TYPE], CREATE),
    "post-submission-update": http("POST", "/api/v1/submissions", [JSON_TYPE + "; charset=utf-8"],
                                   JSON_BODIES["update"]),
    "post-submission-close": http("POST", "/api/v1/submissions", [JSON_TYPE], JSON_BODIES["close"]),
    "post-submission-reopen": http("POST", "/api/v1/submissions", [JSON_TYPE], JSON_BODIES["reopen"]),
    "post-submission-form": http("POST", "/api/v1/submissions", [FORM_TYPE], FORM_BODIES["update"]),
    "post-submission-chunked": chunked("POST", "/api/v1/submissions", "application/json", CREATE),
    "post-submission-expect": http("POST", "/api/v1/submissions", [JSON_TYPE, "Expect: 100-continue"],
                                   JSON_BODIES["create-minimal"]),
    "post-submission-wrong-type": http("POST", "/api/v1/submissions", ["Content-Type: text/plain"], "action=create"),
    "post-submission-query": http("POST", "/api/v1/submissions?x=1", [JSON_TYPE], "{}"),
    "post-submission-too-large": http("POST", "/api/v1/submissions", [JSON_TYPE, "Content-Length: 70000"],
                                      length=False) + b"{",
    "get-submissions-405": http("GET", "/api/v1/submissions"),
    "get-incidents": http("GET", "/api/v1/incidents?from=2026-11-20T00:00:00Z&to=2026-11-25T00:00:00Z&system=mail"
                                 "&q=MAIL&limit=1"),
    "get-incidents-as-of": http("GET", "/api/v1/incidents?as_of_seq=1&cursor=2"),
    "get-incidents-unknown-param": http("GET", "/api/v1/incidents?form=x"),
    "get-incident": http("GET", "/api/v1/incidents/inc-1"),
    "get-incident-events": http("GET", "/api/v1/incidents/1/events"),
    "get-events": http("GET", "/api/v1/events?after=1&limit=2"),
    "get-events-ndjson": http("GET", "/api/v1/events", ["Accept: application/x-ndjson"]),
    "get-durations": http("GET", "/api/v1/durations?from=2026-11-20T00:00:00Z&to=2026-11-25T00:00:00Z&by=system"),
    "get-durations-csv": http("GET", "/api/v1/durations?format=csv&as_of=2026-11-24T09:00:00Z"),
    "get-verify": http("GET", "/api/v1/verify"),
    "post-backup": http("POST", "/api/v1/backup", [JSON_TYPE], '{"to":"/tmp/ledger-backup"}'),
    "get-healthz": http("GET", "/healthz"),
    "head-healthz-http10": http("HEAD", "/healthz", version="1.0"),
    "get-metrics": http("GET", "/metrics"),
    "post-subscription": http("POST", "/api/v1/subscriptions", [JSON_TYPE], JSON_BODIES["subscribe"]),
    "delete-subscription": http("DELETE", "/api/v1/subscriptions", [JSON_TYPE], JSON_BODIES["unsubscribe-all"]),
    "get-subscriptions": http("GET", "/api/v1/subscriptions?system=mail"),
    "get-notifications": http("GET", "/api/v1/notifications?state=pending&ticket=INC-1&limit=5"),
    "post-notifications-retry": http("POST", "/api/v1/notifications/retry", [JSON_TYPE],
                                     '{"ticket":"INC-1","recipient":"ana.ruiz@example.org"}'),
    "post-maintenance": http("POST", "/api/v1/maintenance", [JSON_TYPE], JSON_BODIES["maintenance-schedule"],
                             role="helpdesk"),
    "post-maintenance-form": http("POST", "/api/v1/maintenance", [FORM_TYPE],
                                  "action=start&window=MNT-1&at=2026-11-28T22%3A20%3A00Z"),
    "post-maintenance-viewer": http("POST", "/api/v1/maintenance", [JSON_TYPE], JSON_BODIES["maintenance-end"],
                                    role="viewer"),
    "get-maintenance": http("GET", "/api/v1/maintenance?from=2026-11-20T00:00:00Z&status=scheduled&system=mail",
                            role="viewer"),
    "get-maintenance-as-of": http("GET", "/api/v1/maintenance?as_of_seq=2&limit=3"),
    "get-maintenance-window": http("GET", "/api/v1/maintenance/mnt-1?as_of=2026-11-24T09:00:00Z"),
    "delete-maintenance-405": http("DELETE", "/api/v1/maintenance"),
    "post-system": http("POST", "/api/v1/systems", [JSON_TYPE], JSON_BODIES["system-define"]),
    "post-system-alias": http("POST", "/api/v1/systems", [JSON_TYPE], JSON_BODIES["system-alias"]),
    "post-system-bad": http("POST", "/api/v1/systems", [JSON_TYPE], JSON_BODIES["system-bad"]),
    "post-system-form-helpdesk": http("POST", "/api/v1/systems", [FORM_TYPE], "action=retire&name=mail",
                                      role="helpdesk"),
    "get-systems": http("GET", "/api/v1/systems?retired=false", role="viewer"),
    "put-405": http("PUT", "/api/v1/incidents", [JSON_TYPE], "{}"),
    "get-not-found": http("GET", "/nowhere?x=%ZZ"),
    "pipelined-create-then-read": http("POST", "/api/v1/submissions", [JSON_TYPE], JSON_BODIES["create-minimal"])
                                  + http("GET", "/api/v1/incidents/INC-3") + http("GET", "/incidents/INC-3"),
    "connection-close": http("GET", "/healthz", ["Connection: close"]) + http("GET", "/metrics"),
    "bad-chunk": http("POST", "/api/v1/submissions", [JSON_TYPE, "Transfer-Encoding: chunked"], length=False)
                 + b"zz\r\n{}\r\n0\r\n\r\n",
    "bad-request-line": b"GET  /healthz HTTP/9.9\r\n\r\n",
    "signin": http("POST", "/signin", [FORM_TYPE], "token=ilt_fuzz-helpdesk&next=%2Fsubmit", role=None),
    "signin-page": http("GET", "/signin?next=%2Fincidents%2FINC-1", role=None),
    "signout": http("POST", "/signout", [FORM_TYPE, "Cookie: ledger_session=abc; other=1"], "csrf_token=x",
                    role=None),
    "cross-site-post": http("POST", "/api/v1/submissions", [JSON_TYPE, "Origin: https://evil.example",
                                                            "Sec-Fetch-Site: cross-site"], JSON_BODIES["close"]),
    "cross-site-cookie": http("POST", "/submit", [FORM_TYPE, "Cookie: ledger_session=abc", "Origin: https://evil.example"],
                              "action=close&ticket=INC-1&csrf_token=abc", role=None),
    "no-token-api": http("GET", "/api/v1/incidents", role=None),
    "no-token-page": http("GET", "/incidents/INC-1", role=None),
    "unknown-token": http("GET", "/api/v1/incidents", ["Authorization: Bearer ilt_nobody"], role=None),
    "viewer-submits": http("POST", "/api/v1/submissions", [JSON_TYPE], JSON_BODIES["close"], role="viewer"),
    "helpdesk-submits": http("POST", "/api/v1/submissions", [JSON_TYPE], JSON_BODIES["update"], role="helpdesk"),
    "auditor-reads-events": http("GET", "/api/v1/events?limit=1", role="auditor"),
    "helpdesk-backup": http("POST", "/api/v1/backup", [JSON_TYPE], '{"to":"/tmp/x"}', role="helpdesk"),
}


def write_folder(target, files):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if not old.name.startswith("regression-"):
            old.unlink()
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored-event-seeds", help="path of the built stored_event_seeds tool")
    arguments = parser.parse_args()

    write_folder("submission_json_fuzz", JSON_BODIES)
    write_folder("submission_form_fuzz", FORM_BODIES)
    csv_files = dict(CSV_FILES)
    for sheet in sorted((HERE.parent / "data").glob("*.csv")):
        csv_files[sheet.stem] = sheet.read_bytes()
    write_folder("csv_reader_fuzz", csv_files)
    write_folder("http_request_fuzz", HTTP_REQUESTS)
    if arguments.stored_event_seeds:
        write_folder("stored_event_fuzz", {})
        subprocess.run([arguments.stored_event_seeds, str(CORPUS / "stored_event_fuzz")], check=True)
    for folder in sorted(CORPUS.iterdir()):
        print("%s: %d files" % (folder.name, sum(1 for _ in folder.iterdir())))


if __name__ == "__main__":
    main()
