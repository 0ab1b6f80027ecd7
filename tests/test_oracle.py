import math

import numpy as np
import pytest

from kerasnac import _pareto
from kerasnac._keras import kt
from kerasnac.oracle import Constraint, ParetoOracle

_hp = kt.engine.hyperparameters
OBJECTIVES = [kt.Objective("f1", "min"), kt.Objective("f2", "min")]


def make_space():
    hp = kt.HyperParameters()
    hp.Choice("act", ["relu", "tanh", "sigmoid", "elu"])
    hp.Int("width", 8, 256, step=8)
    hp.Float("lr", 1e-5, 1e-1, sampling="log")
    hp.Boolean("bn")
    hp.Choice("block", ["mlp", "conv"])
    with hp.conditional_scope("block", ["mlp"]):
        hp.Int("units", 8, 64, step=8)
    with hp.conditional_scope("block", ["conv"]):
        hp.Int("kernel", 1, 7, step=2)
    hp.Fixed("classes", 5)
    return hp


def zdt_objectives(v):
    """ZDT1-like: f1 from the width; the other hps set the distance g to the Pareto front."""
    f1 = (v["width"] - 8) / 248
    penalties = [
        abs(math.log10(v["lr"]) + 3) / 2,
        0.0 if v["act"] == "elu" else 1.0,
        0.0 if v["bn"] else 1.0,
        abs(v["units"] - 40) / 32 if v["block"] == "mlp" else 0.5 + abs(v["kernel"] - 3) / 8,
    ]
    g = 1 + 9 * sum(penalties) / len(penalties)
    return f1, g * (1 - math.sqrt(f1 / g))


def make_oracle(tmp_path, name="p", **kwargs):
    kwargs.setdefault("population_size", 10)
    kwargs.setdefault("seed", 1)
    oracle = ParetoOracle(OBJECTIVES, hyperparameters=make_space(), **kwargs)
    oracle._set_project_dir(str(tmp_path), name)
    oracle.verbose = 0
    return oracle


def run(oracle, n_trials, fn=zdt_objectives, extra=None):
    """Run n trials sequentially; return the list of proposed value dicts."""
    proposed = []
    for _ in range(n_trials):
        trial = oracle.create_trial("tuner0")
        if trial.status == kt.engine.trial.TrialStatus.STOPPED:
            break
        values = dict(trial.hyperparameters.values)
        proposed.append(values)
        f1, f2 = fn(values)
        metrics = {"f1": f1, "f2": f2, "multi_objective": f1 + f2}
        if extra:
            metrics.update(extra(values))
        oracle.update_trial(trial.trial_id, metrics)
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        oracle.end_trial(trial)
        oracle.save()  # as Tuner.on_trial_end does (end_trial saves before popping the trial)
    return proposed


def active_names(values, space):
    hps = kt.HyperParameters()
    names = set()
    for hp in space.space:
        hps.merge([hp])
        hps.values[hp.name] = values.get(hp.name)
        if hps.is_active(hp):
            names.add(hp.name)
    return names


def hv(points, ref=(1.0, 4.0)):
    return _pareto.hypervolume_2d(np.array(points, dtype=float), ref)


# ----------------------------------------------------------------------------- constraints
def test_constraint_parse_and_violation():
    c = Constraint.parse("  lut<=50000 ")
    assert (c.metric, c.op, c.bound) == ("lut", "<=", 50000.0)
    assert c.violation(40000) == 0.0 and c.violation(60000) == pytest.approx(0.2)
    c = Constraint.parse("val_accuracy >= 0.7")
    assert c.violation(0.8) == 0.0 and c.violation(0.56) == pytest.approx(0.2)
    assert Constraint("x", "<=", 0).violation(0.5) == 0.5  # bound 0 -> not normalized
    assert Constraint.parse(str(c)) == c
    for bad in ["lut < 5", "lut <= abc", "<= 5", "lut 5", "lut <= 5 6", "lut <= nan"]:
        with pytest.raises(ValueError, match="expected '<metric> <= <number>'"):
            Constraint.parse(bad)


