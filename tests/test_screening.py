"""Surrogate-assisted offspring selection (kerasnac.screening) in the ParetoOracle and KerasNAC."""

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import screening as scr
from kerasnac._keras import kt
from kerasnac.oracle import Constraint

from test_oracle import hv, make_oracle, make_space, run, zdt_objectives


def exact_f1(values):
    """The 'hardware cost' of the synthetic problem: f1 follows from the values alone."""
    return {"f1": zdt_objectives(values)[0]}


@pytest.mark.parametrize("kwargs", [{"candidates": 0}, {"candidates": True}, {"exact": 0},
                                    {"kappa": -1.0}, {"kappa": float("nan")}, {"min_trials": 1},
                                    {"n_estimators": 1}, {"quality": 0}, {"quality": 1.5}, {"quality": True},
                                    {"smooth": 1.0}, {"smooth": -0.1}, {"smooth": True},
                                    {"trust_r2": 2.0}, {"trust_r2": True}, {"trust_r2": "high"},
                                    {"kappa": True}, {"long_trials": 0}, {"long_trials": True},
                                    {"long_trials": "long"}, {"accurate_every": 0}, {"accurate_every": True},
                                    {"accurate_every": 2.5}])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(ValueError, match="Screening"):
        kn.Screening(**kwargs)


def test_encoder_scales_numbers_one_hots_categories_and_marks_inactive():
    enc = scr.Encoder(make_space().space)
    names = [c[0] for c in enc.columns]
    assert "classes" not in names  # Fixed: no information
    x = enc({"act": "tanh", "width": 8, "lr": 1e-3, "bn": True, "block": "mlp", "units": 64})
    cols = dict(zip([(c[0], c[2] if c[1] == "cat" else None) for c in enc.columns], x))
    assert cols[("act", "tanh")] == 1 and cols[("act", "relu")] == 0
    assert cols[("width", None)] == 0.0 and cols[("units", None)] == 1.0
    assert cols[("lr", None)] == pytest.approx(0.5)  # log scale: 1e-3 is halfway between 1e-5 and 1e-1
    assert cols[("kernel", None)] == -1.0  # inactive (block is mlp)


def test_cost_cache_builds_each_values_once_and_survives_failures():
    calls = []

    def fn(values):
        calls.append(values)
        if values["w"] < 0:
            raise ValueError("cannot build")
        return {"bops": values["w"] * 2}

    cache = scr.CostCache(fn)
    assert cache({"w": 3}) == {"bops": 6.0} and cache({"w": 3}) == {"bops": 6.0}
    assert cache({"w": -1}) is None and cache({"w": -1}) is None
    assert len(calls) == 2 and len(cache) == 2


def _history(points):
    """History entries for a one-hyperparameter space: values {"w": w}, objectives (acc, bops)."""
    return [({"w": w}, [acc, bops], {"bops": bops, "params": bops}) for w, acc, bops in points]


def test_choose_prefers_the_child_that_extends_the_front():
    hp = kt.HyperParameters()
    hp.Int("w", 1, 64)
    enc = scr.Encoder(hp.space)
    # accuracy rises with width, BOPs grow with width: every record is on the front
    hist = _history([(w, 1 - 1 / w, 100 * w) for w in (2, 4, 8, 16, 32)])
    children = [{"w": 16}, {"w": 64}, {"w": 1}]
    objectives = [("acc", "max"), ("bops", "min")]
    cost = scr.CostCache(lambda v: {"bops": 100 * v["w"], "params": 100 * v["w"]})
    pick = scr.choose(kn.Screening(exact=3, kappa=0.0), children, hist, objectives, cost, [], enc, seed=0)
    assert children[pick]["w"] != 16  # a copy of a point already on the front adds no hypervolume
    # with a budget that only w=1 meets, the exact costs rule out the others
    budget = [Constraint.parse("bops <= 150")]
    pick = scr.choose(kn.Screening(exact=3, kappa=0.0), children, hist, objectives, cost, budget, enc, seed=0)
    assert children[pick]["w"] == 1


