"""Access control over real HTTP: every route without credentials (401), with a
role that lacks the right (403) and with the right one; the browser session
with its CSRF token; cross-site writes; the loopback-only default.

Roles (http/auth.h): viewer reads; helpdesk submits; auditor reads the whole
log and verifies it; admin does everything. helpdesk and auditor read too, so
routes that need only viewer have no "wrong role": every token may use them.
"""

import http.client
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import service
from service import Service, add_token, bearer, ledger_binary

ROLES = ("viewer", "helpdesk", "auditor", "admin")




CREATE = {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Ana",
          "started_at": "2026-11-20T08:00:00Z"}
SCHEDULE = {"action": "schedule", "title": "Patch mail", "systems": ["mail"],
            "starts_at": "2026-11-28T22:00:00Z", "ends_at": "2026-11-28T23:00:00Z"}


class AccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory(prefix="ledger-access-")
        cls.auth_file = os.path.join(cls.folder.name, "auth.txt")
        cls.tokens = {role: add_token(cls.auth_file, "t-" + role, role) for role in ROLES}
        cls.service = Service(extra_args=["--auth-file", cls.auth_file, "--backup-dir", cls.folder.name])
        cls.service.start()
        status, _, body = cls.service.request("POST", "/api/v1/submissions", CREATE,
                                              headers=bearer(cls.tokens["helpdesk"]))
        assert status == 201, body
        cls.ticket = body["ticket"]
        status, _, body = cls.service.request("POST", "/api/v1/maintenance", SCHEDULE,
                                              headers=bearer(cls.tokens["helpdesk"]))
        assert status == 201, body
        cls.window = body["window"]

    @classmethod
    def tearDownClass(cls):
        cls.service.close()
        cls.folder.cleanup()

    def call(self, method, path, body=None, headers=None):
        return self.service.request(method, path, body, headers=headers)

    # (method, path, body, headers, role needed, status with the right role)
    def routes(self):
        backup_to = os.path.join(self.folder.name, "backup-%d" % len(os.listdir(self.folder.name)))
        ticket = self.ticket
        return [
            ("GET", "/", None, {}, "viewer", 200),
            ("GET", "/incidents/" + ticket, None, {}, "viewer", 200),
            ("GET", "/submit", None, {}, "helpdesk", 200),
            ("POST", "/submit", service.form_encode({"action": "update", "ticket": ticket, "note": "form"}),
             {"Content-Type": "application/x-www-form-urlencoded"}, "helpdesk", 303),
            ("POST", "/api/v1/submissions", {"action": "update", "ticket": ticket, "note": "api"}, {}, "helpdesk", 201),
            ("GET", "/api/v1/incidents", None, {}, "viewer", 200),
            ("GET", "/api/v1/incidents/" + ticket, None, {}, "viewer", 200),
            ("GET", "/api/v1/incidents/%s/events" % ticket, None, {}, "viewer", 200),
            ("GET", "/api/v1/durations", None, {}, "viewer", 200),
            ("GET", "/api/v1/durations/changes?before=2026-01-01T00:00:00Z", None, {}, "viewer", 200),
            ("POST", "/api/v1/maintenance", SCHEDULE, {}, "helpdesk", 201),
            ("GET", "/api/v1/maintenance", None, {}, "viewer", 200),
            ("GET", "/api/v1/maintenance/" + self.window, None, {}, "viewer", 200),
            ("GET", "/calendar.ics?system=mail", None, {}, "viewer", 200),
            ("GET", "/feed.atom?system=mail", None, {}, "viewer", 200),
            ("GET", "/maintenance", None, {}, "helpdesk", 200),
            ("POST", "/maintenance", service.form_encode({"action": "cancel", "window": "MNT-999"}),
             {"Content-Type": "application/x-www-form-urlencoded"}, "helpdesk", 404),
            ("GET", "/api/v1/imports", None, {}, "helpdesk", 200),
            ("GET", "/imports", None, {}, "helpdesk", 200),
            ("GET", "/systems", None, {}, "viewer", 200),
            ("GET", "/api/v1/availability?days=7", None, {}, "viewer", 200),
            ("HEAD", "/api/v1/events/stream", None, {}, "viewer", 200),
            ("GET", "/metrics", None, {}, "viewer", 200),
            ("GET", "/api/v1/public-key", None, {}, "viewer", 200),
            ("GET", "/api/v1/tree-head", None, {}, "viewer", 200),
            ("GET", "/api/v1/proofs/inclusion?seq=1", None, {}, "viewer", 200),
            ("GET", "/api/v1/proofs/consistency?first=1", None, {}, "viewer", 200),
            ("GET", "/api/v1/incidents/%s/bundle" % ticket, None, {}, "viewer", 200),
            ("GET", "/api/v1/no-such-route", None, {}, "viewer", 404),
            ("POST", "/signout", None, {}, "viewer", 303),
            ("GET", "/api/v1/events", None, {}, "auditor", 200),
            ("GET", "/api/v1/verify", None, {}, "auditor", 200),
            ("GET", "/api/v1/subscriptions", None, {}, "admin", 200),
            ("POST", "/api/v1/subscriptions", {"email": "ops@example.org", "systems": ["mail"]}, {}, "admin", 201),
            ("DELETE", "/api/v1/subscriptions", {"email": "ops@example.org"}, {}, "admin", 200),
            ("GET", "/api/v1/notifications", None, {}, "admin", 200),
            ("POST", "/api/v1/notifications/retry", {}, {}, "admin", 200),  # no failed job: nothing to retry
            ("POST", "/api/v1/backup", {"to": backup_to}, {}, "admin", 201),
        ]

    def grants(self, held, needed):
        return held == "admin" or held == needed or needed == "viewer"

    def call_from(self, address, method, path, body=None, headers=None):
        """One request from the loopback address `address` (127.x.y.z)."""
        connection = http.client.HTTPConnection(self.service.host, self.service.port, timeout=30,
                                                source_address=(address, 0))
        try:
            return service.send(connection, method, path, body, headers)
        finally:
            connection.close()

    def test_every_route_refuses_without_credentials_and_with_the_wrong_role(self):
        for index, (method, path, body, headers, needed, right_status) in enumerate(self.routes()):
            # Each route's wrong credentials from a loopback address of its
            # own: ten refusals from one address lock it out (429).
            guesser = "127.0.%d.%d" % (1 + index // 250, 1 + index % 250)
            with self.subTest(method=method, path=path, credentials="none"):
                head_before = self.service.head_seq()
                response = self.call(method, path, body, headers)
                self.assertEqual(response.status, 401, response)
                self.assertIn("Bearer", response.headers.get("WWW-Authenticate", ""))
                self.assertEqual(self.service.head_seq(), head_before, "a refused request appended")
            with self.subTest(method=method, path=path, credentials="unknown token"):
                response = self.call_from(guesser, method, path, body,
                                          dict(headers, **bearer("ilt_not-a-real-token")))
                self.assertEqual(response.status, 401, response)
            with self.subTest(method=method, path=path, credentials="malformed header"):
                response = self.call_from(guesser, method, path, body,
                                          dict(headers, Authorization="Basic dXNlcjpwYXNz"))
                self.assertEqual(response.status, 401, response)
            for role in ROLES:
                if self.grants(role, needed):
                    continue
                with self.subTest(method=method, path=path, role=role):
                    head_before = self.service.head_seq()
                    response = self.call(method, path, body, dict(headers, **bearer(self.tokens[role])))
                    self.assertEqual(response.status, 403, response)
                    self.assertIn(needed, response.raw.decode("utf-8", "replace"))
                    self.assertEqual(self.service.head_seq(), head_before, "a refused request appended")

    def test_every_route_answers_the_right_roles(self):
        for role in ROLES:
            for method, path, body, headers, needed, right_status in self.routes():
                if not self.grants(role, needed):
                    continue
                with self.subTest(method=method, path=path, role=role):
                    response = self.call(method, path, body, dict(headers, **bearer(self.tokens[role])))
                    self.assertEqual(response.status, right_status, response)

    def test_public_routes_need_no_credentials(self):
        for path in ("/healthz", "/static/app.css", "/signin"):
            with self.subTest(path=path):
                self.assertEqual(self.call("GET", path).status, 200)

    def test_submissions_record_the_token_name_as_actor(self):
        token = self.tokens["helpdesk"]
        status, _, body = self.call("POST", "/api/v1/submissions", dict(CREATE, title="Who"), bearer(token))
        self.assertEqual(status, 201, body)
        self.assertEqual(body["event"]["actor"], "t-helpdesk")
        status, _, body = self.call("POST", "/api/v1/submissions",
                                    {"action": "update", "ticket": body["ticket"], "note": "n", "actor": "Maria"},
                                    bearer(token))
        self.assertEqual(status, 201, body)
        self.assertEqual(body["event"]["actor"], "Maria (via t-helpdesk)")

    def sign_in(self, role, next_path="/"):
        response = self.call("POST", "/signin", service.form_encode({"token": self.tokens[role], "next": next_path}),
                             {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 303, response)
        self.assertEqual(response.headers["Location"], next_path)
        cookie = response.headers["Set-Cookie"]
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attribute, cookie)
        return cookie.split(";")[0]

    def test_browser_session_with_csrf_token(self):
        cookie = self.sign_in("helpdesk", "/submit")
        status, _, page = self.call("GET", "/submit", headers={"Cookie": cookie})
        self.assertEqual(status, 200)
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        self.assertIn('name="csrf_token" value="%s"' % csrf, page)
        form = {"action": "update", "ticket": self.ticket, "note": "from the page"}
        form_headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}

        head_before = self.service.head_seq()
        refused = self.call("POST", "/submit", service.form_encode(form), form_headers)
        self.assertEqual(refused.status, 403, refused)
        self.assertIn("CSRF", refused.data)
        wrong = self.call("POST", "/submit", service.form_encode(dict(form, csrf_token="x" * len(csrf))), form_headers)
        self.assertEqual(wrong.status, 403, wrong)
        api_without = self.call("POST", "/api/v1/submissions", form, {"Cookie": cookie})
        self.assertEqual(api_without.status, 403, api_without)
        self.assertEqual(self.service.head_seq(), head_before, "a request without the CSRF token appended")

        accepted = self.call("POST", "/submit", service.form_encode(dict(form, csrf_token=csrf)), form_headers)
        self.assertEqual(accepted.status, 303, accepted)
        api = self.call("POST", "/api/v1/submissions", form, {"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(api.status, 201, api)
        self.assertEqual(api.data["event"]["actor"], "t-helpdesk")

        # Another site's page, even with the cookie and token, is refused.
        cross = self.call("POST", "/api/v1/submissions", form,
                          {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example"})
        self.assertEqual(cross.status, 403, cross)
        cross = self.call("POST", "/submit", service.form_encode(dict(form, csrf_token=csrf)),
                          dict(form_headers, **{"Sec-Fetch-Site": "cross-site"}))
        self.assertEqual(cross.status, 403, cross)

        # A viewer's session reads but does not submit; the form is not offered.
        viewer_cookie = self.sign_in("viewer")
        status, _, page = self.call("GET", "/", headers={"Cookie": viewer_cookie})
        self.assertEqual(status, 200)
        navigation = re.search(r"<nav>.*?</nav>", page).group(0)
        self.assertNotIn('href="/submit"', navigation)
        self.assertNotIn('href="/imports"', navigation)
        self.assertIn('href="/systems"', navigation)
        self.assertEqual(self.call("GET", "/submit", headers={"Cookie": viewer_cookie}).status, 403)

        # Signing out ends the session on the server.
        signed_out = self.call("POST", "/signout", service.form_encode({"csrf_token": csrf}), form_headers)
        self.assertEqual(signed_out.status, 303, signed_out)
        self.assertIn("Max-Age=0", signed_out.headers["Set-Cookie"])
        self.assertEqual(self.call("GET", "/submit", headers={"Cookie": cookie}).status, 401)

    def test_sign_in_refuses_bad_tokens_and_foreign_redirects(self):
        response = self.call("POST", "/signin", service.form_encode({"token": "ilt_wrong", "next": "/"}),
                             {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 401)
        self.assertIn("not valid", response.data)
        self.assertNotIn("Set-Cookie", response.headers)
        for next_path in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            with self.subTest(next_path=next_path):
                response = self.call("POST", "/signin",
                                     service.form_encode({"token": self.tokens["viewer"], "next": next_path}),
                                     {"Content-Type": "application/x-www-form-urlencoded"})
                self.assertEqual(response.status, 303)
                self.assertEqual(response.headers["Location"], "/")

    def test_pages_ask_to_sign_in_and_carry_security_headers(self):
        response = self.call("GET", "/incidents/" + self.ticket, headers={"Accept": "text/html"})
        self.assertEqual(response.status, 401)
        self.assertIn('action="/signin"', response.data)
        self.assertIn('name="next" value="/incidents/%s"' % self.ticket, response.data)
        response = self.call("GET", "/", headers=bearer(self.tokens["viewer"]))
        self.assertEqual(response.status, 200)
        policy = response.headers["Content-Security-Policy"]
        self.assertIn("script-src 'self'", policy)
        self.assertNotIn("unsafe-inline", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertEqual(response.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response.headers["X-Frame-Options"], "DENY")

    def test_static_paths_never_reach_the_filesystem(self):
        for path in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/app.css/..",
                     "/static//etc/passwd", "/static/"):
            with self.subTest(path=path):
                response = self.call("GET", path)
                self.assertEqual(response.status, 404, response)
                self.assertNotIn("root:", response.raw.decode("utf-8", "replace"))


class DefaultsTest(unittest.TestCase):
    def run_serve(self, *arguments):
        with tempfile.TemporaryDirectory(prefix="ledger-access-") as folder:
            return subprocess.run([ledger_binary(), "serve", "--data", os.path.join(folder, "d")] + list(arguments),
                                  capture_output=True, text=True, timeout=60)

    def test_without_an_auth_file_only_loopback(self):
        for address in ("0.0.0.0:0", "[::]:0"):
            with self.subTest(address=address):
                done = self.run_serve("--listen", address)
                self.assertEqual(done.returncode, 2)
                self.assertIn("without --auth-file", done.stderr)

    def test_a_bad_auth_file_stops_the_start_naming_the_line(self):
        with tempfile.TemporaryDirectory(prefix="ledger-access-") as folder:
            cases = {
                "ana viewer sha256:abc\n": "line 1",
                "# tokens\nana boss sha256:" + "0" * 64 + "\n": "unknown role 'boss'",
                "ana viewer ilt_plaintexttoken\n": "never the token itself",
                "ana viewer sha256:%s\nana admin sha256:%s\n" % ("0" * 64, "1" * 64): "given twice",
                "": "no tokens",
            }
            for text, expected in cases.items():
                with self.subTest(text=text):
                    path = os.path.join(folder, "auth.txt")
                    with open(path, "w") as out:
                        out.write(text)
                    done = self.run_serve("--listen", "127.0.0.1:0", "--auth-file", path)
                    self.assertEqual(done.returncode, 2)
                    self.assertIn(expected, done.stderr)
            done = self.run_serve("--listen", "127.0.0.1:0", "--auth-file", os.path.join(folder, "missing"))
            self.assertEqual(done.returncode, 2)
            self.assertIn("cannot read the auth file", done.stderr)

    def test_open_mode_still_refuses_cross_site_writes(self):
        with Service() as ledger:
            status, _, _ = ledger.request("POST", "/api/v1/submissions", CREATE,
                                          headers={"Origin": "http://evil.example"})
            self.assertEqual(status, 403)
            status, _, _ = ledger.request("POST", "/api/v1/submissions", CREATE,
                                          headers={"Sec-Fetch-Site": "cross-site"})
            self.assertEqual(status, 403)
            self.assertEqual(ledger.head_seq(), 0)
            status, _, body = ledger.request("POST", "/api/v1/submissions", CREATE,
                                             headers={"Origin": ledger.url})
            self.assertEqual(status, 201, body)
            self.assertEqual(body["event"]["actor"], "anonymous")


class SessionsAcrossRestartsTest(unittest.TestCase):
    """A browser signed in before a restart is still signed in after it, with
    the same CSRF token; one that signed out stays out; DIR/sessions holds no
    cookie and only its owner may read it; a broken file signs everyone out,
    which the log says, and the service serves on."""

    def test_a_restart_signs_nobody_out(self):
        with tempfile.TemporaryDirectory(prefix="ledger-access-") as folder:
            auth_file = os.path.join(folder, "auth.txt")
            desk = add_token(auth_file, "desk", "helpdesk")
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            with Service(extra_args=["--auth-file", auth_file]) as ledger:
                def sign_in():
                    response = ledger.request("POST", "/signin", service.form_encode({"token": desk, "next": "/"}), form)
                    self.assertEqual(response.status, 303, response)
                    cookie = response.headers["Set-Cookie"].split(";")[0]
                    page = ledger.request("GET", "/submit", headers={"Cookie": cookie}).data
                    return cookie, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
                kept, kept_csrf = sign_in()
                left, left_csrf = sign_in()
                signed_out = ledger.request("POST", "/signout", service.form_encode({"csrf_token": left_csrf}),
                                            dict(form, Cookie=left))
                self.assertEqual(signed_out.status, 303, signed_out)

                sessions = os.path.join(ledger.data_dir, "sessions")
                self.assertEqual(os.stat(sessions).st_mode & 0o777, 0o600)
                with open(sessions) as handle:
                    saved = handle.read()
                for secret in (kept, left, desk):
                    self.assertNotIn(secret.split("=")[-1], saved)

                ledger.restart()
                self.assertIn("1 signed-in sessions kept from before the start", ledger.read_log())
                submitted = ledger.request("POST", "/submit", service.form_encode(
                    {"action": "create", "title": "After the restart", "systems": "mail", "engineer": "Ana",
                     "csrf_token": kept_csrf}), dict(form, Cookie=kept))
                self.assertEqual(submitted.status, 303, submitted)
                self.assertEqual(ledger.head_seq(), 1)
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers={"Cookie": left}).status, 401)

                # A file that does not parse: everyone signs in again; nothing else changes.
                with open(sessions, "w") as handle:
                    handle.write("garbage\n")
                ledger.restart()
                self.assertIn("the sessions file %s does not start with" % sessions, ledger.read_log())
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers={"Cookie": kept}).status, 401)
                again, _ = sign_in()
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers={"Cookie": again}).status, 200)
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers=bearer(desk)).status, 200)


