"""Self-service subscriptions and one-click unsubscribe, end to end: the real
binary mails through a real SMTP server (Debian's python3-aiosmtpd) on a
loopback port, and the test follows the links in the mails it receives.

- subscribe -> confirmation mail -> GET the link (appends nothing) -> POST it
  (SUBSCRIPTION_ADDED, actor self; twice: nothing more) -> an incident on the
  system mails the address, with List-Unsubscribe, List-Unsubscribe-Post and
  the incident's page -> POST the List-Unsubscribe URL (RFC 8058) ->
  SUBSCRIPTION_REMOVED, actor self -> the next incident does not mail it
- the same answer (status and body) for a subscribed and an unknown address
- an altered, wrong-purpose or expired token (made here from the key in the
  data folder, by the format in ingest/subscription_links.h) is refused and
  appends nothing
- hostile input: CRLF in the address refused, HTML in a system kept as text
- limits: at most 3 confirmation mails an hour per address (the same 202
  beyond), 20 requests an hour per client (429 with Retry-After beyond)
- without --public-url: requests answer 503 and mails carry no links; a bad
  --public-url (or LEDGER_PUBLIC_URL) stops the start
- access: the mailed links need no credentials; the form needs a reader

Run: LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_self_service.py
"""

import base64
import hashlib
import hmac
import os
import re
import stat
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import require_binary_or_exit  # noqa: E402
import test_notifications  # noqa: E402  (its SMTP server and helpers)

PUBLIC_URL = "https://status.example.org/ledger"
LINK_DOMAIN = b"incident-ledger subscription link v1\n"
REQUESTS = "/api/v1/subscriptions/requests"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def local_path(url):
    """The path and query of a link that starts with PUBLIC_URL."""
    assert url.startswith(PUBLIC_URL + "/"), url
    return url[len(PUBLIC_URL):]


class SelfServiceTestCase(test_notifications.NotificationTestCase):

    def start(self, public_url=PUBLIC_URL):
        smtp = self.start_smtp()
        extra = test_notifications.smtp_args(smtp)
        if public_url:
            extra += ["--public-url", public_url + "/"]  # the trailing "/" is dropped
        ledger = self.start_service(extra_args=extra)
        return smtp, ledger

    def ask(self, ledger, body, headers=None):
        return ledger.request("POST", REQUESTS, body, headers)

    def mails_to(self, smtp, address, subject_part=None):
        found = []
        for recipients, message in smtp.mailbox.snapshot():
            if address in recipients and (subject_part is None or subject_part in str(message["Subject"])):
                found.append(message)
        return found

    def wait_mails(self, smtp, address, count, subject_part=None):
        return self.wait_until("%d mails to %s" % (count, address),
                               lambda: (lambda got: got if len(got) >= count else None)(
                                   self.mails_to(smtp, address, subject_part)))

    def confirm_link(self, message):
        body = message.get_content()
        match = re.search(re.escape(PUBLIC_URL) + r"(/subscribe/confirm\?token=[A-Za-z0-9_.\-]+)", body)
        self.assertIsNotNone(match, body)
        return match.group(1)

    def key(self, ledger):
        path = os.path.join(ledger.data_dir, "subscription-link-key")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as file:
            return bytes.fromhex(file.read().strip())

    def token(self, key, purpose, address, expires, systems):
        payload = ("%s\n%s\n%d\n" % (purpose, address, expires) + "".join(s + "\n" for s in systems)).encode()
        tag = hmac.new(key, LINK_DOMAIN + payload, hashlib.sha256).digest()
        return b64url(payload) + "." + b64url(tag)


