"""What a head's starting bias does to a short trial: the same architectures trained with the head at zero
and at the training targets' mean (``KerasNAC(output_bias=None | "mean")``; for a classifier, the log class
frequencies).

    python benchmarks/output_bias.py --name bragg_small --task bragg --epochs 3
    python benchmarks/output_bias.py --name calo_short --task calorimeter --epochs 2
    python benchmarks/output_bias.py --name egamma_rare --architectures egamma --task egamma_rare --samples 4000

The architectures are the first ``--trials`` of one keras-tuner random-search seed of a committed
``search_quality_<architectures>.csv`` (``--method random --seed 0``: a uniform sample of the space;
``--architectures`` defaults to ``--name``). Each is
trained twice with the benchmark's own trial code (``search_quality.run_method``, as
``front_noise.py`` retrains), at the same trial seeds, so the two trainings of an architecture differ
only in the head's starting bias. Prints the median validation metric, how many architectures end
better than the reference point of the benchmark's hypervolume (the metric a model must beat to count
at all), on how many the mean start is better, and the hypervolume of each set. Rows go to
``benchmarks/results/output_bias_<name>.csv``; a rerun skips the trainings already there.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import front_noise as fn  # noqa: E402
import search_quality as sq  # noqa: E402

#: the trial seed of both sets of trainings: one the benchmark's seeds (below 100) never use
SEED = 20_000


def main(argv=None):
    import pandas as pd

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="this run's name (output_bias_<name>.csv)")
    p.add_argument("--architectures", help="the search_quality CSV whose architectures are trained "
                                           "(search_quality_<architectures>.csv; default: --name)")
    p.add_argument("--task", choices=sq.TASKS, required=True)
    p.add_argument("--method", default="random", help="whose architectures (default: random, a uniform sample)")
    p.add_argument("--seed", type=int, default=0, help="which seed of that method")
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--population", type=int, default=10)
    p.add_argument("--source", default="toy")
    p.add_argument("--results", default="benchmarks/results", help="where search_quality_<name>.csv is")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--workdir", default="/tmp/kerasnac_output_bias")
    args = p.parse_args(argv)

    source = args.architectures or args.name
    df = pd.read_csv(os.path.join(args.results, f"search_quality_{source}.csv"))
    hps = list(df[(df.method == args.method) & (df.seed == args.seed)].sort_values("trial").hp[:args.trials])
    if not hps:
        raise SystemExit(f"no rows of method {args.method!r}, seed {args.seed} in search_quality_{source}.csv")
    out_csv = os.path.join(args.out, f"output_bias_{args.name}.csv")
    done = pd.read_csv(out_csv) if os.path.isfile(out_csv) else pd.DataFrame(columns=["output_bias", "hp"])
    for bias in ("none", "mean"):
        have = set(done[done.output_bias == bias].hp)
        todo = [h for h in hps if h not in have]
        if todo:
            rows = fn.retrain(args.task, todo, SEED, argparse.Namespace(**vars(args), output_bias=bias))
            done = pd.concat([done, pd.DataFrame([{**r, "output_bias": bias} for r in rows])], ignore_index=True)
            done.to_csv(out_csv, index=False)
            print(f"[{args.name}] output_bias={bias}: {len(rows)} architectures trained", flush=True)

    ref = sq.REF[args.task]
    sets = {b: done[(done.output_bias == b) & done.hp.isin(hps)].drop_duplicates("hp").set_index("hp").loc[hps]
            for b in ("none", "mean")}
    print(f"\n### {len(hps)} architectures of `{source}` ({args.method}, seed {args.seed}) on `{args.task}`, "
          f"{args.epochs} epochs, {args.samples} samples: the head started at zero and at the targets' mean\n")
    # f0: the metric as minimised (a maximised metric negated), the axis of the reference point
    print(f"| head starts at | median metric | better than the reference ({abs(ref[0])}) | HV (reference {ref}) |")
    print("|---|---|---|---|")
    for b, rows in sets.items():
        f0 = rows.f0.to_numpy(float)
        print(f"| {'zero' if b == 'none' else 'the mean'} | {np.median(rows.metric.to_numpy(float)):.3f} "
              f"| {int((f0 < ref[0]).sum())} of {len(f0)} | {sq.hv(rows, ref):.3f} |")
    better = int((sets["mean"].f0.to_numpy(float) < sets["none"].f0.to_numpy(float)).sum())
    print(f"\nThe mean start gives the better metric on {better} of {len(hps)} architectures.")


if __name__ == "__main__":
    main()
