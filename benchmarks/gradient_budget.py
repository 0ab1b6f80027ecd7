"""Budget tracking and discretization gap of the gradient search on jets_mlp.

    python benchmarks/gradient_budget.py [--budgets 10000 30000] [--cost lut] [--epochs 12] [--samples 3000]

For each budget: a budget-mode GradientSearch (cost = the budgeted metric only), then the derived
model. Prints, per budget, the expected cost at the end of the search, the cost-model value of the
argmax architecture and their gap, the derived model's cost after the budget repair and its distance
to the budget, its validation accuracy, the plan (probe) time and the median epoch time.
"""

from __future__ import annotations

import argparse
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", default="jets_mlp")
    p.add_argument("--budgets", type=float, nargs="+", default=[10_000, 30_000])
    p.add_argument("--cost", default="lut")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np

    import kerasnac as kn
    from kerasnac.gradient import GradientSearch

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=args.seed)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=args.seed)
    rows = []
    for b in args.budgets:
        space = kn.SearchSpace.from_yaml(args.space)
        gs = GradientSearch(space, cost=None, budget={args.cost: b}, epochs=args.epochs, batch_size=128,
                            seed=args.seed, verbose=0)
        t0 = time.perf_counter()
        gs.fit(xt, yt, validation_data=(xv, yv))
        fit_s = time.perf_counter() - t0
        model = gs.derive(finetune_epochs=3)
        s = gs.summary().iloc[0]
        h = gs.history_dataframe()
        acc = float(model.evaluate(xv, yv, verbose=0)[1])
        rows.append((b, s["expected_end_of_search"], s["argmax_model"], s["gap_percent"], s["derived_model"],
                     s["vs_budget_percent"], acc, gs.plan_seconds, float(np.median(h["seconds"])), fit_s,
                     f"{space.describe(gs.values)}  repair: {gs.repair_log}"))
    print(f"{'budget':>9} {'E[end]':>9} {'argmax':>9} {'gap%':>6} {'derived':>9} {'vs budget%':>10} {'val_acc':>7} "
          f"{'plan s':>6} {'s/epoch':>7} {'fit s':>6}  architecture")
    for r in rows:
        print(f"{r[0]:9.0f} {r[1]:9.0f} {r[2]:9.0f} {r[3]:6.1f} {r[4]:9.0f} {r[5]:10.1f} {r[6]:7.3f} {r[7]:6.1f} "
              f"{r[8]:7.2f} {r[9]:6.0f}  {r[10]}")


if __name__ == "__main__":
    main()
