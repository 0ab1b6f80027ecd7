"""kerasnac.evolution: strategy objects of the ParetoOracle, the one constraint-violation rule, and
ParetoSearch on a plain keras-tuner HyperModel (no KerasNAC)."""

import math
import os

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import _pareto
from kerasnac._keras import keras, kt
from kerasnac.evolution import MISSING, GaussianMutation, ParetoOracle, ParetoSearch, TournamentSelection, UniformCrossover
from kerasnac.fidelity import RUNG_KEY

from test_oracle import OBJECTIVES, make_oracle, make_space, run, zdt_objectives


# ---------------------------------------------------------------------------------- violation rule
def test_constraint_violation_rule_for_missing_and_non_finite_metrics():
    cs = [_pareto.Constraint.parse("lut <= 100"), _pareto.Constraint.parse("acc >= 0.5")]
    assert _pareto.constraint_violation(cs, {"lut": 100.0, "acc": 0.5}) == 0.0
    assert _pareto.constraint_violation(cs, {"lut": 150.0, "acc": 0.25}) == pytest.approx(0.5 + 0.5)
    assert _pareto.constraint_violation([], {}) == 0.0
    for bad in ({"acc": 0.9}, {"lut": None, "acc": 0.9}, {"lut": float("nan"), "acc": 0.9},
                {"lut": float("inf"), "acc": 0.9}, {"lut": 10.0, "acc": float("inf")}, {"lut": "n/a", "acc": 0.9}):
        assert _pareto.constraint_violation(cs, bad) == math.inf, bad


def test_the_three_rankings_apply_the_same_missing_metric_rule(tmp_path):
    from kerasnac.local import final_table

    # 1. the global ranking: a completed trial without the constraint's metric is not ranked
    oracle = make_oracle(tmp_path, "g", constraints=["lut <= 100"], max_trials=4)
    run(oracle, 3, extra=lambda v: {"lut": 50.0} if v["width"] > 0 else {})
    t = oracle.create_trial("t")
    oracle.update_trial(t.trial_id, {"f1": -1.0, "f2": -1.0})  # dominates everything, but no "lut"
    t.status = "COMPLETED"
    oracle.end_trial(t)
    assert t.trial_id not in oracle.rank_trials() and t.trial_id not in oracle.pareto_front_ids()
    # 2. a rung report without it is infeasible (recorded with an infinite violation, ranked last)
    rung = make_oracle(tmp_path, "r", constraints=["lut <= 100"], fidelity=kn.SuccessiveHalving(eta=2, grace=0),
                       max_trials=4)
    ids = [rung.create_trial(f"t{i}").trial_id for i in range(3)]
    for tid, f in zip(ids[:2], (0.5, 0.6)):
        rung.update_trial(tid, {"f1": f, "f2": f, "lut": 10.0, RUNG_KEY: 1.0})
    status = rung.update_trial(ids[2], {"f1": 0.0, "f2": 0.0, RUNG_KEY: 1.0}).status  # best, but no "lut"
    assert status == kt.engine.trial.TrialStatus.STOPPED and rung._rungs["1"][ids[2]][-1] == math.inf
    # 3. the final table: a model without it is never on the front
    rows = [{"candidate_id": "a", "status": "COMPLETED", "val_accuracy": 0.9, "bops": 10.0},
            {"candidate_id": "b", "status": "COMPLETED", "val_accuracy": 0.5, "bops": 20.0, "lut": 5.0}]
    df = final_table(rows, [("val_accuracy", "max"), ("bops", "min")], [kn.Constraint.parse("lut <= 100")])
    assert df.set_index("candidate_id")["on_front"].to_dict() == {"a": False, "b": True}
    assert df.set_index("candidate_id")["violation"]["a"] == math.inf


# ---------------------------------------------------------------------------------- strategies
class SmallestWidth:
    """A user's crossover: the first parent's values, but always the smallest width."""

    def __init__(self):
        self.calls = []

    def __call__(self, parents, space, rng):
        self.calls.append((len(parents), len(space), type(rng).__name__))
        return [hp.min_value if hp.name == "width" else parents[0].get(hp.name, MISSING) for hp in space]


