"""The example notebooks run end to end with small budgets, through a real notebook client.

papermill injects the parameters after the cell tagged ``parameters`` and executes every cell in a
Jupyter kernel (nbclient), so a broken notebook file, a failing cell or a kernel that cannot start
fails the test. A probe cell appended by the test writes the facts the assertions need to JSON.
"""

import json
import os

import nbformat
import pytest

papermill = pytest.importorskip("papermill", reason="the notebooks extra: pip install papermill ipykernel")

NB_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "notebooks")


def run_notebook(name, tmp_path, probe: str, **params) -> dict:
    nb = nbformat.read(os.path.join(NB_DIR, name), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.source.lstrip().startswith(("%", "!")), "notebooks must not use shell/magic lines"
    nb.cells.append(nbformat.v4.new_code_cell("import json\nwith open('probe.json', 'w') as _f:\n"
                                              f"    json.dump({probe}, _f, default=str)"))
    src, out = tmp_path / f"in_{name}", tmp_path / f"out_{name}"
    nbformat.write(nb, src)
    papermill.execute_notebook(str(src), str(out), parameters=params, cwd=str(tmp_path), kernel_name="python3",
                               progress_bar=False, request_save_on_cell_execute=False)
    with open(tmp_path / "probe.json") as f:
        return json.load(f)


STUDY_PROBE = ("{'roles': sorted(set(rows['role'])), 'metric': rows['test_metric'].tolist(), "
               "'n_baselines': int((rows['role'] == 'baseline').sum()), 'headline': kn.studies.headline(cmp.iloc[0]), "
               "'stages': sorted(set(nac.final_front()['stage']))}")


def test_bragg_notebook_small(tmp_path):
    p = run_notebook("bragg_peaks.ipynb", tmp_path, STUDY_PROBE, QUICK=True, HLS=False, DIRECTORY=str(tmp_path))
    assert p["roles"] == ["baseline", "baseline_equal_precision", "found"] and p["n_baselines"] == 1
    assert all(m > 0 for m in p["metric"])  # pixel distances
    assert {"global", "qat", "pruned"} <= set(p["stages"])
    assert p["headline"].startswith("bragg:")


@pytest.mark.slow  # the longest notebook (three parts); the Bragg and calorimeter notebooks run by default
def test_jets_notebook_small(tmp_path):
    p = run_notebook("jet_tagging.ipynb", tmp_path, STUDY_PROBE, QUICK=True, HLS=False, DIRECTORY=str(tmp_path))
    # the probe sees the last part (the HLF MLP): two baselines, float and 6-bit
    assert p["roles"] == ["baseline", "baseline_equal_precision", "found"] and p["n_baselines"] == 2
    assert max(p["metric"]) > 0.3
    assert p["headline"].startswith("jets_hlf:")


@pytest.mark.slow
def test_jets_notebook_with_hls4ml(tmp_path):
    p = run_notebook("jet_tagging.ipynb", tmp_path, "{'csim': rows['csim_agreement'].dropna().tolist()}",
                     QUICK=True, HLS=True, DIRECTORY=str(tmp_path))
    assert p["csim"] and all(0 <= a <= 1 for a in p["csim"])


def test_calorimeter_notebook_small(tmp_path):
    p = run_notebook("calorimeter_gradient.ipynb", tmp_path,
                     "{'roles': sorted(set(rows['role'])), 'epochs': len(gs.history_dataframe()), "
                     "'budgets': sorted(gs.budget), 'best': best, 'mae': rows['test_metric'].tolist(), "
                     "'headline': kn.studies.headline(cmp.iloc[0])}", QUICK=True, DIRECTORY=str(tmp_path))
    assert p["roles"] == ["baseline", "baseline_equal_precision", "found"]
    assert p["epochs"] == 2  # the quick budget's supernet epochs
    assert p["budgets"] == ["dsp", "ff", "lut", "params"]
    assert p["best"].startswith("grad") and all(m > 0 for m in p["mae"])
    assert p["headline"].startswith("calorimeter:")


@pytest.mark.slow  # the gradient API is exercised by tests/test_gradient*.py in the default suite
def test_gradient_notebook_small(tmp_path):
    p = run_notebook("04_gradient_search.ipynb", tmp_path,
                     "{'epochs': len(gs.history_dataframe()), 'metrics': sorted(set(gb.summary()['metric'])), "
                     "'trial_ids': sorted(set(final['trial_id']))}", EPOCHS=2)
    assert p["epochs"] == 2
    assert "lut" in p["metrics"]
    assert p["trial_ids"] == ["gradient"]
