"""kill -9 a running search at random points, resume it each time, and count the trials lost.

    .venv/bin/python benchmarks/resume_kill_loop.py --kills 5 --max-trials 10

Each round runs ``python -m kerasnac search CONFIG.yaml`` (the same command every time, so
``overwrite`` stays false), waits until a trial of this run is running, then a random 0-SPREAD s
more (spanning several trials: training, result writes, the next proposal; after the first kill SPREAD
shrinks to the time the remaining trials should take divided among the kills still to make), and
sends SIGKILL. After every kill all result files (trial.json, oracle.json, CSV) must parse. A trial
counts as *lost* if it was COMPLETED at some kill and is not COMPLETED with the same metrics at the
end. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import pandas as pd

CONFIG = """
space:
  input_shape: [16]
  num_classes: 5
  stages:
    - mlp: {{layers: {{min: 1, max: 3}}, units: [4, 8, 16, 32]}}
    - {{mlp: {{units: [4, 8]}}, skip: {{}}}}
  quant: {{weight_bits: [3, 6, 16], activation_bits: [4, 8], activation_integer: 0}}
data: {{source: toy_jets, n: 1000, seed: 0}}
objectives: [val_accuracy, bops]
search: {{max_trials: {max_trials}, population_size: 4, epochs: 1, batch_size: 64, directory: runs,
          project_name: kill, verbose: 0}}
"""


def completed(project):
    out = {}
    for path in glob.glob(os.path.join(project, "trial_*", "trial.json")):
        with open(path) as f:
            state = json.load(f)  # raises on a truncated file
        if state["status"] == "COMPLETED":
            obs = state["metrics"]["metrics"]["val_accuracy"]["observations"][-1]["value"]
            out[state["trial_id"]] = obs[0] if isinstance(obs, list) else obs
    return out


def running(project, since):
    """This run has created (or re-queued) a trial: oracle.json was written after ``since``."""
    path = os.path.join(project, "oracle.json")
    return os.path.isfile(path) and os.path.getmtime(path) >= since


def check_files(project):
    """Every result file parses (atomic writes)."""
    for path in glob.glob(os.path.join(project, "*.json")) + glob.glob(os.path.join(project, "trial_*", "*.json")):
        with open(path) as f:
            json.load(f)
    for path in glob.glob(os.path.join(project, "*.csv")):
        pd.read_csv(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--max-trials", type=int, default=10)
    ap.add_argument("--directory", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spread", type=float, default=12.0, help="kill 0..SPREAD s after a trial of this run started")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = args.directory or tempfile.mkdtemp(prefix="kerasnac_kill_")
    os.makedirs(work, exist_ok=True)
    cfg = os.path.join(work, "run.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(max_trials=args.max_trials))
    project = os.path.join(work, "runs", "kill")
    cmd = [sys.executable, "-m", "kerasnac", "search", cfg, "--quiet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    seen: dict[str, float] = {}
    kills, log = 0, []
    t0 = time.time()
    while kills < args.kills:
        launched = time.time()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline and not running(project, launched):
            time.sleep(0.1)
        # Kill within the time the remaining trials should take, shared among the kills still to make, so
        # that fast trials (or a fast machine) do not let the search finish before --kills kills.
        done_now, alive = len(completed(project)), sum(r["after_s"] for r in log)
        window = args.spread
        if done_now and alive > 0:
            window = min(window, max(0.5, alive / done_now * (args.max_trials - done_now) / (args.kills - kills + 1)))
        delay = rng.uniform(0, window)
        # ...and kill early once this run has completed its share of the remaining trials: on a fast
        # machine the first window (no trial timed yet) could otherwise hold the whole search
        share = max(1, (args.max_trials - done_now) // (args.kills - kills + 1))
        started = time.monotonic()
        while time.monotonic() - started < delay and proc.poll() is None:
            if len(completed(project)) - done_now >= share:
                break
            time.sleep(0.05)
        delay = time.monotonic() - started
        if proc.poll() is not None:  # the search finished before the kill
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        check_files(project)
        now = completed(project)
        seen.update({k: v for k, v in now.items() if k not in seen})
        log.append({"kill": kills, "after_s": round(delay, 2), "completed": len(now)})
        print(f"kill {kills}: {delay:.1f} s after a trial of this run started; {len(now)} trials completed so far",
              flush=True)
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    check_files(project)
    end = completed(project)
    lost = sorted(t for t, v in seen.items() if end.get(t) != v)
    table = pd.read_csv(os.path.join(project, "trials.csv"))
    summary = {"kills": kills, "max_trials": args.max_trials, "completed": len(end), "trials_lost": len(lost),
               "lost_ids": lost, "table_rows": len(table), "final_exit": final.returncode,
               "seconds": round(time.time() - t0, 1), "directory": work, "rounds": log}
    print(json.dumps(summary))
    return 0 if not lost and len(end) == args.max_trials and final.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
