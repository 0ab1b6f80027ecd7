import os

import numpy as np
import pandas as pd
import pytest

import kerasnac as kn
from kerasnac._keras import custom_objects, keras
from kerasnac.callbacks import Callback
from kerasnac.local import LocalData, LocalSearch, MedianStopping, kernel_sparsity, local_search, requantize
from kerasnac.callbacks._prune import PruneSettings, prune


def trained_mlp(jets, bits=6):
    (xt, yt), _ = jets
    space = kn.SearchSpace((16,), [{"mlp": {"layers": 2, "units": [16], "quant": {"weight_bits": [bits]}}}], num_classes=5,
                           training={"learning_rate": 0.01})
    keras.utils.set_random_seed(0)
    m = space.build(space.hyperparameters())
    m.fit(xt, yt, epochs=2, batch_size=64, verbose=0)
    return m


@pytest.fixture
def data(jets):
    (xt, yt), (xv, yv) = jets
    return LocalData(xt, yt, xv, yv, batch_size=64)


def test_requantize_sets_bits_and_keeps_weights(jets):
    m = trained_mlp(jets)
    q = requantize(m, (8, 3))
    dense = [l for l in q.layers if type(l).__name__ == "QDense"]
    assert all(l.kernel_quantizer_internal.bits == 8 and l.kernel_quantizer_internal.integer == 3 for l in dense)
    assert q.get_layer("s0_dense0_act").quantizer.bits == 8
    np.testing.assert_array_equal(q.get_layer("s0_dense0").get_weights()[0], m.get_layer("s0_dense0").get_weights()[0])
    assert type(q.get_layer("head_softmax")).__name__ == "Activation"  # softmax stays float


def test_requantize_float_model_becomes_qkeras():
    space = kn.SearchSpace((11, 11, 1), [{"conv": {"layers": 1, "filters": [4], "activation": ["leaky_relu"],
                                                   "quant": {"weight_bits": [32], "activation_bits": [32]}}}], n_outputs=2,
                           task="regression")
    m = space.build(space.hyperparameters())
    q = requantize(m, (6, 2))
    assert type(q.get_layer("s0_conv0")).__name__ == "QConv2D"
    assert q.get_layer("s0_conv0").kernel_quantizer_internal.bits == 6
    assert type(q.get_layer("s0_conv0_act")).__name__ == "QActivation"
    assert kn.costs.evaluate(q, ["bops"])["bops"] < kn.costs.evaluate(m, ["bops"])["bops"]


@pytest.mark.parametrize("schedule", ["iterative", "polynomial"])
def test_pruning_reaches_target_and_costs_see_it(jets, data, schedule):
    m = trained_mlp(jets)
    comp = lambda mm: mm.compile(optimizer="adam", loss=m.loss, metrics=["accuracy"])  # noqa: E731
    variants = list(prune(m, comp, data.train(), data.val(), PruneSettings(0.75, steps=2, schedule=schedule, epochs_per_step=1)))
    assert len(variants) == (2 if schedule == "iterative" else 1)
    last = variants[-1][1]
    assert kernel_sparsity(last) == pytest.approx(0.75, abs=0.03)
    assert all(type(l).__name__ != "PruneLowMagnitude" for l in last.layers)
    assert type(last.get_layer("s0_dense0")).__name__ == "QDense"
    before, after = kn.costs.evaluate(m), kn.costs.evaluate(last)
    assert after["bops"] < 0.6 * before["bops"]
    assert after["nonzero_params"] < before["nonzero_params"]
    if schedule == "iterative":
        assert kernel_sparsity(variants[0][1]) < kernel_sparsity(last)


def test_lottery_ticket_rewinding_keeps_mask(jets, data):
    m = trained_mlp(jets)
    comp = lambda mm: mm.compile(optimizer="adam", loss=m.loss, metrics=["accuracy"])  # noqa: E731
    (_, pruned), = prune(m, comp, data.train(), data.val(), PruneSettings(0.5, steps=1, epochs_per_step=1, rewind=True))
    assert kernel_sparsity(pruned) == pytest.approx(0.5, abs=0.03)


