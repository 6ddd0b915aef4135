#!/usr/bin/env python3
# Start-up of two builds side by side: `serve` spawned on its own copy of a
# big ledger (e.g. the data folder bench/run generates), timed to the first
# /healthz 200, with the resident set then. Each copy is first started
# without a checkpoint (the full fold; the checkpoint is saved at stop), then
# both are started ROUNDS times, alternating, from their checkpoints.
#   bench/startup_compare.py OLD_BINARY NEW_BINARY DATA_DIR ROUNDS
# Copies go to /tmp/startup/{old,new} (twice the data folder's size).
import os, shutil, signal, subprocess, sys, time, urllib.request
old, new, data, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
port = 18620
def start(binary, folder):
    global port
    port += 1
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "serve", "--data", folder, "--listen", "127.0.0.1:%d" % port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
                if r.status == 200: break
        except Exception:
            if proc.poll() is not None: raise SystemExit("exited: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.01)
    took = time.monotonic() - t0
    rss = int(open("/proc/%d/status" % proc.pid).read().split("VmRSS:")[1].split()[0]) // 1024
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    return took, rss
folders = {}
for name, binary in (("old", old), ("new", new)):
    os.makedirs("/tmp/startup", exist_ok=True)
    folder = "/tmp/startup/" + name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(data, folder)
    shutil.rmtree(folder + "/projections", ignore_errors=True)
    folders[name] = folder
    took, rss = start(binary, folder)  # no checkpoint: folds the log, saves one at stop
    print("%s without checkpoint: %.0f ms, rss %d MiB" % (name, took * 1000, rss), flush=True)
results = {"old": [], "new": []}
for _ in range(rounds):
    for name, binary in (("old", old), ("new", new)):
        results[name].append(start(binary, folders[name]))
for name, runs in results.items():
    times = sorted(t for t, _ in runs)
    print("%s with checkpoint: median %.0f ms (min %.0f, max %.0f), rss %d MiB, n=%d" %
          (name, times[len(times) // 2] * 1000, times[0] * 1000, times[-1] * 1000, runs[-1][1], len(runs)), flush=True)
