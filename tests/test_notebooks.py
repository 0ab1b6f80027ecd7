"""The example notebooks run end to end with small budgets (their code cells are executed in order,
with the ``parameters`` cell overridden, as papermill would)."""

import json
import os

import matplotlib
import pytest

matplotlib.use("Agg")

NB_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "notebooks")


def run_notebook(name, tmp_path, **params):
    with open(os.path.join(NB_DIR, name)) as f:
        nb = json.load(f)
    ns = {"__name__": "__notebook__"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            assert not src.lstrip().startswith(("%", "!")), "notebooks must not use shell/magic lines"
            exec(compile(src, f"{name}:cell", "exec"), ns)
            if "parameters" in cell["metadata"].get("tags", []):
                ns.update(params)
    finally:
        os.chdir(cwd)
    return ns


def test_bragg_notebook_small(tmp_path):
    ns = run_notebook("bragg_peaks.ipynb", tmp_path, N_PATCHES=600, MAX_TRIALS=3, EPOCHS=1, TOP_K=1, BITS=[(8, 3)],
                      HLS=False)
    final = ns["final"]
    assert set(final["stage"]) == {"global", "qat", "pruned"}
    assert (final["val_distance_px"] > 0).all()
    assert final["on_front"].any()


def test_jets_notebook_small(tmp_path):
    ns = run_notebook("jet_tagging.ipynb", tmp_path, MAX_TRIALS=3, EPOCHS=1, TOP_K=1, HPO_TRIALS=1, BITS=[(6, 2)],
                      HLS=False)
    final = ns["final"]
    assert {"global", "hpo", "qat", "pruned"} <= set(final["stage"])
    assert final["val_accuracy"].max() > 0.3


@pytest.mark.slow
@pytest.mark.parametrize("name,params", [
    ("bragg_peaks.ipynb", dict(N_PATCHES=2000, MAX_TRIALS=4, EPOCHS=2, TOP_K=1, BITS=[(8, 3)])),
    ("jet_tagging.ipynb", dict(MAX_TRIALS=4, EPOCHS=2, TOP_K=1, HPO_TRIALS=1, BITS=[(8, 3)])),
])
def test_notebooks_with_hls4ml(name, params, tmp_path):
    ns = run_notebook(name, tmp_path, HLS=True, **params)
    final = ns["final"]
    assert "hls_dir" in final and final["hls_dir"].notna().any()


def test_gradient_notebook_small(tmp_path):
    ns = run_notebook("04_gradient_search.ipynb", tmp_path, EPOCHS=2)
    assert len(ns["gs"].history_dataframe()) == 2
    assert "lut" in set(ns["gb"].summary()["metric"])
    assert (ns["final"]["trial_id"] == "gradient").all()
