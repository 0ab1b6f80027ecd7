"""A front from one supernet training (GradientSearch(budgets=...)) and the budget controller's landing."""

import json

import pytest

import kerasnac as kn
from kerasnac._keras import keras, tf
from kerasnac.errors import ConfigError
from kerasnac.gradient import GradientSearch

QUANT = {"weight_bits": [4, 16], "activation_bits": 8, "activation_integer": 0}


def tiny_space():
    """Two stages: an mlp with 1-2 layers of 4 or 32 units and 4- or 16-bit weights, then mlp or skip."""
    stages = [{"name": "s0", "blocks": {"mlp": {"layers": [1, 2], "units": [4, 32], "batchnorm": False,
                                                "activation": "relu"}}},
              {"name": "s1", "blocks": {"mlp": {"layers": 1, "units": [4, 16], "batchnorm": False,
                                                "activation": "relu"}, "skip": {}}}]
    return kn.SearchSpace((16,), stages, num_classes=5, quant=QUANT, head={"quant": {"weight_bits": 8}},
                          training={"learning_rate": 0.01})


@pytest.fixture(scope="module")
def data():
    x, y = kn.datasets.toy_jets_hlf(500, seed=0)
    tr, va, _ = kn.datasets.split_and_scale(x, y, val_fraction=0.3, test_fraction=0.1, seed=0)
    return tr, va


SMALL = {"s0/mlp/layers": 1, "s0/mlp/units_0": 4, "s0/mlp/q/w_bits": 4, "s1/block": "skip"}
MID = {"s0/mlp/layers": 1, "s0/mlp/units_0": 32, "s0/mlp/q/w_bits": 4, "s1/block": "skip"}
LARGE = {"s0/mlp/layers": 2, "s0/mlp/units_0": 32, "s0/mlp/units_1": 32, "s0/mlp/q/w_bits": 16,
         "s1/block": "mlp", "s1/mlp/units_0": 16, "s1/mlp/q/w_bits": 16}


def exact_bops(values):
    """The cost model on the model space.assemble builds for ``values``."""
    space = tiny_space()
    return kn.costs.evaluate(space.model_from_values(space.complete_values(values)), ["bops"])["bops"]


@pytest.fixture(scope="module")
def front(data):
    keras.utils.set_random_seed(0)
    budgets = [exact_bops(v) for v in (SMALL, MID, LARGE)]
    gs = GradientSearch(tiny_space(), cost="bops", budgets={"bops": budgets}, epochs=8, warmup_epochs=1,
                        batch_size=32, arch_learning_rate=0.05, verbose=0, seed=0)
    gs.fit(*data[0], validation_data=data[1])
    gs.derive_front(finetune_epochs=1, repair=False)
    return gs


def test_one_training_gives_models_ordered_along_the_cost_axis(front):
    gs = front
    assert len(gs.front) == 3 and gs.bank["s0/mlp/units_0"].shape == (3, 2)  # one logit row per budget
    derived = [rec["metrics"]["bops"] for rec in gs.front]
    assert derived[0] < derived[1] < derived[2], derived
    # each model lands near its own budget without any repair step
    for rec in gs.front:
        assert rec["repair_log"] == []
        assert abs(rec["metrics"]["argmax_vs_budget_bops"]) <= 0.5, rec["metrics"]
    df = gs.history_dataframe()
    assert {"expected_bops@0", "expected_bops@2", "lambda_bops@1"} <= set(df.columns)


def test_front_table_has_the_evolutionary_columns(front, data, tmp_path):
    evo = kn.KerasNAC(tiny_space(), ["val_accuracy", "bops"], max_trials=2, population_size=2, directory=str(tmp_path),
                      project_name="evo", verbose=0, baselines=False, screening=False)
    evo.fit(*data[0], validation_data=data[1], epochs=1, batch_size=64)
    evo_cols = {c for c in evo.trials_dataframe().columns if not c.startswith("hp:")}
    table = front.front_dataframe()
    assert evo_cols <= set(table.columns), evo_cols - set(table.columns)
    assert len(table) == 3 and table["on_front"].any() and (table["status"] == "COMPLETED").all()
    assert {"budget_bops", "argmax_bops"} <= set(table.columns)
    assert any(c.startswith("hp:") for c in table.columns)
    assert len(front.plot_front().axes) >= 1


