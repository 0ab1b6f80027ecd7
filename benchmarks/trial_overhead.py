"""Trial overhead of KerasNAC: wall time per trial / a plain ``model.fit`` of the same model.

    python benchmarks/trial_overhead.py [--trials 10] [--epochs 5] [--samples 20000]

For every trial of a KerasNAC search, the same architecture is rebuilt and trained with a plain
``model.fit(x, y, validation_data=..., epochs, batch_size)`` on the same numpy arrays. The ratio
of the search's wall time to the sum of the plain build+fit times is the overhead (target <= 1.05).
One build+fit runs first as a warm-up, so neither side pays TensorFlow's one-time start-up costs
(autograph conversion of the QKeras layers). The share of the search spent outside build+fit
(oracle, cost model, saving weights, CSV files) is printed too.
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)

    import kerasnac as kn
    from kerasnac._keras import keras

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y)
    space = kn.SearchSpace.from_yaml("jets_mlp")
    warm = space.model_from_values(space.baselines["hls4ml_mlp_64_32_32_6bit"])
    warm.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=args.batch_size, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        nac = kn.KerasNAC(space, ["val_accuracy", "bops"], max_trials=args.trials, population_size=5,
                          directory=tmp, project_name="overhead", seed=0, verbose=0)
        t0 = time.perf_counter()
        nac.fit(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size)
        search = time.perf_counter() - t0
        trials = [t for t in nac.oracle.trials.values() if str(t.status) == "COMPLETED"]
        inside = sum(t.metrics.get_last_value("train_seconds") for t in trials)
        plain_fit = plain_total = 0.0
        for t in trials:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            t1 = time.perf_counter()
            model = space.build(t.hyperparameters)
            t2 = time.perf_counter()
            model.fit(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size, verbose=0)
            t3 = time.perf_counter()
            plain_fit += t3 - t2
            plain_total += t3 - t1
    n = len(trials)
    print(f"{n} trials, {args.epochs} epochs, {len(xt)} training samples, batch {args.batch_size}")
    print(f"KerasNAC search wall time      : {search:8.2f} s  ({search / n:.3f} s/trial)")
    print(f"plain build + model.fit (sum)  : {plain_total:8.2f} s  ({plain_total / n:.3f} s/trial)")
    print(f"plain model.fit only (sum)     : {plain_fit:8.2f} s")
    print(f"overhead ratio vs build+fit    : {search / plain_total:.3f}")
    print(f"overhead ratio vs fit only     : {search / plain_fit:.3f}")
    print(f"search time outside build+fit  : {search - inside:8.2f} s  ({(search - inside) / search:.1%} of the search)")


if __name__ == "__main__":
    main()
