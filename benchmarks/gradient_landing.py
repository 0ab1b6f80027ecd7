"""Why the budget controller misses some calorimeter budgets before repair (issue 14, item 4).

    python benchmarks/gradient_landing.py [--task calorimeter|jets] [--seeds 0 1] [--epochs 16] [--samples 4000] [--single]
        [--kw "{'arch_learning_rate': 0.05}"]

A 5-budget front (``GradientSearch(space, cost="bops", budgets=5)``) on the calorimeter task and small
conv space of ``gradient_vs_evolution.py`` (``--task jets``: its jets_mlp task), no fine-tuning. Per budget it prints:

* what the search delivers before any repair (the final argmax, or its last architecture within
  the tolerance, ±10% unless ``--kw`` sets ``budget_tolerance``) and whether that is within it;
  budgets that came within it only in the settle phase (``budget_settle``, after the epochs) are
  listed with the steps they took;
* the argmax costs the search visited (one per epoch, as multiples of the budget): the *levels*
  the controller could choose from;
* for a miss, the single-choice changes of what it delivers that would land within the tolerance,
  with their logit deficit (how far the alternative's logit is behind the chosen one's), and the
  *hinge*: the near-tied choice (deficit < 0.05) whose change multiplies the cost the most (1.5x or more).
  When no single change lands, the landing pair of changes with the smallest summed logit deficit
  (exact pair costs), or that none exists.

``--single`` also runs each missed budget as a single-budget search (every architecture step on it,
five times a front budget's share), to tell the front's step sharing from the landscape.
``--kw`` passes further ``GradientSearch`` keyword arguments (controller gains, learning rates).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def exact(gs, values) -> float:
    return float(gs.supernet.expected_cost(gs.choices.onehot(values)).numpy()[-1])


def delivered(gs, k):
    """(values, relative error) of what budget ``k``'s search hands over before repair (``derive``'s rule)."""
    raw, _ = gs.select(k).searched_values()
    return raw, exact(gs, raw) / gs.budgets[k]["bops"] - 1.0


def flips(gs, k, values):
    """Single-choice changes of ``values``: (choice, from, to, cost ratio, logit deficit)."""
    base = exact(gs, values)
    out = []
    for name, c in gs.choices.choices.items():
        logits = gs.bank[name][k].numpy()
        here = logits[c.values.index(values[name])]
        for j, v in enumerate(c.values):
            if v != values[name]:
                out.append((name, values[name], v, exact(gs, {**values, name: v}) / base, float(here - logits[j])))
    return out


def best_pair(gs, k, values):
    """The two-choice change of ``values`` that lands within the tolerance with the smallest summed logit
    deficit, from the exact pair costs (``Supernet.pair_costs``): ``(change, change, error, deficit)`` or None."""
    cs = gs.choices.choices
    pairs = gs.supernet.pair_costs(gs.choices.onehot(values), 1).numpy()[..., -1]
    flat = [(n, v, float(gs.bank[n][k].numpy()[c.values.index(values[n])] - gs.bank[n][k].numpy()[j]))
            for n, c in cs.items() for j, v in enumerate(c.values)]
    b, best = gs.budgets[k]["bops"], None
    for r, (nr, vr, dr) in enumerate(flat):
        for s, (ns, vs, ds) in enumerate(flat):
            if (r < s and nr != ns and vr != values[nr] and vs != values[ns]
                    and abs(pairs[r, s] / b - 1) <= gs.budget_tolerance):
                if best is None or dr + ds < best[3]:
                    best = (f"{nr}: {values[nr]} -> {vr}", f"{ns}: {values[ns]} -> {vs}", pairs[r, s] / b - 1, dr + ds)
    return best


def report(gs, k, label):
    b = gs.budgets[k]["bops"]
    values, err = delivered(gs, k)
    h = gs.history_dataframe()
    col = f"argmax_bops@{k}" if f"argmax_bops@{k}" in h else "argmax_bops"
    levels = sorted({round(float(v) / b, 2) for v in h[col]})
    tol = gs.budget_tolerance
    ok = abs(err) <= tol
    print(f"{label} budget {k} ({b:.4g} BOPs): delivered {err:+.1%} {'within' if ok else 'MISSES'} ±{tol:.0%}; "
          f"argmax levels visited (× budget): {levels}")
    if ok:
        return True
    fl = flips(gs, k, values)
    landing = [f for f in fl if abs((1 + err) * f[3] - 1) <= tol]
    for name, a, v, ratio, deficit in sorted(landing, key=lambda f: f[4]):
        print(f"    lands with {name}: {a} -> {v} ({(1 + err) * ratio - 1:+.1%}), logit deficit {deficit:.2f}")
    if not landing:  # no single change lands: does a pair (the look-ahead's horizon)?
        pair = best_pair(gs, k, values)
        print("    no pair of changes lands either (a landing needs three or more)" if pair is None else
              f"    best landing pair: {pair[0]} and {pair[1]} ({pair[2]:+.1%}), summed logit deficit {pair[3]:.2f}")
        if pair is None:  # the settle phase's three-move search (budget_lookahead=3), from what was delivered
            from kerasnac.gradient import _landing

            logits = {n: gs.bank[n][k].numpy() for n in gs.choices.choices}
            found = _landing.landing_triple(gs.supernet, values, logits, lambda c: abs(float(c[-1]) / b - 1) <= tol, 1)
            print("    no triple of changes lands either (every pair tried)" if found is None else
                  f"    a landing triple: {found[0]} ({float(found[1][-1]) / b - 1:+.1%})")
    tied = [f for f in fl if abs(f[4]) < 0.05 and max(f[3], 1 / f[3]) >= 1.5]
    if tied:
        name, a, v, ratio, deficit = max(tied, key=lambda f: max(f[3], 1 / f[3]))
        print(f"    hinge: {name}: {a} -> {v} multiplies the cost by {ratio:.2f} at a logit deficit of {deficit:.3f}")
    else:
        print("    no near-tied choice (logit deficit < 0.05) changes the cost by 1.5x or more")
    return False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=("calorimeter", "jets"), default="calorimeter")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--single", action="store_true", help="rerun each missed budget as a single-budget search")
    p.add_argument("--kw", default="{}", help="further GradientSearch keyword arguments, a Python dict literal")
    args = p.parse_args(argv)
    kw = ast.literal_eval(args.kw)

    import gradient_vs_evolution as gve

    import kerasnac as kn

    total = hits = in_epochs = 0
    for seed in args.seeds:
        space, train, val, _, _ = gve.load(args.task, args.samples, seed)
        t = time.perf_counter()
        gs = kn.GradientSearch(space, cost="bops", budgets=5, epochs=args.epochs, seed=seed, verbose=0, **kw)
        gs.fit(*train, validation_data=val)
        print(f"--- seed {seed}: front of 5 budgets, {time.perf_counter() - t:.0f} s, {kw or 'defaults'}")
        settled = {r["budget"]: r for r in getattr(gs, "settle_log", [])}
        for r in settled.values():
            print(f"    settle phase: budget {r['budget']} {'landed' if r['landed'] else 'not landed'} "
                  f"after {r['steps']} architecture steps"
                  + (f", {r['waypoints']} three-move waypoint(s) set" if r.get("waypoints") else ""))
        missed = []
        for k in range(len(gs.budgets)):
            ok = report(gs, k, "front")
            total, hits = total + 1, hits + ok
            in_epochs += ok and k not in settled
            if not ok:
                missed.append(gs.budgets[k])
        for row in missed if args.single else []:
            space, train, val, _, _ = gve.load(args.task, args.samples, seed)
            one = kn.GradientSearch(space, cost="bops", budget=row, lam=0.0, epochs=args.epochs, seed=seed,
                                    verbose=0, **kw)
            one.fit(*train, validation_data=val)
            report(one, 0, "single")
    print(f"front budgets delivered within ±{gs.budget_tolerance:.0%} before repair: {hits}/{total} "
          f"({in_epochs} within the epochs, {hits - in_epochs} in the settle phase)")


if __name__ == "__main__":
    main()
