"""The system service as packaged (packaging/): the unit's hardening is rated
"OK" (2.0 or lower) by `systemd-analyze security`, it reloads with SIGHUP, the
options file (read with `serve --config`) is one the binary accepts, and
`--version` says the version.
The whole package is tried in a clean Debian root by scripts/package-test.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(SOURCE, "packaging", "incident-ledger.service")
OPTIONS_FILE = os.path.join(SOURCE, "packaging", "incident-ledger.conf")


class ServiceUnitTest(service.ServiceTestCase):

    def test_the_unit_is_rated_ok_by_systemd_analyze_security(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.fail("systemd-analyze is missing (scripts/install-deps --test installs systemd)")
        done = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", UNIT],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout[-3000:] + done.stderr)
        rating = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", done.stdout)
        self.assertIsNotNone(rating, done.stdout[-2000:])
        self.assertLessEqual(float(rating.group(1)), 2.0, rating.group(0))
        self.assertEqual(rating.group(2), "OK")

    def test_the_unit_runs_serve_on_the_state_directory_and_reloads_with_sighup(self):
        with open(UNIT, encoding="utf-8") as handle:
            unit = handle.read()
        self.assertIn("ExecStart=/usr/bin/incident-ledger serve --data /var/lib/incident-ledger "
                      "--config /etc/incident-ledger/incident-ledger.conf\n", unit)
        self.assertIn("StateDirectory=incident-ledger", unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        # The options file is the binary's (--config), no longer an environment file.
        self.assertNotIn("EnvironmentFile=", unit)

    def test_the_installed_options_are_accepted_by_serve(self):
        with open(OPTIONS_FILE, encoding="utf-8") as handle:
            settings = [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
        self.assertEqual(settings, ["listen = 127.0.0.1:8080"])
        # serve reads the file as the unit has it read; the command line's --listen 127.0.0.1:0
        # (start_service gives it) wins over the file's, so that the test runs beside anything on 8080.
        folder = tempfile.mkdtemp(prefix="ledger-unit-")
        self.addCleanup(shutil.rmtree, folder, True)
        ledger = self.start_service(data_dir=os.path.join(folder, "data"), extra_args=("--config", OPTIONS_FILE))
        self.assertStatus(ledger.get("/healthz"), 200)
        self.assertNotEqual(ledger.port, 8080)

    def test_version(self):
        done = subprocess.run([service.ledger_binary(), "--version"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r"^incident-ledger \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()