# ----------------------------------------------------------------------------- proposals
def test_values_valid_unique_and_only_active(tmp_path):
    space = make_space()
    oracle = make_oracle(tmp_path, max_trials=80)
    proposed = run(oracle, 80)
    assert len(proposed) == 80
    hashes = {oracle._compute_values_hash(v) for v in proposed}
    assert len(hashes) == len(proposed)  # no duplicates by active values
    for v in proposed:
        assert set(v) == active_names(v, space)  # inactive hps never set
        assert v["act"] in ["relu", "tanh", "sigmoid", "elu"]
        assert 8 <= v["width"] <= 256 and v["width"] % 8 == 0 and isinstance(v["width"], int)
        assert 1e-5 <= v["lr"] <= 1e-1 and isinstance(v["lr"], float)
        assert isinstance(v["bn"], bool)
        assert v["classes"] == 5
        if v["block"] == "mlp":
            assert 8 <= v["units"] <= 64 and v["units"] % 8 == 0
        else:
            assert v["kernel"] in (1, 3, 5, 7)
    assert oracle.generation == (80 - 10) // 10


def test_baselines_come_first(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=20)
    oracle.enqueue({"act": "elu", "width": 64, "block": "mlp", "units": 40}, name="paper")
    oracle.enqueue({"block": "conv", "kernel": 5})
    with pytest.raises(ValueError, match="not allowed"):
        oracle.enqueue({"width": 7})
    proposed = run(oracle, 12)
    assert proposed[0] == {"act": "elu", "width": 64, "lr": 1e-5, "bn": False, "block": "mlp",
                           "units": 40, "classes": 5}
    assert proposed[1]["block"] == "conv" and proposed[1]["kernel"] == 5
    assert "units" not in proposed[1]
    assert oracle.baselines == {"00": "paper", "01": "baseline_1"}
    # a baseline enqueued late still runs next, even during the evolutionary phase
    oracle.enqueue({"act": "tanh", "width": 256, "block": "conv", "kernel": 7}, name="late")
    assert run(oracle, 1)[0]["width"] == 256
    assert oracle.baselines["12"] == "late"


def test_exhausted_space_stops(tmp_path):
    hp = kt.HyperParameters()
    hp.Choice("a", [1, 2, 3])
    hp.Boolean("b")
    oracle = ParetoOracle(OBJECTIVES, population_size=2, seed=0, hyperparameters=hp)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    proposed = run(oracle, 20, fn=lambda v: (v["a"], float(v["b"])))
    assert len(proposed) == 6
    assert len({(v["a"], v["b"]) for v in proposed}) == 6


def test_reproducible_with_same_seed(tmp_path):
    a = run(make_oracle(tmp_path, "a", seed=7), 40)
    b = run(make_oracle(tmp_path, "b", seed=7), 40)
    c = run(make_oracle(tmp_path, "c", seed=8), 40)
    assert a == b
    assert a != c


def test_state_round_trip_continues_identically(tmp_path):
    kwargs = dict(seed=3, constraints=["f1 <= 0.8"], max_trials=50)
    reference = run(make_oracle(tmp_path, "ref", **kwargs), 50)

    first = make_oracle(tmp_path, "resumed", **kwargs)
    assert run(first, 25) == reference[:25]
    state = first.get_state()
    assert state["generation"] == (25 - 10) // 10 and len(state["parent_ids"]) == 10

    # 1) reload from disk, as keras-tuner does with overwrite=False
    resumed = make_oracle(tmp_path, "resumed", **kwargs)
    resumed.reload()
    a, b = resumed.get_state(), first.get_state()
    assert sorted(a.pop("tried_so_far")) == sorted(b.pop("tried_so_far"))
    assert a == b
    assert [str(c) for c in resumed.constraints] == ["f1 <= 0.8"]
    assert run(resumed, 25) == reference[25:]

    # 2) set_state on a fresh oracle that shares the trials
    fresh = make_oracle(tmp_path, "fresh", **kwargs)
    first_trials = {tid: t for tid, t in first.trials.items()}
    fresh.trials = first_trials
    fresh.set_state(first.get_state())
    assert run(fresh, 25) == reference[25:]


