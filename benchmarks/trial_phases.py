"""Where a trial's time goes: model build, first epoch (graph tracing), further epochs, cost model.

    python benchmarks/trial_phases.py [--samples 30000] [--models 4] [--space jets_mlp]

Builds ``--models`` random architectures of the shipped jets space and times each phase of a
3-epoch training, as ``ParetoSearch.run_trial`` does it (one tf.data pipeline, ``fit`` per rung).
"""

from __future__ import annotations

import argparse
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=30000)
    p.add_argument("--models", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)

    import kerasnac as kn
    from kerasnac import _data, costs
    from kerasnac._keras import keras, kt

    x, y = kn.datasets.toy_jets_hlf(args.samples, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=0)
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    train, val, mode, _ = _data.make_datasets(space, xt, yt, (xv, yv), 0.2, args.batch_size, 0)
    space.label_mode = mode
    print(f"{len(xt)} training samples, batch {args.batch_size}")
    print("model | build s | first epoch (tracing) s | second epoch s | third epoch, no validation s | costs ms")
    for seed in range(args.models):
        hp = kt.HyperParameters()
        for h in space.hyperparameters().space:
            hp.merge([h])
            if hp.is_active(h):
                hp.values[h.name] = h.random_sample(seed)
        keras.backend.clear_session()
        t0 = time.perf_counter()
        model = space.build(hp)
        t1 = time.perf_counter()
        model.fit(train, validation_data=val, epochs=1, verbose=0)
        t2 = time.perf_counter()
        model.fit(train, validation_data=val, epochs=2, initial_epoch=1, verbose=0)
        t3 = time.perf_counter()
        model.fit(train, epochs=3, initial_epoch=2, verbose=0)
        t4 = time.perf_counter()
        costs.evaluate(model)
        t5 = time.perf_counter()
        print(f"{seed} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | {t4 - t3:.2f} | {1000 * (t5 - t4):.1f}", flush=True)


if __name__ == "__main__":
    main()
