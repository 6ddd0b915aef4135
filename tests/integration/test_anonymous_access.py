"""The dashboard opened to everyone on the intranet, against the real binary:

- `serve --anonymous viewer` lets requests without credentials read as
  viewers (the dashboard, the API's reads, the Atom feed), named `anonymous`
  in the access log, with a "Sign in" link on the pages; every write still
  needs a token (401);
- `--trusted-network CIDR` limits that to clients in the listed networks
  (this test's client is 127.0.0.1): 10.0.0.0/8 leaves it out, 127.0.0.0/8
  lets it in; the same from LEDGER_TRUSTED_NETWORK and from a config file;
- a bad CIDR, a value other than viewer, --anonymous without --auth-file are
  refused at start with exit 2 and a message naming the problem;
- ten refused Bearer tokens from one address lock it out: the eleventh
  attempt answers 429 with Retry-After, so does a correct token and a
  sign-in, reads without credentials go on, and the log says so once.

The limits are the constants of http/auth.h (kLockoutFailuresMaxDefault,
kLockoutDefault).
"""

import json
import os
import subprocess
import tempfile
import unittest

import service
from service import ServiceTestCase, add_token, bearer

LOCKOUT_FAILURES_MAX = 10  # kLockoutFailuresMaxDefault
LOCKOUT_SECONDS = 300  # kLockoutDefault
TIMEOUT_SECONDS = 60
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREATE = {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
          "started_at": "2026-11-20T08:00:00Z"}


def clean_environment(**variables):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("LEDGER_")}
    environment.update(variables)
    return environment


