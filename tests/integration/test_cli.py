"""The command line of the real binary: per-subcommand help, mistyped options
and subcommands, and options from the environment (LEDGER_*) and a config file
(--config), with their precedence: command line > environment > config file >
default. The services started here listen on loopback ports picked free by
the test, and are stopped by it.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

TIMEOUT_SECONDS = 60


def clean_environment(**variables):
    """This process's environment without any LEDGER_ variable, plus `variables`."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("LEDGER_")}
    environment.update(variables)
    return environment


def run_cli(*arguments, environment=None):
    """Runs `incident-ledger ARGUMENTS...`; returns (exit code, stdout, stderr)."""
    completed = subprocess.run([service.ledger_binary(), *arguments], capture_output=True, text=True,
                               timeout=TIMEOUT_SECONDS, env=environment or clean_environment(),
                               stdin=subprocess.DEVNULL)
    return completed.returncode, completed.stdout, completed.stderr


def free_port():
    """A loopback port nothing listens on right now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Started:
    """`incident-ledger serve ARGUMENTS...` with its own environment; its first
    stdout line is the address it listens on. stop() ends it with SIGTERM."""

    def __init__(self, arguments, environment, log_path):
        self.log_path = log_path
        self.log = ""
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen([service.ledger_binary(), "serve", *arguments], env=environment,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT_SECONDS)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on http://"):
            self.stop()
            raise AssertionError("serve did not start (first line %r); stderr:\n%s" % (line, self.log))
        self.url = line[len("listening on "):].strip()
        self.host, port = self.url[len("http://"):].rsplit(":", 1)
        self.port = int(port)

    def get(self, path):
        return service.exchange(self, b"GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                                % (path.encode(), self.host.encode(), self.port))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            self.log = log.read()
        return self.process.returncode


class CliTestCase(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="ledger-cli-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.runs = 0

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as handle:
            handle.write(text)
        return self.path(name)

    def serve(self, *arguments, **variables):
        """A started service on a new data folder; stopped (and checked to stop cleanly) by the test."""
        self.runs += 1
        data = self.path("data-%d" % self.runs)
        started = Started(["--data", data, *arguments], clean_environment(**variables),
                          self.path("serve-%d.log" % self.runs))
        self.addCleanup(self.assertStoppedCleanly, started)
        return started

    def assertStoppedCleanly(self, started):
        code = started.stop()
        self.assertEqual(code, 0, started.log[-5000:])
        self.assertFalse(service.sanitizer_report(started.log), started.log[-20000:])

    def assertServesOn(self, started, port):
        self.assertEqual(started.url, "http://127.0.0.1:%d" % port)
        status, _, body = started.get("/healthz")
        self.assertEqual(status, 200, body)

    def assertRefused(self, result, *expected):
        code, out, err = result
        self.assertEqual(code, 2, err)
        self.assertNotIn("listening", out)
        for text in expected:
            self.assertIn(text, err)


class Help(CliTestCase):
    def test_the_top_level_help_lists_the_subcommands(self):
        for arguments in (["--help"], ["help"]):
            code, out, err = run_cli(*arguments)
            self.assertEqual(code, 0, err)
            for command in ("serve", "durations", "verify", "import-csv", "follow", "add-token", "check-head"):
                self.assertIn("\n  %s " % command, out)
            self.assertIn("COMMAND --help", out)
            self.assertNotIn("--listen", out)

    def test_each_subcommand_prints_only_its_own_options(self):
        code, out, err = run_cli("serve", "--help")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("usage: incident-ledger serve"), out[:200])
        for text in ("--listen HOST:PORT (=127.0.0.1:8080)", "--allowed-host NAME", "--read-only",
                     "--smtp-url URL", "--config FILE", "address to listen on", "--threads N (=2)"):
            self.assertIn(text, out)
        for text in ("--by ", "--from ", "--public-key"):
            self.assertNotIn(text, out)
        # The epilogue: where options come from, and in which order.
        self.assertIn("LEDGER_LISTEN for --listen", out)
        self.assertIn("Precedence: the command line, then the environment, then the config file, then the default",
                      out)

        code, out, err = run_cli("durations", "--help")
        self.assertEqual(code, 0, err)
        self.assertIn("--by incident|system", out)
        self.assertIn("--format json|csv (=json)", out)
        self.assertIn("--data DIR", out)
        for text in ("--listen", "--threads", "--smtp", "--allowed-host"):
            self.assertNotIn(text, out)
        self.assertEqual(run_cli("help", "durations"), (0, out, ""))

        code, out, err = run_cli("verify", "--help")
        self.assertEqual(code, 0, err)
        self.assertIn("--data DIR", out)
        self.assertNotIn("--listen", out)
        self.assertNotIn("--by", out)

    def test_help_does_not_need_the_required_options(self):
        # Neither --data nor a readable config: help is printed before either is looked at.
        code, out, err = run_cli("backup", "--help", environment=clean_environment(LEDGER_CONFIG=self.path("none")))
        self.assertEqual(code, 0, err)
        self.assertIn("--to DEST", out)

    def test_version(self):
        code, out, _ = run_cli("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^incident-ledger \d+\.\d+\.\d+\n$")


class Mistakes(CliTestCase):
    def test_a_misspelled_option_names_the_closest_one(self):
        data = self.path("data")
        self.assertRefused(run_cli("serve", "--data", data, "--listn", "127.0.0.1:1"),
                           "unknown option --listn; did you mean --listen?")
        self.assertFalse(os.path.exists(data), "a refused start leaves no data folder")
        self.assertRefused(run_cli("durations", "--data", data, "--fromm", "2026-01-01T00:00:00Z"),
                           "unknown option --fromm; did you mean --from?")
        self.assertRefused(run_cli("serve", "--data", data, "--read-olny"),
                           "unknown option --read-olny; did you mean --read-only?")
        # Nothing close: the help is named instead.
        self.assertRefused(run_cli("serve", "--data", data, "--zzzzzz", "1"),
                           "unknown option --zzzzzz for serve", "incident-ledger serve --help")
        # Another subcommand's option.
        self.assertRefused(run_cli("verify", "--data", data, "--listen", "127.0.0.1:1"),
                           "--listen is not an option of verify")
        self.assertRefused(run_cli("serve", "--data", data, "-x"), "unknown option -x for serve")
        # No abbreviations: --lis is not taken for --listen.
        self.assertRefused(run_cli("serve", "--data", data, "--lis", "127.0.0.1:0"), "unknown option --lis")

    def test_a_misspelled_subcommand_names_the_closest_one(self):
        self.assertRefused(run_cli("serv", "--data", self.path("data")), "unknown command serv; did you mean serve?")
        self.assertRefused(run_cli("duration", "--data", self.path("data")),
                           "unknown command duration; did you mean durations?")
        self.assertRefused(run_cli("frobnicate"), "unknown command frobnicate", "incident-ledger --help")
        self.assertRefused(run_cli(), "missing command")

    def test_the_rules_of_the_command_line_stay(self):
        data = self.path("data")
        self.assertRefused(run_cli("serve", "--listen", "127.0.0.1:0"), "--data DIR is required")
        self.assertRefused(run_cli("serve", "--data", data, "--listen"), "--listen needs a value")
        self.assertRefused(run_cli("serve", "--data", data, "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:1"),
                           "--listen is given more than once")
        self.assertRefused(run_cli("serve", "--data", data, "--read-only=yes"), "--read-only takes no value")
        self.assertRefused(run_cli("serve", "--data", data, "--listen", "127.0.0.1:0", "stray"),
                           "serve takes no argument 'stray'")
        self.assertRefused(run_cli("import-csv", "--data", data), "import-csv takes exactly one FILE")
        self.assertRefused(run_cli("serve", "--data", data, "--listen=127.0.0.1:99999"),
                           "--listen port must be a number from 0 to 65535")
        self.assertFalse(os.path.exists(data))


class Sources(CliTestCase):
    def test_serve_reads_its_options_from_a_config_file(self):
        port = free_port()
        config = self.write("ledger.conf", "# the service's options\n\nlisten = 127.0.0.1:%d\n"
                                           "allowed-host = ledger.internal   # one line per name\n"
                                           "allowed-host = noc.example.org\n"
                                           "access-log = off\n" % port)
        started = self.serve("--config", config)
        self.assertServesOn(started, port)
        with open(started.log_path, encoding="utf-8") as log:
            self.assertIn("options from the command line, LEDGER_* variables and %s" % config, log.read())
        # Both lines of the repeatable option count; any other Host is refused.
        for host in (b"ledger.internal", b"noc.example.org"):
            status, _, body = service.exchange(started, b"GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
            self.assertEqual(status, 200, (host, body))
        status, _, _ = service.exchange(started, b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        self.assertEqual(status, 421)

    def test_LEDGER_CONFIG_names_the_file_too(self):
        port = free_port()
        config = self.write("ledger.conf", "listen = 127.0.0.1:%d\n" % port)
        self.assertServesOn(self.serve(LEDGER_CONFIG=config), port)

    def test_serve_reads_its_options_from_the_environment(self):
        port = free_port()
        started = self.serve(LEDGER_LISTEN="127.0.0.1:%d" % port, LEDGER_ALLOWED_HOST="ledger.internal,noc.example.org")
        self.assertServesOn(started, port)
        status, _, _ = service.exchange(started, b"GET /healthz HTTP/1.1\r\nHost: noc.example.org\r\n\r\n")
        self.assertEqual(status, 200)
        # A switch: LEDGER_READ_ONLY=true is --read-only, which takes no mail server.
        self.assertRefused(run_cli("serve", "--data", self.path("copy"), environment=clean_environment(
            LEDGER_READ_ONLY="true", LEDGER_SMTP_URL="smtp://127.0.0.1:1")), "--smtp-url does not go with --read-only")

    def test_the_command_line_beats_the_environment_which_beats_the_file(self):
        file_port, environment_port, flag_port = free_port(), free_port(), free_port()
        config = self.write("ledger.conf", "listen = 127.0.0.1:%d\nthreads = 3\n" % file_port)
        started = self.serve("--config", config, "--listen", "127.0.0.1:%d" % flag_port,
                             LEDGER_LISTEN="127.0.0.1:%d" % environment_port)
        self.assertServesOn(started, flag_port)
        started = self.serve("--config", config, LEDGER_LISTEN="127.0.0.1:%d" % environment_port)
        self.assertServesOn(started, environment_port)
        # --config on the command line beats LEDGER_CONFIG.
        other = self.write("other.conf", "listen = 127.0.0.1:1\n")
        started = self.serve("--config", config, LEDGER_CONFIG=other)
        self.assertServesOn(started, file_port)
        # A bad value where a higher source gives a good one is never looked at; the
        # winning value is checked with the flag's own rule and words.
        bad = self.write("bad.conf", "threads = 0\nlisten = 127.0.0.1:0\n")
        port = free_port()
        self.assertServesOn(self.serve("--config", bad, LEDGER_THREADS="2", LEDGER_LISTEN="127.0.0.1:%d" % port), port)
        self.assertRefused(run_cli("serve", "--data", self.path("d"), "--config", bad),
                           "--threads must be a number from 1 to 64")
        # A repeatable option is taken whole from the highest source that gives it.
        hosts = self.write("hosts.conf", "allowed-host = from-file.example\nlisten = 127.0.0.1:0\n")
        started = self.serve("--config", hosts, "--allowed-host", "from-flag.example")
        status, _, _ = service.exchange(started, b"GET /healthz HTTP/1.1\r\nHost: from-flag.example\r\n\r\n")
        self.assertEqual(status, 200)
        status, _, _ = service.exchange(started, b"GET /healthz HTTP/1.1\r\nHost: from-file.example\r\n\r\n")
        self.assertEqual(status, 421)

    def test_a_bad_config_file_line_is_named(self):
        data = self.path("data")
        cases = (
            ("listen = 127.0.0.1:0\n# fine so far\nlistn = 127.0.0.1:1\n",
             ["line 3: unknown option 'listn'; did you mean 'listen'?"]),
            ("listen = 127.0.0.1:0\njust words\n", ["line 2: 'just words' is not `name = value`"]),
            ("listen = 127.0.0.1:0\nlisten = 127.0.0.1:1\n", ["line 2: listen is given more than once"]),
            ("[serve]\nlisten = 127.0.0.1:0\n", ["line 1: sections ([name]) are not used"]),
            ("read-only = maybe\n", ["line 1: read-only must be true or false"]),
            ("config = /etc/other.conf\n", ["line 1: a config file cannot name another"]),
            ('LEDGER_SERVE_OPTIONS="--listen 127.0.0.1:8080"\n', ["line 1: LEDGER_SERVE_OPTIONS is the earlier form"]),
            ("--listen = 127.0.0.1:0\n", ["line 1: unknown option '--listen'; did you mean 'listen'?"]),
        )
        for text, expected in cases:
            with self.subTest(text=text):
                config = self.write("bad.conf", text)
                self.assertRefused(run_cli("serve", "--data", data, "--config", config),
                                   "config file %s, " % config, *expected)
        self.assertRefused(run_cli("serve", "--data", data, "--config", self.path("missing.conf")),
                           "--config", self.path("missing.conf"))
        self.write("big.conf", "# padding\n" * 10000)
        self.assertRefused(run_cli("serve", "--data", data, "--config", self.path("big.conf")), "at most 65536")
        self.assertFalse(os.path.exists(data), "a refused start leaves no data folder")

    def test_one_file_serves_several_subcommands(self):
        # serve's keys are left alone by verify, which takes the file's data folder.
        started = self.serve()
        data = os.path.join(self.folder, "data-%d" % self.runs)
        config = self.write("ledger.conf", "data = %s\nlisten = 127.0.0.1:0\nsmtp-concurrency = 2\n" % data)
        code, out, err = run_cli("verify", "--config", config)
        self.assertEqual(code, 0, err)
        self.assertIn('"ok":true', out.replace(" ", ""))
        self.assertEqual(started.get("/healthz")[0], 200)

    def test_a_misspelled_environment_variable_is_warned_about(self):
        code, _, err = run_cli("serve", "--data", self.path("data"), "--threads", "0",
                               environment=clean_environment(LEDGER_LISTN="127.0.0.1:1", LEDGER_FROM="x",
                                                             LEDGER_TOKEN="t"))
        self.assertEqual(code, 2, err)
        self.assertIn("LEDGER_LISTN is not an option's variable (did you mean LEDGER_LISTEN?)", err)
        # Another subcommand's option (follow's --from) and LEDGER_TOKEN (backup's) are no mistake.
        self.assertNotIn("LEDGER_FROM", err)
        self.assertNotIn("LEDGER_TOKEN", err)
        self.assertIn("--threads must be", err)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
