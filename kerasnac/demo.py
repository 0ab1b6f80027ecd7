"""Demo: the whole codesign pipeline on the shipped Pythia 8 jet sample.

    python -m kerasnac.demo [--trials 20] [--epochs 8] [--top-k 2] [--no-hls] [--out demo_runs]

1. global search (NSGA-II) of the ``jets_mlp`` space: validation accuracy vs BOPs;
2. local stage on the best candidates: training-HPO, QAT at two precisions, pruning;
3. hls4ml conversion and C simulation of the final Pareto front, checked against Keras.

Prints the global front, the final front and where the HLS projects are; saves the plot.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--top-k", type=int, default=2)
    p.add_argument("--hpo-trials", type=int, default=3)
    p.add_argument("--bits", default="8,3;6,2", help="QAT precisions 'total,integer;...' (default 8,3;6,2)")
    p.add_argument("--prune-to", type=float, default=0.6)
    p.add_argument("--no-hls", action="store_true", help="skip the hls4ml conversion and C simulation")
    p.add_argument("--toy", action="store_true", help="use the fast toy jet features instead of the Pythia sample")
    p.add_argument("--out", default="demo_runs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import pandas as pd

    import kerasnac as kn

    if args.toy:
        x, y = kn.datasets.toy_jets_hlf(10_000, seed=args.seed)
        (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=args.seed)
    else:
        (xt, yt), (xv, yv), _ = kn.datasets.jets(features="hlf", seed=args.seed)
    print(f"data: {len(xt)} training and {len(xv)} validation jets, 16 features, 5 classes")
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    bits = [tuple(int(v) for v in b.split(",")) for b in args.bits.split(";") if b]
    callbacks = [] if args.no_hls else [kn.callbacks.HLS4MLExport(n_samples=1000)]
    nac = kn.KerasNAC(space, objectives=["val_accuracy", "bops"], max_trials=args.trials,
                      population_size=max(4, min(20, args.trials // 2)), directory=args.out,
                      project_name="jets_demo", seed=args.seed, overwrite=True,
                      local_search=kn.LocalSearch(top_k=args.top_k, hpo_trials=args.hpo_trials, bits=bits,
                                                  prune=kn.Pruning(args.prune_to, steps=2, epochs_per_step=2)),
                      post_search=callbacks)
    start = time.perf_counter()
    nac.search(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=256)
    print(f"\npipeline took {time.perf_counter() - start:.0f} s\n")
    nac.summary()
    path = os.path.join(nac.project_dir, "pareto.png")
    nac.plot_pareto(path)
    final = nac.final_front()
    cols = [c for c in ["candidate_id", "stage", "bits", "sparsity", "val_accuracy", "bops", "lut", "dsp",
                        "csim_agreement", "csim_ok", "on_front"] if c in final]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\nfinal models (front first):")
        print(final[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if "hls_dir" in final:
        print("\nHLS projects (C simulation compiled with g++):")
        for _, r in final[final["hls_dir"].notna()].iterrows():
            print(f"  {r['candidate_id']}: {r['hls_dir']}")
    print(f"\nplot: {path}\ntables: {nac.project_dir}/trials.csv, {nac.project_dir}/final.csv")
    return nac


if __name__ == "__main__":
    main()
