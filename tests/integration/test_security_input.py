"""Issue 24, items 2, 5, 6, 7, 8, 9 and 10, tried once more against the real
binary with the variants that test_hardening_http.py and
test_hardening_inputs.py do not send. Each test first makes the attack, then
shows it refused, that nothing was appended or written, and that the service
serves on.

- 2, Host (DNS rebinding in open mode): curl-like requests (http.client)
  with a foreign Host read nothing, HTTP/1.0 included, and a Host that only
  looks like the service (userinfo, trailing dot, empty) gets 421 too.
- 5, CSV: the review report's CSVs and fullwidth formula signs (U+FF1D ...)
  in the durations CSV, read back with Python's csv reader splitting on ','
  and on ';'.
- 6, backups: --backup-dir equal to the data folder or a symlink into it
  stops the start; the stopped-service CLI sees through symlinks on both
  --to and --data.
- 7, file modes: with the caller's umask wide open (000), the data folder,
  its files, a backup and its files are still private.
- 8, invisible characters: zero-width space, byte order mark, soft hyphen,
  tag characters and the other format characters that show nothing are
  refused in one-line fields on every route that takes one, and kept in
  multi-line text.
- 9, parser leniency over raw sockets: a space before the colon, bare LF line
  ends, NUL or a lone CR in a value, Transfer-Encoding sent twice or as a
  list or as `identity`, a signed Content-Length, chunk sizes with `0x`,
  HTTP/1.2 and a folded first header line.
- 10, --smtp-url: a password alone, a percent-encoded user, and credentials
  before a path are refused without being printed (and before the data
  folder is made); a request target or query value holding a URL with
  credentials reaches the access log without them.
"""

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

TIMEOUT_SECONDS = 120
CREATE = {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
          "started_at": "2026-03-01T01:00:00Z"}
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
SEPARATORS = (",", ";", "\r", "\n", "\uff0c", "\uff1b")


def defused(text):
    """A text cell as OWASP's advice and the ';'-splitting readers want it: a
    ' before the cell and right after each separator where what follows
    (after spaces and double quotes) starts like a formula."""
    def starts_formula(rest):
        return rest.lstrip(' "').startswith(FORMULA_LEADS)
    out = "'" if starts_formula(text) else ""
    for index, character in enumerate(text):
        out += character
        if character in SEPARATORS and starts_formula(text[index + 1:]):
            out += "'"
    return out


