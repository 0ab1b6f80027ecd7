"""The case studies: data, space, metric, budget and baselines of each (:data:`STUDIES`)."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

# csim_agreement: classification (share of equal argmax); regression models get csim_max_abs_diff and csim_ok
COLUMNS = ["study", "model", "role", "bits", "sparsity", "test_metric", "metric_name", "higher_is_better", "bops",
           "params", "lut", "ff", "dsp", "bram", "latency_cycles", "csim_agreement", "csim_max_abs_diff", "csim_ok",
           "command"]


@dataclasses.dataclass
class Study:
    """One case study: data, space, metric, budget (full and ``quick``) and baselines."""

    name: str
    space: str
    metric: str                    # the test metric's name
    higher_is_better: bool
    load: Callable                 # (n, seed) -> ((xt, yt), (xv, yv), (xs, ys))
    baselines: tuple               # baseline names of the space
    n: int
    epochs: int
    trials: int
    bits: tuple = ((8, 3), (6, 2), (4, 1))
    population: int = 20
    batch_size: int = 256
    hpo_trials: int = 2
    top_k: int = 3
    prune_to: float = 0.5
    quick: dict = dataclasses.field(default_factory=dict)
    space_kwargs: dict = dataclasses.field(default_factory=dict)
    strategy: str = "evolution"    # or "gradient": GradientSearch (KerasNAC(strategy="gradient")), see run_gradient
    gradient: dict = dataclasses.field(default_factory=dict)  # GradientSearch options (strategy="gradient")
    finetune_epochs: int = 0       # strategy="gradient": fine-tuning epochs of the derived model
    hls: bool = True               # False: no hls4ml C simulation even when run(hls=True) (too slow here)

    def budget(self, quick: bool, **override) -> dict:
        b = {k: getattr(self, k) for k in ("n", "epochs", "trials", "bits", "population", "hpo_trials", "top_k",
                                           "finetune_epochs")}
        if quick:
            b.update(self.quick)
        b.update({k: v for k, v in override.items() if v is not None})
        return b


def _jets(features):
    def load(n, seed):
        from ..datasets import jets
        from ..datasets import JETS_CASE_STUDY_PATH as CASE_STUDY_PATH

        path = CASE_STUDY_PATH if CASE_STUDY_PATH.exists() else None  # else the shipped 5,000-jet sample
        splits = jets(path=path, features=features, n_constituents=8, seed=seed)
        if n is not None:  # a class-balanced subset of every split, same fraction
            frac = min(1.0, n / sum(len(s[0]) for s in splits))
            splits = tuple((x[: max(50, int(len(x) * frac))], y[: max(50, int(len(x) * frac))]) for x, y in splits)
        return splits
    return load


def _bragg(n, seed):
    from ..datasets import bragg_peaks

    return bragg_peaks(n, seed=seed)


def _calorimeter(n, seed):
    from ..datasets import calorimeter_showers

    return calorimeter_showers(n, seed=seed)


def calorimeter_mae_gev(model, validation_data) -> float:
    """Mean absolute error (GeV) of the predicted shower energy (targets are energy / 100 GeV)."""
    from ..datasets import calorimeter_metrics

    x, y = validation_data
    return calorimeter_metrics(y, model.predict(x, verbose=0, batch_size=2048))["mae"]


def bragg_distance_px(model, validation_data) -> float:
    """Mean Euclidean distance (pixels) between predicted and true peak centres."""
    from ..datasets import bragg_metrics

    x, y = validation_data
    return bragg_metrics(y, model.predict(x, verbose=0, batch_size=2048))["mean"]


STUDIES = {
    "jets_hlf": Study("jets_hlf", "jets_mlp", "accuracy", True, _jets("hlf"),
                      ("hls4ml_mlp_64_32_32_float", "hls4ml_mlp_64_32_32_6bit"), n=None, epochs=15, trials=40,
                      population=16, top_k=2,
                      quick=dict(n=3000, epochs=2, trials=4, population=4, hpo_trials=0, top_k=1, bits=((6, 2),))),
    "jets_deepsets": Study("jets_deepsets", "jets_deepsets", "accuracy", True, _jets("constituents"),
                           ("nac_base", "nac_large", "nac_medium", "nac_small", "nac_tiny"), n=None, epochs=15,
                           trials=40, population=16, top_k=2, quick=dict(n=3000, epochs=2, trials=6, population=6, hpo_trials=0, top_k=1,
                                                 bits=((6, 2),))),
    "bragg": Study("bragg", "braggnn", "distance_px", False, _bragg, ("braggnn_float",), n=16_000, epochs=12,
                   trials=40, population=16, bits=((16, 6), (8, 3), (6, 2)), hpo_trials=0, top_k=2,
                   quick=dict(n=1500, epochs=1, trials=3, population=3, top_k=1, bits=((8, 3),))),
    # ConNAS4ML-style: one gradient (supernet) search under LUT/FF/DSP/parameter budgets (a fraction of the
    # float baseline's), against a >= 200k-parameter float CNN (search_spaces/calorimeter.yaml)
    "calorimeter": Study("calorimeter", "calorimeter", "mae_gev", False, _calorimeter, ("calo_cnn_large",),
                         n=20_000, epochs=10, trials=1, bits=((16, 4), (12, 2)), hpo_trials=0, top_k=1,
                         batch_size=128, strategy="gradient", finetune_epochs=10, hls=False,
                         gradient=dict(budget_fraction={"lut": 0.45, "ff": 0.45, "dsp": 0.45, "params": 0.45},
                                       budget_mode="limit", warmup_epochs=2),
                         quick=dict(n=1200, epochs=2, finetune_epochs=1, bits=((16, 4),))),
}


def load_data(name: str, *, quick: bool = False, seed: int = 0, n: int | None = None):
    """The train/validation/test splits a study uses (the same as :func:`run` with these arguments)."""
    study = STUDIES[name]
    return study.load(study.budget(quick, n=n)["n"], seed)


def test_metric(study: Study, model, x, y) -> float:
    """The study's metric on ``(x, y)``: accuracy, the mean Bragg-peak distance in pixels or the
    calorimeter energy MAE in GeV."""
    if study.metric == "accuracy":
        p = model.predict(x, verbose=0, batch_size=4096).argmax(1)
        t = y.argmax(1) if np.ndim(y) == 2 else np.asarray(y)
        return float(np.mean(p == t))
    if study.metric == "mae_gev":
        return calorimeter_mae_gev(model, (x, y))
    return bragg_distance_px(model, (x, y))


def _objectives(study: Study):
    from ..objectives import Objective

    if study.metric == "accuracy":
        return ["val_accuracy", "bops"]
    if study.metric == "mae_gev":
        return [Objective("val_mae_gev", "min", fn=calorimeter_mae_gev), "bops"]
    return [Objective("val_distance_px", "min", fn=bragg_distance_px), "bops"]