def test_accurate_choice_takes_the_most_accurate_looking_child_whatever_its_cost():
    hp = kt.HyperParameters()
    hp.Int("w", 1, 64)
    enc = scr.Encoder(hp.space)
    # accuracy rises with width up to 8, then falls; BOPs grow with width
    hist = _history([(w, 1 - abs(np.log2(w) - 3) / 10, 100 * w) for w in (1, 2, 4, 8, 16, 32, 64)])
    children = [{"w": 3}, {"w": 9}, {"w": 60}]
    objectives = [("acc", "max"), ("bops", "min")]
    cost = scr.CostCache(lambda v: {"bops": 100 * v["w"], "params": 100 * v["w"]})
    opts = kn.Screening(exact=3, kappa=0.0)
    assert children[scr.choose(opts, children, hist, objectives, cost, [], enc, seed=0)]["w"] == 3  # gain: cheap end
    assert children[scr.choose(opts, children, hist, objectives, cost, [], enc, seed=0, accurate=True)]["w"] == 9
    # a cost constraint still holds for the accurate choice
    budget = [Constraint.parse("bops <= 500")]
    assert children[scr.choose(opts, children, hist, objectives, cost, budget, enc, seed=0, accurate=True)]["w"] == 3


def test_accurate_every_k_changes_only_every_kth_offspring(tmp_path, monkeypatch):
    """``Screening(accurate_every=k)``: the oracle asks for the accurate choice on offspring k, 2k, ..."""
    seen = []
    real = scr.pick

    def spy(*args, accurate=False, **kwargs):
        seen.append(accurate)
        return real(*args, accurate=accurate, **kwargs)

    monkeypatch.setattr(scr, "pick", spy)
    oracle = make_oracle(tmp_path, max_trials=22, population_size=6, seed=0,
                         screening=kn.Screening(accurate_every=3), cost_fn=exact_f1)
    first = run(oracle, 22)
    assert len(seen) == 16 and [i + 1 for i, a in enumerate(seen) if a] == [3, 6, 9, 12, 15]
    plain = run(make_oracle(tmp_path, "plain", max_trials=22, population_size=6, seed=0,
                            screening=kn.Screening(), cost_fn=exact_f1), 22)
    assert first[:8] == plain[:8] and first != plain  # the same until the third offspring


def test_gain_counts_only_children_better_than_the_quality_quantile():
    # minimised (-accuracy, bops): a front from accurate and dear to poor and cheap
    Y = np.array([[-0.9, 10.0], [-0.8, 5.0], [-0.5, 2.0], [-0.2, 1.0], [-0.4, 8.0], [-0.3, 9.0]])
    cheap_poor, dear_good = [-0.3, 0.5], [-0.85, 6.0]
    points = np.array([cheap_poor, dear_good])
    worst = scr._gain(points, Y)  # reference: the worst record
    assert worst[0, 0] > 0 and worst[1, 0] > 0
    median = scr._gain(points, Y, {0: 0.5})  # reference on the accuracy axis: the median record (-0.45)
    assert median[0, 0] == 0  # worse than half the trials: adds nothing, however cheap
    assert median[1, 0] > 0
    assert np.allclose(scr._gain(points, Y, {0: 1.0}), worst)


def test_quality_reference_applies_to_the_trained_metric_only():
    cost = scr.CostCache(lambda v: {"bops": 100.0 * v["w"]})
    names = ["acc", "bops"]
    assert scr._quality_columns(0.5, names, cost, [{"w": 2}]) == {0: 0.5}
    assert cost.names == {"bops"}  # learnt once, from a cached build
    assert scr._quality_columns(None, names, cost, [{"w": 2}]) == {}
    assert scr._quality_columns(0.5, names, None, [{"w": 2}]) == {0: 0.5, 1: 0.5}


def test_a_search_stored_before_the_quality_option_still_resumes():
    from kerasnac import _rundir

    def entry(screening):
        return _rundir.fingerprint(np.zeros((4, 2)), np.zeros(4), None, 0.2, 1, 2, screening=screening)["screening"]

    before = {"candidates": 8, "exact": 2, "kappa": 1.0, "min_trials": None, "n_estimators": 64}
    short = kn.Screening().for_budget(1_000)  # what KerasNAC records for short trials
    assert entry(short) == before  # the fingerprint a search of an earlier release stored
    assert _rundir.fingerprint_changes({"screening": before}, {"screening": entry(short)}) == []
    assert entry(kn.Screening(quality=0.5).for_budget(1_000)) == {**before, "quality": 0.5}  # a new setting counts
    # long trials are screened otherwise: such a search of an earlier release is told what changed
    changes = _rundir.fingerprint_changes({"screening": before}, {"screening": entry(kn.Screening().for_budget(10**6))})
    assert len(changes) == 1 and "kappa" in changes[0] and "exact" in changes[0], changes


