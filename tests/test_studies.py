"""Case studies: the comparison logic (fast) and each study's --quick pipeline (slow)."""

import numpy as np
import pandas as pd
import pytest

import kerasnac as kn


def _rows():
    def r(model, role, bits, sparsity, metric, bops):
        return {"study": "s", "model": model, "role": role, "bits": bits, "sparsity": sparsity, "test_metric": metric,
                "metric_name": "accuracy", "higher_is_better": True, "bops": bops}

    return pd.DataFrame([
        r("b:model_hpo", "baseline", "searched", 0.0, 0.75, 1e6),
        r("b:model_q6-2", "baseline_equal_precision", "6,2", 0.0, 0.74, 1e5),
        r("b:model_q6-2_p1", "baseline_equal_precision", "6,2", 0.5, 0.73, 6e4),
        r("t3_q6-2", "found", "6,2", 0.0, 0.76, 2e4),       # better than float and than 6-bit baseline
        r("t3_q6-2_p1", "found", "6,2", 0.5, 0.745, 1e4),   # better than the pruned 6-bit baseline only
        r("t4_q4-1", "found", "4,1", 0.0, 0.70, 5e3),       # cheapest, but worse than everything
    ])


def test_compare_full_and_equal_precision_ratios():
    line = kn.studies.compare(_rows()).iloc[0]
    assert line["found"] == "t3_q6-2" and line["ratio_full"] == pytest.approx(50.0)
    # equal precision: t3_q6-2_p1 (0.745) beats the pruned 6-bit baseline (0.73): 6e4 / 1e4 = 6;
    # t3_q6-2 beats the unpruned one: 1e5 / 2e4 = 5; the best qualifying pair is reported
    assert line["ratio_equal_precision"] == pytest.approx(6.0)
    assert line["equal_precision_pair"] == "t3_q6-2_p1 vs model_q6-2_p1"


def test_compare_lower_is_better_and_no_qualifying_model():
    rows = _rows().assign(higher_is_better=False)
    line = kn.studies.compare(rows).iloc[0]
    assert line["found"] == "t4_q4-1"  # 0.70 <= 0.75 and the cheapest
    rows = _rows()
    rows.loc[rows["role"] == "found", "test_metric"] = 0.1
    line = kn.studies.compare(rows).iloc[0]
    assert pd.isna(line["found"]) and np.isnan(line["ratio_full"]) and np.isnan(line["ratio_equal_precision"])


def test_compare_reductions_of_a_gradient_regression_study():
    def r(model, role, bits, metric, params, lut, ff, dsp, bops):
        return {"study": "calorimeter", "model": model, "role": role, "bits": bits, "sparsity": 0.0,
                "test_metric": metric, "metric_name": "mae_gev", "higher_is_better": False, "bops": bops,
                "params": params, "lut": lut, "ff": ff, "dsp": dsp}

    rows = pd.DataFrame([
        r("calo_cnn_large:model_global", "baseline", "searched", 2.00, 1000, 1e6, 1e5, 400, 1e9),
        r("calo_cnn_large:model_q16-6", "baseline_equal_precision", "16,6", 2.02, 1000, 5e5, 6e4, 300, 3e8),
        r("grad_global", "found", "searched", 2.015, 400, 6e5, 5e4, 200, 2e8),   # 0.75% worse: qualifies
        r("grad_q16-6", "found", "16,6", 2.019, 400, 4e5, 4e4, 100, 1e8),        # 0.95% worse, cheapest LUT
        r("grad_q12-4", "found", "12,4", 2.05, 300, 1e5, 1e4, 50, 5e7),          # 2.5% worse: too inaccurate
    ])
    line = kn.studies.compare(rows).iloc[0]
    assert line["found"] is None  # no found model is at least as good: the BOPs ratio columns are unchanged
    assert line["reduction_model"] == "grad_q16-6"
    assert line["reduction_metric_change"] == pytest.approx(0.95)
    assert line["params_reduction"] == pytest.approx(60.0) and line["lut_reduction"] == pytest.approx(60.0)
    assert line["ff_reduction"] == pytest.approx(60.0) and line["dsp_reduction"] == pytest.approx(75.0)
    # none within 1%: NaN reductions; evolution studies get no reduction columns
    rows.loc[rows["role"] == "found", "test_metric"] = 3.0
    line = kn.studies.compare(rows).iloc[0]
    assert line["reduction_model"] is None and np.isnan(line["lut_reduction"])
    assert "lut_reduction" not in kn.studies.compare(_rows()).columns


def test_calorimeter_space_has_a_large_relaxable_baseline():
    space = kn.SearchSpace.from_yaml("calorimeter")
    model = space.model_from_values(space.baselines["calo_cnn_large"])
    assert model.count_params() >= 200_000 and model.output_shape == (None, 1)
    gs = kn.GradientSearch(space, cost="lut", epochs=2, verbose=0)  # every choice is relaxable
    assert "s1/block" in gs.choices.choices


def test_unknown_study_is_refused():
    with pytest.raises(ValueError, match="unknown study 'nope'"):
        kn.studies.run("nope", quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["jets_hlf", "jets_deepsets", "bragg", "calorimeter"])
def test_quick_study_runs_end_to_end(tmp_path, name):
    rows, nac = kn.studies.run(name, quick=True, directory=str(tmp_path), hls=(name == "jets_hlf"), log=print)
    assert list(rows.columns) == kn.studies.COLUMNS
    assert (rows["role"] == "found").any() and (rows["role"] == "baseline").sum() == len(kn.studies.STUDIES[name].baselines)
    assert (rows["role"] == "baseline_equal_precision").any()
    assert np.isfinite(rows["test_metric"]).all() and (rows["bops"] > 0).all()
    assert len(kn.studies.compare(rows)) == len(kn.studies.STUDIES[name].baselines)
    if name == "jets_hlf":
        assert rows.loc[rows["role"] == "found", "csim_agreement"].notna().any()