def test_a_users_crossover_is_used_for_every_child(tmp_path):
    cross = SmallestWidth()
    oracle = make_oracle(tmp_path, "x", seed=2, max_trials=40, crossover=cross, mutation_prob=0.0)
    proposed = run(oracle, 40)
    assert cross.calls and set(cross.calls) == {(2, len(oracle.hyperparameters.space), "Generator")}
    children = proposed[10:]  # after the random initial population of 10
    bred = [v for v in children if v["width"] == 8]
    default = run(make_oracle(tmp_path, "d", seed=2, max_trials=40, mutation_prob=0.0), 40)[10:]
    assert len(bred) >= 10 and len(bred) > sum(v["width"] == 8 for v in default)
    # the same seed replays the same search with the user's operator
    assert run(make_oracle(tmp_path, "y", seed=2, max_trials=40, crossover=SmallestWidth(), mutation_prob=0.0),
               40) == proposed


def test_illegal_values_from_a_crossover_are_redrawn(tmp_path):
    def nonsense(parents, space, rng):
        return [-999 for _ in space]

    proposed = run(make_oracle(tmp_path, "n", seed=1, max_trials=20, crossover=nonsense), 20)
    space = make_space().space
    from kerasnac.evolution._values import is_valid

    for values in proposed:
        for hp in space:
            if hp.name in values:
                assert is_valid(hp, values[hp.name]), (hp.name, values[hp.name])


def test_default_strategies_equal_the_explicit_ones(tmp_path):
    explicit = dict(selection=TournamentSelection(), crossover=UniformCrossover(prob=0.9), mutation=GaussianMutation())
    assert run(make_oracle(tmp_path, "e", seed=4, max_trials=30, **explicit), 30) == \
        run(make_oracle(tmp_path, "f", seed=4, max_trials=30), 30)


def test_ordinal_mutation_steps_numeric_choices_in_rank():
    H = kt.engine.hyperparameters
    bits, kind = H.Choice("bits", [32, 4, 6, 8, 12, 16]), H.Choice("kind", ["a", "b", "c"])  # unsorted on purpose
    scale = sorted(bits.values)
    for ordinal in (False, True):
        m = GaussianMutation(ordinal=ordinal)
        steps = [abs(scale.index(m(bits, 8, np.random.default_rng(i))) - scale.index(8)) for i in range(600)]
        assert 0 not in steps  # always another value
        if ordinal:  # mostly one rank away; the far end (32) rare
            assert np.mean(np.array(steps) == 1) > 0.6 and np.mean(np.array(steps) == 3) < 0.1
        else:  # uniform over the five others
            assert 0.15 < np.mean(np.array(steps) == 3) < 0.25
        # non-numeric Choices are redrawn uniformly either way
        assert {m(kind, "a", np.random.default_rng(i)) for i in range(50)} == {"b", "c"}
    # a numeric Choice the user declared unordered (an ID) is redrawn uniformly too
    ids = H.Choice("detector", [32, 4, 6, 8, 12, 16], ordered=False)
    far = [GaussianMutation(ordinal=True)(ids, 8, np.random.default_rng(i)) for i in range(600)]
    assert 0.15 < np.mean(np.array(far) == 32) < 0.25
    with pytest.raises(ValueError, match="ordinal"):
        GaussianMutation(ordinal="yes")


@pytest.mark.parametrize("kwargs,match", [
    ({"crossover": 3}, "crossover must be callable"),
    ({"mutation": "gauss"}, "mutation must be callable"),
    ({"selection": object()}, "selection must have pool"),
])
def test_strategy_objects_of_the_wrong_shape_are_named(kwargs, match):
    with pytest.raises(TypeError, match=match):
        ParetoOracle(OBJECTIVES, hyperparameters=make_space(), **kwargs)
    with pytest.raises(ValueError, match="UniformCrossover.prob"):
        UniformCrossover(prob=1.5)