def test_median_stopping_rule():
    curves = [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6]]
    cb = MedianStopping("val_accuracy", "max", curves, grace=1)

    class M:
        stop_training = False

    cb.model = M()
    cb.on_epoch_end(0, {"val_accuracy": 0.3})  # worse than the median 0.45 -> stop
    assert cb.model.stop_training and cb.stopped_epoch == 0
    cb2 = MedianStopping("val_accuracy", "max", curves, grace=1)
    cb2.model = M()
    cb2.on_epoch_end(0, {"val_accuracy": 0.55})
    assert not cb2.model.stop_training


def test_local_search_lineage_and_front(jets, tmp_path):
    (xt, yt), (xv, yv) = jets
    m = trained_mlp(jets)
    df = local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=1,
                      local=LocalSearch(hpo_trials=2, bits=[(8, 3), (4, 1)], prune=kn.Pruning(0.7, steps=2, epochs_per_step=1)),
                      log=lambda *a: None)
    assert (df["status"] == "COMPLETED").all()
    assert list(df["stage"].value_counts().sort_index().items()) == [("global", 1), ("hpo", 1), ("pruned", 4), ("qat", 2)]
    pruned = df[df["stage"] == "pruned"]
    assert set(pruned["bits"]) == {"8,3", "4,1"}
    assert pruned["sparsity"].max() == pytest.approx(0.7, abs=0.03)
    q4 = df[(df["stage"] == "qat") & (df["bits"] == "4,1")].iloc[0]
    p4 = pruned[pruned["bits"] == "4,1"].sort_values("sparsity").iloc[-1]
    assert p4["bops"] < q4["bops"]
    assert df["on_front"].any()
    again = keras.models.load_model(p4["model_path"], custom_objects=custom_objects())
    assert kernel_sparsity(again) == pytest.approx(p4["sparsity"])
    assert os.path.isfile(tmp_path / "final.csv")


class _Boom(Callback):
    name = "boom"

    def on_candidate(self, candidate):
        if "q4" in candidate.candidate_id:
            raise RuntimeError("synthetic export failure")
        return {"seen_bits": candidate.lineage.get("bits", "")}


def test_kerasnac_local_stage_and_callback_isolation(jets, tmp_path):
    (xt, yt), (xv, yv) = jets
    space = kn.SearchSpace((16,), [{"mlp": {"layers": 1, "units": [8, 16]}}], num_classes=5,
                           quant={"weight_bits": [6, 8], "activation_bits": [6]}, training={"learning_rate": 0.01})
    nac = kn.KerasNAC(space, ["val_accuracy", "bops"], max_trials=3, population_size=2, directory=str(tmp_path),
                      verbose=0, local_search=LocalSearch(top_k=1, hpo_trials=0, bits=[(8, 3), (4, 1)]),
                      callbacks=[_Boom()], callbacks_on="all")
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    df = nac.final_front()
    assert set(df["stage"]) == {"global", "qat"}
    bad = df[df["candidate_id"].str.contains("q4")]
    assert bad["boom_error"].str.contains("synthetic export failure").all()
    assert (bad["callback_failed"] == "boom").all()
    good = df[df["candidate_id"].str.contains("q8")]
    assert (good["seen_bits"] == "8,3").all() and (good["status"] == "COMPLETED").all()
    on_disk = pd.read_csv(os.path.join(nac.project_dir, "final.csv"))
    assert len(on_disk) == len(df)


def test_pruning_callback_on_any_model(jets, tmp_path):
    (xt, yt), (xv, yv) = jets
    m = trained_mlp(jets)
    cand = kn.callbacks.Candidate(model=m, candidate_id="c", lineage={}, validation_data=(xv, yv), train_data=(xt, yt),
                                  output_dir=str(tmp_path))
    out = kn.Pruning(0.5, steps=1, epochs_per_step=1).on_candidate(cand)
    assert out["pruned_sparsity"] == pytest.approx(0.5, abs=0.03)
    assert os.path.isfile(out["pruned_model_path"])
    assert 0 <= out["pruned_val_accuracy"] <= 1