class AnonymousTest(ServiceTestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-anonymous-")
        self.addCleanup(self.folder.cleanup)
        self.auth_file = os.path.join(self.folder.name, "auth.txt")
        self.desk = add_token(self.auth_file, "desk", "helpdesk")
        self.admin = add_token(self.auth_file, "boss", "admin")

    def serve(self, *arguments):
        return self.start_service(extra_args=["--auth-file", self.auth_file, "--log-format", "json", *arguments])

    def access_lines(self, ledger, path):
        lines = []
        for text in ledger.read_log().splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if line.get("path") == path and "principal" in line:
                lines.append(line)
        return lines

    def test_requests_without_credentials_read_as_viewers_and_writes_still_need_a_token(self):
        ledger = self.serve("--anonymous", "viewer")
        created = ledger.submit(CREATE, headers=bearer(self.desk))
        self.assertStatus(created, 201, "a write with a token")
        ticket = created.data["ticket"]

        incidents = ledger.get("/api/v1/incidents")
        self.assertStatus(incidents, 200, "anonymous read of the incidents")
        self.assertIn(ticket, [item["ticket"] for item in incidents.data["incidents"]])
        self.assertStatus(ledger.get("/api/v1/incidents/" + ticket), 200, "anonymous read of one incident")
        feed = ledger.get("/feed.atom")
        self.assertStatus(feed, 200, "anonymous read of the feed")
        self.assertIn("<feed", feed.data)
        page = ledger.get("/")
        self.assertStatus(page, 200, "anonymous read of the dashboard")
        self.assertIn('<a class="signin" href="/signin">Sign in</a>', page.data)
        self.assertNotIn("Sign out", page.data)

        # The event stream, held open for an anonymous reader.
        stream = ledger.connection(timeout=10)
        try:
            stream.request("GET", "/api/v1/events/stream", headers={"Accept": "text/event-stream"})
            answer = stream.getresponse()
            self.assertEqual(answer.status, 200)
            self.assertIn("text/event-stream", answer.headers.get("Content-Type", ""))
            self.assertTrue(answer.fp.readline(), "the stream sends its first line and stays open")
        finally:
            stream.close()

        # Writes and the other roles' reads: 401 as without --anonymous.
        head = ledger.head_seq()
        refused = ledger.submit(dict(CREATE, title="anonymous write"))
        self.assertError(refused, 401, "unauthenticated", "", "POST without a token")
        self.assertIn("Bearer", refused.headers.get("WWW-Authenticate", ""))
        self.assertStatus(ledger.get("/api/v1/events"), 401, "the whole log needs an auditor")
        self.assertStatus(ledger.get("/submit"), 401, "the form needs the help desk")
        self.assertEqual(ledger.head_seq(), head, "a refused write appended")
        # A wrong token is refused, not read anonymously.
        self.assertStatus(ledger.get("/api/v1/incidents", headers=bearer("ilt_wrong")), 401, "a wrong token")

        # An anonymous reader signs in to get more; the header then names them.
        signed_in = ledger.request("POST", "/signin", service.form_encode({"token": self.desk, "next": "/"}), FORM)
        self.assertStatus(signed_in, 303, "sign-in")
        cookie = signed_in.headers["Set-Cookie"].split(";")[0]
        page = ledger.get("/", headers={"Cookie": cookie})
        self.assertIn("Sign out", page.data)
        self.assertNotIn('class="signin"', page.data)

        ledger.stop()
        principals = [line["principal"] for line in self.access_lines(ledger, "/api/v1/incidents")]
        self.assertIn("anonymous", principals)
        self.assertEqual([line["principal"] for line in self.access_lines(ledger, "/api/v1/submissions")],
                         ["desk", "-"])

    def test_trusted_networks_limit_who_reads_without_credentials(self):
        outside = self.serve("--anonymous", "viewer", "--trusted-network", "10.0.0.0/8",
                             "--trusted-network", "::1/128")
        self.assertStatus(outside.get("/api/v1/incidents"), 401, "127.0.0.1 is not in 10.0.0.0/8 or ::1/128")
        self.assertStatus(outside.get("/feed.atom"), 401, "nor may it read the feed")
        self.assertStatus(outside.get("/api/v1/incidents", headers=bearer(self.desk)), 200, "a token still reads")
        outside.close()

        inside = self.serve("--anonymous", "viewer", "--trusted-network", "10.0.0.0/8",
                            "--trusted-network", "127.0.0.0/8")
        self.assertStatus(inside.get("/api/v1/incidents"), 200, "127.0.0.1 is in 127.0.0.0/8")
        self.assertStatus(inside.get("/"), 200, "the dashboard")
        self.assertIn("anonymous readers: requests without credentials from 10.0.0.0/8 127.0.0.0/8",
                      inside.read_log())
        inside.close()

        # The same options from the environment (a comma-separated list) and
        # from a config file (one line each).
        saved = {name: os.environ.get(name) for name in ("LEDGER_ANONYMOUS", "LEDGER_TRUSTED_NETWORK")}
        os.environ["LEDGER_ANONYMOUS"] = "viewer"
        os.environ["LEDGER_TRUSTED_NETWORK"] = "10.0.0.0/8,127.0.0.1/32"
        try:
            from_environment = self.serve()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self.assertStatus(from_environment.get("/api/v1/incidents"), 200, "LEDGER_TRUSTED_NETWORK admits 127.0.0.1")
        from_environment.close()

        config = os.path.join(self.folder.name, "ledger.conf")
        with open(config, "w") as handle:
            handle.write("anonymous = viewer\ntrusted-network = 10.0.0.0/8\ntrusted-network = 192.168.0.0/16\n")
        from_config = self.serve("--config", config)
        self.assertStatus(from_config.get("/api/v1/incidents"), 401, "the config file's networks leave 127.0.0.1 out")
        from_config.close()

    def test_wrong_options_are_refused_at_start_naming_the_problem(self):
        data = os.path.join(self.folder.name, "data")
        cases = [
            (["--auth-file", self.auth_file, "--anonymous", "viewer", "--trusted-network", "10.0.0.0/33"],
             ["'10.0.0.0/33'", "--trusted-network", "0 to 32"]),
            (["--auth-file", self.auth_file, "--anonymous", "viewer", "--trusted-network", "intranet"],
             ["'intranet'", "--trusted-network"]),
            (["--auth-file", self.auth_file, "--anonymous", "viewer", "--trusted-network", "10.0.0.1/8"],
             ["'10.0.0.1/8'", "10.0.0.0/8"]),
            (["--auth-file", self.auth_file, "--anonymous", "helpdesk"], ["--anonymous must be viewer", "'helpdesk'"]),
            (["--anonymous", "viewer"], ["--anonymous needs --auth-file"]),
            (["--auth-file", self.auth_file, "--trusted-network", "10.0.0.0/8"], ["--trusted-network goes with --anonymous"]),
        ]
        for arguments, says in cases:
            with self.subTest(arguments=arguments):
                done = subprocess.run([service.ledger_binary(), "serve", "--data", data, "--listen", "127.0.0.1:0",
                                       *arguments], capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                                      env=clean_environment(), stdin=subprocess.DEVNULL)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertEqual(done.stdout, "", "it must not start")
                for text in says:
                    self.assertIn(text, done.stderr)
                self.assertFalse(os.path.exists(data), "a refused start leaves no data folder")

    def test_guessing_tokens_locks_the_address_out_but_not_anonymous_readers(self):
        ledger = self.serve("--anonymous", "viewer")
        connection = ledger.connection()
        self.addCleanup(connection.close)
        for n in range(LOCKOUT_FAILURES_MAX):
            response = service.send(connection, "GET", "/api/v1/incidents", headers=bearer("ilt_guess%d" % n))
            self.assertStatus(response, 401, "guess %d" % n)
        locked = service.send(connection, "GET", "/api/v1/incidents", headers=bearer("ilt_guess_last"))
        self.assertStatus(locked, 429, "the eleventh guess")
        self.assertEqual(locked.data["error"]["field"], "lockout")
        retry_after = int(locked.headers["Retry-After"])
        self.assertGreater(retry_after, 0)
        self.assertLessEqual(retry_after, LOCKOUT_SECONDS)

        # Even a correct token waits, by Bearer and by sign-in.
        right = ledger.get("/api/v1/incidents", headers=bearer(self.admin))
        self.assertStatus(right, 429, "a correct token during the lockout")
        self.assertGreater(int(right.headers["Retry-After"]), 0)
        signin = ledger.request("POST", "/signin", service.form_encode({"token": self.admin, "next": "/"}), FORM)
        self.assertStatus(signin, 429, "a sign-in during the lockout")
        self.assertGreater(int(signin.headers["Retry-After"]), 0)
        self.assertNotIn("Set-Cookie", signin.headers)
        self.assertIn("Too many refused sign-ins", signin.data)
        # Pages answer 429 too.
        page = ledger.get("/", headers=bearer(self.admin))
        self.assertStatus(page, 429, "a page with a token")
        self.assertIn("Too many refused credentials", page.data)
        self.assertGreater(int(page.headers["Retry-After"]), 0)

        # Without credentials: anonymous reads go on.
        self.assertStatus(ledger.get("/api/v1/incidents"), 200, "an anonymous read during the lockout")
        self.assertStatus(ledger.get("/feed.atom"), 200, "the feed during the lockout")

        lockout_lines = [line for line in ledger.read_log().splitlines() if "locked out" in line]
        self.assertEqual(len(lockout_lines), 1, lockout_lines)
        self.assertIn("127.0.0.1", lockout_lines[0])
        for guess in ["ilt_guess%d" % n for n in range(LOCKOUT_FAILURES_MAX)] + [self.admin]:
            self.assertNotIn(guess, ledger.read_log())

    def test_failed_sign_ins_lock_out_too(self):
        ledger = self.serve()
        for n in range(LOCKOUT_FAILURES_MAX):
            response = ledger.request("POST", "/signin", service.form_encode({"token": "ilt_guess%d" % n, "next": "/"}),
                                      FORM)
            self.assertStatus(response, 401, "sign-in guess %d" % n)
        signin = ledger.request("POST", "/signin", service.form_encode({"token": self.desk, "next": "/"}), FORM)
        self.assertStatus(signin, 429, "a correct sign-in during the lockout")
        self.assertStatus(ledger.get("/api/v1/incidents", headers=bearer(self.desk)), 429, "a Bearer token too")
        # Without --anonymous, a request without credentials is 401 as ever.
        self.assertStatus(ledger.get("/api/v1/incidents"), 401, "no credentials, no anonymous readers")


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
