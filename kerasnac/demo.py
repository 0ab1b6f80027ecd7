"""Demo: a small global search on generated jet-like features.

    python -m kerasnac.demo [--trials 12] [--epochs 3] [--out demo_runs]

Prints the Pareto front (validation accuracy vs BOPs) and saves the plot.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--out", default="demo_runs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import kerasnac as kn

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=args.seed)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=args.seed)
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    nac = kn.KerasNAC(space, objectives=["val_accuracy", "bops"], max_trials=args.trials,
                      population_size=max(4, min(20, args.trials // 2)), directory=args.out,
                      project_name="jets_demo", seed=args.seed, overwrite=True)
    start = time.perf_counter()
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=256)
    print(f"\nsearch of {args.trials} trials took {time.perf_counter() - start:.0f} s")
    nac.summary()
    path = os.path.join(nac.project_dir, "pareto.png")
    nac.plot_pareto(path)
    print(f"plot: {path}\ntable: {os.path.join(nac.project_dir, 'trials.csv')}")
    return nac


if __name__ == "__main__":
    main()