class SubscribeConfirmUnsubscribe(SelfServiceTestCase):

    def test_whole_round(self):
        smtp, ledger = self.start()
        # An admin's subscriber too, so that the test knows when an
        # incident's mails have all gone out.
        self.subscribe(ledger, "carol@example.org", ["mail"])

        asked = self.ask(ledger, {"email": "  Ana@Example.ORG ", "systems": ["Mail"]})
        self.assertStatus(asked, 202, "request")
        self.assertEqual(asked.data["status"], "accepted")
        head_before = ledger.head_seq()

        confirmation = self.wait_mails(smtp, "ana@example.org", 1, "Confirm")[0]
        self.assertEqual(confirmation["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertTrue(str(confirmation["List-Unsubscribe"]).strip().startswith("<" + PUBLIC_URL + "/unsubscribe?token="),
                        confirmation["List-Unsubscribe"])
        self.assertIn("mail", confirmation.get_content())
        link = self.confirm_link(confirmation)

        # GET (what a mail scanner does) shows a button and appends nothing.
        status, headers, page = ledger.get(link)
        self.assertEqual(status, 200, page)
        self.assertIn("Confirm subscription", page)
        self.assertIn('method="post"', page)
        self.assertIn("ana@example.org", page)
        self.assertIn("default-src 'none'", headers["Content-Security-Policy"])
        self.assertEqual(ledger.head_seq(), head_before)

        confirmed = ledger.request("POST", link)
        self.assertStatus(confirmed, 200, "confirm")
        self.assertIn("Subscribed", confirmed.data)
        added = [e for e in ledger.all_events() if e["seq"] > head_before]
        self.assertEqual(len(added), 1, added)
        self.assertEqual(added[0]["type"], "SUBSCRIPTION_ADDED")
        self.assertEqual(added[0]["actor"], "self")
        self.assertEqual(added[0]["payload"], {"email": "ana@example.org", "systems": ["mail"]})
        again = ledger.request("POST", link)
        self.assertStatus(again, 200, "confirm again")
        self.assertIn("Already subscribed", again.data)
        self.assertEqual(ledger.head_seq(), added[0]["seq"], "confirming twice appends nothing")

        # The same answer for a subscribed address and an unknown one.
        known = self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]})
        unknown = self.ask(ledger, {"email": "nobody@example.org", "systems": ["mail"]})
        self.assertEqual((known.status, known.raw), (unknown.status, unknown.raw))
        self.assertEqual((known.status, known.raw), (asked.status, asked.raw))

        opened = self.submit(ledger, {"action": "create", "title": "Mail down", "systems": ["mail"],
                                      "engineer": "Eve"})
        self.wait_all_sent(ledger, 2)
        notice = [m for m in self.mails_to(smtp, "ana@example.org") if m["X-Ledger-Seq"] == str(opened["seq"])]
        self.assertEqual(len(notice), 1)
        notice = notice[0]
        self.assertEqual(notice["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        unsubscribe = str(notice["List-Unsubscribe"]).strip()
        self.assertTrue(unsubscribe.startswith("<") and unsubscribe.endswith(">"), unsubscribe)
        unsubscribe = unsubscribe[1:-1]
        body = notice.get_content()
        self.assertIn(PUBLIC_URL + "/incidents/" + opened["ticket"], body)
        self.assertIn(unsubscribe, body)
        # The incident page the mail links to is there.
        status, _, page = ledger.get(local_path(PUBLIC_URL + "/incidents/" + opened["ticket"]))
        self.assertEqual(status, 200)

        # GET the unsubscribe link: a button, nothing appended.
        head_before = ledger.head_seq()
        status, _, page = ledger.get(local_path(unsubscribe))
        self.assertEqual(status, 200, page)
        self.assertIn("Unsubscribe", page)
        self.assertEqual(ledger.head_seq(), head_before)
        # RFC 8058: a POST with List-Unsubscribe=One-Click, from a mail
        # provider (no cookie, no Origin).
        one_click = ledger.request("POST", local_path(unsubscribe), "List-Unsubscribe=One-Click",
                                   {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertStatus(one_click, 200, "one-click unsubscribe")
        removed = [e for e in ledger.all_events() if e["seq"] > head_before]
        self.assertEqual([(e["type"], e["actor"]) for e in removed], [("SUBSCRIPTION_REMOVED", "self")])
        self.assertEqual(removed[0]["payload"]["email"], "ana@example.org")
        twice = ledger.request("POST", local_path(unsubscribe), "List-Unsubscribe=One-Click",
                               {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertStatus(twice, 200, "unsubscribe again")
        self.assertEqual(ledger.head_seq(), removed[0]["seq"], "unsubscribing twice appends nothing")

        second = self.submit(ledger, {"action": "create", "title": "Mail down again", "systems": ["mail"],
                                      "engineer": "Eve"})
        self.wait_all_sent(ledger, 3)
        self.assertEqual([m for m in self.mails_to(smtp, "ana@example.org") if m["X-Ledger-Seq"] == str(second["seq"])],
                         [])
        self.assertEqual(len([m for m in self.mails_to(smtp, "carol@example.org")
                              if m["X-Ledger-Seq"] == str(second["seq"])]), 1)

    def test_form_body_and_page(self):
        smtp, ledger = self.start()
        status, headers, page = ledger.get("/subscribe")
        self.assertEqual(status, 200)
        self.assertIn('id="subscribe-form"', page)
        self.assertIn("/static/subscribe.js", page)
        answer = ledger.request("POST", REQUESTS, service.form_encode({"email": "dan@example.org",
                                                                       "systems": "vpn, dns"}),
                                {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertStatus(answer, 202, "form request")
        self.assertIn("confirmation link", answer.data)
        refused = ledger.request("POST", REQUESTS, service.form_encode({"email": "dan@localhost", "systems": "vpn"}),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(refused.status, 400)
        self.assertIn("two labels", refused.data)
        self.assertIn("text/html", refused.headers["Content-Type"])
        mail = self.wait_mails(smtp, "dan@example.org", 1, "Confirm")[0]
        confirmed = ledger.request("POST", self.confirm_link(mail))
        self.assertStatus(confirmed, 200, "confirm")
        status, _, data = ledger.get("/api/v1/subscriptions?email=dan@example.org")
        self.assertEqual(data["subscriptions"], [{"email": "dan@example.org", "systems": ["dns", "vpn"]}])


class RefusedLinks(SelfServiceTestCase):

    def test_altered_wrong_purpose_expired_and_missing_tokens_append_nothing(self):
        smtp, ledger = self.start()
        self.assertStatus(self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]}), 202)
        link = self.confirm_link(self.wait_mails(smtp, "ana@example.org", 1, "Confirm")[0])
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
        head = ledger.head_seq()

        payload, tag = token.split(".")
        # Another address in the payload, the tag left as it was.
        forged_payload = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(
            b"ana@example.org", b"eve@example.org")
        altered = [b64url(forged_payload) + "." + tag,
                   token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
                   token + "x", token.replace(".", ""), "", "%%%"]
        for bad in altered:
            for method in ("GET", "POST"):
                answer = ledger.request(method, "/subscribe/confirm?token=" + urllib.parse.quote(bad, safe=""))
                self.assertEqual(answer.status, 400, "%s %r: %r" % (method, bad, answer))
                self.assertIn("cannot be used", answer.data)
        self.assertEqual(ledger.request("POST", "/subscribe/confirm").status, 400)
        self.assertEqual(ledger.request("POST", "/unsubscribe").status, 400)

        key = self.key(ledger)
        # The format (ingest/subscription_links.h) made here: accepted...
        valid = self.token(key, "confirm", "fay@example.org", int(time.time()) + 3600, ["dns"])
        self.assertEqual(ledger.get("/subscribe/confirm?token=" + valid).status, 200)
        # ...but expired: 410; an unsubscribe token used to confirm: 400.
        expired = self.token(key, "confirm", "fay@example.org", int(time.time()) - 1, ["dns"])
        for method in ("GET", "POST"):
            answer = ledger.request(method, "/subscribe/confirm?token=" + expired)
            self.assertEqual(answer.status, 410, answer)
            self.assertIn("expired", answer.data)
        unsubscribe = self.token(key, "unsubscribe", "fay@example.org", 0, ["*"])
        self.assertEqual(ledger.request("POST", "/subscribe/confirm?token=" + unsubscribe).status, 400)
        self.assertEqual(ledger.request("POST", "/unsubscribe?token=" + valid).status, 400)
        # Another key's token.
        other = self.token(bytes(32), "unsubscribe", "ana@example.org", 0, ["*"])
        self.assertEqual(ledger.request("POST", "/unsubscribe?token=" + other).status, 400)
        self.assertEqual(ledger.head_seq(), head, "refused links append nothing")


class HostileInput(SelfServiceTestCase):

    def test_header_injection_refused_html_kept_as_text(self):
        smtp, ledger = self.start()
        for address in ["ana@example.org\r\nBcc: victim@example.org", "Ana <ana@example.org>",
                        "ana@example.org\nSubject: x", "", "x" * 300 + "@example.org", "ana@localhost"]:
            answer = self.ask(ledger, {"email": address, "systems": ["mail"]})
            self.assertError(answer, 400, "invalid_argument", "email", repr(address))
        for systems, field in [([], "systems"), (["a\r\nb"], "systems"), ([""], "systems"),
                               (["s%d" % i for i in range(21)], "systems"), ("mail", None)]:
            answer = self.ask(ledger, {"email": "ana@example.org", "systems": systems})
            if field is None:
                self.assertStatus(answer, 202, "systems as a comma-separated string")
            else:
                self.assertError(answer, 400, "invalid_argument", field, repr(systems))
        self.assertError(self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"], "actor": "admin"}),
                         400, "invalid_argument", "actor")
        self.assertError(self.ask(ledger, "not json", {"Content-Type": "application/json"}), 400, "invalid_argument", "")
        self.assertEqual(self.ask(ledger, "email=a", {"Content-Type": "text/plain"}).status, 415)

        hostile = '<script>alert(1)</script>"><img src=x>'
        self.assertStatus(self.ask(ledger, {"email": "bob@example.org", "systems": [hostile]}), 202)
        mail = self.wait_mails(smtp, "bob@example.org", 1, "Confirm")[0]
        self.assertIn(hostile.lower(), mail.get_content())  # plain text: kept as typed (folded)
        self.assertEqual(mail["Bcc"], None)
        status, _, page = ledger.get(self.confirm_link(mail))
        self.assertEqual(status, 200)
        self.assertNotIn("<script>alert", page)
        self.assertNotIn("<img src=x>", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        # Nothing was ever recorded for bob or the refused addresses.
        self.assertEqual([e for e in ledger.all_events() if e["type"].startswith("SUBSCRIPTION")], [])


class Limits(SelfServiceTestCase):

    def test_per_address_mails_and_per_client_requests(self):
        smtp, ledger = self.start()
        answers = [self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]}) for _ in range(4)]
        self.assertEqual({(a.status, a.raw) for a in answers}, {(answers[0].status, answers[0].raw)})
        self.assertEqual(answers[0].status, 202)
        # One sender sends in order: once the marker's mail is in, so are ana's.
        self.assertStatus(self.ask(ledger, {"email": "marker@example.org", "systems": ["mail"]}), 202)
        self.wait_mails(smtp, "marker@example.org", 1)
        self.assertEqual(len(self.mails_to(smtp, "ana@example.org")), 3)

        # 5 so far from this client; 15 more pass, the 21st is refused.
        for i in range(15):
            self.assertStatus(self.ask(ledger, {"email": "u%d@example.org" % i, "systems": ["mail"]}), 202)
        refused = self.ask(ledger, {"email": "late@example.org", "systems": ["mail"]})
        self.assertError(refused, 429, "unavailable", "rate_limit")
        self.assertGreater(int(refused.headers["Retry-After"]), 0)


class Access(SelfServiceTestCase):

    def test_links_need_no_credentials_the_form_needs_a_reader(self):
        smtp = self.start_smtp()
        folder = self.enterContext(__import__("tempfile").TemporaryDirectory(prefix="ledger-self-"))
        auth_file = os.path.join(folder, "auth.txt")
        admin = service.add_token(auth_file, "admin", "admin")
        base = test_notifications.smtp_args(smtp) + ["--public-url", PUBLIC_URL, "--auth-file", auth_file]
        ledger = self.start_service(extra_args=base)
        # Without --anonymous: the form and its route need a reader...
        self.assertEqual(ledger.get("/subscribe").status, 401)
        self.assertEqual(self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]}).status, 401)
        # ...the mailed links do not: their token is the credential.
        self.subscribe_as(ledger, admin, "ana@example.org", ["mail"])
        key = self.key(ledger)
        unsubscribe = self.token(key, "unsubscribe", "ana@example.org", 0, ["*"])
        self.assertEqual(ledger.get("/unsubscribe?token=" + unsubscribe).status, 200)
        self.assertStatus(ledger.request("POST", "/unsubscribe?token=" + unsubscribe, "List-Unsubscribe=One-Click",
                                         {"Content-Type": "application/x-www-form-urlencoded"}), 200)
        status, _, data = ledger.get("/api/v1/subscriptions?email=ana@example.org", service.bearer(admin))
        self.assertEqual(data["subscriptions"], [])
        ledger.stop()

        # With --anonymous viewer, anyone who may read asks for a link.
        ledger = self.start_service(data_dir=ledger.data_dir, extra_args=base + ["--anonymous", "viewer"])
        self.assertEqual(ledger.get("/subscribe").status, 200)
        self.assertStatus(self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]}), 202)
        link = self.confirm_link(self.wait_mails(smtp, "ana@example.org", 1, "Confirm")[0])
        self.assertStatus(ledger.request("POST", link), 200, "confirm")
        # A page of another site may not post for a reader's browser.
        cross = self.ask(ledger, {"email": "bob@example.org", "systems": ["mail"]},
                         {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"})
        self.assertEqual(cross.status, 403)

    def subscribe_as(self, ledger, token, address, systems):
        answer = ledger.request("POST", "/api/v1/subscriptions", {"email": address, "systems": systems},
                                service.bearer(token))
        self.assertStatus(answer, 201, "subscribe %s" % address)


class WithoutPublicUrl(SelfServiceTestCase):

    def test_no_links_no_self_service(self):
        smtp, ledger = self.start(public_url=None)
        self.assertError(self.ask(ledger, {"email": "ana@example.org", "systems": ["mail"]}), 503, "unavailable", "")
        status, _, page = ledger.get("/subscribe")
        self.assertEqual(status, 200)
        self.assertIn("--public-url", page)
        self.assertNotIn('id="subscribe-form"', page)
        self.subscribe(ledger, "carol@example.org", ["mail"])
        self.submit(ledger, {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "Eve"})
        self.wait_all_sent(ledger, 1)
        mail = self.mails_to(smtp, "carol@example.org")[0]
        self.assertIsNone(mail["List-Unsubscribe"])
        self.assertNotIn("/incidents/", mail.get_content())

    def test_public_url_is_checked(self):
        for bad in ["ftp://x.example.org", "https://", "https://x.example.org/?a=1", "https://u:p@x.example.org",
                    "https://x.example.org/#f", "https://x.example.org:99999", "x.example.org", "https://a b"]:
            with self.subTest(url=bad):
                ledger = service.Service(extra_args=["--public-url", bad])
                try:
                    with self.assertRaises(Exception):
                        ledger.start()
                    self.assertIn("--public-url", ledger.read_log())
                finally:
                    ledger.close()
        # LEDGER_PUBLIC_URL, as every option's variable: checked the same way.
        os.environ["LEDGER_PUBLIC_URL"] = "ftp://x.example.org"
        try:
            ledger = service.Service()
            try:
                with self.assertRaises(Exception):
                    ledger.start()
                self.assertIn("--public-url must be", ledger.read_log())
            finally:
                ledger.close()
        finally:
            del os.environ["LEDGER_PUBLIC_URL"]


if __name__ == "__main__":
    require_binary_or_exit()
    unittest.main()
