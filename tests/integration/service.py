"""Helpers for the integration tests: start the real incident-ledger binary and
talk HTTP to it over loopback.

The binary is named by the environment variable LEDGER_BINARY (ctest sets it,
see tests/CMakeLists.txt). Everything here is Python 3 standard library, except
python3-jsonschema: every JSON answer a test receives through send() is
validated against the service's own OpenAPI document (GET
/api/v1/openapi.json, fetched once per service start) for its path, method
and status; a mismatch fails the test naming them and the validation error.
"""

import base64
import datetime
import gzip
import hashlib
import http.client
import importlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

def require_modules(modules, packages):
    """Imports `modules` (names); when one is missing, runs the test again
    under the system interpreter, which has Debian's packages (ctest runs
    `python3` from PATH, which may be another one), and when that is the one
    running, stops naming the Debian `packages` to install."""
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError:
        system_python = "/usr/bin/python3"
        if os.path.exists(system_python) and os.path.realpath(sys.executable) != os.path.realpath(system_python) \
                and not os.environ.get("LEDGER_REEXECUTED"):
            os.environ["LEDGER_REEXECUTED"] = "1"
            os.execv(system_python, [system_python] + sys.argv)
        sys.stderr.write("error: install %s (scripts/install-deps --test)\n" % " and ".join(packages))
        sys.exit(2)


# Every JSON answer is checked against the service's OpenAPI document.
require_modules(["jsonschema"], ["python3-jsonschema"])
import jsonschema  # noqa: E402

ZERO_HASH = "0" * 64
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 60

EVENT_TYPES = {
    1: "INCIDENT_OPENED",
    2: "INCIDENT_UPDATED",
    3: "INCIDENT_CLOSED",
    4: "INCIDENT_REOPENED",
    5: "SUBSCRIPTION_ADDED",
    6: "SUBSCRIPTION_REMOVED",
    7: "NOTIFICATION_DELIVERED",
    8: "NOTIFICATION_FAILED",
    9: "NOTIFICATION_RETRY_REQUESTED",
    20: "REVIEW_DRAFTED",
    21: "REVIEW_PUBLISHED",
    22: "ACTION_ITEM_ADDED",
    23: "ACTION_ITEM_UPDATED",
    24: "ACTION_ITEM_OVERDUE",
    14: "MAINTENANCE_SCHEDULED",
    15: "MAINTENANCE_UPDATED",
    16: "MAINTENANCE_STARTED",
    17: "MAINTENANCE_ENDED",
    18: "MAINTENANCE_CANCELLED",
    19: "SHEET_ROW_REFUSED",
    10: "SYSTEM_DEFINED",
    11: "SYSTEM_UPDATED",
    12: "SYSTEM_ALIASED",
    13: "SYSTEM_RETIRED",
    25: "NOTIFICATION_RECEIPTS",
}


def receipts(events, kind=None):
    """Every delivery receipt in `events` (API or export JSON), batches opened
    up: one dict per receipt with the type it stands for (NOTIFICATION_DELIVERED
    or NOTIFICATION_FAILED), the seq and recorded_at of the event holding it,
    its payload and whether it came in a NOTIFICATION_RECEIPTS batch. `kind`
    keeps only that type."""
    found = []
    for event in events:
        if event["type"] in ("NOTIFICATION_DELIVERED", "NOTIFICATION_FAILED"):
            found.append({"type": event["type"], "seq": event["seq"], "recorded_at": event["recorded_at"],
                          "payload": event["payload"], "batch": False})
        elif event["type"] == "NOTIFICATION_RECEIPTS":
            if "record" in event:
                _check_batch_record(event)
            for name, type_ in (("delivered", "NOTIFICATION_DELIVERED"), ("failed", "NOTIFICATION_FAILED")):
                for payload in event["payload"][name]:
                    found.append({"type": type_, "seq": event["seq"], "recorded_at": event["recorded_at"],
                                  "payload": payload, "batch": True})
    return [r for r in found if kind is None or r["type"] == kind]


def ledger_binary():
    """The binary under test, from LEDGER_BINARY; fails clearly if unset."""
    binary = os.environ.get("LEDGER_BINARY")
    if not binary:
        raise RuntimeError(
            "LEDGER_BINARY is not set: point it at the incident-ledger binary, e.g. "
            "LEDGER_BINARY=build/debug/app/incident-ledger python3 tests/integration/test_http_contract.py "
            "(ctest sets it)")
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise RuntimeError("LEDGER_BINARY=%r is not an executable file" % binary)
    return binary


