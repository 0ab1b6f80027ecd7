"""The search's hardware costs describe the firmware the post-search callbacks build: the strategy
taken from the callbacks (``cost_strategy``), its conflicts, and under distributed arithmetic the
da4ml estimator (``lut`` = ``da_syn_lut``, ``ff`` = ``da_ff``)."""

import json
import os
import re

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import costs
from kerasnac.callbacks import Callback, HLS4MLExport, Synthesis
from kerasnac.errors import ConfigError

pytest.importorskip("da4ml", reason="da4ml is not installed (pip install 'kerasnac[da]')")

from kerasnac import hardware  # noqa: E402
from kerasnac._keras import keras, qkeras  # noqa: E402
from kerasnac.costs import _estimator  # noqa: E402

from _search_proc import small_space  # noqa: E402

DA = "distributed_arithmetic"
L = keras.layers


def mlp(units=8, bits=4, seed=0, act="quantized_relu(4,0)"):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,))
    x = qkeras.QDense(units, kernel_quantizer=f"quantized_bits({bits},0,alpha=1)", name="d0")(inp)
    x = qkeras.QActivation(act, name="a0")(x) if act.startswith("quantized") else L.Activation(act, name="a0")(x)
    x = qkeras.QDense(5, kernel_quantizer=f"quantized_bits({bits},0,alpha=1)", name="head")(x)
    return keras.Model(inp, L.Activation("softmax", name="sm")(x))


class MyRTL(Callback):
    """A new callback declares its firmware without any change to KerasNAC."""

    name = "my_rtl"
    cost_strategy = "resource"


def nac(tmp_path, post_search=(), cost_options=None, objectives=("val_accuracy", "lut"), **kw):
    kw.setdefault("verbose", 0)
    return kn.KerasNAC(small_space(), list(objectives), max_trials=2, population_size=2,
                       directory=str(tmp_path), seed=0, baselines=False, post_search=list(post_search),
                       cost_options=cost_options, **kw)


# ---------------------------------------------------------------------------------- the strategy
def test_callbacks_declare_the_firmware_they_build():
    assert Callback().cost_strategy is None and kn.callbacks.Pruning().cost_strategy is None
    assert Synthesis().cost_strategy == DA
    assert HLS4MLExport().cost_strategy == "latency" and HLS4MLExport(strategy="Resource").cost_strategy == "resource"
    assert HLS4MLExport(strategy="da").cost_strategy == DA


def test_search_takes_the_strategy_of_its_callbacks_and_says_why(tmp_path, capsys):
    n = nac(tmp_path, [Synthesis()], verbose=1)
    assert n.cost_options == {"strategy": DA, "estimator": "da4ml"}
    out = capsys.readouterr().out
    assert "strategy='distributed_arithmetic'" in out and "Synthesis" in out and "da_syn_lut" in out
    # what the trials and the screening use (the screening's shapes-only build traces as a normal one)
    assert n.tuner.cost_fn.keywords["strategy"] == DA and n.tuner.cost_fn.keywords["estimator"] == "da4ml"
    values = n.space.baselines["tiny"]
    keras.utils.set_random_seed(3)
    exact = n._exact_costs(values)
    keras.utils.set_random_seed(3)
    model = n.space.model_from_values(values)
    da = hardware.da_costs(model)
    assert exact["lut"] == da["da_syn_lut"] and exact["ff"] == da["da_ff"]
    assert nac(tmp_path, [HLS4MLExport(strategy="distributed_arithmetic")], overwrite=True).cost_options["strategy"] == DA
    assert nac(tmp_path, [HLS4MLExport(strategy="Resource")], overwrite=True).cost_options == {"strategy": "resource"}
    # the default firmware stays implicit (the same costs, and the resume check of earlier searches)
    assert nac(tmp_path, [HLS4MLExport()], overwrite=True).cost_options == {}
    assert nac(tmp_path, [MyRTL()], overwrite=True).cost_options == {"strategy": "resource"}
    # callbacks that build no firmware change nothing; an explicit strategy is kept as given
    assert nac(tmp_path, [kn.callbacks.Pruning()], overwrite=True).cost_options == {}
    assert nac(tmp_path, [Synthesis()], {"strategy": DA, "estimator": "analytical"},
               overwrite=True).cost_options == {"strategy": DA, "estimator": "analytical"}
    # an explicit strategy picks one of two firmwares that are built
    both = nac(tmp_path, [HLS4MLExport(), Synthesis()], {"strategy": "Latency"}, overwrite=True)
    assert both.cost_options == {"strategy": "Latency"}