def test_kerasnac_gradient_front_is_a_table_of_trials(data, tmp_path):
    budgets = sorted({exact_bops(SMALL), exact_bops(LARGE)})
    nac = kn.KerasNAC(tiny_space(), ["val_accuracy", "bops"], directory=str(tmp_path), verbose=0, strategy="gradient",
                      gradient={"budgets": {"bops": budgets}, "epochs": 3, "warmup_epochs": 1, "finetune_epochs": 1})
    nac.fit(*data[0], validation_data=data[1], epochs=3, batch_size=32)
    df = nac.trials_dataframe()
    assert len(df) == 2 and (df["status"] == "COMPLETED").all()
    assert df["bops"].iloc[0] < df["bops"].iloc[1]
    assert not nac.pareto_front().empty
    assert nac.plot_pareto() is not None
    (model,) = nac.get_best_models(1)
    assert model.predict(data[1][0][:4], verbose=0).shape == (4, 5)
    assert "Pareto front" in nac.results_summary(print_fn=None)
    with open(tmp_path / "kerasnac" / "kerasnac.json") as f:  # the screening is recorded as evolution records it
        screening = json.load(f)["fingerprint"]["screening"]
    assert (screening["kappa"], screening["exact"]) == (1.0, 2)
    # run again: the recorded front is resumed, not searched again
    again = kn.KerasNAC(tiny_space(), ["val_accuracy", "bops"], directory=str(tmp_path), verbose=0, strategy="gradient",
                        gradient={"budgets": {"bops": budgets}, "epochs": 3, "warmup_epochs": 1, "finetune_epochs": 1})
    again.fit(*data[0], validation_data=data[1], epochs=3, batch_size=32)
    assert len(again.trials_dataframe()) == 2 and again.gradient_search.history == []


def test_budget_controller_lands_within_ten_percent_before_repair(data):
    keras.utils.set_random_seed(0)
    budget = exact_bops(MID) * 1.05
    gs = GradientSearch(tiny_space(), cost=None, budget={"bops": budget}, epochs=6, warmup_epochs=1, batch_size=32,
                        arch_learning_rate=0.05, verbose=0, seed=0)
    gs.fit(*data[0], validation_data=data[1])
    gs.derive(finetune_epochs=0, repair=False)
    assert gs.repair_log == []
    assert abs(gs.derived_costs["budget:bops"] / budget - 1) <= 0.1, (gs.derived_costs, budget, gs.values)
    assert gs.settle_log == []  # landed within the epochs: no settle step


def test_settle_phase_steps_an_unlanded_budget_into_the_band_with_the_search_s_own_steps(data):
    """A budget that never came within tolerance gets further architecture steps after the epochs (weights
    frozen) until its argmax is in the band; the steps' cap is honoured and the weights do not move."""
    import numpy as np
    keras.utils.set_random_seed(0)
    budget = exact_bops(LARGE) * 1.05
    gs = GradientSearch(tiny_space(), cost=None, budget={"bops": budget}, epochs=2, warmup_epochs=1, batch_size=32,
                        arch_learning_rate=0.01, verbose=0, seed=0, budget_settle=0)
    gs.fit(*data[0], validation_data=data[1])
    assert gs.settle_log == []  # disabled
    for n, c in gs.choices.choices.items():  # a one-logit lead for the cheapest values: far under the budget
        lead = np.zeros([1, len(c)], "float32")
        lead[0, 0] = 1.0
        gs.bank[n].assign(lead)
    gs.landed = [None]
    assert gs.select(0)._misses_budget(gs.searched_values()[0])
    weights = [w.numpy().copy() for w in gs.supernet.trainable_weights]
    batches = iter(tf.data.Dataset.from_tensor_slices(tuple(data[1])).repeat().batch(32))
    gs.budget_settle = 5
    assert gs._settle(batches) == [{"budget": 0, "steps": 5, "landed": False, "waypoints": 0}]
    gs.budget_settle = 300
    log = gs._settle(batches)
    assert log[0]["landed"] and 0 < log[0]["steps"] < 300, log
    values, source = gs.select(0).searched_values()
    assert source == "argmax" and not gs._misses_budget(values)
    assert all(np.array_equal(w, v.numpy()) for w, v in zip(weights, gs.supernet.trainable_weights))