def require_binary_or_exit():
    """For `python3 test_x.py`: stop at once, with the reason, when LEDGER_BINARY is missing."""
    try:
        ledger_binary()
    except RuntimeError as error:
        sys.stderr.write("error: %s\n" % error)
        sys.exit(2)


class Response:
    """An HTTP answer: unpacks as (status, headers, data).

    `data` is the parsed JSON when the answer says it is JSON and parses,
    otherwise the body as text. `raw` is the body's bytes; `json_error` says
    why a JSON answer did not parse (None when it did).
    """

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json_error = None
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.content_type = content_type
        if content_type == "application/json":
            try:
                self.data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                self.json_error = "%s: %s" % (type(error).__name__, error)
                self.data = raw.decode("utf-8", errors="replace")
        else:
            self.data = raw.decode("utf-8", errors="replace")

    def __iter__(self):
        return iter((self.status, self.headers, self.data))

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.raw[:2000])


def encode_body(body, headers):
    """Turns a request body into bytes; a dict or list is sent as JSON."""
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def form_encode(fields):
    """application/x-www-form-urlencoded; a list value (systems) is comma-joined."""
    pairs = []
    for name, value in fields.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        pairs.append((name, str(value)))
    return urllib.parse.urlencode(pairs)


def send(connection, method, path, body=None, headers=None):
    """One request on an open http.client connection; returns a Response.

    A JSON answer is checked against the OpenAPI document of the service on
    the connection's port (see check_answer): a mismatch raises AssertionError."""
    headers = dict(headers or {})
    payload = encode_body(body, headers)
    connection.request(method, path, body=payload, headers=headers)
    answer = connection.getresponse()
    raw = answer.read()
    response = Response(answer.status, answer.headers, raw)
    document = _documents.get((connection.host, connection.port))
    if document is not None:
        problem = document.check(method, path, response)
        if problem:
            raise AssertionError("%s %s answered %d, which the OpenAPI document does not allow: %s\nthe answer: %r"
                                 % (method, path, response.status, problem, response.raw[:2000]))
    return response


# -- the OpenAPI document: every JSON answer checked against it ---------------

OPENAPI_PATH = "/api/v1/openapi.json"

# (host, port) of a running service -> its OpenApi, while it runs.
_documents = {}
# The binary -> its document, for services whose document needs credentials.
_documents_by_binary = {}
_documents_lock = threading.Lock()


def _pattern_matches(pattern, path):
    """The router's matching (http/router.h): "*" one segment, a final "**" the rest."""
    if pattern == path:
        return True
    if not pattern.startswith("/") or not path.startswith("/"):
        return False
    want = pattern[1:].split("/")
    have = path[1:].split("/")
    for index, segment in enumerate(want):
        if segment == "**":
            return index == len(want) - 1 and index < len(have)
        if index >= len(have):
            return False
        if segment != "*" and segment != have[index]:
            return False
    return len(have) == len(want)


def _media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