def test_conflicts_raise_before_any_work(tmp_path, monkeypatch):
    def no_work(*a, **k):
        raise AssertionError("work started before the conflict was found")

    monkeypatch.setattr(costs, "evaluate", no_work)
    monkeypatch.setattr(kn.nac, "ParetoSearch", no_work)
    with pytest.raises(ConfigError) as err:
        nac(tmp_path, [HLS4MLExport(), Synthesis()])
    msg = str(err.value)
    assert "Synthesis" in msg and "HLS4MLExport(strategy='Latency')" in msg and "cost_options={'strategy'" in msg
    with pytest.raises(ConfigError) as err:
        nac(tmp_path, [Synthesis()], {"strategy": "latency"})
    msg = str(err.value)
    assert "cost_options['strategy']='latency'" in msg and "Synthesis" in msg and "Drop cost_options['strategy']" in msg
    with pytest.raises(ConfigError, match="MyRTL.*resource"):
        nac(tmp_path, [MyRTL()], {"strategy": DA})
    with pytest.raises(ConfigError, match=r"cost_options\['strategy'\] must be one of"):
        nac(tmp_path, cost_options={"strategy": "fast"})
    with pytest.raises(ConfigError, match="estimator='da4ml'.*needs strategy='distributed_arithmetic'"):
        nac(tmp_path, cost_options={"estimator": "da4ml"})
    with pytest.raises(ConfigError, match="sparsity"):
        nac(tmp_path, [Synthesis()], {"estimator": "da4ml", "sparsity": 0.5})
    assert not os.path.exists(os.path.join(str(tmp_path), "kerasnac"))  # no run folder either


# ---------------------------------------------------------------------------------- the estimator
def test_lut_and_ff_under_da_are_the_yosys_calibrated_da4ml_costs():
    m = mlp()
    da = hardware.da_costs(m)
    ev = costs.evaluate(m, strategy=DA)
    assert ev["lut"] == pytest.approx(hardware.DA_LUT_TO_SYN_LUT * da["da_lut"]) == da["da_syn_lut"]
    assert ev["ff"] == pytest.approx(hardware.DA_REG_TO_SYN_FF * da["da_reg_bits"]) == da["da_ff"]
    both = costs.evaluate(m, ["lut", "ff", "da_syn_lut", "da_ff"], strategy=DA)
    assert both["lut"] == both["da_syn_lut"] and both["ff"] == both["da_ff"]
    assert costs.get_cost("lut")(m, strategy=DA) == ev["lut"]  # a single cost agrees with evaluate
    # the analytical estimator and the other strategies are the layer table's sums, as before
    table = costs.layer_table(m, strategy=DA)
    ana = costs.evaluate(m, ["lut", "ff", "dsp"], strategy=DA, estimator="analytical")
    assert ana == {"lut": table["lut"].sum(), "ff": table["ff"].sum(), "dsp": table["dsp"].sum()}
    assert ana["lut"] != ev["lut"] and ana["ff"] != ev["ff"]
    for strategy in ("latency", "resource"):
        t = costs.layer_table(m, strategy=strategy, reuse_factor=2)
        got = costs.evaluate(m, ["lut", "ff"], strategy=strategy, reuse_factor=2)
        assert got == {"lut": t["lut"].sum(), "ff": t["ff"].sum()}
    assert ev["dsp"] == table["dsp"].sum() and ev["ebops"] == table["lut"].sum() + 55 * table["dsp"].sum()
    # the input width follows input_bits: ap_fixed<b, 6>
    assert _estimator.input_kif(16) == hardware.DEFAULT_KIF and _estimator.input_kif(8) == (1, 5, 2)
    narrow = costs.evaluate(m, ["lut"], strategy=DA, input_bits=8)["lut"]
    assert narrow == hardware.da_costs(m, (1, 5, 2))["da_syn_lut"] and narrow < ev["lut"]
    with pytest.raises(ValueError, match="sparsity"):
        costs.evaluate(m, ["lut"], strategy=DA, estimator="da4ml", sparsity=0.5)
    with pytest.raises(ValueError, match="estimator must be one of"):
        costs.evaluate(m, ["lut"], strategy=DA, estimator="yosys")


