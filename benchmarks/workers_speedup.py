"""Trials per hour of ``KerasNAC(workers=1)`` and ``KerasNAC(workers=2)``, side by side in one invocation.

    .venv/bin/python benchmarks/workers_speedup.py                 # 16 trials each, 3,000 jets, 2 epochs
    .venv/bin/python benchmarks/workers_speedup.py --trials 4 --n 500   # a quick check that it runs

The task: the ``jets_mlp`` space on the first ``--n`` samples of ``kn.datasets.jets(features="hlf")``
(80% of them from its training split, 20% from its validation split), objectives ``val_accuracy``
and ``bops``, the same seed for both runs, each in a fresh folder. The time of a run is the wall time
of ``nac.search()`` as a user sees it (for ``workers=2`` the start-up of the two worker processes
included; it is also printed on its own); the *steady* rate leaves out start-up and first trial for
both: (completed - 1) trials over the time from the first trial's end to the last one's. The hypervolume is that of (-val_accuracy, log10 BOPs)
with the reference point (-0.2, 7.0) of ``benchmarks/search_quality.py``, after every trial (in the
order trials ended) and at the end. ``os.getloadavg()`` is printed before and after each run: the
ratio means something only when the machine is otherwise idle. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

REF = (-0.2, 7.0)  # benchmarks/search_quality.py: accuracy 0.2 = chance for 5 classes; 10^7 BOPs above jets_mlp


def load(n: int, seed: int):
    import kerasnac as kn

    (xt, yt), (xv, yv), _ = kn.datasets.jets(features="hlf", seed=seed)
    n_val = max(1, n // 5)
    if n - n_val > len(xt) or n_val > len(xv):
        raise SystemExit(f"--n {n} is more than the shipped sample holds ({len(xt)} + {len(xv)}).")
    return (xt[: n - n_val], yt[: n - n_val]), (xv[:n_val], yv[:n_val])


def hv_curve(table):
    """Hypervolume after each completed trial, in the order the trials ended."""
    from kerasnac._pareto import hypervolume_2d

    done = table[table["status"] == "COMPLETED"].sort_values("trial_id", key=lambda s: s.astype(int))
    if "ended" in done:
        done = done.sort_values("ended")
    pts = np.column_stack([-done["val_accuracy"].to_numpy(float), np.log10(done["bops"].to_numpy(float))])
    return [round(hypervolume_2d(pts[: k + 1], REF), 4) for k in range(len(pts))]


def ended_times(project):
    """{trial_id: end time} from the workers' logs (workers=2) or the trial files' mtimes (workers=1)."""
    out = {}
    folder = os.path.join(project, "workers")
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".jsonl"):
                for line in open(os.path.join(folder, name)):
                    rec = json.loads(line)
                    if rec["event"] == "ended":
                        out[rec["trial_id"]] = rec["time"]
    if not out:
        for name in os.listdir(project):
            path = os.path.join(project, name, "trial.json")
            if name.startswith("trial_") and os.path.isfile(path):
                out[name[len("trial_"):]] = os.path.getmtime(path)
    return out


def first_start(project):
    times = []
    folder = os.path.join(project, "workers")
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.endswith(".jsonl"):
            times += [json.loads(line)["time"] for line in open(os.path.join(folder, name))
                      if json.loads(line)["event"] == "started"]
    return min(times) if times else None


def run(workers: int, args, data, work: str) -> dict:
    import pandas as pd

    import kerasnac as kn

    (xt, yt), (xv, yv) = data
    classes = yt.shape[1] if np.ndim(yt) == 2 else int(np.max(yt)) + 1  # one-hot or integer labels
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(xt.shape[1],), num_classes=classes)
    nac = kn.KerasNAC(space, ["val_accuracy", "bops"], max_trials=args.trials, population_size=args.population,
                      directory=work, project_name=f"workers{workers}", seed=args.seed, verbose=0, workers=workers)
    load_before = os.getloadavg()
    t0 = time.time()
    nac.search(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size)
    wall = time.time() - t0
    load_after = os.getloadavg()
    project = os.path.join(work, f"workers{workers}")
    table = pd.read_csv(os.path.join(project, "trials.csv"), dtype={"trial_id": str})
    ends = ended_times(project)
    table["ended"] = table["trial_id"].map(ends)
    curve = hv_curve(table)
    done = int((table["status"] == "COMPLETED").sum())
    start = first_start(project)
    end_times = sorted(ends.values())
    steady = (len(end_times) - 1) / (end_times[-1] - end_times[0]) * 3600 if len(end_times) > 1 else float("nan")
    return {"workers": workers, "completed": done, "wall_s": round(wall, 1),
            "trials_per_hour": round(done / wall * 3600, 1),
            "steady_trials_per_hour": round(steady, 1),
            "startup_s": round(start - t0, 1) if start is not None else None,
            "hv_final": curve[-1] if curve else 0.0, "hv_per_trial": curve,
            "sum_train_s": round(float(table["train_seconds"].sum()), 1),
            "load_before": [round(v, 2) for v in load_before], "load_after": [round(v, 2) for v in load_after]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=16, help="trials of each run")
    ap.add_argument("--n", type=int, default=3000, help="jets samples (80%% train, 20%% validation)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--population", type=int, default=8, help="NSGA-II population of both runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--order", default="1,2", help="worker counts in run order, e.g. 1,2,2,1 against drifting load")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    data = load(args.n, args.seed)
    work = tempfile.mkdtemp(prefix="kerasnac_workers_")
    order = [int(w) for w in args.order.split(",")]
    runs = []
    for i, w in enumerate(order):
        r = run(w, args, data, os.path.join(work, f"run{i}"))
        runs.append(r)
        print(f"workers={w}: {r['completed']} trials in {r['wall_s']} s = {r['trials_per_hour']} trials/hour, "
              f"steady {r['steady_trials_per_hour']} trials/hour (start-up to the first trial {r['startup_s']} s), HV {r['hv_final']}, "
              f"load average {r['load_before']} before, {r['load_after']} after", flush=True)
        print(f"  HV per trial: {r['hv_per_trial']}", flush=True)

    def mean(w, key):
        vals = [r[key] for r in runs if r["workers"] == w]
        return sum(vals) / len(vals) if vals else float("nan")

    ratio = mean(2, "trials_per_hour") / mean(1, "trials_per_hour")
    steady = mean(2, "steady_trials_per_hour") / mean(1, "steady_trials_per_hour")
    hv_ratio = mean(2, "hv_final") / mean(1, "hv_final") if mean(1, "hv_final") else float("nan")
    print(f"trials/hour: workers=1 {mean(1, 'trials_per_hour'):.1f}, workers=2 {mean(2, 'trials_per_hour'):.1f}, "
          f"ratio {ratio:.2f} (steady rate ratio {steady:.2f}); final HV ratio (2/1) {hv_ratio:.3f}; cores {os.cpu_count()}", flush=True)
    print(json.dumps({"cores": os.cpu_count(), "args": vars(args), "ratio_trials_per_hour": round(ratio, 3),
                      "ratio_steady": round(steady, 3),
                      "ratio_hv": round(hv_ratio, 3), "runs": runs}))


if __name__ == "__main__":
    main()