def test_unset_kappa_and_exact_follow_the_trials_training_budget():
    def pair(s):
        return s.kappa, s.exact

    assert pair(kn.Screening()) == (None, None)
    assert pair(kn.Screening().for_budget(1_800 * 3)) == (1.0, 2)  # Bragg 3k, 3 epochs: short
    assert pair(kn.Screening().for_budget(3_000 * 8)) == (0.0, 4)  # Deep Sets 3k, 8 epochs: long
    assert pair(kn.Screening().for_budget(None)) == (1.0, 2)  # unknown: the short-trial values
    assert pair(kn.Screening(kappa=0.5).for_budget(10**6)) == (0.5, 4)  # what is given is kept
    assert pair(kn.Screening(exact=3).for_budget(10)) == (1.0, 3)
    assert pair(kn.Screening(long_trials=100).for_budget(100)) == (0.0, 4)
    s = kn.Screening(candidates=5).for_budget(10**6)
    assert s.for_budget(1) == s and s.candidates == 5  # filled once, then fixed
    before = {"candidates": 8, "exact": 2, "kappa": 1.0}  # a search started by an earlier release
    assert pair(kn.Screening().for_budget(10**6, started=before)) == (1.0, 2)  # continues as it began
    assert pair(kn.Screening(kappa=0.5).for_budget(10**6, started=before)) == (0.5, 2)  # given: kept


def test_kerasnac_screens_from_its_training_samples_times_epochs(tmp_path):
    import json

    from _search_proc import small_search

    # 200 samples, 20% held out: 160 training samples x 2 epochs = 320 sample-epochs
    short = small_search(tmp_path / "a", 2, 2, epochs=2, n=200, screening=kn.Screening(long_trials=321))
    long = small_search(tmp_path / "b", 2, 2, epochs=2, n=200, screening=kn.Screening(long_trials=320))
    assert (short.oracle.screening.kappa, short.oracle.screening.exact) == (1.0, 2)
    assert (long.oracle.screening.kappa, long.oracle.screening.exact) == (0.0, 4)
    assert long._screening.kappa is None  # the options as given stay, for the next search() call
    with open(tmp_path / "b" / "kerasnac" / "kerasnac.json") as f:
        recorded = json.load(f)["fingerprint"]["screening"]
    assert (recorded["kappa"], recorded["exact"], recorded["long_trials"]) == (0.0, 4, 320)


def test_a_long_search_started_with_the_earlier_screening_resumes_with_it(tmp_path):
    """A search of an earlier release recorded kappa=1, exact=2 whatever its trials' length; the default
    options now choose kappa=0, exact=4 for such trials, but the resumed search keeps what it began with."""
    import json

    from _search_proc import small_search

    # 1,000 samples, 20% held out: 800 x 15 epochs = 12,000 sample-epochs, long for the default options
    small_search(tmp_path, 2, 2, epochs=15, n=1000, screening=kn.Screening(kappa=1.0, exact=2))
    with open(tmp_path / "kerasnac" / "kerasnac.json") as f:  # exactly what an earlier release recorded
        assert json.load(f)["fingerprint"]["screening"] == {"candidates": 8, "exact": 2, "kappa": 1.0,
                                                            "min_trials": None, "n_estimators": 64}
    resumed = small_search(tmp_path, 3, 2, epochs=15, n=1000)  # the default screening
    assert len(resumed.oracle.trials) == 3  # no ConfigError: the settings are those it started with
    assert (resumed.oracle.screening.kappa, resumed.oracle.screening.exact) == (1.0, 2)
    fresh = small_search(tmp_path / "new", 1, 2, epochs=15, n=1000)
    assert (fresh.oracle.screening.kappa, fresh.oracle.screening.exact) == (0.0, 4)


