"""Speed-up of a chief/worker search (keras-tuner gRPC, loopback) with 2 workers against 1.

    .venv/bin/python benchmarks/distributed_speedup.py --trials 12

For each worker count it starts one chief and N workers running ``python -m kerasnac search
CONFIG.yaml`` on 127.0.0.1 and reports the wall time from launch to the chief's exit, and the
*search* time from the first trial start to the last trial end (the workers' logs), which leaves
out the TensorFlow start-up of the processes. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

CONFIG = """
space:
  input_shape: [16]
  num_classes: 5
  stages:
    - mlp: {{layers: {{min: 1, max: 3}}, units: [8, 16, 32, 64]}}
    - {{mlp: {{units: [8, 16]}}, skip: {{}}}}
  quant: {{weight_bits: [4, 6, 8], activation_bits: [4, 8], activation_integer: 0}}
data: {{source: toy_jets, n: {n}, seed: 0}}
objectives: [val_accuracy, bops]
search: {{max_trials: {trials}, population_size: 4, epochs: {epochs}, batch_size: 128, directory: runs,
          project_name: w{workers}, verbose: 0, baselines: false}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(workers, args, work, tag):
    cfg = os.path.join(work, f"w{tag}.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(n=args.samples, trials=args.trials, epochs=args.epochs, workers=tag))
    port = free_port()
    base = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port),
                TF_CPP_MIN_LOG_LEVEL="3", KERASNAC_CONNECT_TIMEOUT="300")
    if args.threads:  # TensorFlow threads per worker (default: all cores in every process)
        base.update(TF_NUM_INTRAOP_THREADS=str(args.threads), TF_NUM_INTEROP_THREADS="1")
    cmd = [sys.executable, "-m", "kerasnac", "search", cfg, "--quiet"]
    t0 = time.time()
    procs = [subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID="chief"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    procs += [subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID=f"worker{i}"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for i in range(workers)]
    try:
        procs[0].wait(timeout=args.timeout)
        wall = time.time() - t0
        for p in procs[1:]:
            p.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    project = os.path.join(work, "runs", f"w{tag}")
    times, per_worker = [], {}
    for path in glob.glob(os.path.join(project, "workers", "*.jsonl")):
        for line in open(path):
            rec = json.loads(line)
            times.append(rec["time"])
            if rec["event"] == "ended":
                per_worker[os.path.basename(path)[:-6]] = per_worker.get(os.path.basename(path)[:-6], 0) + 1
    done = sum(1 for p in glob.glob(os.path.join(project, "trial_*", "trial.json"))
               if json.load(open(p))["status"] == "COMPLETED")
    import pandas as pd

    table = pd.read_csv(os.path.join(project, "trials.csv"))
    return {"workers": workers, "wall_s": round(wall, 1), "search_s": round(max(times) - min(times), 1),
            "completed": done, "trials_per_worker": per_worker, "chief_exit": procs[0].returncode,
            "sum_train_s": round(float(table["train_seconds"].sum()), 1), "sum_params": int(table["params"].sum()),
            "load_avg_1min": os.getloadavg()[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--threads", type=int, default=0, help="TF intra-op threads per process (0: TF default)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per worker count, in the order 1,2,2,1,...")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kerasnac_speedup_")
    order = [1, 2, 2, 1] * (args.repeat // 2) + [1, 2] * (args.repeat % 2)  # alternate against drifting load
    runs = []
    for i, w in enumerate(order):
        r = run(w, args, work, f"{w}_{i}")
        runs.append(r)
        print(f"{r['workers']} worker(s): {r['completed']} trials, search {r['search_s']} s, wall {r['wall_s']} s, "
              f"sum of train_seconds {r['sum_train_s']} s, per worker {r['trials_per_worker']}, "
              f"load {r['load_avg_1min']:.1f}", flush=True)

    def mean(w, key):
        vals = [r[key] for r in runs if r["workers"] == w]
        return sum(vals) / len(vals)

    summary = {"cores": os.cpu_count(), "args": vars(args),
               "speedup_search": round(mean(1, "search_s") / mean(2, "search_s"), 2),
               "speedup_wall": round(mean(1, "wall_s") / mean(2, "wall_s"), 2), "runs": runs}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
