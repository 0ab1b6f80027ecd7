"""Gradient supernet search vs the evolutionary KerasNAC at equal wall time on this machine.

    python benchmarks/gradient_vs_evolution.py [--task jets|calorimeter] [--cost bops] [--samples 4000]
        [--lams 0.03 0.1 0.3 1] [--epochs 12] [--trial-epochs 5]

The gradient side runs one GradientSearch per cost weight λ (each gives one derived, fine-tuned
model); its total wall time T (probes and tracing included) is then given to KerasNAC (NSGA-II on the
same space and cost), which adds trials until T is used up. Both fronts are printed (task metric on the
validation split vs the cost), plus the hypervolume of each front in the common box.
"""

from __future__ import annotations

import argparse
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="jets", choices=["jets", "calorimeter"])
    p.add_argument("--cost", default="bops")
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--lams", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--finetune", type=int, default=3)
    p.add_argument("--trial-epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import kerasnac as kn
    from kerasnac.gradient import GradientSearch

    space, (xt, yt), (xv, yv), metric, direction = load(args.task, args.samples, args.seed)
    idx = 1  # accuracy (classification) or mae (regression) in model.evaluate
    grad = []
    t0 = time.perf_counter()
    for lam in args.lams:
        gs = GradientSearch(space, cost=args.cost, lam=lam, epochs=args.epochs, seed=args.seed, verbose=0,
                            finetune_epochs=args.finetune)
        gs.fit(xt, yt, validation_data=(xv, yv))
        model = gs.derive()
        m = float(model.evaluate(xv, yv, verbose=0)[idx])
        c = kn.costs.evaluate(model, [args.cost])[args.cost]
        s = gs.summary().iloc[0]
        grad.append((m, c, f"lam={lam:g} {space.describe(gs.values)} (E[cost] at end {s['expected_end_of_search']:.4g}, "
                           f"gap {s['gap_percent']:+.1f}%)"))
        print(f"gradient lam={lam:g}: {metric}={m:.4f} {args.cost}={c:.4g}  t={time.perf_counter() - t0:.0f}s", flush=True)
    wall = time.perf_counter() - t0

    tmp = tempfile.mkdtemp(prefix="kn_bench_")
    evo, trials, t1 = [], 0, time.perf_counter()
    try:
        while time.perf_counter() - t1 < wall:
            trials += 2
            nac = kn.KerasNAC(space, [metric, args.cost], max_trials=trials, population_size=8, directory=tmp,
                              project_name="evo", seed=args.seed, overwrite=False, verbose=0)
            nac.fit(xt, yt, validation_data=(xv, yv), epochs=args.trial_epochs)
        df = nac.trials_dataframe()
        df = df[df["status"] == "COMPLETED"] if "status" in df else df
        evo = [(float(r[metric]), float(r[args.cost]), r.get("architecture", "")) for _, r in df.iterrows()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    evo_wall = time.perf_counter() - t1

    allp = grad + evo
    cost_max = max(c for _, c, *_ in allp) * 1.01
    ref = min(m for m, *_ in allp) if direction == "max" else max(m for m, *_ in allp)
    print(f"\ntask={args.task} cost={args.cost} metric={metric}")
    print(f"gradient: {len(grad)} searches in {wall:.0f} s;  evolutionary: {len(evo)} trials in {evo_wall:.0f} s")
    for name, pts in (("gradient", grad), ("evolutionary", evo)):
        print(f"\n{name} front (hypervolume {hypervolume(pts, direction, ref, 0.0, cost_max):.4f}):")
        for m, c, *rest in front(pts, direction):
            print(f"  {metric}={m:.4f}  {args.cost}={c:.4g}  {rest[0] if rest else ''}")


if __name__ == "__main__":
    main()