def run_cli(*arguments, cwd=None):
    """Runs `incident-ledger ARGUMENTS...`; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([service.ledger_binary(), *arguments], capture_output=True, text=True,
                               timeout=TIMEOUT_SECONDS, cwd=cwd)
    return completed.returncode, completed.stdout, completed.stderr


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)




class SecurityTestCase(service.ServiceTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-security-")
        self.addCleanup(self.scratch.cleanup)

    def path(self, *names):
        return os.path.join(self.scratch.name, *names)

    def assertServing(self, ledger, head_before):
        """Nothing was appended, and a well-formed request is still answered."""
        self.assertEqual(ledger.head_seq(), head_before)
        self.assertStatus(ledger.get("/healthz"), 200)


class SharedServiceTestCase(SecurityTestCase):
    """One open-mode service (no auth file) for the whole class, holding one incident."""

    @classmethod
    def setUpClass(cls):
        cls.ledger = service.Service().start()
        response = cls.ledger.submit(CREATE)
        assert response.status == 201, response

    @classmethod
    def tearDownClass(cls):
        cls.ledger.close()


# -- 2. Host ------------------------------------------------------------------------------

class HostTest(SharedServiceTestCase):
    READS = ("/api/v1/subscriptions", "/api/v1/events", "/api/v1/incidents", "/", "/metrics")

    def test_a_foreign_host_reads_nothing(self):
        self.assertStatus(self.ledger.request("POST", "/api/v1/subscriptions",
                                              {"email": "ana@example.org", "systems": ["*"]}), 201)
        head_before = self.ledger.head_seq()
        evil = "evil.example:%d" % self.ledger.port
        for path in self.READS:
            with self.subTest(path=path):
                response = self.ledger.get(path, headers={"Host": evil, "Origin": "http://" + evil})
                error = self.assertError(response, 421, "permission_denied", "Host", path)
                self.assertIn("evil.example", error["message"])
                self.assertIn("--allowed-host", error["message"])
                self.assertNotIn(b"ana@example.org", response.raw)
        # A write the rebinding page would make, as a form, like a browser.
        response = self.ledger.request("POST", "/api/v1/subscriptions", "email=eve%40example.org&systems=*",
                                       headers={"Host": evil, "Origin": "http://" + evil,
                                                "Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(response, 421, "permission_denied", "Host")
        self.assertServing(self.ledger, head_before)
        # The same reads under the service's own names are answered.
        for host in ("127.0.0.1:%d" % self.ledger.port, "localhost:%d" % self.ledger.port, "localhost"):
            with self.subTest(host=host):
                response = self.ledger.get("/api/v1/subscriptions", headers={"Host": host})
                self.assertStatus(response, 200, host)
                self.assertIn(b"ana@example.org", response.raw)

    def test_http_1_0_with_a_foreign_host_and_hosts_that_only_look_like_the_service(self):
        head_before = self.ledger.head_seq()
        port = self.ledger.port
        requests = [b"GET /api/v1/subscriptions HTTP/1.0\r\nHost: evil.example\r\n\r\n"]
        for host in (b"evil@127.0.0.1:%d" % port, b"127.0.0.1:%d@evil.example" % port, b"localhost.:%d" % port,
                     b"", b"127.0.0.1:", b"127.0.0.1:%d:%d" % (port, port), b"[127.0.0.1]",
                     b"127.1", b"0x7f000001", b"2130706433"):
            requests.append(b"GET /api/v1/subscriptions HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
        for raw in requests:
            with self.subTest(raw=raw):
                status, _, body = service.exchange(self.ledger, raw)
                self.assertEqual(status, 421, body)
                self.assertIn(b"--allowed-host", body)
        self.assertServing(self.ledger, head_before)


# -- 5. CSV ---------------------------------------------------------------------------

class CsvTest(SecurityTestCase):
    WINDOW = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"

    def assertNoCellStartsAFormula(self, text):
        for delimiter in (",", ";"):
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                for cell in row:
                    self.assertFalse(cell.lstrip(" ").startswith(FORMULA_LEADS), (delimiter, row))

    def test_review_report_and_fullwidth_signs_are_defused(self):
        svc = self.start_service()
        systems = ["db;=1+1", "\uff1dcmd()", "\uff0b1", "mail\uff1b\uff20SUM(A1)", "x\uff0c\uff0d1", "plain"]
        created = svc.submit(dict(CREATE, systems=systems))
        self.assertStatus(created, 201)
        self.assertStatus(svc.submit({"action": "close", "ticket": "INC-1", "ended_at": "2026-03-01T02:30:00Z"}), 201)
        for owner in ("-x@example.org", "=x@example.org", "+x@example.org", "ok@example.org"):
            self.assertStatus(svc.request("POST", "/api/v1/incidents/INC-1/action-items",
                                          {"title": "fix", "owner": owner}), 201, owner)
        self.assertStatus(svc.request("POST", "/api/v1/action-items/INC-1-A4", {"status": "done"}), 201)

        # Durations: each system behind a ', numbers still numbers.
        text = svc.get("/api/v1/durations?%s&by=system&format=csv" % self.WINDOW).raw.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        shown = {row[0]: row for row in rows[1:]}
        for system in systems:
            expected = defused(system)
            self.assertNotEqual(expected == system, system != "plain", expected)
            self.assertIn(expected, shown, rows)
            self.assertEqual(int(shown[expected][1]), 5400)  # numbers stay numbers
            self.assertLess(float(shown[expected][2]), 1.0)
        self.assertNoCellStartsAFormula(text)

        # The review report's lists: owners (user text) defused, numbers and
        # the program's own words left alone.
        items = svc.get("/api/v1/review-report?%s&format=csv&by=item" % self.WINDOW)
        self.assertStatus(items, 200)
        self.assertTrue(items.headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.reader(io.StringIO(items.raw.decode("utf-8"))))
        self.assertEqual(rows[0], ["item", "ticket", "status", "owner", "due", "done_at", "overdue", "done_on_time"])
        self.assertEqual([row[3] for row in rows[1:]],
                         ["'-x@example.org", "'=x@example.org", "'+x@example.org", "ok@example.org"])
        self.assertEqual([row[2] for row in rows[1:]], ["open", "open", "open", "done"])
        self.assertNoCellStartsAFormula(items.raw.decode("utf-8"))
        recurrence = svc.get("/api/v1/review-report?%s&format=csv&by=recurrence&days=30" % self.WINDOW)
        self.assertStatus(recurrence, 200)
        text = recurrence.raw.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(len(rows), 2, rows)
        self.assertIn(rows[1][2], (defused(" ".join(systems)), defused(" ".join(sorted(systems)))), rows)
        self.assertEqual(rows[1][4:6], ["0", "0"])
        self.assertNoCellStartsAFormula(text)
        incidents = svc.get("/api/v1/review-report?%s&format=csv&by=incident" % self.WINDOW).raw.decode("utf-8")
        self.assertNoCellStartsAFormula(incidents)

        # The command line writes the same bytes.
        svc.stop()
        code, out, err = run_cli("review-report", "--data", svc.data_dir, "--from", "2026-03-01T00:00:00Z",
                                 "--to", "2026-04-01T00:00:00Z", "--format", "csv", "--by", "item")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.replace("\r\n", "\n").strip(), items.raw.decode("utf-8").replace("\r\n", "\n").strip())


# -- 6 and 7. Backups and file modes -------------------------------------------------------

class BackupAndModeTest(SecurityTestCase):
    def test_backup_dir_on_or_through_the_data_folder_stops_the_start(self):
        data = self.path("data")
        os.makedirs(os.path.join(data, "inner"))
        os.symlink(os.path.join(data, "inner"), self.path("looks-outside"))
        for backup_dir in (data, self.path("looks-outside"), os.path.join(data, "..", "data", "inner")):
            with self.subTest(backup_dir=backup_dir):
                code, out, err = run_cli("serve", "--data", data, "--listen", "127.0.0.1:0", "--backup-dir", backup_dir)
                self.assertEqual(code, 2, err)
                self.assertIn("--backup-dir must be outside the data folder", err)
                self.assertNotIn("listening", out)

    def test_the_stopped_service_cli_sees_through_symlinks(self):
        svc = self.start_service(data_dir=self.path("data"))
        self.assertStatus(svc.submit(CREATE), 201)
        svc.stop()
        os.symlink(svc.data_dir, self.path("data-link"))
        before = sorted(os.listdir(svc.data_dir))
        for data, destination in ((svc.data_dir, self.path("data-link", "copy")),
                                  (self.path("data-link"), os.path.join(svc.data_dir, "copy")),
                                  (self.path("data-link"), self.path("data-link", "projections", "copy"))):
            with self.subTest(data=data, destination=destination):
                code, _, err = run_cli("backup", "--data", data, "--to", destination)
                self.assertEqual(code, 2, err)
                self.assertIn("inside the data folder", err)
        self.assertEqual(sorted(os.listdir(svc.data_dir)), before)

    def test_everything_is_private_whatever_the_callers_umask(self):
        backups = self.path("backups")
        os.mkdir(backups)
        os.chmod(backups, 0o755)
        data = self.path("data")
        previous = os.umask(0o000)
        try:
            svc = self.start_service(data_dir=data, extra_args=["--backup-dir", backups])
        finally:
            os.umask(previous)
        self.assertStatus(svc.submit(CREATE), 201)
        self.assertStatus(svc.request("POST", "/api/v1/subscriptions",
                                      {"email": "ana@example.org", "systems": ["*"]}), 201)
        made = svc.request("POST", "/api/v1/backup", {"to": os.path.join(backups, "api")})
        self.assertStatus(made, 201)
        self.assertTrue(made.data["verify"]["ok"], made.data)
        svc.stop()
        previous = os.umask(0o000)
        try:
            code, _, err = run_cli("backup", "--data", data, "--to", self.path("cli"))
        finally:
            os.umask(previous)
        self.assertEqual(code, 0, err)
        for root in (data, os.path.join(backups, "api"), self.path("cli")):
            self.assertEqual(mode_of(root), 0o700, root)
            files = 0
            for folder, subfolders, names in os.walk(root):
                for name in subfolders:
                    self.assertEqual(mode_of(os.path.join(folder, name)), 0o700, os.path.join(folder, name))
                for name in names:
                    path = os.path.join(folder, name)
                    self.assertEqual(mode_of(path) & 0o077, 0, "%s is mode %o" % (path, mode_of(path)))
                    files += 1
            self.assertGreater(files, 0, root)
        # The admin's backup folder keeps the mode it was given.
        self.assertEqual(mode_of(backups), 0o755)


# -- 8. Invisible characters -------------------------------------------------------------

INVISIBLE = {"\u200b": "U+200B", "\ufeff": "U+FEFF", "\u00ad": "U+00AD", "\u2060": "U+2060", "\u2063": "U+2063",
             "\u180e": "U+180E", "\u3164": "U+3164", "\u206b": "U+206B", "\ufff9": "U+FFF9",
             "\U000e0041": "U+E0041", "\U000e007f": "U+E007F"}


class InvisibleCharacterTest(SharedServiceTestCase):
    def assertRefused(self, response, field, name):
        error = self.assertError(response, 400, "invalid_argument", field, name)
        self.assertIn(name, error["message"])
        self.assertIn("an invisible character", error["message"])

    def test_one_line_fields_refuse_what_shows_nothing(self):
        self.assertStatus(self.ledger.request("POST", "/api/v1/incidents/INC-1/action-items",
                                              {"title": "rotate keys", "owner": "o@example.org"}), 201)
        head = self.ledger.head_seq()
        for character, name in INVISIBLE.items():
            spoof = "ma" + character + "il"
            with self.subTest(character=name):
                for field in ("title", "engineer", "actor", "submission_id"):
                    self.assertRefused(self.ledger.submit(dict(CREATE, **{field: spoof})), field, name)
                self.assertRefused(self.ledger.submit(dict(CREATE, systems=[spoof])), "systems", name)
                self.assertRefused(self.ledger.submit(dict(CREATE, systems=[spoof]), form=True), "systems", name)
                self.assertRefused(self.ledger.request("POST", "/api/v1/subscriptions",
                                                       {"email": "ana@example.org", "systems": [spoof]}),
                                   "systems", name)
                self.assertRefused(self.ledger.request("POST", "/api/v1/maintenance",
                                                       {"action": "schedule", "title": spoof, "systems": ["db"],
                                                        "starts_at": "2026-12-10T01:00:00Z",
                                                        "ends_at": "2026-12-10T02:00:00Z"}), "title", name)
                self.assertRefused(self.ledger.request("POST", "/api/v1/incidents/INC-1/action-items",
                                                       {"title": spoof, "owner": "o@example.org"}), "title", name)
                self.assertRefused(self.ledger.request("POST", "/api/v1/action-items/INC-1-A1", {"title": spoof}),
                                   "title", name)
        self.assertEqual(self.ledger.head_seq(), head, "a refused request appended")
        # The spoof never became a second "mail" (multi-line notes may hold
        # such characters; one-line fields may not).
        for event in self.ledger.all_events():
            payload = event.get("payload") or {}
            one_line = [event.get("actor", ""), event.get("submission_id", ""), payload.get("title", ""),
                        payload.get("engineer", "")] + list(payload.get("systems", []))
            for character, name in INVISIBLE.items():
                self.assertFalse([text for text in one_line if character in text], (name, event))

    def test_multi_line_text_and_emoji_keep_what_they_need(self):
        # A note may hold a zero-width space (line-break hints in Thai); a
        # title may hold the joiners emoji and several scripts need.
        note = "\u0e20\u0e32\u0e29\u0e32\u200b\u0e44\u0e17\u0e22\nline 2 \ufeff end"
        title = "Deploy \U0001f469\u200d\U0001f4bb \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u2764\ufe0f"
        self.assertStatus(self.ledger.submit({"action": "update", "ticket": "INC-1", "note": note}), 201)
        self.assertStatus(self.ledger.submit(dict(CREATE, title=title)), 201)
        text = json.dumps(self.ledger.all_events(), ensure_ascii=False)
        self.assertIn(json.dumps(note, ensure_ascii=False)[1:-1], text)
        self.assertIn(json.dumps(title, ensure_ascii=False)[1:-1], text)


# -- 9. Parser leniency ----------------------------------------------------------------------

class ParserTest(SharedServiceTestCase):
    BODY = json.dumps(CREATE).encode()

    def framed(self, head_lines, body=b"", line_end=b"\r\n"):
        return line_end.join(head_lines) + line_end + line_end + body

    def test_each_lenient_framing_is_refused(self):
        head_before = self.ledger.head_seq()
        body = self.BODY
        json_type = b"Content-Type: application/json"
        length = b"Content-Length: %d" % len(body)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        start = b"POST /api/v1/submissions HTTP/1.1"
        cases = {
            "space before the colon": [start, b"Host : 127.0.0.1", json_type, length],
            "space before the colon of Content-Length": [start, b"Host: 127.0.0.1", json_type,
                                                         b"Content-Length : %d" % len(body)],
            "NUL in a value": [start, b"Host: 127.0.0.1", json_type, length, b"X-Note: a\x00b"],
            "lone CR in a value": [start, b"Host: 127.0.0.1", json_type, length, b"X-Note: a\rb"],
            "tab in a field name": [start, b"Host: 127.0.0.1", json_type, length, b"X\tNote: 1"],
            "folded first line": [start, b" Host: 127.0.0.1", json_type, length],
            "HTTP/1.2": [b"POST /api/v1/submissions HTTP/1.2", b"Host: 127.0.0.1", json_type, length],
            "two spaces in the request line": [b"POST  /api/v1/submissions HTTP/1.1", b"Host: 127.0.0.1", json_type,
                                               length],
            "signed Content-Length": [start, b"Host: 127.0.0.1", json_type, b"Content-Length: +%d" % len(body)],
            "Content-Length with a space inside": [start, b"Host: 127.0.0.1", json_type,
                                                   b"Content-Length: %d 0" % len(body)],
        }
        for name, lines in cases.items():
            with self.subTest(case=name):
                status, _, answer = service.exchange(self.ledger, self.framed(lines, body))
                self.assertEqual(status, 400, answer)
                self.assertTrue(json.loads(answer)["error"]["message"], answer)
        chunked_cases = {
            "Transfer-Encoding twice": [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
            "Transfer-Encoding as a list": [b"Transfer-Encoding: chunked, chunked"],
            "Transfer-Encoding identity, chunked": [b"Transfer-Encoding: identity, chunked"],
            "Transfer-Encoding with a vertical tab": [b"Transfer-Encoding: \x0bchunked"],
        }
        for name, lines in chunked_cases.items():
            with self.subTest(case=name):
                status, _, answer = service.exchange(self.ledger, self.framed([start, b"Host: 127.0.0.1", json_type] + lines,
                                                                   chunked))
                self.assertEqual(status, 400, answer)
        for name, raw_body in (("0x chunk size", b"0x%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)),
                               ("bare LF after a chunk size", b"%x\n%s\r\n0\r\n\r\n" % (len(body), body)),
                               ("negative chunk size", b"-%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))):
            with self.subTest(case=name):
                status, _, answer = service.exchange(self.ledger, self.framed(
                    [start, b"Host: 127.0.0.1", json_type, b"Transfer-Encoding: chunked"], raw_body))
                self.assertEqual(status, 400, answer)
        with self.subTest(case="bare LF line ends"):
            status, _, answer = service.exchange(self.ledger, self.framed([start, b"Host: 127.0.0.1", json_type, length], body,
                                                               line_end=b"\n"))
            self.assertEqual(status, 400, answer)
        self.assertServing(self.ledger, head_before)
        # The same submission, framed as RFC 9112 says, is taken.
        status, _, answer = service.exchange(self.ledger, self.framed([start, b"Host: 127.0.0.1", json_type, length], body))
        self.assertEqual(status, 201, answer)
        self.assertEqual(self.ledger.head_seq(), head_before + 1)


# -- 10. SMTP credentials ------------------------------------------------------------------

class SmtpUrlTest(SecurityTestCase):
    SECRET = "Pa55-w0rd-Secret"

    def test_credentials_in_any_spelling_are_refused_without_being_printed(self):
        for url in ("smtp://:%s@127.0.0.1:2525" % self.SECRET, "smtps://ops%%40corp:%s@mail.example.org" % self.SECRET,
                    "smtp://ops:%s@127.0.0.1:2525/relay" % self.SECRET, "smtp://%s@127.0.0.1" % self.SECRET):
            with self.subTest(url=url.replace(self.SECRET, "***")):
                code, out, err = run_cli("serve", "--data", self.path("data"), "--listen", "127.0.0.1:0",
                                         "--smtp-url", url, "--smtp-from", "noc@example.org")
                self.assertEqual(code, 2, err)
                self.assertNotIn("listening", out)
                self.assertIn("--smtp-user", err)
                self.assertIn("--smtp-password-file", err)
                self.assertNotIn(self.SECRET, out + err)
        self.assertFalse(os.path.exists(self.path("data")), "a refused start made the data folder")

    def test_no_log_line_prints_a_urls_userinfo(self):
        svc = self.start_service()
        requests = [b"GET http://ops:%s@127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % self.SECRET.encode(),
                    b"GET /healthz?url=smtp://ops:%s@mail.example.org HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    % self.SECRET.encode(),
                    b"GET /healthz?url=smtp%%3A%%2F%%2Fops%%3A%s%%40mail HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    % self.SECRET.encode()]
        for raw in requests:
            service.exchange(svc, raw)
        svc.stop()
        # One access line per answer (the stop waits for each to be logged),
        # so that a missing line is not mistaken for a redaction failure.
        access_lines = [line for line in svc.log.splitlines() if line.startswith("access: GET ") and "healthz" in line]
        self.assertEqual(len(access_lines), len(requests), svc.log)
        self.assertIn("http://***@127.0.0.1/healthz", svc.log)
        self.assertIn("smtp://***@mail.example.org", svc.log)
        self.assertNotIn(self.SECRET, svc.log)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