def test_cost_fn_is_the_deprecated_name_of_exact_costs(tmp_path):
    def exact(values):
        return {"f1": zdt_objectives(values)[0]}

    options = dict(seed=7, max_trials=12, population_size=4, screening=kn.Screening(n_estimators=8))
    with pytest.warns(DeprecationWarning, match="exact_costs"):
        old = make_oracle(tmp_path, "o", cost_fn=exact, **options)
    new = make_oracle(tmp_path, "n", exact_costs=exact, **options)
    assert run(old, 12) == run(new, 12)
    with pytest.warns(DeprecationWarning):
        assert old.cost_fn is old.exact_costs and len(old.exact_costs) >= 1


def test_old_import_paths_still_work():
    import kerasnac._tuner
    import kerasnac.oracle

    assert kerasnac.oracle.ParetoOracle is kn.ParetoOracle is ParetoOracle
    assert kerasnac.oracle.Constraint is kn.Constraint is _pareto.Constraint
    assert kerasnac._tuner.NACTuner is kn.ParetoSearch


# ---------------------------------------------------------------------------------- ParetoSearch
class TwoLayerNet(kt.HyperModel):
    """A plain keras-tuner HyperModel (tf_keras Dense layers, no kerasnac space)."""

    def build(self, hp):
        model = keras.Sequential([keras.layers.Input((8,)),
                                  keras.layers.Dense(hp.Int("units", 2, 32, step=2), activation="relu"),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile(keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def test_pareto_search_on_a_plain_hypermodel_with_two_objectives(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 8)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    ended = []
    params = kn.Objective("params", "min", fn=lambda model: model.count_params())
    tuner = ParetoSearch(TwoLayerNet(), objective=["val_accuracy", params], max_trials=4, population_size=2, seed=1,
                         on_trial_end=ended.append, directory=str(tmp_path), project_name="plain")
    assert isinstance(tuner.oracle, ParetoOracle) and tuner.oracle.objectives == [("val_accuracy", "max"),
                                                                                   ("params", "min")]
    tuner.search(x[:180], y[:180], validation_data=(x[180:], y[180:]), epochs=1, batch_size=32, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 4 and all(t.status == "COMPLETED" for t in trials) and len(ended) == 4
    front = tuner.oracle.pareto_front_ids()
    assert front
    for tid in front:  # every front trial reported both objectives, and none dominates another
        m = tuner.oracle.trials[tid].metrics
        assert 0.0 <= m.get_last_value("val_accuracy") <= 1.0 and m.get_last_value("params") > 0
    F = np.array([[-tuner.oracle.trials[t].metrics.get_last_value("val_accuracy"),
                   tuner.oracle.trials[t].metrics.get_last_value("params")] for t in front])
    assert (_pareto.nondominated_sort(F) == 0).all()
    best = tuner.get_best_models(1)[0]
    units = tuner.oracle.get_best_trials(1)[0].hyperparameters.get("units")
    assert best.count_params() == 8 * units + units + units * 2 + 2
    tuner.results_summary(3)
    out = capsys.readouterr().out
    assert "Pareto rank 0" in out and "Score" not in out
    assert not os.path.exists(tmp_path / "plain" / "kerasnac.json")  # no KerasNAC involved


def test_pareto_search_reports_costs_and_takes_another_oracle(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    oracle = kt.oracles.RandomSearchOracle(objective=[kt.Objective("val_loss", "min"), kt.Objective("bops", "min")],
                                           max_trials=2, seed=3)
    tuner = ParetoSearch(TwoLayerNet(), oracle=oracle, seed=0, cost_fn=kn.costs.evaluate, directory=str(tmp_path),
                         project_name="random")
    assert [o.name for o in tuner.objectives] == ["val_loss", "bops"]
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    done = [t for t in oracle.trials.values() if t.status == "COMPLETED"]
    assert len(done) == 2 and all(t.metrics.get_last_value("bops") > 0 for t in done)
    with pytest.raises(ValueError, match="with oracle= give them to that oracle"):
        ParetoSearch(TwoLayerNet(), oracle=oracle, screening=kn.Screening(), directory=str(tmp_path), project_name="z")


def test_pareto_search_never_overwrites_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    with pytest.raises(kn.ConfigError, match="kerasnac did not make"):
        ParetoSearch(TwoLayerNet(), objective=["val_loss", "val_accuracy"], directory=str(tmp_path),
                     project_name="mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a user's file"
    ParetoSearch(TwoLayerNet(), objective=["val_loss"], directory=str(tmp_path), project_name="new")
    again = ParetoSearch(TwoLayerNet(), objective=["val_loss"], directory=str(tmp_path), project_name="new",
                         overwrite=True)  # its own folder: replaced
    assert again.oracle.trials == {}


def test_a_trials_data_order_depends_on_its_seed_not_on_earlier_trials(tmp_path):
    """With ``train_for_seed`` a trial trains on a pipeline shuffled from its own seed: the same trial run again
    in the same process gives the same result; on one shared pipeline its shuffle state carries over."""
    from kerasnac import _data

    rng = np.random.default_rng(2)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    data = _data.Data(x[:192], y[:192], x[192:], y[192:], seed=0, batch_size=16)
    tuner = ParetoSearch(TwoLayerNet(), objective=["val_loss"], max_trials=1, seed=4, directory=str(tmp_path),
                         project_name="order")
    trial = tuner.oracle.create_trial("tuner0")
    kwargs = dict(validation_data=data.val(), epochs=2, objective_data=data.validation, verbose=0)

    def val_loss(**extra):
        return tuner.run_trial(trial, data.train(), **kwargs, **extra)["val_loss"]

    seeded = [val_loss(train_for_seed=data.train_for_seed) for _ in range(2)]
    assert seeded[0] == seeded[1]
    shared = [val_loss() for _ in range(2)]  # the cached pipeline: the second run sees other batches
    assert shared[0] != shared[1]


# ---------------------------------------------------------------------------------- first population
def _width_cost(values):  # an exact "cost" known before training, as BOPs are
    return {"f2": float(values["width"]) ** 2}


def test_stratified_first_population_spans_the_cost_axis_and_replays(tmp_path):
    from kerasnac.evolution import CostStratified

    plain = run(make_oracle(tmp_path, "plain", exact_costs=_width_cost), 10)
    strat_oracle = make_oracle(tmp_path, "strat", exact_costs=_width_cost,
                               initial=CostStratified(candidates=4, anchor=False))
    strat = run(strat_oracle, 10)
    widths = sorted(v["width"] for v in strat)
    pool = [strat_oracle._random_draw(k, 3) for k in range(40)]  # the 40 candidates it chose from
    assert widths[0] == min(v["width"] for v in pool) and widths[-1] == max(v["width"] for v in pool)
    gaps = np.diff(np.log10(np.array(widths, float) ** 2 + 1))
    plain_gaps = np.diff(np.log10(np.sort([v["width"] for v in plain]).astype(float) ** 2 + 1))
    assert gaps.max() < plain_gaps.max()  # evenly spread: no big hole on the cost axis
    # trained middle, cheapest, dearest first: a short search has already seen the whole cost axis
    assert sorted(v["width"] for v in strat[1:3]) == [widths[0], widths[-1]]
    assert widths[0] < strat[0]["width"] < widths[-1]
    again = CostStratified(4, anchor=False)
    assert strat == run(make_oracle(tmp_path, "again", exact_costs=_width_cost, initial=again), 10)

    half = make_oracle(tmp_path, "half", exact_costs=_width_cost, initial=CostStratified(4, anchor=False))
    first = run(half, 4)
    resumed = make_oracle(tmp_path, "half2", exact_costs=_width_cost, initial=CostStratified(4, anchor=False))
    resumed.set_state(half.get_state())
    resumed.trials, resumed.start_order = half.trials, half.start_order
    assert first + run(resumed, 6) == strat  # the plan is part of the oracle's state


def _corner_cost(values):
    """A cost whose minimum is one corner of the conditional test space: width 8, no batch norm, tanh,
    and the mlp block with 8 units (8 < the conv block's kernel 1 x 10)."""
    act = {"relu": 3.0, "tanh": 1.0, "sigmoid": 2.0, "elu": 4.0}[values["act"]]
    block = values["units"] if values["block"] == "mlp" else 10.0 * values["kernel"]
    return {"f2": float(values["width"]) ** 2 * block * act * (2.0 if values["bn"] else 1.0)}


def test_the_descent_finds_the_cheapest_architecture_of_a_conditional_space():
    import itertools

    from kerasnac.evolution.anchor import cheapest_values

    space = make_space().space
    grid = []  # brute force over every discrete architecture (lr does not enter the cost)
    for act, width, bn in itertools.product(["relu", "tanh", "sigmoid", "elu"], range(8, 257, 8), [False, True]):
        grid += [{"act": act, "width": width, "bn": bn, "block": "mlp", "units": u} for u in range(8, 65, 8)]
        grid += [{"act": act, "width": width, "bn": bn, "block": "conv", "kernel": k} for k in (1, 3, 5, 7)]
    best = min(_corner_cost(v)["f2"] for v in grid)
    rng = np.random.default_rng(0)
    for _ in range(5):  # from random starts, the mlp and conv branches alike
        start = {"act": str(rng.choice(["relu", "sigmoid", "elu"])), "width": int(rng.integers(2, 33)) * 8,
                 "lr": 1e-3, "bn": True, "block": str(rng.choice(["mlp", "conv"])), "units": 64, "kernel": 7,
                 "classes": 5}
        values, cost = cheapest_values(space, lambda v: _corner_cost(v)["f2"], start)
        assert cost == best == 8.0 ** 2 * 8
        assert values["block"] == "mlp" and values["units"] == 8 and "kernel" not in values
    # an architecture that cannot be built (cost None) is never taken
    values, cost = cheapest_values(space, lambda v: None if v["width"] < 64 else _corner_cost(v)["f2"], start)
    assert values["width"] == 64 and cost == 64.0 ** 2 * 8
    calls = []  # the evaluation cap bounds the descent on a large space: the cheapest found so far
    values, cost = cheapest_values(space, lambda v: calls.append(v) or _corner_cost(v)["f2"], start, max_evals=10)
    assert len(calls) == 10 and cost == min(_corner_cost(v)["f2"] for v in calls) > 8.0 ** 2 * 8


def test_the_stratified_first_population_holds_the_cheapest_architecture(tmp_path):
    """With ``anchor=True`` (the default) the plan's cheapest slot is the space's cheapest architecture,
    which none of the 40 uniform draws is; the spread still ends at the dearest draw, and it replays."""
    from kerasnac.evolution import CostStratified

    anchored = run(make_oracle(tmp_path, "a", exact_costs=_corner_cost, initial=CostStratified(4)), 10)
    plain_oracle = make_oracle(tmp_path, "p", exact_costs=_corner_cost, initial=CostStratified(4, anchor=False))
    pool = [plain_oracle._random_draw(k, 3) for k in range(40)]  # the 40 draws the plan chooses from
    plain = run(plain_oracle, 10)
    cheapest = min(_corner_cost(v)["f2"] for v in pool)
    costs = sorted(_corner_cost(v)["f2"] for v in anchored)
    assert costs[0] == 8.0 ** 2 * 8 < cheapest == min(_corner_cost(v)["f2"] for v in plain)
    # the spread runs from the space's cheapest architecture to the dearest draw, as without the anchor
    assert costs[-1] == max(_corner_cost(v)["f2"] for v in plain) == max(_corner_cost(v)["f2"] for v in pool)
    assert run(make_oracle(tmp_path, "b", exact_costs=_corner_cost, initial=CostStratified(4)), 10) == anchored
    with pytest.raises(ValueError, match="anchor must be True or False"):
        CostStratified(4, anchor="yes")


def test_structural_anchors_are_the_cheapest_architecture_of_each_other_structure(tmp_path):
    """``structural_anchors``: for the other value of the test space's ``block`` choice (conv), the cheapest
    conv architecture (brute force), found with ``block`` held although mlp is cheaper; with
    ``CostStratified(structural=1)`` the first population holds it beside the space's cheapest one."""
    import itertools

    from kerasnac.evolution import CostStratified
    from kerasnac.evolution.anchor import cheapest_values, structural, structural_anchors

    space = make_space().space
    assert [hp.name for hp in structural(space)] == ["block"]
    f2 = lambda v: _corner_cost(v)["f2"]  # noqa: E731
    start = {"act": "relu", "width": 128, "lr": 1e-3, "bn": True, "block": "mlp", "units": 64, "classes": 5}
    anchor, _ = cheapest_values(space, f2, start)
    ((conv, cost),) = structural_anchors(space, f2, anchor)
    best = min(f2({"act": a, "width": w, "bn": b, "block": "conv", "kernel": k})
               for a, w, b, k in itertools.product(["relu", "tanh", "sigmoid", "elu"], range(8, 257, 8),
                                                   [False, True], (1, 3, 5, 7)))
    assert conv["block"] == "conv" and cost == best == 8.0 ** 2 * 10 and "units" not in conv

    pop = run(make_oracle(tmp_path, "s", exact_costs=_corner_cost, initial=CostStratified(4, structural=1)), 10)
    plain = run(make_oracle(tmp_path, "a", exact_costs=_corner_cost, initial=CostStratified(4)), 10)
    costs = sorted(f2(v) for v in pop)
    assert costs[:2] == [8.0 ** 2 * 8, 8.0 ** 2 * 10] and 8.0 ** 2 * 10 not in [f2(v) for v in plain]
    assert max(costs) == max(f2(v) for v in plain)  # the spread still ends at the dearest draw
    assert len({tuple(sorted(v.items())) for v in pop}) == 10
    with pytest.raises(ValueError, match="structural must be an integer"):
        CostStratified(4, structural=-1)


def test_a_plan_made_before_the_first_request_is_the_plan_the_first_draw_makes(tmp_path):
    """The gRPC chief plans while its workers start: same trials as planning at the first draw."""
    from kerasnac.evolution import CostStratified

    def oracle(name):
        o = make_oracle(tmp_path, name, exact_costs=_width_cost, initial=CostStratified(4))
        o.enqueue({"width": 16}, "base")
        return o

    lazy = run(oracle("lazy"), 10)
    early = oracle("early")
    early.prepare_first_population()
    assert early._initial_plan and len(early._initial_plan) == 9  # the baseline takes one slot
    assert run(early, 10) == lazy
    again = oracle("again")
    run(again, 3)
    plan = list(again._initial_plan)
    again.prepare_first_population()  # a plan in progress (or restored from a resume) is kept
    assert again._initial_plan == plan


def test_spanning_order_is_a_permutation_whose_prefixes_span_the_range():
    from kerasnac.evolution.initial import spanning_order

    for n in range(1, 40):
        order = spanning_order(n)
        assert sorted(order) == list(range(n))
        if n >= 3:
            assert set(order[1:3]) == {0, n - 1} and abs(order[0] - (n - 1) / 2) <= 0.5
        if n >= 9:  # the first 5 leave no gap wider than a quarter of the range (+ rounding)
            assert np.diff(sorted(order[:5])).max() <= (n - 1) / 4 + 1


def test_stratified_needs_exact_costs_and_checks_its_arguments(tmp_path):
    from kerasnac.evolution import CostStratified

    no_costs = run(make_oracle(tmp_path, "a", initial=CostStratified(4)), 10)
    assert no_costs == run(make_oracle(tmp_path, "b"), 10)  # without exact costs: the random first population
    with pytest.raises(ValueError, match="candidates must be an integer >= 2"):
        CostStratified(candidates=1)
    with pytest.raises(kn.errors.ConfigError, match="initial must be 'random', 'stratified'"):
        kn.KerasNAC(kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5), initial="even",
                    directory=str(tmp_path))
