"""Gradient supernet search vs the evolutionary KerasNAC at equal wall time on this machine.

    python benchmarks/gradient_vs_evolution.py [--task jets|calorimeter] [--cost bops] [--samples 4000]
        [--methods front sweep] [--front 5 | --budgets 2e4 1e5 ...] [--front-epochs 16]
        [--lams 0.03 0.1 0.3 1] [--epochs 12] [--finetune N] [--trial-epochs 5] [--no-front-cheapest]

Two gradient methods, run one after the other in this invocation:

* ``front`` (issue 14, item 4): ONE supernet training with several budgets of ``--cost``
  (``GradientSearch(budgets=K)``: K budgets log-spaced over the space's cost range, or ``--budgets``),
  then one derived, fine-tuned model per budget;
* ``sweep``: one GradientSearch per cost weight λ (each gives one derived, fine-tuned model).

Each method's wall time T (probes and tracing included) is then given to KerasNAC (NSGA-II on the same
space and cost, default screening), which adds trials until T is used up: one evolutionary search
grows to the largest T, and its front is read after the trials that had finished by each method's T.
Printed: every front (task metric on the validation split vs the cost), and the hypervolume of each in
the common box (the cost axis linear, normalised by the largest cost of all points; the reference metric
is the worst metric of all points), the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time


def calorimeter_space():
    import kerasnac as kn

    conv = {"batchnorm": False, "activation": "relu"}
    return kn.SearchSpace(
        (12, 12, 6),
        [{"name": "s0", "blocks": {"conv": {"layers": [1, 2], "filters": [4, 8, 16], "kernel_size": [1, 3],
                                            "pooling": "max", **conv}}},
         {"name": "s1", "blocks": {"conv": {"layers": 1, "filters": [4, 8, 16], "kernel_size": [1, 3],
                                            "pooling": "none", **conv}, "skip": {}}},
         {"name": "s2", "blocks": {"mlp": {"layers": [1, 2], "units": [8, 16, 32], "batchnorm": False}}}],
        task="regression", n_outputs=1, name="calorimeter_cnn",
        quant={"weight_bits": [4, 6, 8, 16], "activation_bits": [6, 8, 16], "activation_integer": 2},
        training={"learning_rate": 0.003})


def load(task, n, seed):
    import kerasnac as kn

    if task == "jets":
        x, y = kn.datasets.toy_jets_hlf(n, seed=seed)
        (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=seed)
        return kn.SearchSpace.from_yaml("jets_mlp"), (xt, yt), (xv, yv), "val_accuracy", "max"
    (xt, yt), (xv, yv), _ = kn.datasets.calorimeter_showers(n, seed=seed)
    return calorimeter_space(), (xt, yt), (xv, yv), "val_mae", "min"


def front(points, direction):
    """Non-dominated (metric, cost) points: cost minimised, metric by ``direction``."""
    sign = -1.0 if direction == "max" else 1.0
    pts = sorted(points, key=lambda p: (p[1], sign * p[0]))
    out, best = [], float("inf")
    for m, c, *rest in pts:
        if sign * m < best:
            out.append((m, c, *rest))
            best = sign * m
    return out


def hypervolume(points, direction, ref_metric, ref_cost, cost_max):
    """Area dominated by ``points`` in the box [0, cost_max] x [metric, ref_metric] (costs normalised)."""
    sign = -1.0 if direction == "max" else 1.0
    pts = sorted(front(points, direction), key=lambda p: p[1])
    area = 0.0
    for i, (m, c, *_) in enumerate(pts):
        c_next = pts[i + 1][1] if i + 1 < len(pts) else cost_max
        area += max(0.0, sign * (ref_metric - m)) * max(0.0, (min(c_next, cost_max) - c) / cost_max)
    return area


def evaluate(model, xv, yv, cost, idx=1):
    import kerasnac as kn

    return float(model.evaluate(xv, yv, verbose=0)[idx]), kn.costs.evaluate(model, [cost])[cost]


def run_front(args, space, train, val):
    from kerasnac.gradient import GradientSearch

    budgets = {args.cost: args.budgets} if args.budgets else args.front
    t0 = time.perf_counter()
    gs = GradientSearch(space, cost=args.cost, budgets=budgets, epochs=args.front_epochs, seed=args.seed, verbose=0,
                        finetune_epochs=args.finetune)
    gs.fit(*train, validation_data=val)
    pts = []
    for rec in gs.derive_front(cheapest=args.front_cheapest):
        m, c = evaluate(rec["model"], *val, args.cost)
        a = rec["metrics"][f"argmax_vs_budget_{args.cost}"]
        pts.append((m, c, f"budget {rec['budget'][args.cost]:.4g} (argmax {100 * a:+.1f}% before repair, "
                          f"repair {rec['repair_log']}) {space.describe(rec['values'])}"))
        print(f"front budget={rec['budget'][args.cost]:.4g}: metric={m:.4f} {args.cost}={c:.4g} argmax vs budget "
              f"{100 * a:+.1f}%  t={time.perf_counter() - t0:.0f}s", flush=True)
    return pts, time.perf_counter() - t0


def run_sweep(args, space, train, val):
    from kerasnac.gradient import GradientSearch

    pts, t0 = [], time.perf_counter()
    for lam in args.lams:
        gs = GradientSearch(space, cost=args.cost, lam=lam, epochs=args.epochs, seed=args.seed, verbose=0,
                            finetune_epochs=args.finetune)
        gs.fit(*train, validation_data=val)
        model = gs.derive()
        m, c = evaluate(model, *val, args.cost)
        s = gs.summary().iloc[0]
        pts.append((m, c, f"lam={lam:g} {space.describe(gs.values)} (E[cost] at end {s['expected_end_of_search']:.4g}, "
                          f"gap {s['gap_percent']:+.1f}%)"))
        print(f"sweep lam={lam:g}: metric={m:.4f} {args.cost}={c:.4g}  t={time.perf_counter() - t0:.0f}s", flush=True)
    return pts, time.perf_counter() - t0


def run_evolution(args, space, train, val, metric, walls):
    """One KerasNAC search grown until each wall time in ``walls`` (ascending): ``{wall: (points, trials, s)}``."""
    import kerasnac as kn

    tmp = tempfile.mkdtemp(prefix="kn_bench_")
    out, trials, t1 = {}, 0, time.perf_counter()
    try:
        for wall in sorted(walls):
            while time.perf_counter() - t1 < wall:
                trials += 2
                nac = kn.KerasNAC(space, [metric, args.cost], max_trials=trials, population_size=8, directory=tmp,
                                  project_name="evo", seed=args.seed, overwrite=False, verbose=0)
                nac.fit(*train, validation_data=val, epochs=args.trial_epochs)
            df = nac.trials_dataframe()
            df = df[df["status"] == "COMPLETED"] if "status" in df else df
            out[wall] = ([(float(r[metric]), float(r[args.cost]), r.get("architecture", "")) for _, r in df.iterrows()],
                         len(df), time.perf_counter() - t1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="jets", choices=["jets", "calorimeter"])
    p.add_argument("--cost", default="bops")
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--methods", nargs="+", default=["front", "sweep"], choices=["front", "sweep"])
    p.add_argument("--front", type=int, default=5, help="number of budgets of the front (log-spaced)")
    p.add_argument("--budgets", type=float, nargs="+", help="the front's budgets instead of --front")
    p.add_argument("--front-epochs", type=int, default=16, help="supernet epochs of the front's one training")
    p.add_argument("--lams", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0])
    p.add_argument("--epochs", type=int, default=12, help="supernet epochs of each search of the sweep")
    p.add_argument("--finetune", type=int, default=None,
                   help="fine-tuning epochs of each derived model (default: GradientSearch's, about 200 steps "
                        "within 3-10 epochs: 10 at the default 4,000 samples; 3 before session 19)")
    p.add_argument("--front-cheapest", action=argparse.BooleanOptionalAction, default=True,
                   help="derive_front(cheapest=...): the space's cheapest architecture joins the front (the "
                        "default since session 18; --no-front-cheapest gives one model per budget only)")
    p.add_argument("--trial-epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    space, train, val, metric, direction = load(args.task, args.samples, args.seed)
    load0 = os.getloadavg()
    results = {}
    for method in args.methods:
        results[method] = (run_front if method == "front" else run_sweep)(args, space, train, val)
    evo = run_evolution(args, space, train, val, metric, [w for _, w in results.values()])
    load1 = os.getloadavg()

    allp = [q for pts, _ in results.values() for q in pts] + [q for pts, _, _ in evo.values() for q in pts]
    cost_max = max(c for _, c, *_ in allp) * 1.01
    ref = min(m for m, *_ in allp) if direction == "max" else max(m for m, *_ in allp)
    print(f"\ntask={args.task} cost={args.cost} metric={metric} samples={args.samples} trial_epochs={args.trial_epochs}")
    print(f"load average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    for method, (pts, wall) in results.items():
        e_pts, n, e_wall = evo[wall]
        hv_g = hypervolume(pts, direction, ref, 0.0, cost_max)
        hv_e = hypervolume(e_pts, direction, ref, 0.0, cost_max)
        print(f"\n== {method}: {len(pts)} models in {wall:.0f} s, HV {hv_g:.4f};  evolutionary at that time: {n} trials "
              f"in {e_wall:.0f} s, HV {hv_e:.4f}")
        for name, ps in ((method, pts), ("evolutionary", e_pts)):
            print(f"{name} front (hypervolume {hypervolume(ps, direction, ref, 0.0, cost_max):.4f}):")
            for m, c, *rest in front(ps, direction):
                print(f"  {metric}={m:.4f}  {args.cost}={c:.4g}  {rest[0] if rest else ''}")

if __name__ == "__main__":
    main()
