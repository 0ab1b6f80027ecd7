"""Where along the cost axis each method's 40-trial front falls short of the best-known front.

    python benchmarks/front_deficit.py                      # the seven tasks of docs "Against the targets"
    python benchmarks/front_deficit.py --names calo_short deepsets
    python benchmarks/front_deficit.py --names calo_short --with calo_short_anchor   # a variant's CSV added

In the (minimised metric, log10 BOPs) plane of ``search_quality.py`` a front's hypervolume is the
integral over log BOPs of how far its best metric at that cost or less lies from the reference. The
deficit of a search against the best-known front (the union of every trial of every method and seed
in the CSV, as the "share" column of ``search_quality.py``) is therefore the integral of the gap
between the two staircases, and it splits exactly into cost bands. The bands here are the quartiles of
the union's trial costs, plus everything above the dearest trial. Printed per method: the median
deficit of a band over seeds (in HV units), and the median total. It reads the committed CSVs only;
nothing is trained.

Written here rather than with a library call: the split of a 2-D hypervolume by cost band is the
one-line staircase integral below, which no hypervolume package exposes.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd

from search_quality import REF

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("jets_large_s6", "jets_tune", "deepsets", "deepsets_e8", "bragg_small", "calo_short", "calo_long")
METHODS = ("kerasnac_anchor", "kerasnac_default", "kerasnac_strat_k0e4", "optuna", "random")  # those present


def staircase(f, cost, grid, ref_f):
    """The best (lowest) ``f`` among points of cost at most each ``grid`` value, capped at ``ref_f``."""
    order = np.argsort(cost)
    best = np.minimum.accumulate(np.asarray(f)[order])
    i = np.searchsorted(np.asarray(cost)[order], grid, side="right") - 1
    out = np.full(len(grid), float(ref_f))
    out[i >= 0] = np.minimum(best[i[i >= 0]], ref_f)
    return out


def deficits(df: pd.DataFrame, trials: int = 40, n_grid: int = 2000) -> pd.DataFrame:
    """Per method and seed, the deficit to the union front in each cost band (columns ``Q1``..``Q4``,
    ``above``) and in all (``total``), with the union's HV and band edges in ``df.attrs``."""
    d = df[(df.status == "COMPLETED") & np.isfinite(df.f0) & (df.bops > 0) & (df.trial <= trials)].copy()
    d["lc"] = np.log10(d.bops)
    ref_f, ref_c = REF[d.task.iloc[0]]
    grid = np.linspace(d.lc.min(), ref_c, n_grid)
    dx = grid[1] - grid[0]
    union = staircase(d.f0, d.lc, grid, ref_f)
    edges = np.quantile(d.lc, [0, 0.25, 0.5, 0.75, 1.0])
    band = np.searchsorted(edges[1:-1], grid, side="right")  # 0..3 inside the trials' range
    band[grid > edges[-1]] = 4
    rows = []
    for (method, seed), g in d.groupby(["method", "seed"]):
        gap = (staircase(g.f0, g.lc, grid, ref_f) - union) * dx
        parts = np.bincount(band, weights=gap, minlength=5)
        rows.append({"method": method, "seed": seed, **dict(zip(("Q1", "Q2", "Q3", "Q4", "above"), parts)),
                     "total": gap.sum()})
    out = pd.DataFrame(rows)
    out.attrs.update(union_hv=float(((ref_f - union) * dx).sum()), edges=edges)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--names", nargs="+", default=list(NAMES), help="CSV stems: results/search_quality_<name>.csv")
    p.add_argument("--with", dest="extra", nargs="*", default=[],
                   help="more CSV stems whose rows join every --names CSV (a variant run into its own CSV)")
    p.add_argument("--trials", type=int, default=40)
    args = p.parse_args(argv)
    for name in args.names:
        df = pd.concat([pd.read_csv(os.path.join(HERE, "results", f"search_quality_{n}.csv"))
                        for n in [name, *args.extra]])
        out = deficits(df, args.trials)
        e = out.attrs["edges"]
        print(f"\n{name} ({df.task.iloc[0]}): best-known front HV {out.attrs['union_hv']:.3f}; cost quartiles of the "
              f"union's trials (log10 BOPs) {' | '.join(f'{x:.2f}' for x in e)}")
        med = out[out.method.isin(METHODS)].groupby("method")[["Q1", "Q2", "Q3", "Q4", "above", "total"]].median()
        print(med.reindex([m for m in METHODS if m in med.index]).round(3).to_markdown())


if __name__ == "__main__":
    main()
