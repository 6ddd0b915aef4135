"""Hardening against hostile input, against the real binary (issue 24, items 5,
6, 7, 8 and 10): each test first tries the attack, then checks it is refused
and that nothing was written.

- CSV formula injection through system names in the durations CSV;
- backups written anywhere: only below `serve --backup-dir`, never inside the
  data folder, never over anything, no `..` or symlink way out;
- file modes: the data folder and backups are private (0700), files inside
  carry no group or other bits, a looser existing data folder is warned about;
- invisible and reordering characters (U+0085, U+2028, U+2029, bidi controls)
  in one-line fields, through JSON, a form body, a subscription and a sheet row;
- SMTP credentials in --smtp-url: refused at start without printing them.
"""

import csv
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

TIMEOUT_SECONDS = 120
WINDOW = "from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z"
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def run_cli(*arguments, stdin=None, env=None):
    """Runs `incident-ledger ARGUMENTS...`; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([service.ledger_binary(), *arguments], input=stdin, capture_output=True,
                               timeout=TIMEOUT_SECONDS, env=env)
    return completed.returncode, completed.stdout.decode(), completed.stderr.decode()


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def holds_string(value, wanted):
    """Whether a parsed JSON value holds the string `wanted` anywhere."""
    if isinstance(value, dict):
        return any(holds_string(item, wanted) for item in value.values())
    if isinstance(value, list):
        return any(holds_string(item, wanted) for item in value)
    return value == wanted


def create(svc, title="Mail down", systems=("mail",), **fields):
    body = {"action": "create", "title": title, "systems": list(systems), "engineer": "Ana",
            "started_at": "2026-11-10T01:00:00Z"}
    body.update(fields)
    return svc.submit(body)


class HardeningTestCase(service.ServiceTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="ledger-harden-")
        self.addCleanup(self.scratch.cleanup)

    def path(self, *names):
        return os.path.join(self.scratch.name, *names)


# -- 5. CSV formula guard ----------------------------------------------------------

class CsvFormulaGuard(HardeningTestCase):
    HOSTILE_SYSTEMS = ["=cmd|' /C calc'!A0", "db;=1+1", "+sum", "-db", "@SUM(A1)", "mail,=2+3", "x; -1+2",
                       'quote"d', "plain"]

    def test_every_cell_is_quoted_and_no_field_can_start_a_formula(self):
        svc = self.start_service()
        for index, system in enumerate(self.HOSTILE_SYSTEMS):
            self.assertStatus(create(svc, title="=HYPERLINK(\"http://evil\") %d" % index, systems=[system],
                                     started_at="2026-11-10T0%d:00:00Z" % (index % 9)), 201, system)
        self.assertStatus(svc.submit({"action": "close", "ticket": "INC-1", "ended_at": "2026-11-10T09:30:00Z"}), 201)

        response = svc.get("/api/v1/durations?%s&by=system&format=csv" % WINDOW)
        self.assertStatus(response, 200)
        text = response.raw.decode("utf-8")
        # A reader splitting on ',' gets the names back, each hostile one behind a '.
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], ["system", "downtime_seconds", "availability", "tickets", "planned_seconds",
                                   "degraded_seconds", "windows"])
        shown = {row[0] for row in rows[1:]}
        for system in self.HOSTILE_SYSTEMS:
            # A ' before the cell when it starts like a formula, and right
            # after each ',' or ';' that a formula follows.
            pieces = system.replace(";", ",").split(",")
            expected, at = "", 0
            for piece in pieces:
                if piece.lstrip(" ")[:1] in FORMULA_LEADS and piece.lstrip(" "):
                    expected += "'"
                expected += system[at:at + len(piece) + 1]
                at += len(piece) + 1
            self.assertIn(expected, shown, system)
        for row in rows[1:]:
            self.assertFalse(row[0].startswith(FORMULA_LEADS), row)
            int(row[1])  # numbers stay numbers: quoted, never prefixed
            float(row[2])
        # Every cell is in double quotes, header and numbers included.
        for line in text.split("\r\n")[:-1]:
            for cell in next(csv.reader([line], skipinitialspace=False)):
                self.assertIn('"%s"' % cell.replace('"', '""'), line)
            self.assertTrue(line.startswith('"') and line.endswith('"'), line)
        # A reader that splits on ';' (common in Europe) keeps the quoted cell
        # whole, so it never starts a field inside one.
        for row in csv.reader(io.StringIO(text), delimiter=";"):
            for cell in row:
                self.assertFalse(cell.startswith(FORMULA_LEADS), row)

        # The CLI writes the same CSV.
        svc.stop()
        code, out, err = run_cli("durations", "--data", svc.data_dir, "--from", "2026-11-10T00:00:00Z",
                                 "--to", "2026-11-11T00:00:00Z", "--by", "system", "--format", "csv")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.replace("\r\n", "\n").strip(), text.replace("\r\n", "\n").strip())

    def test_incident_list_is_quoted_too(self):
        svc = self.start_service()
        self.assertStatus(create(svc, systems=["-1"]), 201)
        text = svc.get("/api/v1/durations?%s&by=incident&format=csv" % WINDOW).raw.decode("utf-8")
        lines = text.split("\r\n")
        self.assertEqual(lines[0], '"ticket","seconds","ongoing"')
        self.assertRegex(lines[1], r'^"INC-1","\d+","true"$')


# -- 6 and 7. Backups and file modes -----------------------------------------------

class Backups(HardeningTestCase):
    def backup(self, svc, destination):
        return svc.request("POST", "/api/v1/backup", {"to": destination})

    def assertNothingAt(self, *paths):
        for path in paths:
            self.assertFalse(os.path.lexists(path), "%s was written" % path)

    def test_without_backup_dir_the_api_writes_nothing(self):
        svc = self.start_service()
        self.assertStatus(create(svc), 201)
        for destination in (self.path("anywhere"), os.path.join(svc.data_dir, "sessions"), "/tmp/x"):
            error = self.assertError(self.backup(svc, destination), 403, "permission_denied", "to", destination)
            self.assertIn("--backup-dir", error["message"])
        self.assertNothingAt(self.path("anywhere"), os.path.join(svc.data_dir, "sessions"))
        # `backup` while serving goes through the API and says why.
        code, _, err = run_cli("backup", "--data", svc.data_dir, "--to", self.path("cli"))
        self.assertNotEqual(code, 0)
        self.assertIn("--backup-dir", err)
        self.assertNothingAt(self.path("cli"))

    def test_only_below_the_backup_dir_and_never_over_anything(self):
        allowed = self.path("backups")
        os.mkdir(allowed)
        outside = self.path("outside")
        os.mkdir(outside)
        os.symlink(outside, os.path.join(allowed, "way-out"))
        data = self.path("data")
        svc = self.start_service(data_dir=data, extra_args=["--backup-dir", allowed])
        self.assertStatus(create(svc), 201)
        os.symlink(data, os.path.join(allowed, "into-data"))

        refusals = [
            (os.path.join(data, "inside"), "inside the data folder"),
            (os.path.join(allowed, "into-data", "x"), "inside the data folder"),
            (os.path.join(allowed, "..", "outside", "x"), "'..'"),
            (os.path.join(allowed, "way-out", "x"), "inside the backup folder"),
            (os.path.join(outside, "x"), "inside the backup folder"),
            (allowed, "does not exist yet"),
            (os.path.join(allowed, "way-out"), "does not exist yet"),
            ("relative/x", "absolute path"),
            (os.path.join(allowed, "no", "parent"), "must exist"),
        ]
        for destination, why in refusals:
            with self.subTest(destination=destination):
                head = svc.head_seq()
                error = self.assertError(self.backup(svc, destination), 400, "invalid_argument", "to", destination)
                self.assertIn(why, error["message"])
                self.assertEqual(svc.head_seq(), head)
        self.assertEqual(os.listdir(outside), [])
        self.assertNothingAt(os.path.join(data, "inside"), os.path.join(data, "x"))

        made = self.backup(svc, os.path.join(allowed, "first"))
        self.assertStatus(made, 201)
        self.assertTrue(made.data["verify"]["ok"])
        self.assertEqual(made.data["path"], os.path.join(os.path.realpath(allowed), "first"))
        # Again at the same place: refused, the first backup untouched.
        before = sorted(os.listdir(os.path.join(allowed, "first")))
        error = self.assertError(self.backup(svc, os.path.join(allowed, "first")), 400, "invalid_argument", "to")
        self.assertIn("does not exist yet", error["message"])
        self.assertEqual(sorted(os.listdir(os.path.join(allowed, "first"))), before)

        # 7: the backup is its owner's alone.
        self.assertEqual(mode_of(os.path.join(allowed, "first")), 0o700)

        # The CLI while serving: below --backup-dir it works, elsewhere the
        # service's refusal is printed.
        code, out, err = run_cli("backup", "--data", data, "--to", os.path.join(allowed, "nested-ok"))
        self.assertEqual(code, 0, err)
        self.assertIn('"ok":true', out)
        self.assertEqual(mode_of(os.path.join(allowed, "nested-ok")), 0o700)
        code, _, err = run_cli("backup", "--data", data, "--to", os.path.join(outside, "cli"))
        self.assertNotEqual(code, 0)
        self.assertIn("inside the backup folder", err)
        code, _, err = run_cli("backup", "--data", data, "--to", os.path.join(data, "cli"))
        self.assertNotEqual(code, 0)
        self.assertIn("inside the data folder", err)
        self.assertNothingAt(os.path.join(outside, "cli"), os.path.join(data, "cli"))

    def test_the_cli_refuses_the_data_folder_and_existing_paths_when_the_service_is_stopped(self):
        svc = self.start_service(data_dir=self.path("data"))
        self.assertStatus(create(svc), 201)
        svc.stop()
        for destination, why in ((os.path.join(svc.data_dir, "inside"), "inside the data folder"),
                                 (svc.data_dir, "does not exist yet"),
                                 (self.scratch.name, "does not exist yet")):
            with self.subTest(destination=destination):
                code, _, err = run_cli("backup", "--data", svc.data_dir, "--to", destination)
                self.assertEqual(code, 2, err)
                self.assertIn(why, err)
        self.assertFalse(os.path.lexists(os.path.join(svc.data_dir, "inside")))
        # A relative destination with '..' is fine for the CLI: it is resolved first.
        os.mkdir(self.path("work"))
        completed = subprocess.run([service.ledger_binary(), "backup", "--data", svc.data_dir, "--to", "../copy"],
                                   cwd=self.path("work"), capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        self.assertEqual(completed.returncode, 0, completed.stderr)
        self.assertEqual(mode_of(self.path("copy")), 0o700)

    def test_serve_refuses_a_backup_dir_that_is_missing_or_inside_the_data_folder(self):
        data = self.path("data")
        os.makedirs(os.path.join(data, "b"))
        for backup_dir, why in ((self.path("missing"), "existing folder"), (os.path.join(data, "b"), "outside the data")):
            with self.subTest(backup_dir=backup_dir):
                code, out, err = run_cli("serve", "--data", data, "--listen", "127.0.0.1:0", "--backup-dir", backup_dir)
                self.assertEqual(code, 2, err)
                self.assertIn(why, err)
                self.assertNotIn("listening", out)


class FileModes(HardeningTestCase):
    def test_a_new_data_folder_and_everything_in_it_are_private(self):
        data = self.path("data")
        svc = self.start_service(data_dir=data)
        self.assertStatus(create(svc), 201)
        self.assertStatus(svc.request("POST", "/api/v1/subscriptions",
                                      {"email": "ana@example.org", "systems": ["mail"]}), 201)
        self.assertEqual(mode_of(data), 0o700)
        self.assertNotIn("lets others in", svc.read_log())
        svc.stop()
        for folder, subfolders, files in os.walk(data):
            for name in subfolders:
                self.assertEqual(mode_of(os.path.join(folder, name)), 0o700, os.path.join(folder, name))
            for name in files:
                path = os.path.join(folder, name)
                self.assertEqual(mode_of(path) & 0o077, 0, "%s is mode %o" % (path, mode_of(path)))

    def test_an_existing_open_data_folder_is_warned_about_not_changed(self):
        data = self.path("data")
        os.mkdir(data)
        os.chmod(data, 0o755)
        svc = self.start_service(data_dir=data)
        self.assertStatus(create(svc), 201)
        log = svc.read_log()
        self.assertIn("warning: the data folder %s lets others in" % data, log)
        self.assertIn("chmod 700", log)
        self.assertEqual(mode_of(data), 0o755)  # the admin's choice stands
        # Files made inside it are still private (umask 077).
        svc.stop()
        for folder, _, files in os.walk(data):
            for name in files:
                self.assertEqual(mode_of(os.path.join(folder, name)) & 0o077, 0, name)


# -- 8. Invisible and reordering characters -------------------------------------------

HOSTILE_CHARACTERS = {
    "\u0085": "U+0085", "\u2028": "U+2028", "\u2029": "U+2029", "\u202e": "U+202E", "\u202a": "U+202A",
    "\u202d": "U+202D", "\u2066": "U+2066", "\u2069": "U+2069", "\u200e": "U+200E", "\u200f": "U+200F",
    "\u009b": "U+009B", "\x1b": "U+001B",
}


class InvisibleCharacters(HardeningTestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = service.Service().start()
        response = create(cls.svc, title="Mail down")
        assert response.status == 201, response

    @classmethod
    def tearDownClass(cls):
        cls.svc.close()

    def assertRefused(self, response, field, name):
        error = self.assertError(response, 400, "invalid_argument", field, name)
        self.assertIn(field, error["message"])
        self.assertIn(name, error["message"])
        return error

    def test_one_line_fields_refuse_them_in_json_and_forms(self):
        head = self.svc.head_seq()
        for character, name in HOSTILE_CHARACTERS.items():
            spoof = "invoice" + character + "gpj.exe"
            with self.subTest(character=name):
                for field in ("title", "engineer", "actor", "submission_id"):
                    body = {"action": "create", "title": "T", "systems": ["mail"], "engineer": "E"}
                    body[field] = spoof
                    self.assertRefused(self.svc.submit(body), field, name)
                    self.assertRefused(self.svc.submit(body, form=True), field, name)
                body = {"action": "create", "title": "T", "systems": ["mail", spoof], "engineer": "E"}
                self.assertRefused(self.svc.submit(body), "systems", name)
                self.assertRefused(self.svc.submit(body, form=True), "systems", name)
                self.assertRefused(self.svc.submit({"action": "update", "ticket": "INC-1", "title": spoof}),
                                   "title", name)
                self.assertRefused(self.svc.request("POST", "/api/v1/subscriptions",
                                                    {"email": "ana@example.org", "systems": [spoof]}), "systems", name)
        self.assertEqual(self.svc.head_seq(), head, "a refused request appended")

    def test_multi_line_text_refuses_direction_overrides_but_keeps_line_breaks(self):
        head = self.svc.head_seq()
        for character in ("\u202e", "\u202d", "\u2067", "\u0085"):
            name = "U+%04X" % ord(character)
            with self.subTest(character=name):
                self.assertRefused(self.svc.submit({"action": "update", "ticket": "INC-1", "note": "a" + character}),
                                   "note", name)
                self.assertRefused(self.svc.submit({"action": "update", "ticket": "INC-1",
                                                    "description": "a" + character}, form=True), "description", name)
        self.assertEqual(self.svc.head_seq(), head)
        kept = "line 1\nline 2\u2028\u05e9\u05dc\u05d5\u05dd\u200f."
        self.assertStatus(self.svc.submit({"action": "update", "ticket": "INC-1", "note": kept}), 201)
        events = self.svc.get("/api/v1/incidents/INC-1/events").data
        self.assertTrue(holds_string(events, kept), events)

    def test_a_sheet_row_with_one_is_rejected_naming_it(self):
        sheet = self.path("responses.csv")
        with open(sheet, "w", encoding="utf-8", newline="") as handle:
            handle.write("Timestamp,Email Address,Action,Ticket Number,Title,Affected Systems,Engineer Responsible\r\n"
                         "11/24/2025 8:41:12,ana@example.org,Create new incident,,Mail\u202edelayed,Mail,Ana\r\n"
                         "11/24/2025 8:42:12,ana@example.org,Create new incident,,Mail delayed,Mail\u2029DNS,Ana\r\n"
                         "11/24/2025 8:43:12,ana@example.org,Create new incident,,VPN down,VPN,Bo\r\n")
        data = self.path("data")
        code, out, err = run_cli("import-csv", "--data", data, sheet, "--sheet-timezone", "UTC")
        self.assertEqual(code, 1, err)
        report = json.loads(out)
        rows = {row["row"]: row for row in report["rows"]}
        self.assertEqual([rows[n]["outcome"] for n in (2, 3, 4)], ["rejected", "rejected", "appended"], report)
        self.assertEqual(rows[2]["column"], "Title")
        self.assertIn("U+202E", rows[2]["rule"])
        self.assertEqual(rows[3]["column"], "Affected Systems")
        self.assertIn("U+2029", rows[3]["rule"])
        # The rejection lines quote the cell without the character itself.
        self.assertNotIn("\u202e", err)
        self.assertNotIn("\u2029", err)


# -- 10. SMTP credentials --------------------------------------------------------------

class SmtpCredentials(HardeningTestCase):
    SECRET = "s3cret-Pa55word"

    def serve(self, *smtp_arguments):
        return run_cli("serve", "--data", self.path("data"), "--listen", "127.0.0.1:0",
                       "--smtp-from", "noc@example.org", *smtp_arguments)

    def test_credentials_in_the_url_stop_the_start_without_being_printed(self):
        for url in ("smtp://ops:%s@127.0.0.1:2525" % self.SECRET, "smtps://ops:%s@mail.example.org:465" % self.SECRET,
                    "smtp://ops@127.0.0.1:2525"):
            with self.subTest(url=url.replace(self.SECRET, "***")):
                code, out, err = self.serve("--smtp-url", url)
                self.assertEqual(code, 2, err)
                self.assertNotIn("listening", out)
                self.assertIn("--smtp-password-file", err)
                self.assertIn("--smtp-url", err)
                self.assertNotIn(self.SECRET, err + out)
                self.assertNotIn("ops@", err)

    def test_a_password_file_works_and_credentials_without_tls_are_still_warned_about(self):
        password_file = self.path("smtp-password")
        with open(password_file, "w") as handle:
            handle.write(self.SECRET + "\n")
        os.chmod(password_file, 0o600)
        credentials = ["--smtp-user", "ops", "--smtp-password-file", password_file,
                       "--smtp-from", "noc@example.org"]
        plain = self.start_service(data_dir=self.path("plain"),
                                   extra_args=["--smtp-url", "smtp://127.0.0.1:9"] + credentials)
        plain.stop()
        self.assertIn("SMTP credentials will be sent without TLS", plain.log)
        self.assertIn("mailing notifications through smtp://127.0.0.1:9", plain.log)
        self.assertNotIn(self.SECRET, plain.log)
        tls = self.start_service(data_dir=self.path("tls"),
                                 extra_args=["--smtp-url", "smtp://127.0.0.1:9", "--smtp-starttls", "on"] + credentials)
        tls.stop()
        self.assertNotIn("without TLS", tls.log)
        self.assertNotIn(self.SECRET, tls.log)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
