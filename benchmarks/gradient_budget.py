"""Budget tracking and discretization gap of the gradient search on jets_mlp.

    python benchmarks/gradient_budget.py [--budgets 10000 30000] [--cost lut] [--epochs 12] [--samples 3000]
        [--feedback argmax expected] [--front]

For each controller feedback (``argmax``: the exact cost of the argmax architecture with a dead band,
the default; ``expected``: the expected cost under the soft probabilities, the controller before) and
each budget: a budget-mode GradientSearch (cost = the budgeted metric only), then the derived model.
Prints, per budget, the expected cost at the end of the search, the cost-model value of the argmax
architecture and their gap, the argmax architecture's distance to the budget *before any repair*
(``argmax vs B%``: the final argmax; ``searched vs B%``: what the search delivers, the final argmax or its
last architecture within tolerance), the derived model's cost after the budget repair and its distance to the budget,
its validation accuracy, the plan (probe) time and the median epoch time. ``--front`` also runs all
budgets as one front (``budgets=[...]``, one supernet training) per feedback.
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
    p.add_argument("--feedback", nargs="+", default=["argmax", "expected"], choices=["argmax", "expected"])
    p.add_argument("--front", action="store_true", help="also all budgets as one front (one supernet training)")
    args = p.parse_args(argv)

    import numpy as np

    import kerasnac as kn
    from kerasnac.gradient import GradientSearch

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=args.seed)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=args.seed)
    rows = []

    def record(feedback, b, gs, model, fit_s, mode):
        s = gs.summary().iloc[0]
        h = gs.history_dataframe()
        acc = float(model.evaluate(xv, yv, verbose=0)[1])
        rows.append((feedback, mode, b, s["expected_end_of_search"], s["argmax_model"], s["gap_percent"],
                     100.0 * (s["argmax_model"] / b - 1.0), s["searched_vs_budget_percent"],
                     s["derived_model"], s["vs_budget_percent"], acc, gs.plan_seconds, float(np.median(h["seconds"])),
                     fit_s, f"{space.describe(gs.values)}  from: {gs.derived_from}; repair: {gs.repair_log}"))

    for feedback in args.feedback:
        for b in args.budgets:
            space = kn.SearchSpace.from_yaml(args.space)
            gs = GradientSearch(space, cost=None, budget={args.cost: b}, epochs=args.epochs, batch_size=128,
                                seed=args.seed, verbose=0, budget_feedback=feedback)
            t0 = time.perf_counter()
            gs.fit(xt, yt, validation_data=(xv, yv))
            fit_s = time.perf_counter() - t0
            model = gs.derive(finetune_epochs=3)
            record(feedback, b, gs, model, fit_s, "single")
        if args.front:
            space = kn.SearchSpace.from_yaml(args.space)
            gs = GradientSearch(space, cost=None, budgets={args.cost: list(args.budgets)}, epochs=args.epochs,
                                batch_size=128, seed=args.seed, verbose=0, budget_feedback=feedback)
            t0 = time.perf_counter()
            gs.fit(xt, yt, validation_data=(xv, yv))
            fit_s = time.perf_counter() - t0
            for k, row in enumerate(gs.budgets):
                model = gs.derive(finetune_epochs=3, budget=k)
                record(feedback, row[args.cost], gs, model, fit_s, "front")
    print(f"{'feedback':>8} {'mode':>6} {'budget':>9} {'E[end]':>9} {'argmax':>9} {'gap%':>6} {'argmax vs B%':>12} "
          f"{'searched vs B%':>14} {'derived':>9} {'vs budget%':>10} {'val_acc':>7} {'plan s':>6} {'s/epoch':>7} "
          f"{'fit s':>6}  architecture")
    for r in rows:
        print(f"{r[0]:>8} {r[1]:>6} {r[2]:9.0f} {r[3]:9.0f} {r[4]:9.0f} {r[5]:6.1f} {r[6]:12.1f} {r[7]:14.1f} {r[8]:9.0f} "
              f"{r[9]:10.1f} {r[10]:7.3f} {r[11]:6.1f} {r[12]:7.2f} {r[13]:6.0f}  {r[14]}")


if __name__ == "__main__":
    main()