class ReloadTest(unittest.TestCase):
    """SIGHUP reads the auth file again: new tokens work, removed ones stop at
    once (Bearer and signed-in sessions), a bad file changes nothing."""

    def wait_for_log(self, ledger, text, seconds=10):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text in ledger.read_log():
                return
            time.sleep(0.05)
        self.fail("the service did not log %r; its log:\n%s" % (text, ledger.read_log()[-4000:]))

    def test_sighup_reloads_the_auth_file(self):
        with tempfile.TemporaryDirectory(prefix="ledger-access-") as folder:
            auth_file = os.path.join(folder, "auth.txt")
            old = add_token(auth_file, "old-desk", "helpdesk")
            with Service(extra_args=["--auth-file", auth_file]) as ledger:
                signed_in = ledger.request("POST", "/signin", service.form_encode({"token": old, "next": "/"}),
                                           {"Content-Type": "application/x-www-form-urlencoded"})
                self.assertEqual(signed_in.status, 303)
                cookie = {"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers=cookie).status, 200)

                # A token added while the service runs works after SIGHUP.
                new = add_token(auth_file, "new-admin", "admin")
                self.assertEqual(ledger.request("GET", "/api/v1/notifications", headers=bearer(new)).status, 401)
                ledger.process.send_signal(signal.SIGHUP)
                self.wait_for_log(ledger, "SIGHUP: 2 access tokens")
                self.assertEqual(ledger.request("GET", "/api/v1/notifications", headers=bearer(new)).status, 200)
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers=cookie).status, 200)

                # A file that does not parse changes nothing.
                with open(auth_file) as handle:
                    good = handle.read()
                with open(auth_file, "a") as handle:
                    handle.write("broken line\n")
                ledger.process.send_signal(signal.SIGHUP)
                self.wait_for_log(ledger, "SIGHUP: keeping the tokens in use")
                self.assertIn("line 3", ledger.read_log())
                self.assertEqual(ledger.request("POST", "/api/v1/submissions", CREATE, headers=bearer(old)).status, 201)

                # Removing a token ends its Bearer use and its sessions.
                with open(auth_file, "w") as handle:
                    handle.write("\n".join(line for line in good.splitlines() if not line.startswith("old-desk")) + "\n")
                ledger.process.send_signal(signal.SIGHUP)
                self.wait_for_log(ledger, "SIGHUP: 1 access tokens")
                self.assertIn("0 signed-in sessions kept, 1 ended", ledger.read_log())
                self.assertEqual(ledger.request("POST", "/api/v1/submissions", CREATE, headers=bearer(old)).status, 401)
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers=cookie).status, 401)
                self.assertEqual(ledger.request("GET", "/api/v1/incidents", headers=bearer(new)).status, 200)
                self.assertEqual(ledger.head_seq(), 1)

    def test_sighup_without_an_auth_file_changes_nothing(self):
        with Service() as ledger:
            ledger.process.send_signal(signal.SIGHUP)
            self.wait_for_log(ledger, "SIGHUP: no --auth-file")
            self.assertEqual(ledger.request("POST", "/api/v1/submissions", CREATE).status, 201)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