def test_state_keeps_baseline_queue(tmp_path):
    oracle = make_oracle(tmp_path, "q")
    oracle.enqueue({"width": 16}, name="a")
    oracle.enqueue({"width": 24}, name="b")
    run(oracle, 1)
    assert oracle.pending_baselines == ["b"]
    other = make_oracle(tmp_path, "q")
    other.reload()
    assert other.baselines == {other.start_order[0]: "a"}  # ids are "0000".. with max_trials=None
    assert run(other, 1)[0]["width"] == 24 and other.baselines[other.start_order[1]] == "b"


# ----------------------------------------------------------------------------- ranking
def test_best_trials_follow_pareto_order(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=40)
    run(oracle, 40)
    ids = [t for t in oracle.start_order]
    F = np.array([[oracle.trials[t].metrics.get_last_value(n) for n in ("f1", "f2")] for t in ids])
    expected = [ids[i] for i in _pareto.pareto_order(F)]
    assert [t.trial_id for t in oracle.get_best_trials(40)] == expected
    ranks = oracle.rank_trials()
    assert set(oracle.pareto_front_ids()) == {t for t, (r, _, _) in ranks.items() if r == 0}
    assert oracle.pareto_front_ids() == expected[: len(oracle.pareto_front_ids())]


def test_last_value_is_used_and_nan_trials_are_not_ranked(tmp_path):
    oracle = make_oracle(tmp_path)
    t0 = oracle.create_trial("t")
    oracle.update_trial(t0.trial_id, {"f1": 0.0, "f2": 0.0}, step=0)
    oracle.update_trial(t0.trial_id, {"f1": 5.0, "f2": 5.0}, step=1)  # last value counts
    t0.status = "COMPLETED"
    oracle.end_trial(t0)
    t1 = oracle.create_trial("t")
    oracle.update_trial(t1.trial_id, {"f1": 1.0, "f2": 1.0})
    t1.status = "COMPLETED"
    oracle.end_trial(t1)
    t2 = oracle.create_trial("t")
    oracle.update_trial(t2.trial_id, {"f1": float("nan"), "f2": 0.0})
    t2.status = "COMPLETED"
    oracle.end_trial(t2)
    assert oracle.trials[t2.trial_id].status == "FAILED"
    assert "not ranked" in oracle.trials[t2.trial_id].message
    assert oracle.rank_trials() == {t1.trial_id: (0, math.inf, 0.0), t0.trial_id: (1, math.inf, 0.0)}
    assert [t.trial_id for t in oracle.get_best_trials(2)] == [t1.trial_id, t0.trial_id]


def test_constraints_put_infeasible_trials_last(tmp_path):
    oracle = make_oracle(tmp_path, constraints=["lut <= 100", Constraint("acc", ">=", 0.5)])
    run(oracle, 30, extra=lambda v: {"lut": v["width"], "acc": 1.0 if v["bn"] else 0.4})
    ranks = oracle.rank_trials()
    order = [t.trial_id for t in oracle.get_best_trials(30)]
    feasible = [t for t in order if ranks[t][2] == 0]
    assert feasible and len(feasible) < len(order)
    assert order[: len(feasible)] == feasible
    for t in feasible:
        v = oracle.trials[t].hyperparameters.values
        assert v["width"] <= 100 and v["bn"]
    infeasible = order[len(feasible):]
    assert [ranks[t][2] for t in infeasible] == sorted(ranks[t][2] for t in infeasible)
    assert set(oracle.pareto_front_ids()) <= set(feasible)