def test_the_training_samples_of_a_tf_data_input_are_counted_when_known():
    import tensorflow as tf

    from kerasnac._data import Data

    def n_train(ds):  # search(batch_size=256) does not batch a tf.data input: the user's batches count
        return Data(None, None, None, None, batch_size=256, datasets=(ds, ds.take(1))).n_train

    samples = tf.data.Dataset.from_tensor_slices((np.zeros((100, 2)), np.zeros(100)))
    assert n_train(samples.batch(32, drop_remainder=True)) == 96
    assert n_train(samples.batch(32)) == 128  # 4 batches, the last one (4 samples) counted as full
    assert n_train(samples.batch(32).repeat()) is None
    assert Data(np.zeros((7, 2)), np.zeros(7), None, None).n_train == 7


def test_smoothing_pulls_a_lucky_metric_toward_its_neighbours_and_leaves_costs_alone():
    hp = kt.HyperParameters()
    hp.Int("w", 1, 64)
    enc = scr.Encoder(hp.space)
    widths = list(range(2, 64, 3))
    points = [(w, 0.5 + 0.004 * w, 100 * w) for w in widths]
    lucky = widths.index(32)
    points[lucky] = (32, 0.95, 3200)  # the trend says 0.628
    hist = _history(points)
    objectives = [("acc", "max"), ("bops", "min")]
    cost = scr.CostCache(lambda v: {"bops": 100.0 * v["w"], "params": 100.0 * v["w"]})
    Y = scr.smoothed(kn.Screening(smooth=0.5), hist, objectives, cost, enc, seed=0)
    recorded = np.array([f for _, f, _ in hist])
    assert np.array_equal(Y[:, 1], recorded[:, 1])  # exact costs untouched
    assert 0.70 < Y[lucky, 0] < 0.90  # half-way toward what the other trials predict
    others = np.arange(len(hist)) != lucky
    assert np.max(np.abs(Y[others, 0] - recorded[others, 0])) < 0.1
    assert np.array_equal(scr.smoothed(kn.Screening(), hist, objectives, cost, enc, seed=0), recorded)  # off
    assert np.array_equal(scr.smoothed(kn.Screening(smooth=0.5), hist, objectives, None, enc, seed=0), recorded)


def test_smoothed_parents_change_the_pool_and_the_search_stays_reproducible(tmp_path):
    import zlib

    def noisy(values):  # a 'training' whose luck depends on the values only, so runs repeat
        f1, f2 = zdt_objectives(values)
        luck = np.random.default_rng(zlib.crc32(scr.values_key(values).encode())).standard_normal()
        return f1, f2 * (1 + 0.3 * luck)

    def make(name, smooth=0.7):
        return make_oracle(tmp_path, name, seed=5, max_trials=30,
                           screening=kn.Screening(smooth=smooth, n_estimators=16), exact_costs=exact_f1)

    oracle = make("a")
    first = run(oracle, 30, fn=noisy)
    assert run(make("b"), 30, fn=noisy) == first
    assert run(make("c", smooth=0.0), 30, fn=noisy) != first  # the smoothing did steer the search
    ids, _, _, _, order = oracle._rank()
    recorded = oracle.selection.pool([ids[i] for i in order], oracle.population_size)
    smoothed = oracle._parent_pool(30)
    assert len(smoothed) == len(recorded) and set(smoothed) <= set(ids)
    assert set(smoothed) != set(recorded)  # lucky trials leave the pool, not only change places in it


def test_smoothing_without_exact_costs_is_refused_not_ignored(tmp_path):
    with pytest.raises(ValueError, match="exact_costs"):
        make_oracle(tmp_path, screening=kn.Screening(smooth=0.5))
    make_oracle(tmp_path, screening=kn.Screening(smooth=0.5), exact_costs=exact_f1)  # fine with them


def test_choose_takes_the_first_child_until_enough_trials():
    hp = kt.HyperParameters()
    hp.Int("w", 1, 64)
    hist = _history([(2, 0.5, 200), (4, 0.7, 400)])
    pick = scr.choose(kn.Screening(min_trials=3), [{"w": 16}, {"w": 64}], hist,
                      [("acc", "max"), ("bops", "min")], None, [], scr.Encoder(hp.space), seed=0)
    assert pick == 0


