"""The benchmark scripts' own safeguards (the benchmarks themselves run outside the suite)."""

import argparse
import importlib.util
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _search_quality():
    spec = importlib.util.spec_from_file_location("search_quality", os.path.join(ROOT, "benchmarks", "search_quality.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _args(**kw):
    base = dict(task="deepsets", source="toy", samples=3000, epochs=2, batch_size=256, population=10, candidates=8,
                min_epochs=1, eta=3)
    return argparse.Namespace(**{**base, **kw})


def test_a_run_into_a_csv_of_other_settings_is_refused(tmp_path):
    sq = _search_quality()
    csv = str(tmp_path / "search_quality_x.csv")
    sq.check_settings(csv, None, _args())  # a new CSV: its settings are kept beside it
    assert os.path.isfile(csv[:-4] + ".json")
    sq.check_settings(csv, None, _args())  # the same settings again: fine
    with pytest.raises(SystemExit, match=r"epochs: 2 there, 8 now.*another --name"):
        sq.check_settings(csv, None, _args(epochs=8))
    # a CSV from before the settings file: its task column and its trials' epochs are checked
    old_csv = str(tmp_path / "search_quality_old.csv")
    old = pd.DataFrame({"task": ["deepsets"] * 2, "method": ["optuna", "kerasnac_mf"], "epochs_trained": [8.0, 1.0]})
    with pytest.raises(SystemExit, match="epochs: 8 there, 2 now"):
        sq.check_settings(old_csv, old, _args())
    with pytest.raises(SystemExit, match="task"):
        sq.check_settings(old_csv, old, _args(task="jets", epochs=8))
    with pytest.raises(SystemExit, match="output_bias: none there, mean now"):  # its heads started at zero
        sq.check_settings(old_csv, old, _args(epochs=8))
    sq.check_settings(old_csv, old, _args(epochs=8, output_bias="none"))


def test_a_run_is_refused_into_a_csv_whose_heads_started_at_zero(tmp_path):
    sq = _search_quality()
    csv = str(tmp_path / "search_quality_b.csv")
    with open(csv[:-4] + ".json", "w") as f:  # the settings file of a run made before --output-bias existed
        json.dump({k: getattr(_args(task="bragg"), k) for k in sq.SETTINGS}, f)
    with pytest.raises(SystemExit, match="output_bias: none there, mean now"):
        sq.check_settings(csv, None, _args(task="bragg", output_bias="mean"))
    sq.check_settings(csv, None, _args(task="bragg", output_bias="none"))
    # a classifier's head starts at the log class priors since session 21: its old settings files count as zero too
    jets = str(tmp_path / "search_quality_j.csv")
    with open(jets[:-4] + ".json", "w") as f:
        json.dump({k: getattr(_args(task="jets"), k) for k in sq.SETTINGS}, f)
    with pytest.raises(SystemExit, match="output_bias: none there, mean now"):
        sq.check_settings(jets, None, _args(task="jets", output_bias="mean"))
    sq.check_settings(jets, None, _args(task="jets", output_bias="none"))
    with open(jets[:-4] + ".json") as f:
        assert json.load(f)["output_bias"] == "none"


def test_output_bias_script_trains_each_architecture_both_ways_and_resumes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("output_bias", os.path.join(ROOT, "benchmarks", "output_bias.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["--name", "bragg_small", "--task", "bragg", "--trials", "2", "--samples", "300", "--epochs", "1",
            "--results", os.path.join(ROOT, "benchmarks", "results"), "--out", str(tmp_path),
            "--workdir", str(tmp_path / "work")]
    mod.main(argv)
    rows = pd.read_csv(tmp_path / "output_bias_bragg_small.csv")
    assert sorted(rows.output_bias) == ["mean", "mean", "none", "none"] and rows.hp.nunique() == 2
    out = capsys.readouterr().out
    assert "| the mean |" in out and "| zero |" in out
    assert re.search(r"The mean start gives the better metric on [012] of 2 architectures", out)
    mod.main(argv)  # a rerun trains nothing again
    assert "architectures trained" not in capsys.readouterr().out


def test_front_deficit_bands_add_up_to_the_hypervolume_gap_to_the_union():
    """``front_deficit.py`` splits a search's HV deficit to the union front into cost bands: the bands sum
    to the union's HV minus the search's HV as ``search_quality.hv`` computes them (up to the grid)."""
    import sys

    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import front_deficit as fd
    finally:
        sys.path.pop(0)
    sq = _search_quality()
    rng = np.random.default_rng(0)
    rows = []
    for method in ("a", "b"):
        for seed in (0, 1):
            bops = 10 ** rng.uniform(4, 6.5, 30)
            acc = 0.3 + 0.1 * np.log10(bops) - 0.4 + rng.uniform(0, 0.1, 30)
            rows += [{"task": "jets", "method": method, "seed": seed, "trial": i + 1, "status": "COMPLETED",
                      "f0": -a, "bops": b} for i, (a, b) in enumerate(zip(acc, bops))]
    df = pd.DataFrame(rows)
    out = fd.deficits(df, trials=40, n_grid=20000)
    union = sq.hv(df, sq.REF["jets"])
    assert out.attrs["union_hv"] == pytest.approx(union, rel=1e-3)
    for (m, s), g in df.groupby(["method", "seed"]):
        r = out[(out.method == m) & (out.seed == s)].iloc[0]
        assert r[["Q1", "Q2", "Q3", "Q4", "above"]].sum() == pytest.approx(r.total)
        assert r.total == pytest.approx(union - sq.hv(g, sq.REF["jets"]), abs=2e-3 * union)
        assert r.total > 0 and min(r[["Q1", "Q2", "Q3", "Q4", "above"]]) >= 0


def test_the_electron_photon_task_builds_its_space_on_its_data_inside_its_reference_box():
    """``--task egamma`` (small_cnn on electron / photon showers): the models take the showers and give two
    classes, and the fixed reference point lies beyond the space's dearest architecture."""
    import math

    from kerasnac import costs

    sq = _search_quality()
    space, objectives, metric, to_min, (xt, yt), (xv, yv) = sq.make_task("egamma", 200, 0, "toy")
    assert (xt.shape[1:], yt.shape[1], metric, objectives[1]) == ((12, 12, 6), 2, "val_accuracy", "bops")
    dearest = {"s0/conv/layers": 2, "s0/conv/filters_0": 16, "s0/conv/filters_1": 16, "s0/conv/pooling": "avg",
               "s0/conv/q/w_bits": 16, "s0/conv/q/a_bits": 16, "s1/block": "conv", "s1/conv/filters_0": 32,
               "s1/conv/pooling": "none", "s1/conv/q/w_bits": 16, "s1/conv/q/a_bits": 16, "s2/block": "mlp",
               "s2/mlp/units_0": 32, "s2/mlp/q/w_bits": 16, "s2/mlp/q/a_bits": 16, "head/q/w_bits": 16}
    model = space.model_from_values(space.complete_values(dearest))
    assert model.predict(xv[:3], verbose=0).shape == (3, 2)
    assert math.log10(costs.evaluate(model, ["bops"])["bops"]) < sq.REF["egamma"][1]
    assert to_min(0.8) == -0.8 and -0.5 == sq.REF["egamma"][0]  # chance accuracy for two classes


def test_the_rare_photon_task_scores_the_auc_of_the_rare_class():
    sq = _search_quality()
    space, objectives, metric, to_min, (xt, yt), (xv, yv) = sq.make_task("egamma_rare", 400, 0, "toy")
    assert metric == "val_auc" and objectives[0].direction == "max" and sq.REF["egamma_rare"] == sq.REF["egamma"]
    assert 0.05 < np.concatenate([yt, yv])[:, 1].mean() < 0.15  # photons 10% of the showers
    model = space.model_from_values({})

    class Ranker:  # scores showers by their first layer's share of the energy: electrons deposit more there
        def predict(self, x, **kw):
            s = -x[..., 0].sum(axis=(1, 2))
            return np.column_stack([-s, s])

    assert 0.0 <= sq.photon_auc(model, (xv, yv)) <= 1.0
    assert sq.photon_auc(Ranker(), (xv, yv)) > 0.7  # the physics of the task, ranked without a network