@pytest.mark.parametrize("kwargs, message", [
    ({"budgets": 1}, "at least 2"),
    ({"budgets": [{"bops": 1e4}]}, "at least 2"),
    ({"budgets": [{"bops": 1e4}, {"lut": 2e4}]}, "same costs"),
    ({"budgets": [{"bops": 1e4}, {"bops": -1}]}, "positive number"),
    ({"budgets": {"bops": [1e4, 2e4], "lut": [1]}}, "same length"),
    ({"budgets": [{"nonsense": 1e4}, {"nonsense": 2e4}]}, "not a registered cost"),
    ({"budgets": [{"bops": 1e4}, {"bops": 1e4}]}, "distinct"),
    ({"budgets": "many"}, "integer K"),
    ({"budgets": [{"bops": 1e4}, {"bops": 2e4}], "budget": {"bops": 1e4}}, "not both"),
    ({"budgets": 3, "cost": {"lut": 1.0}}, "registered cost"),
    ({"budget_feedback": "soft"}, "feedback"),
    ({"budget_steering": "push"}, "steering"),
    ({"budget_lookahead": 4}, "lookahead"),
    ({"budget_settle": -1}, "budget_settle"),
    ({"budget_settle": 2.5}, "budget_settle"),
    ({"budget_feedback": "expected", "budget_steering": "band"}, "budget_feedback='argmax'"),
    ({"finetune_epochs": -1}, "finetune_epochs"),
    ({"finetune_epochs": 2.5}, "finetune_epochs"),
])
def test_bad_budgets_raise_before_training(kwargs, message):
    kwargs = {"cost": "bops", **kwargs}
    with pytest.raises(ValueError, match=message):
        GradientSearch(tiny_space(), verbose=0, **kwargs)