def test_screening_improves_hypervolume_on_a_synthetic_codesign_problem(tmp_path):
    # ZDT1-like problem whose first objective is known before "training" (like BOPs).
    # Measured over seeds 1..8 at 40 trials: median HV 2.79 with screening, 2.34 without.
    n, plain, screened = 40, [], []
    for seed in (1, 2, 3, 4, 5):
        oracle = make_oracle(tmp_path, f"plain{seed}", seed=seed, max_trials=n)
        plain.append(hv([zdt_objectives(v) for v in run(oracle, n)]))
        oracle = make_oracle(tmp_path, f"scr{seed}", seed=seed, max_trials=n,
                             screening=kn.Screening(), cost_fn=exact_f1)
        screened.append(hv([zdt_objectives(v) for v in run(oracle, n)]))
    assert np.median(screened) > 1.1 * np.median(plain), (screened, plain)


def test_screened_search_is_reproducible_and_resumes_identically(tmp_path):
    def make(name):
        return make_oracle(tmp_path, name, seed=7, max_trials=30, screening=kn.Screening(), cost_fn=exact_f1)

    first = run(make("a"), 30)
    assert run(make("b"), 30) == first
    oracle = make("c")
    head = run(oracle, 17)
    resumed = make("c")
    resumed.reload()
    assert head + run(resumed, 13) == first


def test_a_failing_cost_function_never_stops_the_search(tmp_path):
    def broken(values):
        raise RuntimeError("no cost")

    oracle = make_oracle(tmp_path, "broken", seed=3, max_trials=25, screening=kn.Screening(), cost_fn=broken)
    assert len(run(oracle, 25)) == 25


def test_kerasnac_screening_builds_candidates_for_their_exact_costs(tmp_path):
    from _search_proc import small_search, small_space

    nac = small_search(tmp_path, 7, 3, epochs=1, n=200, screening=kn.Screening(candidates=4, exact=2, min_trials=3))
    df = nac.trials_dataframe()
    assert len(df) == 7 and (df["status"] == "COMPLETED").all()
    cache = nac.oracle.cost_fn
    assert len(cache) >= 2  # exact costs were computed before training
    trained = 0
    for trial in nac.oracle.trials.values():  # and they equal what the trained model reported
        cost = cache._cache.get(scr.values_key(trial.hyperparameters.values))
        if cost is not None:
            trained += 1
            assert cost["bops"] == pytest.approx(trial.metrics.get_last_value("bops"))
    assert trained >= 1
    with pytest.raises(kn.ConfigError, match="screening"):
        kn.KerasNAC(small_space(), max_trials=3, directory=str(tmp_path / "x"), screening={"candidates": 4})


def test_trust_r2_measures_how_far_the_metric_follows_the_architecture_and_switches_to_the_mean():
    from unittest import mock

    hp = kt.HyperParameters()
    hp.Int("w", 1, 64)
    enc = scr.Encoder(hp.space)
    objectives = [("acc", "max"), ("bops", "min")]
    cost = scr.CostCache(lambda v: {"bops": 100.0 * v["w"], "params": 100.0 * v["w"]})
    widths = list(range(2, 64, 2))
    smooth_trend = _history([(w, 0.5 + 0.006 * w, 100 * w) for w in widths])
    luck = np.random.default_rng(0).random(len(widths))
    pure_luck = _history([(w, 0.5 + 0.3 * u, 100 * w) for w, u in zip(widths, luck)])
    follows = scr.surrogate_r2(kn.Screening(), smooth_trend, objectives, cost, enc, seed=0)
    noise = scr.surrogate_r2(kn.Screening(), pure_luck, objectives, cost, enc, seed=0)
    assert follows > 0.8 and noise < 0.1, (follows, noise)
    assert np.isnan(scr.surrogate_r2(kn.Screening(), smooth_trend, objectives, None, enc, seed=0))  # no costs

    children = [{"w": 3}, {"w": 33}, {"w": 63}, {"w": 1}]
    used = []

    def spy(opts, *args, **kwargs):
        used.append((opts.kappa, opts.exact))
        return 0

    with mock.patch.object(scr, "choose", spy):
        for hist in (smooth_trend, pure_luck):
            scr.pick(kn.Screening(trust_r2=0.3), children, hist, objectives, cost, [], enc, 0, population_size=10)
        scr.pick(kn.Screening(), children, smooth_trend, objectives, cost, [], enc, 0, population_size=10)
    assert used == [(0.0, 4), (1.0, 2), (1.0, 2)]  # trusted, not trusted, and off by default
