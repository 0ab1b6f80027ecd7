"""A global search with the shipped jets_mlp space on generated jet-like features.

    python benchmarks/jets_mlp_search.py [--trials 20] [--epochs 5] [--samples 20000]

Prints the Pareto front (validation accuracy vs BOPs), its size and the BOPs range it spans.
"""

from __future__ import annotations

import argparse
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--population", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs")
    args = p.parse_args(argv)

    import kerasnac as kn

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=args.seed)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=args.seed)
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    nac = kn.KerasNAC(space, ["val_accuracy", "bops"], max_trials=args.trials, population_size=args.population,
                      directory=args.out, project_name=f"jets_mlp_seed{args.seed}", seed=args.seed, overwrite=True)
    t0 = time.perf_counter()
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=256)
    print(f"{args.trials} trials in {time.perf_counter() - t0:.0f} s")
    nac.summary()
    front = nac.pareto_front()
    print(f"front size {len(front)}; BOPs range {front['bops'].min():.3g} .. {front['bops'].max():.3g} "
          f"({front['bops'].max() / front['bops'].min():.1f}x)")
    nac.plot_pareto(f"{nac.project_dir}/pareto.png")


if __name__ == "__main__":
    main()