def test_default_fine_tuning_takes_about_200_steps_within_3_to_10_epochs(data):
    """``finetune_epochs=None``: epochs enough for about 200 optimizer steps, at least 3 and at most 10;
    the default derive() trains that many."""
    from kerasnac.gradient import _front

    def batched(n, batch=128):
        return tf.data.Dataset.from_tensor_slices(tf.zeros([n, 2])).batch(batch)

    assert [_front.finetune_epochs_for(batched(n)) for n in (300, 2_400, 3_840, 30_000, 660_000)] == [10, 10, 7, 3, 3]
    assert _front.finetune_epochs_for(batched(10).repeat()) == 3  # unknown size
    keras.utils.set_random_seed(0)
    gs = GradientSearch(tiny_space(), cost="bops", epochs=2, warmup_epochs=1, batch_size=64, verbose=0, seed=0)
    gs.fit(*data[0], validation_data=data[1])
    gs.derive()
    steps = int(gs._train.cardinality())
    assert len(gs.finetune_history["loss"]) == min(10, max(3, -(-200 // steps)))


def test_bad_budgets_in_kerasnac_raise_before_training(data, tmp_path):
    nac = kn.KerasNAC(tiny_space(), ["val_accuracy", "bops"], directory=str(tmp_path), verbose=0, strategy="gradient",
                      gradient={"budgets": [{"bops": 1e4}, {"bops": 0}]})
    with pytest.raises(ConfigError, match="positive number"):
        nac.fit(*data[0], validation_data=data[1], epochs=3)
    assert nac.trials_dataframe().empty and nac.gradient_search is None


def conv_space():
    """Layer count, kernel size, filters, pooling and bits: every kind of choice the cost chain mixes."""
    conv = {"batchnorm": False, "activation": "relu", "pooling": "max"}
    return kn.SearchSpace((8, 8, 2), [
        {"name": "s0", "blocks": {"conv": {"layers": [1, 2], "filters": [2, 8], "kernel_size": [1, 3], **conv}}},
        {"name": "s1", "blocks": {"mlp": {"layers": [1, 2], "units": [4, 16], "batchnorm": False}}}],
        task="regression", n_outputs=1, quant={"weight_bits": [4, 8], "activation_bits": [6, 8], "activation_integer": 2})


@pytest.mark.parametrize("make", [tiny_space, conv_space])
def test_neighbour_costs_equal_the_exact_cost_of_every_single_choice_change(make):
    import numpy as np

    gs = GradientSearch(make(), cost="bops", budget={"bops": 1e4}, epochs=2, verbose=0)
    gs._plan()
    cs, sn = gs.choices, gs.supernet
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(4):
        values = {n: c.values[int(rng.integers(len(c)))] for n, c in cs.choices.items()}
        here, near = sn.neighbour_costs(cs.onehot(values), last=1)
        assert float(here[0]) == pytest.approx(float(sn.expected_cost(cs.onehot(values))[-1]), rel=1e-6)
        for n, c in cs.choices.items():
            for j, v in enumerate(c.values):
                exact = float(sn.expected_cost(cs.onehot({**values, n: v}))[-1])
                assert float(near[n][j, 0]) == pytest.approx(exact, rel=1e-5), (n, values[n], v)
                checked += values[n] != v
    assert checked > 20


def test_band_steering_prefers_the_change_that_lands_over_the_one_that_jumps_the_band():
    from kerasnac.gradient import DualAscent

    ctl = DualAscent({"bops": 100.0})
    assert ctl.steering == "band" and DualAscent({"bops": 1.0}, feedback="expected").steering == "linear"
    ctl.update(tf.constant([60.0]))  # under the band: the gain rises from 0
    assert ctl.values()["bops"] > 0
    # the argmax costs 60; one change costs 400 (adds the most cost), one 95 (lands), one 30
    s = ctl.steer(tf.constant([60.0]), tf.constant([[60.0], [400.0], [95.0], [30.0]]))
    s = [float(v) for v in s]
    assert s[0] == 0 and s[2] < 0 < s[1] and s[2] < s[3]
    # inside the band the integral holds (the proportional part is 0) and every move out of it is penalised
    integral = float(ctl.integral[0, 0])
    ctl.update(tf.constant([100.0]))
    assert float(ctl.integral[0, 0]) == pytest.approx(integral) and ctl.values()["bops"] == pytest.approx(integral)
    s = [float(v) for v in ctl.steer(tf.constant([100.0]), tf.constant([[100.0], [130.0], [50.0]]))]
    assert s[0] == 0 and s[1] > 0 and s[2] > 0


def test_two_move_lookahead_scores_a_change_by_the_best_change_that_can_follow_it():
    from kerasnac.gradient import DualAscent

    ctl = DualAscent({"bops": 100.0})
    ctl.update(tf.constant([140.0]))  # over the band: the gain rises
    # two choices of two values each; the argmax (values 0 and 2) costs 140; no single change lands
    # (80 and 280), but changing both does (98)
    near = tf.constant([[140.0], [80.0], [140.0], [280.0]])
    pairs = tf.constant([[[140.0], [140.0], [140.0], [280.0]],
                         [[80.0], [80.0], [80.0], [98.0]],
                         [[140.0], [80.0], [140.0], [140.0]],  # a same-choice pair costs C_r (pair_costs)
                         [[280.0], [98.0], [280.0], [280.0]]])
    assert bool(ctl.stuck(near)) and not bool(ctl.stuck(tf.constant([[140.0], [97.0]])))
    one, two = ctl.steer(tf.constant([140.0]), near), ctl.steer(tf.constant([140.0]), near, pairs=pairs)
    # alone, the change to 280 is penalised; with the look-ahead it is one half of the landing pair
    assert float(one[3]) > 0 > float(two[3]) and float(two[1]) == pytest.approx(float(two[3]))
    assert float(two[1]) < float(one[1]) < 0
    with pytest.raises(ValueError, match="lookahead"):
        DualAscent({"bops": 1.0}, lookahead=4)


def test_a_waypoint_within_the_tolerance_counts_as_landed_and_the_boost_speeds_the_integral():
    """The settle phase's misses (calorimeter, +10.9%, a landing triple at -8.7%): scored by its distance
    to the inner half band, the waypoint removed only a quarter of the argmax's distance; a waypoint
    within the full tolerance now removes all of it. The boost multiplies the integral gain."""
    import math

    from kerasnac.gradient import DualAscent

    ctl = DualAscent({"bops": 100.0})
    ctl.update(tf.constant([110.9]))
    mu = ctl.values()["bops"]
    d = math.log(1.109) - 0.5 * math.log(1.1)  # the argmax's distance to the inner half band
    assert float(ctl.toward(tf.constant([110.9]), tf.constant([91.3]))) == pytest.approx(-mu * d, rel=1e-4)
    # outside the tolerance a waypoint is still scored by its own distance
    far = math.log(1 / 0.85) - 0.5 * math.log(1.1)
    assert float(ctl.toward(tf.constant([110.9]), tf.constant([85.0]))) == pytest.approx(mu * (far - d), rel=1e-4)
    steps = {}
    for boost in (1.0, 4.0):
        c = DualAscent({"bops": 100.0})
        c.boost.assign(boost)
        c.update(tf.constant([110.9]))
        steps[boost] = float(c.integral[0, 0])
    assert steps[4.0] == pytest.approx(4 * steps[1.0]) and steps[1.0] == pytest.approx(0.1 * math.log(1.109), rel=1e-4)


@pytest.mark.parametrize("make", [tiny_space, conv_space])
def test_pair_costs_equal_the_exact_cost_of_every_two_choice_change(make):
    import numpy as np

    gs = GradientSearch(make(), cost="bops", budget={"bops": 1e4}, epochs=2, verbose=0)
    gs._plan()
    cs, sn = gs.choices, gs.supernet
    flat = [(n, v) for n, c in cs.choices.items() for v in c.values]
    rng = np.random.default_rng(1)
    values = {n: c.values[int(rng.integers(len(c)))] for n, c in cs.choices.items()}
    pairs = sn.pair_costs(cs.onehot(values), last=1).numpy()[..., 0]
    assert pairs.shape == (len(flat), len(flat))
    for r, (n, v) in enumerate(flat):
        for s_, (m, w) in enumerate(flat):
            changed = {**values, n: v} if n == m else {**values, n: v, m: w}
            exact = float(sn.expected_cost(cs.onehot(changed))[-1])
            assert pairs[r, s_] == pytest.approx(exact, rel=1e-5), (n, v, m, w)


def test_traced_step_scores_a_landing_pair_only_with_the_lookahead():
    """Inside the traced architecture step: from an argmax (8,008 BOPs) that no single change brings near a
    budget of 28,352 BOPs, which 16-bit weights in s0 together with 16 units in s1 hit exactly, the
    look-ahead gives both halves of that pair the best score; single-move steering ranks them lower."""
    import numpy as np

    x, y = kn.datasets.toy_jets_hlf(200, seed=0)
    start = {"s0/mlp/q/w_bits": 4, "s0/mlp/layers": 1, "s0/mlp/units_0": 4, "s1/block": "mlp",
             "s1/mlp/q/w_bits": 4, "s1/mlp/units_0": 4}
    pair = [("s0/mlp/q/w_bits", 16), ("s1/mlp/units_0", 16)]
    scores = {}
    for lookahead in (1, 2):
        keras.utils.set_random_seed(0)
        gs = GradientSearch(tiny_space(), cost=None, budget={"bops": 28352.0}, epochs=2, verbose=0,
                            budget_lookahead=lookahead)
        gs.space.label_mode = "categorical"
        gs._plan()
        gs._build_steps()
        for n, c in gs.choices.choices.items():  # the argmax is `start` (the values of index 0 elsewhere)
            lead = np.zeros([1, len(c)], "float32")
            lead[0, c.values.index(start.get(n, c.values[0]))] = 1.0
            gs.bank[n].assign(lead)
        assert float(gs.supernet.expected_cost(gs.choices.onehot(gs.choices.argmax_values()))[-1]) == 8008.0
        gs.controller.lam.assign([[5.0]])  # a gain already up
        gs._arch_step(tf.constant(x[:64], tf.float32), tf.constant(y[:64], tf.float32), tf.constant(0))
        flat = [(n, v) for n, c in gs.choices.choices.items() for v in c.values]
        scores[lookahead] = dict(zip(flat, gs.steer_scores.numpy()[0]))
    two, one = scores[2], scores[1]
    best = min(two.values())
    assert all(two[p] == pytest.approx(best) for p in pair)  # both halves of the landing pair: the best push
    assert best < min(one[p] for p in pair) - 0.5  # single moves alone: neither lands, both scored worse


def test_settle_phase_lands_a_budget_that_takes_three_changes_with_the_three_move_lookahead(data):
    """From an argmax 11.8% over its budget (182,336 against 163,104 BOPs), where no single change and
    no pair of changes lands within ±10% (checked with the exact costs), the two-move look-ahead stays
    out of the band for all its settle steps; with ``budget_lookahead=3`` the settle phase finds a
    landing triple, steers toward it and its argmax lands, still the argmax of the search's logits."""
    import numpy as np

    from kerasnac.gradient import _landing

    start = {"s0/mlp/q/w_bits": 4, "s0/mlp/layers": 2, "s0/mlp/units_0": 32, "s0/mlp/units_1": 32,
             "s1/block": "mlp", "s1/mlp/q/w_bits": 16, "s1/mlp/units_0": 16}
    budget = 163104.0
    logs = {}
    for lookahead in (2, 3):
        keras.utils.set_random_seed(0)
        gs = GradientSearch(tiny_space(), cost=None, budget={"bops": budget}, epochs=2, verbose=0, seed=0,
                            arch_learning_rate=0.05, budget_settle=100, budget_lookahead=lookahead)
        gs.space.label_mode = "categorical"
        gs._plan()
        gs._build_steps()  # the steps of an untrained supernet at the final temperature: the settle phase alone
        gs.tau.assign(gs.temperature[1])
        for n, c in gs.choices.choices.items():  # a one-logit lead for `start`
            lead = np.zeros([1, len(c)], "float32")
            lead[0, c.values.index(start[n])] = 1.0
            gs.bank[n].assign(lead)
        gs.landed = [None]
        sn, cs = gs.supernet, gs.choices
        assert float(sn.expected_cost(cs.onehot(start))[-1]) == pytest.approx(182336.0)
        pairs = sn.pair_costs(cs.onehot(start), 1).numpy()[..., 0]  # singles on the diagonal, pairs off it
        assert not np.any(np.abs(pairs / budget - 1) <= 0.1)
        logits = {n: gs.bank[n][0].numpy() for n in cs.choices}
        changes, cost = _landing.landing_triple(sn, start, logits, lambda c: abs(float(c[0]) / budget - 1) <= 0.1, 1)
        assert len(changes) == 3 and all(start[n] != v for n, v in changes.items())
        assert float(sn.expected_cost(cs.onehot({**start, **changes}))[-1]) == pytest.approx(float(cost[0]))
        assert abs(float(cost[0]) / budget - 1) <= 0.1
        logs[lookahead] = gs._settle(iter(tf.data.Dataset.from_tensor_slices(tuple(data[1])).repeat().batch(32)))
        values, source = gs.select(0).searched_values()
        if lookahead == 3:
            assert source == "argmax" and not gs._misses_budget(values), values
            assert float(gs.waypoint_mask.numpy().sum()) == 0  # cleared once the budget is settled
        assert float(gs.controller.boost.numpy()) == 1.0  # the settle phase's ramp is undone
    assert logs[2] == [{"budget": 0, "steps": 100, "landed": False, "waypoints": 0}]
    assert logs[3][0]["landed"] and logs[3][0]["steps"] < 100 and logs[3][0]["waypoints"] >= 1, logs[3]


def test_landing_triple_is_the_landing_triple_of_smallest_deficit_over_every_pair():
    """The three-move search walks every pair (``max_pairs=None``, the default since session 17), so what
    it returns is the landing triple with the smallest summed logit deficit of all triples: checked by
    brute force over the tiny space's 35 triples with the exact costs, for random logits whose argmax
    is an architecture 11.8% over its budget. A cut at the likeliest pair alone misses it for some draws."""
    import itertools

    import numpy as np

    from kerasnac.gradient import _landing

    start = {"s0/mlp/q/w_bits": 4, "s0/mlp/layers": 2, "s0/mlp/units_0": 32, "s0/mlp/units_1": 32,
             "s1/block": "mlp", "s1/mlp/q/w_bits": 16, "s1/mlp/units_0": 16}
    budget = 163104.0
    gs = GradientSearch(tiny_space(), cost=None, budget={"bops": budget}, epochs=2, verbose=0, seed=0)
    gs._plan()
    sn, cs = gs.supernet, gs.choices
    fits = lambda c: abs(float(c[-1]) / budget - 1) <= 0.1  # noqa: E731

    def cost(values):
        return float(sn.expected_cost(cs.onehot(values))[-1])

    other = {n: next(v for v in c.values if v != start[n]) for n, c in cs.choices.items()}  # two values each
    landing = [t for t in itertools.combinations(cs.choices, 3) if fits([cost({**start, **{n: other[n] for n in t}})])]
    assert landing, "the tiny space has landing triples from this start"
    rng, cut_missed = np.random.default_rng(0), 0
    for _ in range(6):
        logits = {}
        for n, c in cs.choices.items():  # the start's value leads by 0-3 logits
            row = np.zeros(len(c), "float32")
            row[c.values.index(other[n])] = -rng.uniform(0, 3)
            logits[n] = row
        deficit = {n: float(-logits[n][cs.choices[n].values.index(other[n])]) for n in cs.choices}
        best = min(landing, key=lambda t: sum(deficit[n] for n in t))
        changes, costs = _landing.landing_triple(sn, start, logits, fits, 1)
        assert set(changes) == set(best) and all(changes[n] == other[n] for n in best)
        assert cost({**start, **changes}) == pytest.approx(float(costs[-1]))
        cut = _landing.landing_triple(sn, start, logits, fits, 1, max_pairs=1)
        cut_missed += cut is None or set(cut[0]) != set(best)
    assert cut_missed > 0  # the likeliest pair alone is not enough: the walk over every pair matters


def test_derive_front_can_put_the_space_s_cheapest_architecture_first(front, monkeypatch):
    """``derive_front()`` (``cheapest=True``, the default): the first record is the space's cheapest architecture (checked by
    brute force over the tiny space's one-hot choices), built, exported from the supernet and measured
    like the others, with its own cost as its budget; the budgets' records follow unchanged."""
    import itertools

    from kerasnac.gradient import _front

    gs = front
    kept = gs.front
    descents = []
    real = _front._descent
    monkeypatch.setattr(_front, "_descent", lambda *a: descents.append(a[1:]) or real(*a))
    gs.__dict__.pop("_extremes", None)
    try:
        cs, sn = gs.choices, gs.supernet
        names = list(cs.choices)
        lowest = min(float(sn.expected_cost(cs.onehot(dict(zip(names, combo)))).numpy()[-1])
                     for combo in itertools.product(*(cs.choices[n].values for n in names)))
        plain = [rec["values"] for rec in gs.derive_front(finetune_epochs=0, repair=False, cheapest=False)]
        recs = gs.derive_front(finetune_epochs=0, repair=False)  # the default adds it
        if recs[0]["values"] in plain:  # a budget already derived it: nothing is added
            assert len(recs) == len(plain)
        else:
            assert len(recs) == len(plain) + 1 and [r["values"] for r in recs[1:]] == plain
        first = recs[0]["metrics"]
        assert first["bops"] == pytest.approx(lowest) and first["bops"] == min(r["metrics"]["bops"] for r in recs)
        # the path that adds a record: the budgets' records without the cheapest one
        others = [r for r in gs.front if r["metrics"]["bops"] != pytest.approx(lowest)]
        added = _front._cheapest_record(gs, 0, 0, others)
        assert len(added) == len(others) + 1 and added[1:] == others
        first = added[0]["metrics"]
        assert first["bops"] == pytest.approx(lowest) and first["epochs_trained"] == 0.0
        assert first["budget_bops"] == first["bops"] and first["argmax_vs_budget_bops"] == 0.0
        assert len(descents) == 1  # the cheapest-cost descent ran once: later calls read it from the search
        x = tf.zeros([2, 16])
        assert "val_accuracy" in first and added[0]["model"].predict(x, verbose=0).shape == (2, 5)
    finally:
        gs.front = kept