class OpenApi:
    """The service's OpenAPI 3.1 document, and the check of one answer against it."""

    def __init__(self, document):
        self.document = document
        items = [(item["x-route-pattern"], item) for item in document["paths"].values()]
        # As the router matches: literal patterns first, then the others in order.
        self._items = ([entry for entry in items if "*" not in entry[0]]
                       + [entry for entry in items if "*" in entry[0]])
        self._validators = {}
        self._lock = threading.Lock()

    def operation(self, method, path):
        """The path item's operation for `method` (HEAD: GET), or None; and whether a path matched."""
        for pattern, item in self._items:
            if _pattern_matches(pattern, path):
                return item.get("get" if method == "HEAD" else method.lower()), True
        return None, False

    def _validator(self, key, schema):
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                # The schema as the root, the document's components beside it:
                # "#/components/schemas/X" resolves within it.
                root = dict(schema)
                root["components"] = self.document["components"]
                validator = jsonschema.Draft202012Validator(root)
                self._validators[key] = validator
            return validator

    def schema_for(self, method, path, status, media_type):
        """(schema, key) for a JSON answer, or (None, reason it is not allowed)."""
        path = path.split("?", 1)[0]
        if path.lower().startswith(("http://", "https://")):
            # An absolute-form target: the router sees its path.
            rest = path.split("://", 1)[1]
            path = rest[rest.find("/"):] if "/" in rest else "/"
        operation, matched = self.operation(method, path)
        if operation is None:
            # No route (404), or a method the path does not take (405, or a
            # refusal before the method check): the shared error.
            return {"$ref": "#/components/schemas/Error"}, ("error",)
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        response = responses.get(key)
        if response is None:
            return None, "the operation %s lists no answer %d and no default" % (operation.get("operationId"), status)
        if "$ref" in response:
            response = self.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        for listed, media in response.get("content", {}).items():
            if _media_type(listed) == media_type:
                schema = media.get("schema")
                if schema is None:
                    return None, "the answer %s of %s has no schema for %s" % (key, operation.get("operationId"),
                                                                              media_type)
                return schema, (operation.get("operationId"), key, media_type)
        return None, ("the answer %s of %s lists no %s content (it lists %s)"
                      % (key, operation.get("operationId"), media_type,
                         ", ".join(response.get("content", {})) or "none"))

    def check(self, method, path, response):
        """None when `response` (a Response) agrees with the document; else what is wrong.
        Only JSON answers are checked (HEAD and 304 carry no body)."""
        if response.content_type != "application/json" or method == "HEAD" or not response.raw:
            return None
        data = response.data
        if response.json_error is not None:
            if (response.headers.get("Content-Encoding") or "").lower() != "gzip":
                return "the body is not JSON: %s" % response.json_error
            try:
                data = json.loads(gzip.decompress(response.raw).decode("utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as error:
                return "the gzip body is not JSON: %s" % error
        schema, key = self.schema_for(method, path, response.status, "application/json")
        if schema is None:
            return key
        errors = list(self._validator(key, schema).iter_errors(data))
        if not errors:
            return None
        # A member that failed its schema is also "unevaluated" to the
        # object around it: name the failure itself first.
        errors = [error for error in errors if error.validator != "unevaluatedProperties"] or errors
        error = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(part) for part in error.absolute_path) or "(the top)"
        return "at %s: %s (schema %s)" % (where, error.message,
                                          "/".join(str(part) for part in error.absolute_schema_path))


def fetch_openapi(service):
    """The document of a running service: GET /api/v1/openapi.json, or, when that
    needs credentials the test holds, the document of the same binary served by
    an open service (started and stopped here). The table is compiled in."""
    connection = http.client.HTTPConnection(service.host, service.port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request("GET", OPENAPI_PATH)
        answer = connection.getresponse()
        raw = answer.read()
    finally:
        connection.close()
    binary = ledger_binary()
    if answer.status == 200:
        document = OpenApi(json.loads(raw.decode("utf-8")))
        with _documents_lock:
            _documents_by_binary[binary] = document
        return document
    if answer.status not in (401, 403):
        raise AssertionError("GET %s answered %d: %r" % (OPENAPI_PATH, answer.status, raw[:2000]))
    with _documents_lock:
        known = _documents_by_binary.get(binary)
    if known is not None:
        return known
    with Service() as open_service:
        return open_service.openapi


class Service:
    """The incident-ledger binary, serving on a free loopback port.

    With no data_dir it serves a fresh temporary folder, removed on close().
    Use as a context manager, or call start() and register close() with
    addCleanup. Its stderr goes to a file and is kept as `log` after stop().
    """

    def __init__(self, data_dir=None, threads=None, extra_args=()):
        self._owned_dir = tempfile.TemporaryDirectory(prefix="ledger-it-")
        self.data_dir = data_dir or os.path.join(self._owned_dir.name, "data")
        self.threads = threads
        self.extra_args = list(extra_args)
        self.stderr_path = os.path.join(self._owned_dir.name, "stderr.log")
        self.process = None
        self.url = None
        self.host = None
        self.port = None
        self.returncode = None
        self.openapi = None  # the service's OpenApi, once started
        self.log = ""
        self._stderr_file = None
        self._stdout_lines = queue.Queue()
        self._stdout_thread = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        binary = ledger_binary()
        command = [binary, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0"]
        if self.threads:
            command += ["--threads", str(self.threads)]
        command += self.extra_args
        self._stderr_file = open(self.stderr_path, "ab")
        self.returncode = None
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self._stderr_file)
        self._stdout_lines = queue.Queue()
        self._stdout_thread = threading.Thread(target=self._drain_stdout, args=(self.process.stdout,),
                                               daemon=True)
        self._stdout_thread.start()
        try:
            line = self._stdout_lines.get(timeout=START_TIMEOUT_SECONDS)
        except queue.Empty:
            self._kill()
            raise RuntimeError("incident-ledger printed no 'listening on' line within %ds; stderr:\n%s"
                               % (START_TIMEOUT_SECONDS, self.read_log()))
        prefix = "listening on http://"
        if line is None or not line.startswith(prefix):
            self._kill()
            raise RuntimeError("incident-ledger did not start (first stdout line %r, exit %r); stderr:\n%s"
                               % (line, self.process.returncode, self.read_log()))
        self.url = line[len("listening on "):].strip()
        host_port = self.url[len("http://"):]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        try:
            self.openapi = fetch_openapi(self)
        except BaseException:
            self._kill()
            raise
        _documents[(self.host, self.port)] = self.openapi
        return self

    def _drain_stdout(self, stream):
        first = True
        for raw in iter(stream.readline, b""):
            if first:
                self._stdout_lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
                first = False
        if first:
            self._stdout_lines.put(None)
        stream.close()

    def stop(self, timeout=STOP_TIMEOUT_SECONDS):
        """SIGTERM, wait (SIGKILL after `timeout`); returns the exit code."""
        if self.process is None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write("incident-ledger did not stop within %ds of SIGTERM; killing it\n" % timeout)
                self._kill()
        return self._finish()

    def signal(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)

    def wait(self, timeout=STOP_TIMEOUT_SECONDS):
        """Waits for the process to exit by itself; returns the exit code."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            sys.stderr.write("incident-ledger did not exit within %ds; killing it\n" % timeout)
            self._kill()
        return self._finish()

    def _kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._finish()

    def _finish(self):
        if self.openapi is not None and _documents.get((self.host, self.port)) is self.openapi:
            del _documents[(self.host, self.port)]
        process = self.process
        self.returncode = process.returncode
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=10)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        self.log = self.read_log()
        self.process = None
        if self.returncode != 0 or sanitizer_report(self.log):
            sys.stderr.write("\n--- incident-ledger (%s) exited %s; its stderr:\n%s\n---\n"
                             % (self.data_dir, self.returncode, self.log[-20000:]))
        return self.returncode

    def restart(self):
        """Stops (SIGTERM) and starts again on the same data folder; returns the exit code of the stop."""
        code = self.stop()
        self.start()
        return code

    def close(self):
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            self._owned_dir.cleanup()

    def read_log(self):
        try:
            with open(self.stderr_path, "rb") as handle:
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, value, traceback):
        if kind is not None and self.process is not None:
            sys.stderr.write("\n--- incident-ledger stderr so far:\n%s\n---\n" % self.read_log()[-20000:])
        self.close()
        return False

    # -- HTTP --------------------------------------------------------------

    def connection(self, timeout=REQUEST_TIMEOUT_SECONDS):
        """A new persistent (keep-alive) connection to the service."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT_SECONDS):
        """One request on a fresh connection: returns Response, which unpacks as (status, headers, data)."""
        connection = self.connection(timeout)
        try:
            return send(connection, method, path, body, headers)
        finally:
            connection.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def submit(self, fields, form=False, headers=None):
        """POST /api/v1/submissions with `fields` as JSON (default) or as a form."""
        headers = dict(headers or {})
        if form:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return self.request("POST", "/api/v1/submissions", form_encode(fields), headers)
        return self.request("POST", "/api/v1/submissions", fields, headers)

    def head_seq(self):
        status, _, data = self.get("/healthz")
        if status != 200:
            raise AssertionError("/healthz answered %d: %r" % (status, data))
        return data["head_seq"]

    def events(self, after=0, limit=None):
        path = "/api/v1/events?after=%d" % after
        if limit is not None:
            path += "&limit=%d" % limit
        status, _, data = self.get(path)
        if status != 200:
            raise AssertionError("GET %s answered %d: %r" % (path, status, data))
        return data

    def all_events(self, page=1000):
        """The whole log, paging with after/limit until next_after is null."""
        events = []
        after = 0
        while True:
            data = self.events(after, page)
            events.extend(data["events"])
            if data["next_after"] is None:
                return events
            if data["next_after"] != events[-1]["seq"]:
                raise AssertionError("next_after %r is not the last seq of the page (%r)"
                                     % (data["next_after"], events[-1]["seq"]))
            after = data["next_after"]


def exchange(ledger, raw, timeout=30):
    """Sends `raw` on a new connection (raw bytes, for requests a client library
    would not send); returns (status, headers text, body bytes) of the first answer."""
    with socket.create_connection((ledger.host, ledger.port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1."):
            raise AssertionError("no HTTP answer to %r: %r" % (raw[:200], data[:300]))
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        status = int(head.split(b" ", 2)[1])
        body = body[:length]
        _check_raw_answer(ledger, raw, status, head, body)
        return status, head.decode("latin-1"), body


def _check_raw_answer(ledger, raw, status, head, body):
    """exchange()'s answer checked against the document, as send() checks its answers."""
    document = _documents.get((ledger.host, ledger.port))
    request_line = raw.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if document is None or len(request_line) != 3:
        return
    method, target = request_line[0], request_line[1]
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().title()] = value.strip()
    problem = document.check(method, target, Response(status, headers, body))
    if problem:
        raise AssertionError("%s %s answered %d, which the OpenAPI document does not allow: %s\nthe answer: %r"
                             % (method, target, status, problem, body[:2000]))


def add_token(auth_file, name, roles):
    """Adds a token to `auth_file` with the real binary's add-token; returns the token."""
    done = subprocess.run([ledger_binary(), "add-token", "--auth-file", auth_file, "--name", name, "--roles", roles],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError("add-token failed: %s" % done.stderr)
    return done.stdout.strip()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def sanitizer_report(log):
    return "AddressSanitizer" in log or "runtime error:" in log or "LeakSanitizer" in log


# -- the stored record, read without the service's help ----------------------

def _varint(data, position):
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode_protobuf(data):
    """Minimal protobuf wire-format reader: {field number: [values]}; length-delimited values as bytes."""
    fields = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ValueError("truncated length-delimited field %d" % number)
            value = data[position:position + length]
            position += length
        elif wire_type == 1:
            value = data[position:position + 8]
            position += 8
        elif wire_type == 5:
            value = data[position:position + 4]
            position += 4
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
        fields.setdefault(number, []).append(value)
    return fields


def decode_record(record):
    """The envelope fields of a stored Event record (proto/event.proto)."""
    fields = decode_protobuf(record)

    def scalar(number, default):
        values = fields.get(number)
        return values[-1] if values else default

    return {
        "seq": scalar(1, 0),
        "recorded_at_micros": scalar(2, 0),
        "submission_id": scalar(3, b"").decode("utf-8"),
        "actor": scalar(4, b"").decode("utf-8"),
        "ticket": scalar(5, b"").decode("utf-8"),
        "type": EVENT_TYPES.get(scalar(6, 0), "UNKNOWN"),
        "version": scalar(7, 0),
        "request_digest": scalar(8, b"").hex(),
        "incident": scalar(10, None),
        "maintenance": scalar(16, None),
    }


def _check_batch_record(event):
    """The jobs a NOTIFICATION_RECEIPTS event's JSON lists are those of its
    hashed record (field 24: NotificationReceipts; its fields 1 delivered and
    2 failed, each a NotificationReceipt of incident_seq 1 and recipient 2)."""
    fields = decode_protobuf(base64.b64decode(event["record"], validate=True))
    if len(fields.get(24, [])) != 1:
        raise AssertionError("seq %d: a NOTIFICATION_RECEIPTS record without its receipts" % event["seq"])
    batch = decode_protobuf(fields[24][0])
    for number, name in ((1, "delivered"), (2, "failed")):
        recorded = []
        for raw in batch.get(number, []):
            receipt = decode_protobuf(raw)
            recorded.append((receipt.get(1, [0])[-1], receipt.get(2, [b""])[-1].decode("utf-8")))
        shown = [(r["incident_seq"], r["recipient"]) for r in event["payload"][name]]
        if recorded != shown:
            raise AssertionError("seq %d: the JSON's %s receipts %r differ from the record's %r"
                                 % (event["seq"], name, shown, recorded))


def rfc3339_micros(text):
    """Unix microseconds of an RFC 3339 time with an offset."""
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no offset in %r" % text)
    delta = parsed - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def verify_chain(events, first_seq=1, prev_hash=ZERO_HASH):
    """Checks, without trusting the service, that `events` are seq first_seq.. with no gap,
    that hash == SHA-256(prev_hash || base64decode(record)), that each prev_hash is the
    previous event's hash (event 1's is 64 zeros), and that the envelope shown as JSON is
    the one inside the hashed record. Raises AssertionError naming the first bad seq."""
    expected_prev = prev_hash
    for index, event in enumerate(events):
        seq = first_seq + index
        if event.get("seq") != seq:
            raise AssertionError("event #%d has seq %r, expected %d (gap or reorder)" % (index, event.get("seq"), seq))
        if event["prev_hash"] != expected_prev:
            raise AssertionError("seq %d: prev_hash %s is not the previous hash %s"
                                 % (seq, event["prev_hash"], expected_prev))
        record = base64.b64decode(event["record"], validate=True)
        computed = hashlib.sha256(bytes.fromhex(event["prev_hash"]) + record).hexdigest()
        if computed != event["hash"]:
            raise AssertionError("seq %d: hash %s but SHA-256(prev_hash || record) is %s"
                                 % (seq, event["hash"], computed))
        envelope = decode_record(record)
        for name in ("seq", "submission_id", "actor", "ticket", "type", "version", "request_digest"):
            if envelope[name] != event[name]:
                raise AssertionError("seq %d: JSON %s %r differs from the hashed record's %r"
                                     % (seq, name, event[name], envelope[name]))
        if envelope["recorded_at_micros"] != rfc3339_micros(event["recorded_at"]):
            raise AssertionError("seq %d: recorded_at %r differs from the record's %d"
                                 % (seq, event["recorded_at"], envelope["recorded_at_micros"]))
        expected_prev = computed
    return expected_prev


# -- test case base --------------------------------------------------------------

class ServiceTestCase(unittest.TestCase):
    """Starts services that are always stopped, and prints their stderr when a test fails."""

    maxDiff = None

    def start_service(self, **options):
        service = Service(**options)
        # Registered first so that it runs last: after close() has kept the log.
        self.addCleanup(self._check_clean_exit, service)
        self.addCleanup(service.close)
        service.start()
        self._services.append(service)
        return service

    def _check_clean_exit(self, service):
        if service.returncode not in (0, None):
            self.fail("the service exited %s instead of 0 after SIGTERM; stderr:\n%s"
                      % (service.returncode, service.log[-20000:]))
        if sanitizer_report(service.log):
            self.fail("the service reported a sanitizer error:\n" + service.log[-20000:])

    def run(self, result=None):
        self._services = []
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for service in self._services:
                log = service.log or service.read_log()
                sys.stderr.write("\n--- stderr of incident-ledger on %s (exit %s):\n%s\n---\n"
                                 % (service.data_dir, service.returncode, log[-20000:]))
        return outcome

    # -- assertions shared by the test files ---------------------------------

    def assertStatus(self, response, status, what=""):
        self.assertEqual(response.status, status, "%s: expected HTTP %d, got %r" % (what, status, response))

    def assertError(self, response, status, code, field, what=""):
        """Status, the JSON shape {"error":{"code","message","field"}}, the code and the field."""
        label = what or "request"
        self.assertEqual(response.status, status, "%s: expected HTTP %d, got %r" % (label, status, response))
        self.assertIsNone(response.json_error, "%s: the error body is not valid UTF-8 JSON (%s): %r"
                          % (label, response.json_error, response.raw))
        self.assertEqual(response.content_type, "application/json", label)
        data = response.data
        self.assertIsInstance(data, dict, label)
        self.assertEqual(set(data), {"error"}, "%s: %r" % (label, data))
        error = data["error"]
        self.assertIsInstance(error, dict, label)
        self.assertEqual(set(error), {"code", "message", "field"}, "%s: %r" % (label, data))
        for key in ("code", "message", "field"):
            self.assertIsInstance(error[key], str, "%s: %r" % (label, data))
        self.assertTrue(error["message"], "%s: empty message" % label)
        self.assertEqual(error["code"], code, "%s: %r" % (label, data))
        if isinstance(field, (tuple, set, frozenset)):
            self.assertIn(error["field"], field, "%s: %r" % (label, data))
        else:
            self.assertEqual(error["field"], field, "%s: %r" % (label, data))
        return error