class _Count(Callback):
    name = "count"

    def __init__(self):
        self.seen = []

    def on_candidate(self, candidate):
        self.seen.append(candidate.candidate_id)
        return {"counted": True}


def test_callbacks_run_on_the_front_by_default(jets, tmp_path):
    (xt, yt), (xv, yv) = jets
    cb = _Count()
    df = local_search(trained_mlp(jets), (xt, yt, xv, yv), directory=str(tmp_path), epochs=1, callbacks=[cb],
                      local=LocalSearch(hpo_trials=0, bits=[(8, 3), (3, 0)]), log=lambda *a: None)
    assert sorted(cb.seen) == sorted(df.loc[df["on_front"], "candidate_id"])
    assert df.loc[df["on_front"], "counted"].all() and df.loc[~df["on_front"], "counted"].isna().all()


def test_final_table_respects_constraints():
    from kerasnac.local import final_table
    from kerasnac.oracle import Constraint

    rows = [{"candidate_id": c, "status": "COMPLETED", "val_accuracy": a, "bops": b, "lut": l}
            for c, a, b, l in [("a", 0.9, 100.0, 500.0), ("b", 0.8, 50.0, 50.0), ("c", 0.7, 60.0, 10.0)]]
    df = final_table(rows, [("val_accuracy", "max"), ("bops", "min")], [Constraint.parse("lut <= 100")])
    assert list(df.loc[df["on_front"], "candidate_id"]) == ["b"]
    assert df.set_index("candidate_id").loc["a", "violation"] > 0


def test_rerun_resumes_the_pruning_chain_after_its_last_finished_step(jets, tmp_path):
    import shutil

    (xt, yt), (xv, yv) = jets
    m = trained_mlp(jets)
    local = LocalSearch(hpo_trials=0, bits=[(8, 3)], prune=kn.Pruning(0.5, steps=2, epochs_per_step=1))
    first = local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=1, local=local, log=lambda *a: None)
    kept = {c: os.stat(tmp_path / c / "row.json").st_mtime_ns for c in ("model_global", "model_q8-3", "model_q8-3_p1")}
    shutil.rmtree(tmp_path / "model_q8-3_p2")  # as if killed during the second pruning step
    again = local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=1, local=local, log=lambda *a: None)
    assert sorted(again["candidate_id"]) == sorted(first["candidate_id"])
    assert {c: os.stat(tmp_path / c / "row.json").st_mtime_ns for c in kept} == kept  # not redone
    p2 = again.set_index("candidate_id").loc["model_q8-3_p2"]
    assert p2["status"] == "COMPLETED" and p2["sparsity"] == pytest.approx(0.5, abs=0.03)
    assert p2["target_sparsity"] == pytest.approx(0.5)


def test_rerun_with_other_data_or_settings_is_refused_before_training(jets, tmp_path):
    (xt, yt), (xv, yv) = jets
    m = trained_mlp(jets)
    local = LocalSearch(hpo_trials=0, bits=[(8, 3)])
    local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=1, local=local, log=lambda *a: None)
    with pytest.raises(kn.errors.ConfigError, match="training data .*a different hash"):
        local_search(m, (xt[:-10], yt[:-10], xv, yv), directory=str(tmp_path), epochs=1, local=local,
                     log=lambda *a: None)
    with pytest.raises(kn.errors.ConfigError, match="epochs: 1 -> 2"):
        local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=2, local=local, log=lambda *a: None)
    other = local_search(m, (xt, yt, xv, yv), directory=str(tmp_path), epochs=2, local=local, candidate_id="again",
                         log=lambda *a: None)  # another candidate_id is another set of variants
    assert set(other["candidate_id"]) == {"again_global", "again_q8-3"}