# ----------------------------------------------------------------------------- search quality
def test_nsga2_beats_random_search(tmp_path):
    # Over seeds 1..12, every NSGA-II run (population 10, 60 trials) had a larger hypervolume
    # (min 2.33, median 2.86 of 3.67 possible) than any random-search run (max 1.95, median 1.7).
    n, nsga, rand = 60, [], []
    for seed in (1, 2, 3):
        oracle = make_oracle(tmp_path, f"nsga{seed}", seed=seed, population_size=10, max_trials=n)
        nsga.append(hv([zdt_objectives(v) for v in run(oracle, n)]))
        random_oracle = kt.oracles.RandomSearchOracle(
            objective=OBJECTIVES, max_trials=n, seed=seed, hyperparameters=make_space())
        random_oracle._set_project_dir(str(tmp_path), f"random{seed}")
        random_oracle.verbose = 0
        rand.append(hv([zdt_objectives(v) for v in run(random_oracle, n)]))
    assert np.median(nsga) > 1.25 * np.median(rand), (nsga, rand)
    assert min(nsga) > max(rand), (nsga, rand)


def test_parallel_workers_before_results(tmp_path):
    """Several tuners ask for trials before any result is in: random draws, no duplicates."""
    oracle = make_oracle(tmp_path, population_size=2, max_trials=30)
    proposed, done = [], 0
    while True:
        batch = [oracle.create_trial(f"tuner{k}") for k in range(4)]
        batch = [t for t in batch if t.status == "RUNNING"]
        if not batch:
            break
        for t in batch:
            proposed.append(dict(t.hyperparameters.values))
            f1, f2 = zdt_objectives(t.hyperparameters.values)
            oracle.update_trial(t.trial_id, {"f1": f1, "f2": f2})
            t.status = "COMPLETED"
            oracle.end_trial(t)
            done += 1
    assert done == len(proposed) == 30
    assert len({oracle._compute_values_hash(v) for v in proposed}) == 30
    assert len(oracle.rank_trials()) == 30


class _SyntheticTuner(kt.Tuner):
    def run_trial(self, trial, *args, **kwargs):
        f1, f2 = zdt_objectives(trial.hyperparameters.values)
        return {"f1": f1, "f2": f2, "multi_objective": f1 + f2}


def test_runs_inside_a_keras_tuner_and_resumes(tmp_path, capsys):
    def tuner(max_trials):
        oracle = ParetoOracle(OBJECTIVES, max_trials=max_trials, population_size=4, seed=5,
                              hyperparameters=make_space())
        return _SyntheticTuner(oracle=oracle, directory=str(tmp_path), project_name="t")

    first = tuner(8)
    first.oracle.enqueue({"act": "elu"}, name="b0")
    first.search(verbose=0)
    assert len(first.oracle.trials) == 8 and first.oracle.baselines == {"0": "b0"}
    resumed = tuner(12)  # overwrite=False: reloads oracle.json and the trials
    assert resumed.oracle.baselines == {"0": "b0"} and len(resumed.oracle.trials) == 8
    resumed.search(verbose=0)
    assert len(resumed.oracle.trials) == 12
    assert all(t.status == "COMPLETED" for t in resumed.oracle.trials.values())
    best = resumed.oracle.get_best_trials(1)[0]
    assert best.trial_id in resumed.oracle.pareto_front_ids()


def test_exhausted_space_stops_with_one_message(tmp_path, caplog):
    """A space with a single point and max_trials=4: one trial, then a clear message (once), not silence."""
    hp = kt.HyperParameters()
    hp.Choice("act", ["relu"])
    oracle = ParetoOracle(OBJECTIVES, hyperparameters=hp, population_size=2, seed=1, max_trials=4)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    with caplog.at_level("WARNING", logger="kerasnac.oracle"):
        proposed = run(oracle, 4, fn=lambda v: (1.0, 2.0))
        for _ in range(2):  # asked again (another worker, another loop): still stopped, no second message
            assert oracle.create_trial("tuner1").status == kt.engine.trial.TrialStatus.STOPPED
    assert proposed == [{"act": "relu"}]
    msgs = [r.getMessage() for r in caplog.records if "exhausted" in r.getMessage()]
    assert msgs == ["kerasnac: the search space is exhausted after 1 distinct trials (max_trials=4): no untried "
                    "architecture was found, so the search stops here. Widen the space or lower max_trials."]