def test_untraceable_model_falls_back_to_the_analytical_numbers_with_one_warning(monkeypatch):
    monkeypatch.setattr(_estimator, "_WARNED", set())
    m = mlp(act="tanh")
    table = costs.layer_table(m, strategy=DA)
    with pytest.warns(UserWarning, match=r"Activation.*analytical") as rec:
        ev = costs.evaluate(m, ["lut", "ff"], strategy=DA)
        again = costs.evaluate(mlp(act="tanh", units=4), ["lut", "ff"], strategy=DA)
    assert ev == {"lut": table["lut"].sum(), "ff": table["ff"].sum()} and again["lut"] < ev["lut"]
    assert len([w for w in rec if "estimator='da4ml'" in str(w.message)]) == 1  # one warning per cause


def test_without_da4ml_the_estimator_is_analytical_with_one_warning(monkeypatch, tmp_path):
    monkeypatch.setattr(_estimator, "_WARNED", set())
    monkeypatch.setattr(_estimator, "da4ml_available", lambda: False)
    monkeypatch.setattr(costs, "da4ml_available", lambda: False)
    m = mlp()
    with pytest.warns(UserWarning, match="da4ml is not installed") as rec:
        ev = costs.evaluate(m, ["lut"], strategy=DA)
        costs.evaluate(m, ["lut"], strategy=DA)
    assert ev["lut"] == costs.layer_table(m, strategy=DA)["lut"].sum() and len(rec) == 1
    # a search records the choice (so a resumed search keeps it) and refuses an explicit da4ml
    assert nac(tmp_path, [Synthesis()]).cost_options == {"strategy": DA, "estimator": "analytical"}
    with pytest.raises(ConfigError, match="needs da4ml"):
        nac(tmp_path, cost_options={"strategy": DA, "estimator": "da4ml"}, overwrite=True)


def test_da_ff_counts_the_registers_of_the_pipelined_rtl(tmp_path):
    import inspect

    assert inspect.signature(Synthesis).parameters["latency_cutoff"].default == hardware.PIPELINE_LATENCY_CUTOFF
    assert inspect.signature(hardware.write_rtl).parameters["latency_cutoff"].default == hardware.PIPELINE_LATENCY_CUTOFF
    m = mlp(units=16, bits=6)
    t = hardware.trace(m)
    prj = hardware.write_rtl(t, str(tmp_path / "rtl"))
    with open(os.path.join(prj, "src", f"{hardware._rtl.TOP}.v")) as f:
        top = f.read()
    widths = [int(hi) + 1 for hi in re.findall(r"\breg \[(\d+):0\]", top)]  # the stage and output registers
    assert len(widths) >= 3 and sum(widths) == hardware.pipeline_register_bits(t.comb)
    assert hardware.da_costs(m)["da_reg_bits"] == hardware.pipeline_register_bits(
        hardware.trace(m, solver_options=hardware.COST_SOLVER_OPTIONS).comb)
    assert costs.is_cost("da_ff") and "da_ff" not in costs.default_costs()


