"""Where a trial's time goes, and the fixed cost per trial before and after kerasnac's first-step preparation.

    python benchmarks/trial_phases.py                      # jets_mlp (3,000 jets) and braggnn (3,000 patches), 8 models each
    python benchmarks/trial_phases.py --space jets_mlp --samples 30000 --models 4 --epochs 3

For each of ``--models`` random architectures of a shipped space, the same model is built, trained
and timed twice, interleaved (so the machine's load falls on both alike), as ``ParetoSearch.run_trial``
trains a trial (one seeded tf.data pipeline, validation every epoch, ``keras.backend.clear_session``
before each build):

- ``before``: what a plain tf_keras compile gives: ``tf_keras.optimizers.Adam`` (a dozen graph ops per
  variable update), the training function traced twice on its first call (once creating the optimizer
  slots and metric accumulators, once without), the test function traced for validation.
- ``after``: what kerasnac does today: the fused legacy twin of the optimizer (``_compile.fused_optimizer``), every variable created before
  the first ``fit`` (``kerasnac._compile.create_variables``: one trace), and an eager validation when
  validation batches x epochs <= ``_compile.EAGER_VALIDATION_BATCHES``.

The fixed cost of a trial is build + first epoch - one further epoch (the time an epoch costs beyond
the steady rate). ``traces`` is ``model.train_function.experimental_get_tracing_count()`` after training;
``val_loss`` is printed for both, so that the two variants are seen to train alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def draw(space, seed):
    from kerasnac._keras import kt

    hp = kt.HyperParameters()
    for h in space.hyperparameters().space:
        hp.merge([h])
        if hp.is_active(h):
            hp.values[h.name] = h.random_sample(seed)
    return hp


def task(name, samples):
    import kerasnac as kn
    from kerasnac import _data

    if name == "jets_mlp":
        x, y = kn.datasets.toy_jets_hlf(samples, seed=0)
        (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=0)
        space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    else:
        (xt, yt), (xv, yv), _ = kn.datasets.bragg_peaks(samples, seed=0)
        space = kn.SearchSpace.from_yaml("braggnn")
    data = _data.prepare(space, xt, yt, (xv, yv), 0.2, 256, 0)
    _data.configure_space(space, data)
    return space, data


def one(space, data, hp, seed, variant, epochs):
    from kerasnac import _compile
    from kerasnac._keras import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    model = space.build(hp)
    train = data.train_for_seed(seed)
    if variant == "before":  # the same loss, metrics and learning rate on tf_keras's default optimizer
        lr = float(keras.backend.get_value(model.optimizer.learning_rate))
        model.compile(keras.optimizers.Adam(lr), loss=model.loss, metrics=model.compiled_metrics._user_metrics)
    else:
        _compile.prepare_first_step(model, train, data.val(), epochs)
    t1 = time.perf_counter()
    model.fit(train, validation_data=data.val(), epochs=1, verbose=0)
    t2 = time.perf_counter()
    h = model.fit(train, validation_data=data.val(), epochs=epochs, initial_epoch=1, verbose=0)
    t3 = time.perf_counter()
    further = (t3 - t2) / max(epochs - 1, 1)
    return {"build": t1 - t0, "first": t2 - t1, "further": further, "fixed": (t2 - t0) - further,
            "traces": model.train_function.experimental_get_tracing_count(), "val_loss": h.history["val_loss"][-1]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", nargs="+", default=["jets_mlp", "braggnn"], choices=("jets_mlp", "braggnn"))
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--models", type=int, default=8)
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial (2, as in the search-quality benchmark)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} cores")
    for name in args.space:
        space, data = task(name, args.samples)
        print(f"\n## {name}: {len(data.x)} training samples, batch 256, {args.epochs} epochs per trial")
        print("model | variant | build s | first epoch s | further epoch s | fixed s | traces | val_loss")
        res = {"before": [], "after": []}
        for seed in range(args.models):
            hp = draw(space, seed)
            order = ("before", "after") if seed % 2 == 0 else ("after", "before")  # alternate against drift
            for variant in order:
                r = one(space, data, hp, seed, variant, args.epochs)
                res[variant].append(r)
                print(f"{seed} | {variant} | {r['build']:.3f} | {r['first']:.3f} | {r['further']:.3f} | {r['fixed']:.3f} | "
                      f"{r['traces']} | {r['val_loss']:.4f}", flush=True)
        med = {v: statistics.median(r["fixed"] for r in rs) for v, rs in res.items()}
        print(f"{name}: median fixed cost per trial before {med['before']:.3f} s, after {med['after']:.3f} s, "
              f"ratio after/before {med['after'] / med['before']:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
