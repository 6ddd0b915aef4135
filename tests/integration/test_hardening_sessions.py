"""Attacks on streams, sessions and sign-in, against the real binary, each
refused (issue 24, items 1, 3 and 4, and the log of refused credentials):

- an open event stream outlives its right: the token removed by SIGHUP, the
  session signed out, the role lowered from auditor to viewer. The stream must
  end (or stop carrying what the reader may no longer see) within a second,
  and nothing appended after the revocation may reach it;
- one reader takes every stream slot: at most 16 per token (429);
- a viewer signing in again and again signs an admin out, and makes every
  sign-in rewrite the whole sessions file: at most 64 sessions per token (a
  session ended by its own token's newer sign-ins loses its stream too), a
  sign-in appends to the file in place (same file, old bytes untouched) and
  the file is compacted now and then, and a line torn by a crash is left
  out;
- token guessing goes unseen: refused sign-ins and Bearer tokens are logged,
  one line per address per 10 s with a count of the rest (ten refusals lock
  the address out: test_anonymous_access.py);
- the session cookie over HTTPS (behind a TLS proxy) is `__Host-` and Secure,
  and a plain-named cookie planted beside it is not taken.

The limits are the constants of http/auth.h and http/event_hub.h.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import service
from service import Service, add_token, bearer, ledger_binary

SESSIONS_PER_TOKEN_MAX = 64   # kSessionsPerTokenMax
STREAMS_PER_PRINCIPAL_MAX = 16  # kEventStreamsPerPrincipalMax
FAILURE_LOG_INTERVAL_SECONDS = 10  # kAuthFailureLogInterval
LOCKOUT_FAILURES_MAX = 10  # kLockoutFailuresMaxDefault
REVOKED_WITHIN_SECONDS = 1.0

FORM = {"Content-Type": "application/x-www-form-urlencoded"}




def incident(title):
    return {"action": "create", "title": title, "systems": ["mail"], "engineer": "Ana",
            "started_at": "2026-11-20T08:00:00Z"}


class EventStream:
    """GET /api/v1/events/stream on its own socket (HTTP/1.0, so the body is
    the raw event text until the server closes), read by a thread."""

    def __init__(self, ledger, headers):
        self.socket = socket.create_connection((ledger.host, ledger.port), timeout=30)
        lines = ["GET /api/v1/events/stream HTTP/1.0", "Host: %s:%d" % (ledger.host, ledger.port),
                 "Accept: text/event-stream"]
        lines += ["%s: %s" % (name, value) for name, value in headers.items()]
        self.socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        self.data = b""
        self.closed_at = None
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                chunk = self.socket.recv(65536)
            except OSError:
                chunk = b""
            with self.changed:
                if not chunk:
                    self.closed_at = time.monotonic()
                    self.changed.notify_all()
                    return
                self.data += chunk
                self.changed.notify_all()

    def wait(self, predicate, seconds=10):
        deadline = time.monotonic() + seconds
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def status(self):
        if not self.wait(lambda: b"\r\n\r\n" in self.data or self.closed_at is not None):
            raise AssertionError("no answer to the stream request")
        return int(self.data.split(b" ", 2)[1])

    def text(self):
        with self.changed:
            return self.data.decode("utf-8", errors="replace")

    def seqs(self):
        return [int(seq) for seq in re.findall(r"^id: (\d+)$", self.text(), re.M)]

    def wait_for_seq(self, seq, seconds=10):
        return self.wait(lambda: ("\nid: %d\n" % seq) in self.data.decode("utf-8", "replace"), seconds)

    def wait_closed(self, seconds):
        self.wait(lambda: self.closed_at is not None, seconds)
        return self.closed_at

    def close(self):
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.socket.close()
        self.thread.join(timeout=10)


class Tokens:
    """An auth file whose tokens can be removed or given other roles."""

    def __init__(self, folder, roles_by_name):
        self.path = os.path.join(folder, "auth.txt")
        self.tokens = {name: add_token(self.path, name, roles) for name, roles in roles_by_name.items()}

    def __getitem__(self, name):
        return self.tokens[name]

    def rewrite(self, change):
        """change(name, roles) -> roles, or None to remove the token."""
        lines = []
        with open(self.path) as handle:
            for line in handle:
                name, roles, digest = line.split()
                roles = change(name, roles)
                if roles is not None:
                    lines.append("%s %s %s\n" % (name, roles, digest))
        with open(self.path, "w") as handle:
            handle.writelines(lines)


class ServiceTest(unittest.TestCase):
    roles = {}

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory(prefix="ledger-hardening-")
        self.addCleanup(self.folder.cleanup)
        self.tokens = Tokens(self.folder.name, self.roles)
        self.ledger = Service(extra_args=["--auth-file", self.tokens.path])
        self.ledger.start()
        self.addCleanup(self.ledger.close)
        self.reloads = 0

    def submit(self, title, token_name="desk"):
        status, _, body = self.ledger.request("POST", "/api/v1/submissions", incident(title),
                                              headers=bearer(self.tokens[token_name]))
        self.assertEqual(status, 201, body)
        return body["seq"]

    def subscribe(self, email):
        status, _, body = self.ledger.request("POST", "/api/v1/subscriptions", {"email": email, "systems": ["*"]},
                                              headers=bearer(self.tokens["boss"]))
        self.assertEqual(status, 201, body)
        return body["seq"] if "seq" in body else self.ledger.head_seq()

    def sign_in(self, token_name, headers=None):
        response = self.ledger.request("POST", "/signin",
                                       service.form_encode({"token": self.tokens[token_name], "next": "/"}),
                                       dict(FORM, **(headers or {})))
        self.assertEqual(response.status, 303, response)
        cookie = response.headers["Set-Cookie"].split(";")[0]
        page = self.ledger.request("GET", "/", headers=dict(headers or {}, Cookie=cookie)).data
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        return cookie, csrf

    def reload(self):
        """SIGHUP, and wait until the service has read the file again."""
        self.reloads += 1
        sent_at = time.monotonic()
        self.ledger.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(re.findall(r"SIGHUP: \d+ access tokens", self.ledger.read_log())) >= self.reloads:
                return sent_at
            time.sleep(0.02)
        self.fail("the service did not reload; its log:\n%s" % self.ledger.read_log()[-4000:])

    def open_stream(self, headers):
        stream = EventStream(self.ledger, headers)
        self.addCleanup(stream.close)
        self.assertEqual(stream.status(), 200, stream.text())
        # The greeting says the stream has started.
        self.assertTrue(stream.wait(lambda: b"events after seq" in stream.data), stream.text())
        return stream

    def assert_ends_soon(self, stream, since, what):
        closed_at = stream.wait_closed(5)
        self.assertIsNotNone(closed_at, "%s: the stream is still open 5 s later" % what)
        self.assertLess(closed_at - since, REVOKED_WITHIN_SECONDS,
                        "%s: the stream ended %.2f s later" % (what, closed_at - since))


class StreamRevocationTest(ServiceTest):
    roles = {"boss": "admin", "desk": "helpdesk", "audit": "auditor", "other-audit": "auditor"}

    def test_a_token_removed_by_sighup_ends_its_streams(self):
        by_bearer = self.open_stream(bearer(self.tokens["audit"]))
        cookie, _ = self.sign_in("audit")
        by_session = self.open_stream({"Cookie": cookie})
        untouched = self.open_stream(bearer(self.tokens["other-audit"]))
        before = self.submit("Before the removal")
        for stream in (by_bearer, by_session, untouched):
            self.assertTrue(stream.wait_for_seq(before), stream.text())

        # Idle streams: only the timer can notice.
        self.tokens.rewrite(lambda name, roles: None if name == "audit" else roles)
        sent_at = self.reload()
        self.assert_ends_soon(by_bearer, sent_at, "Bearer stream after SIGHUP")
        self.assert_ends_soon(by_session, sent_at, "session stream after SIGHUP")

        after = [self.submit("After the removal"), self.subscribe("after-removal@example.org")]
        self.assertTrue(untouched.wait_for_seq(after[-1]), "another token's stream goes on")
        for stream in (by_bearer, by_session):
            self.assertFalse(set(after) & set(stream.seqs()), stream.text())
            self.assertNotIn("after-removal@example.org", stream.text())
        again = self.ledger.request("GET", "/api/v1/events/stream", headers=bearer(self.tokens["audit"]))
        self.assertEqual(again.status, 401, again)

    def test_sign_out_ends_the_stream_of_that_session_only(self):
        cookie, csrf = self.sign_in("audit")
        other_cookie, _ = self.sign_in("audit")
        signed_out = self.open_stream({"Cookie": cookie})
        still_in = self.open_stream({"Cookie": other_cookie})
        before = self.submit("Before the sign-out")
        self.assertTrue(signed_out.wait_for_seq(before), signed_out.text())

        sent_at = time.monotonic()
        response = self.ledger.request("POST", "/signout", service.form_encode({"csrf_token": csrf}),
                                       dict(FORM, Cookie=cookie))
        self.assertEqual(response.status, 303, response)
        self.assert_ends_soon(signed_out, sent_at, "stream after sign-out")

        after = [self.subscribe("after-signout@example.org"), self.submit("After the sign-out")]
        self.assertTrue(still_in.wait_for_seq(after[-1]), still_in.text())
        self.assertIn("after-signout@example.org", still_in.text())
        self.assertFalse(set(after) & set(signed_out.seqs()), signed_out.text())
        self.assertIsNone(still_in.closed_at)

    def test_an_auditor_lowered_to_viewer_stops_seeing_addresses_at_once(self):
        by_bearer = self.open_stream(bearer(self.tokens["audit"]))
        cookie, _ = self.sign_in("audit")
        by_session = self.open_stream({"Cookie": cookie})
        # What the auditor may see: subscriptions name addresses.
        seen = self.subscribe("before-downgrade@example.org")
        for stream in (by_bearer, by_session):
            self.assertTrue(stream.wait_for_seq(seen), stream.text())
            self.assertIn("before-downgrade@example.org", stream.text())

        self.tokens.rewrite(lambda name, roles: "viewer" if name == "audit" else roles)
        self.reload()
        # Appended right after the reload, before any timer could run: the
        # check made when an event is handed out must already leave it out.
        hidden = self.subscribe("after-downgrade@example.org")
        shown = self.submit("After the downgrade")
        for stream in (by_bearer, by_session):
            self.assertTrue(stream.wait_for_seq(shown, REVOKED_WITHIN_SECONDS) or stream.closed_at is not None,
                            stream.text())
            self.assertNotIn("after-downgrade@example.org", stream.text())
            self.assertNotIn(hidden, stream.seqs())
        # A new stream of the lowered token sees incidents only, too.
        fresh = self.open_stream(dict(bearer(self.tokens["audit"]), **{"Last-Event-ID": "0"}))
        self.assertTrue(fresh.wait_for_seq(shown), fresh.text())
        self.assertNotIn("@example.org", fresh.text())


    def test_a_session_pushed_out_by_its_tokens_newer_sign_ins_loses_its_stream(self):
        cookie, _ = self.sign_in("audit")
        stream = self.open_stream({"Cookie": cookie})
        before = self.subscribe("before-push-out@example.org")
        self.assertTrue(stream.wait_for_seq(before), stream.text())

        # The token's own newer sign-ins end its oldest session; nobody signs
        # out and nothing is appended, so only the periodic check can notice.
        connection = self.ledger.connection()
        self.addCleanup(connection.close)
        body = service.form_encode({"token": self.tokens["audit"], "next": "/"})
        for _ in range(SESSIONS_PER_TOKEN_MAX):
            response = service.send(connection, "POST", "/signin", body, FORM)
            self.assertEqual(response.status, 303, response)
        self.assert_ends_soon(stream, time.monotonic(), "stream of a session pushed out by newer ones")

        after = self.subscribe("after-push-out@example.org")
        self.assertNotIn(after, stream.seqs())
        self.assertNotIn("after-push-out@example.org", stream.text())
        self.assertEqual(self.ledger.request("GET", "/api/v1/events/stream", headers={"Cookie": cookie}).status, 401)


class StreamsPerPrincipalTest(ServiceTest):
    roles = {"wall": "viewer", "audit": "auditor"}

    def test_one_token_cannot_take_every_stream_slot(self):
        held = [self.open_stream(bearer(self.tokens["wall"])) for _ in range(STREAMS_PER_PRINCIPAL_MAX)]
        refused = self.ledger.request("GET", "/api/v1/events/stream", headers=bearer(self.tokens["wall"]))
        self.assertEqual(refused.status, 429, refused)
        self.assertEqual(refused.data["error"]["field"], "event_streams_per_principal", refused.data)
        self.assertIn("16", refused.data["error"]["message"])
        self.assertIn("wall", refused.data["error"]["message"])
        # The token's sessions count with its Bearer streams.
        cookie, _ = self.sign_in("wall")
        self.assertEqual(self.ledger.request("GET", "/api/v1/events/stream", headers={"Cookie": cookie}).status, 429)
        # Another reader still gets a stream.
        other = self.open_stream(bearer(self.tokens["audit"]))
        self.assertIsNone(other.closed_at)
        # A stream closed gives its slot back.
        held[0].close()
        deadline = time.monotonic() + 10
        while True:
            stream = EventStream(self.ledger, bearer(self.tokens["wall"]))
            self.addCleanup(stream.close)
            if stream.status() == 200:
                break
            stream.close()
            self.assertLess(time.monotonic(), deadline, "the closed stream's slot never came back")
            time.sleep(0.1)


class SessionFloodTest(ServiceTest):
    roles = {"boss": "admin", "wall": "viewer"}

    def sessions_lines(self):
        with open(os.path.join(self.ledger.data_dir, "sessions")) as handle:
            return handle.read().splitlines()

    def sessions_file(self):
        """(inode, bytes) of the sessions file."""
        path = os.path.join(self.ledger.data_dir, "sessions")
        with open(path, "rb") as handle:
            return os.fstat(handle.fileno()).st_ino, handle.read()

    def test_a_viewer_signing_in_again_and_again_signs_nobody_else_out(self):
        admin_cookie, admin_csrf = self.sign_in("boss")
        line_counts = []
        viewer_cookies = []
        connection = self.ledger.connection()
        self.addCleanup(connection.close)
        body = service.form_encode({"token": self.tokens["wall"], "next": "/"})
        appended = rewritten = 0
        inode, content = self.sessions_file()
        for _ in range(4 * SESSIONS_PER_TOKEN_MAX):
            response = service.send(connection, "POST", "/signin", body, FORM)
            self.assertEqual(response.status, 303, response)
            viewer_cookies.append(response.headers["Set-Cookie"].split(";")[0])
            line_counts.append(len(self.sessions_lines()))
            # A sign-in appends to the same file and leaves what was there
            # alone; only a compaction writes a new file (and renames it in).
            new_inode, new_content = self.sessions_file()
            if new_inode == inode:
                self.assertTrue(new_content.startswith(content) and len(new_content) > len(content),
                                "a sign-in changed the file other than by appending")
                appended += 1
            else:
                self.assertLess(len(new_content.splitlines()), len(content.splitlines()) + 2,
                                "a new file without compacting")
                rewritten += 1
            inode, content = new_inode, new_content
        self.assertGreater(appended, 0.9 * 4 * SESSIONS_PER_TOKEN_MAX, (appended, rewritten))
        self.assertGreater(rewritten, 0, "the sessions file was never compacted")

        # The admin is still signed in, and may still act.
        status, _, data = self.ledger.request("GET", "/api/v1/notifications", headers={"Cookie": admin_cookie})
        self.assertEqual(status, 200, data)
        response = self.ledger.request("POST", "/api/v1/subscriptions", {"email": "ops@example.org", "systems": ["*"]},
                                       {"Cookie": admin_cookie, "X-CSRF-Token": admin_csrf})
        self.assertEqual(response.status, 201, response)
        # The viewer keeps its newest sessions; its oldest ended.
        for cookie in viewer_cookies[-SESSIONS_PER_TOKEN_MAX:][::16]:
            self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers={"Cookie": cookie}).status, 200)
        for cookie in viewer_cookies[:-SESSIONS_PER_TOKEN_MAX][::16]:
            self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers={"Cookie": cookie}).status, 401)

        # One sign-in adds a line (two once the token is full: its oldest ends),
        # and now and then the file is rewritten with the live sessions only.
        growth = [after - before for before, after in zip(line_counts, line_counts[1:])]
        self.assertTrue(all(step in (1, 2) or step < 0 for step in growth), growth)
        self.assertGreater(sum(1 for step in growth if step in (1, 2)), len(growth) * 0.9, growth)
        compactions = [step for step in growth if step < 0]
        self.assertTrue(compactions, "the sessions file was never compacted: %r" % line_counts)
        live = 1 + SESSIONS_PER_TOKEN_MAX
        self.assertLessEqual(max(line_counts), 1 + 4 * live + 64 + 2, line_counts)
        saved = "\n".join(self.sessions_lines())
        for cookie in viewer_cookies + [admin_cookie]:
            self.assertNotIn(cookie.split("=", 1)[1], saved)

    def test_the_file_survives_a_crash_and_a_torn_line(self):
        kept, kept_csrf = self.sign_in("boss")
        left, left_csrf = self.sign_in("boss")
        response = self.ledger.request("POST", "/signout", service.form_encode({"csrf_token": left_csrf}),
                                       dict(FORM, Cookie=left))
        self.assertEqual(response.status, 303, response)
        self.assertEqual([line[0] for line in self.sessions_lines()], ["#", "+", "+", "-"])

        # A crash in the middle of an append leaves half a line.
        self.ledger.process.kill()
        self.ledger.wait()
        with open(os.path.join(self.ledger.data_dir, "sessions"), "a") as handle:
            handle.write("+ 0123456789abcdef")
        self.ledger.start()
        self.assertIn("was cut short", self.ledger.read_log())
        self.assertIn("1 signed-in sessions kept from before the start", self.ledger.read_log())
        response = self.ledger.request("POST", "/api/v1/subscriptions", {"email": "ops@example.org", "systems": ["*"]},
                                       {"Cookie": kept, "X-CSRF-Token": kept_csrf})
        self.assertEqual(response.status, 201, response)
        self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers={"Cookie": left}).status, 401)
        # Rewritten at the start: the live session alone, every line whole.
        lines = self.sessions_lines()
        self.assertEqual([line[0] for line in lines], ["#", "+"], lines)
        with open(os.path.join(self.ledger.data_dir, "sessions"), "rb") as handle:
            self.assertTrue(handle.read().endswith(b"\n"))


class RefusedCredentialsLogTest(ServiceTest):
    roles = {"boss": "admin"}

    def refusal_lines(self):
        return [line for line in self.ledger.read_log().splitlines() if "refused credentials" in line]

    def test_guessing_is_logged_without_flooding_the_log(self):
        # Fewer than LOCKOUT_FAILURES_MAX in all, so that no lockout begins
        # (test_anonymous_access.py has the lockout).
        guesses = ["ilt_guess%04d" % n for n in range(LOCKOUT_FAILURES_MAX - 2)]
        started = time.monotonic()
        connection = self.ledger.connection()
        self.addCleanup(connection.close)
        for guess in guesses[:5]:
            response = service.send(connection, "GET", "/api/v1/incidents", headers=bearer(guess))
            self.assertEqual(response.status, 401)
        for guess in guesses[5:]:
            response = service.send(connection, "POST", "/signin",
                                    service.form_encode({"token": guess, "next": "/"}), FORM)
            self.assertEqual(response.status, 401)
        self.assertLess(time.monotonic() - started, FAILURE_LOG_INTERVAL_SECONDS, "too slow to show the limit")
        lines = self.refusal_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("a Bearer token that is not valid, from 127.0.0.1", lines[0])

        # After the interval, the next refusal says how many were not shown.
        time.sleep(max(0.0, FAILURE_LOG_INTERVAL_SECONDS + 1.0 - (time.monotonic() - started)))
        response = self.ledger.request("POST", "/signin", service.form_encode({"token": "ilt_last", "next": "/"}), FORM)
        self.assertEqual(response.status, 401)
        lines = self.refusal_lines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("a sign-in with a token that is not valid, from 127.0.0.1", lines[1])
        self.assertIn("and %d more from there" % (len(guesses) - 1), lines[1])
        log = self.ledger.read_log()
        for guess in guesses + ["ilt_last"]:
            self.assertNotIn(guess, log)
        # A good token is not a refusal.
        self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers=bearer(self.tokens["boss"])).status,
                         200)
        self.assertEqual(len(self.refusal_lines()), 2)


class HostPrefixedCookieTest(ServiceTest):
    roles = {"boss": "admin"}

    def test_over_https_the_cookie_is_host_prefixed_and_secure(self):
        https = {"X-Forwarded-Proto": "https"}
        response = self.ledger.request("POST", "/signin",
                                       service.form_encode({"token": self.tokens["boss"], "next": "/"}),
                                       dict(FORM, **https))
        self.assertEqual(response.status, 303, response)
        set_cookie = response.headers["Set-Cookie"]
        self.assertTrue(set_cookie.startswith("__Host-ledger_session="), set_cookie)
        attributes = [part.strip() for part in set_cookie.split(";")[1:]]
        for attribute in ("Secure", "Path=/", "HttpOnly", "SameSite=Strict"):
            self.assertIn(attribute, attributes)
        self.assertFalse([part for part in attributes if part.lower().startswith("domain")])
        secure_cookie = set_cookie.split(";")[0]
        value = secure_cookie.split("=", 1)[1]
        self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers=dict(https, Cookie=secure_cookie)).status,
                         200)

        # Over plain HTTP, as before: no prefix, no Secure.
        plain = self.ledger.request("POST", "/signin", service.form_encode({"token": self.tokens["boss"], "next": "/"}),
                                    FORM)
        self.assertTrue(plain.headers["Set-Cookie"].startswith("ledger_session="), plain.headers["Set-Cookie"])
        self.assertNotIn("Secure", plain.headers["Set-Cookie"])
        plain_cookie = plain.headers["Set-Cookie"].split(";")[0]

        # Over HTTPS a plain-named cookie (one a plain-HTTP page or a
        # neighbouring host could plant) is not taken, even when valid.
        planted = self.ledger.request("GET", "/api/v1/incidents", headers=dict(https, Cookie=plain_cookie))
        self.assertEqual(planted.status, 401, planted)
        planted = self.ledger.request("GET", "/api/v1/incidents", headers=dict(https, Cookie="ledger_session=" + value))
        self.assertEqual(planted.status, 401, planted)

        # Signing out over HTTPS clears the prefixed cookie.
        page = self.ledger.request("GET", "/", headers=dict(https, Cookie=secure_cookie)).data
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        out = self.ledger.request("POST", "/signout", service.form_encode({"csrf_token": csrf}),
                                  dict(FORM, Cookie=secure_cookie, **https))
        self.assertEqual(out.status, 303, out)
        self.assertTrue(out.headers["Set-Cookie"].startswith("__Host-ledger_session=;"), out.headers["Set-Cookie"])
        self.assertIn("Secure", out.headers["Set-Cookie"])
        self.assertEqual(self.ledger.request("GET", "/api/v1/incidents", headers=dict(https, Cookie=secure_cookie)).status,
                         401)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