# ---------------------------------------------------------------------------------- end to end
def test_search_with_synthesis_ranks_trials_and_final_rows_by_da_syn_lut(tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    n = nac(tmp_path, [Synthesis(synth=False, simulate=False, n_samples=5)])
    n.fit(xt[:200], yt[:200], validation_data=(xv[:100], yv[:100]), epochs=1, batch_size=64)
    df = n.trials_dataframe()
    done = df[df["status"] == "COMPLETED"]
    assert len(done) == 2
    for t in n.oracle.trials.values():
        model = n.tuner.load_model(t)
        row = done[done["trial_id"] == t.trial_id].iloc[0]
        da = costs.evaluate(model, ["da_syn_lut", "da_ff"])
        assert row["lut"] == pytest.approx(da["da_syn_lut"]) and row["ff"] == pytest.approx(da["da_ff"])
    final = n.final_front()
    assert len(final) and "rtl_dir" in final
    for rec in final.to_dict("records"):  # the final table's costs are of the same firmware
        model = kn.callbacks.export.load_model(rec["model_path"])
        assert rec["lut"] == pytest.approx(costs.evaluate(model, ["da_syn_lut"])["da_syn_lut"])
    with open(os.path.join(str(tmp_path), "kerasnac", "kerasnac.json")) as f:
        meta = json.load(f)
    assert meta["fingerprint"]["cost_options"] == {"strategy": DA, "estimator": "da4ml"}
    # the estimator is part of the resume check
    other = nac(tmp_path, [Synthesis()], {"estimator": "analytical"})
    with pytest.raises(ConfigError, match="cost_options"):
        other.fit(xt[:200], yt[:200], validation_data=(xv[:100], yv[:100]), epochs=1, batch_size=64)


def test_workers_and_the_gradient_search_get_the_chosen_options(tmp_path, jets, monkeypatch):
    from kerasnac import _data, _gradient_run, _worker
    from kerasnac.gradient import GradientSearch

    (xt, yt), (xv, yv) = jets
    n = nac(tmp_path, [Synthesis()], workers=2)
    data = _data.prepare(n.space, xt[:100], yt[:100], (xv[:50], yv[:50]), 0.2, 64, 0)
    folder, _ = _worker.write_inputs(n, data, 1, 64)
    with open(os.path.join(folder, _worker.SPEC)) as f:
        assert json.load(f)["cost_options"] == {"strategy": DA, "estimator": "da4ml"}

    seen = {}

    class Stop(Exception):
        pass

    class Planned(GradientSearch):
        def fit(self, data):
            self._plan()  # the supernet's per-layer costs: the layer table under the same strategy
            seen["options"], seen["prober"] = dict(self.cost_options), dict(self.prober.opts)
            raise Stop

    monkeypatch.setattr(_gradient_run, "GradientSearch", Planned)
    g = kn.KerasNAC(small_space(), ["val_accuracy", "lut"], directory=str(tmp_path), project_name="grad",
                    strategy="gradient", gradient={"epochs": 2}, post_search=[Synthesis()], verbose=0)
    with pytest.raises(Stop):
        g.fit(xt[:100], yt[:100], validation_data=(xv[:50], yv[:50]), epochs=1, batch_size=64)
    assert seen["options"] == {"strategy": DA, "estimator": "da4ml"} and seen["prober"] == {"strategy": DA}


def test_exact_costs_trace_with_da4ml_only_when_the_search_ranks_by_lut_or_ff(tmp_path, monkeypatch):
    calls = []
    real = _estimator.da4ml_resources
    monkeypatch.setattr(_estimator, "da4ml_resources", lambda *a, **k: calls.append(1) or real(*a, **k))
    values = {}
    by_bops = nac(tmp_path / "a", [Synthesis()], objectives=["val_accuracy", "bops"])
    by_bops._exact_costs(values)
    assert calls == []  # objectives val_accuracy and bops: the screening needs no da4ml trace
    by_lut = nac(tmp_path / "b", [Synthesis()], objectives=["val_accuracy", "lut"])
    got = by_lut._exact_costs(values)
    assert calls == [1] and got["lut"] > 0
