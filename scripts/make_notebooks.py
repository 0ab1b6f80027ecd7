#!/usr/bin/env python
"""Write the case-study notebooks (unexecuted); `python scripts/run_notebooks.py` executes them.

Kept as code so the three notebooks stay alike; edit here, rerun, then execute.
"""

from pathlib import Path

import nbformat as nbf

NB = Path(__file__).resolve().parents[1] / "notebooks"


def md(text):
    return nbf.v4.new_markdown_cell(text.strip())


def code(text, tags=None):
    c = nbf.v4.new_code_cell(text.strip())
    if tags:
        c.metadata["tags"] = tags
    return c


PARAMS = """# parameters
QUICK = False            # True: the ~2-minute budget the test suite uses
DIRECTORY = "../case_study_runs"   # the benchmark's runs: a rerun with the same settings resumes
HLS = True               # hls4ml conversion + C simulation of the final front (needs g++)
SEED = 0
TRIALS = None            # None: the study's budget (kerasnac.studies.STUDIES)
EPOCHS = None
N = None"""

HOW = """`kn.studies.run` is the whole pipeline in about 40 lines of public API (read its source):
`KerasNAC(space, objectives, max_trials, population_size=20).search(...)` with the space's baselines
enqueued as the first trials; `KerasNAC(..., local_search=kn.LocalSearch(trial_ids=best searched
trials, hpo_trials, bits, prune=kn.Pruning(...)), post_search=[kn.callbacks.HLS4MLExport()])` for the
local stage and the C simulation; then `kn.local_search(baseline_model, ...)` with the **same**
settings for every baseline, and each model scored once on the test split."""


def run_note(name):
    """The size and duration of the run behind the committed outputs (from the benchmark's files)."""
    import json
    import os

    timing_path = os.path.join(os.path.dirname(NB), "benchmarks", "results", "case_studies_timing.json")
    timing = json.load(open(timing_path)).get(name, "not run yet") if os.path.isfile(timing_path) else "not run yet"
    from kerasnac.studies import STUDIES

    b = STUDIES[name].budget(False)
    return (f"**The run behind these outputs**: `python benchmarks/case_studies.py --study {name} --directory "
            f"case_study_runs` with the study's budget {b} ({timing}); this notebook then resumed that run from "
            "`../case_study_runs` and rescored the stored models (its own time is printed below).")


def study_cells(name, title, what):
    return [
        md(f"## {title}\n\n{what}\n\n{run_note(name)}"),
        code(f"""t0 = time.perf_counter()
rows, nac = kn.studies.run("{name}", quick=QUICK, directory=DIRECTORY, hls=HLS, seed=SEED,
                           trials=TRIALS, epochs=EPOCHS, n=N, log=print)
print(f"{name}: {{(time.perf_counter() - t0) / 60:.1f}} min in this session (a resumed run only redoes "
      "what is not stored yet)")"""),
        code("nac.summary()\nfig = nac.plot_pareto()"),
        md("Every model on the **test** split (found models, the float baseline, the baseline at the same "
           "QAT precision and pruning step):"),
        code(f"""fig = kn.studies.plot(rows, "{name}")
rows.sort_values("bops")[["model", "role", "bits", "sparsity", "test_metric", "bops", "lut", "dsp",
                          "csim_agreement"]]"""),
        code(f"""cmp = kn.studies.compare(rows)
for _, line in cmp.iterrows():
    print(kn.studies.headline(line))
cmp"""),
        md("Load the cheapest model of the final front that is at least as good as the first baseline, with "
           "the public loader, and check it:"),
        code(f"""final = nac.final_front()
best = cmp.iloc[0]["found"]
if isinstance(best, str):  # None when no found model is as good as this baseline
    model = kn.load_model(final.loc[final["candidate_id"] == best, "model_path"].iloc[0])
    (_, _), (_, _), (x_test, y_test) = kn.studies.load_data("{name}", quick=QUICK, n=N, seed=SEED)
    study = kn.studies.STUDIES["{name}"]
    print(best, "test", study.metric, round(kn.studies.test_metric(study, model, x_test, y_test), 4))
    model.summary()"""),
    ]


def notebook(title, intro, studies, extra=()):
    cells = [md(f"# {title}\n\n{intro}"), code(PARAMS, tags=["parameters"]),
             code("import time\n\nimport kerasnac as kn   # import kerasnac before TensorFlow: it selects Keras 2 for QKeras"),
             md(HOW), *extra]
    for s in studies:
        cells += study_cells(*s)
    nb = nbf.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


JETS = notebook(
    "Jet tagging: a trigger-level jet classifier much cheaper than the baseline",
    """Five jet classes (gluon, light quark, W, Z, top) at pT ≈ 1 TeV, Pythia 8 + FastJet jets generated
here (`scripts/generate_jets.py --preset case_study`, kept in the repository; the shipped 5,000-jet
sample is used when that file is absent). Part 1 is the NAC paper's case (Weitz et al. 2025,
arXiv:2501.05515): Deep Sets on the 8 leading constituents × (pT, η, φ), with the paper's five Deep
Sets baselines (base/large/medium/small/tiny) enqueued. Part 2 is the hls4ml MLP 16-64-32-32-5
(float and 6-bit; Duarte et al. 2018) on the 16 high-level features.

The run size and its duration are printed under each run; `docs/case_studies.md` has the same
numbers from `benchmarks/case_studies.py`.""",
    [("jets_deepsets", "1. Deep Sets on 8 constituents",
      "The NAC paper reports 1.06% better accuracy at 7.2× fewer BOPs (medium) and 2.8% lower accuracy at "
      "30.25× fewer BOPs (tiny) on its data (fastmachinelearning/nac-opt README, commit 37eff3e)."),
     ("jets_hlf", "2. The hls4ml MLP on 16 high-level features",
      "The hls4ml 16-64-32-32-5 MLP reaches about 0.75 test accuracy on the 830k-jet OpenML set "
      "(hls4ml-tutorial part 1); here it is trained on the Pythia sample with the same budget as every "
      "trial.")])

BRAGG = notebook(
    "Bragg peak finding: BraggNN much cheaper at the same pixel error",
    """11×11 detector patches with one peak each, generated on the fly (`kn.datasets.bragg_peaks`); the
target is the peak centre, the metric the mean Euclidean distance in pixels. The float BraggNN (Liu et
al., IUCrJ 2022) is the baseline; the NAC paper reports 0.5% lower error at 5.9× fewer BOPs and 3%
higher error at 39.2× fewer BOPs (nac-opt README, commit 37eff3e).""",
    [("bragg", "The search against BraggNN", "Classical references first (no training), then the search.")],
    extra=[code("""(x_tr, y_tr), _, (x_te, y_te) = kn.datasets.bragg_peaks(2000, seed=SEED)
for method in ("centroid", "fit"):
    pred = kn.datasets.bragg_baseline(x_te[:300], method=method)
    print(method, {k: round(v, 3) for k, v in kn.datasets.bragg_metrics(y_te[:300], pred).items()})""")])

CALO_PARAMS = """# parameters
QUICK = False            # True: the ~2-minute budget the test suite uses
DIRECTORY = "../case_study_runs"
SEED = 0
N = None                 # showers (train/val/test 60/20/20); None: the study's 20,000
EPOCHS = None            # supernet epochs; None: the study's 10
FINETUNE_EPOCHS = None   # fine-tuning epochs of the derived model; None: the study's 10 (the baseline trains
                         # at most EPOCHS + FINETUNE_EPOCHS, with early stopping on the validation loss)"""

CALO = nbf.v4.new_notebook(cells=[
    md("""# Calorimeter energy regression: a single-shot, hardware-aware gradient search

The ConNAS4ML case (Chen & Lai, Indico contribution 6167637): a CNN regresses the energy of a shower
in a 12×12×6 calorimeter from its cell energies; a gradient-based search under hardware budgets
finds a network with 48.01% fewer parameters, 29.73% fewer LUT, 31.62% fewer FF and 23.92% fewer DSP
than a 1.8M-parameter baseline at +0.84% MAE (about 2 GPU-hours). Here the showers are generated on
the fly (`kn.datasets.calorimeter_showers`), the baseline is the float `calo_cnn_large` of
`search_spaces/calorimeter.yaml` (647k parameters), and `KerasNAC(strategy="gradient")` trains one
supernet over the same space under LUT/FF/DSP/parameter budgets of 45% of the baseline's, derives
one model, fine-tunes it and sends it through the usual local stage (QAT at two precisions, pruning).
The baseline gets the same total training budget and the same local stage. Every number below is on
the held-out **test** split.

**The run behind these outputs** has the study's full budget (20,000 showers, 10 supernet epochs, 10
fine-tuning epochs; the parameters cell can make it smaller, and the time it took is printed below the
run), the same as `benchmarks/case_studies.py --study calorimeter`, whose numbers are in
`docs/case_studies.md`. On 8,000 showers with 6 + 6 epochs (7.4 minutes here) the found model did *not*
reach the baseline's test MAE (1.248 vs 1.198 GeV): the supernet needs the larger budget."""),
    code(CALO_PARAMS, tags=["parameters"]),
    code("import time\n\nimport matplotlib.pyplot as plt\n\n"
         "import kerasnac as kn   # import kerasnac before TensorFlow: it selects Keras 2 for QKeras"),
    code("""t0 = time.perf_counter()
override = {} if QUICK else {k: v for k, v in dict(n=N, epochs=EPOCHS, finetune_epochs=FINETUNE_EPOCHS).items()
                             if v is not None}
rows, nac = kn.studies.run("calorimeter", quick=QUICK, directory=DIRECTORY, seed=SEED, log=print, **override)
print(f"calorimeter: {(time.perf_counter() - t0) / 60:.1f} min on this machine")"""),
    md("What the supernet did: the expected costs (under the architecture probabilities) against their "
       "budgets, epoch by epoch, and the derived architecture."),
    code("""gs = nac.gradient_search
hist = gs.history_dataframe()
cols = [c for c in hist if c.startswith("expected_")]
fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 2.8))
for ax, c in zip(axes, cols):
    ax.plot(hist["epoch"] + 1, hist[c], marker="o")
    key = c[len("expected_"):]
    if key in gs.budget:
        ax.axhline(gs.budget[key], color="k", ls="--", label="budget")
        ax.legend()
    ax.set_title(key); ax.set_xlabel("epoch")
fig.tight_layout()
print("derived architecture:", nac.final_front()["architecture"].iloc[0])"""),
    md("The final models (the derived model, its QAT and pruned variants) and the baseline, on the test split:"),
    code("""fig = kn.studies.plot(rows, "calorimeter")
rows.sort_values("bops")[["model", "role", "bits", "sparsity", "test_metric", "params", "lut", "ff", "dsp"]]"""),
    code("""cmp = kn.studies.compare(rows)
for _, line in cmp.iterrows():
    print(kn.studies.headline(line))
cmp"""),
    md("Load the most accurate found model with the public loader and check it on the test split:"),
    code("""final = nac.final_front()
found = rows[rows["role"] == "found"].sort_values("test_metric")
best = found.iloc[0]["model"]
model = kn.load_model(final.loc[final["candidate_id"] == best, "model_path"].iloc[0])
(_, _), (_, _), (x_test, y_test) = kn.studies.load_data("calorimeter", quick=QUICK, n=None if QUICK else N, seed=SEED)
print(best, "test MAE (GeV)", round(kn.studies.test_metric(kn.studies.STUDIES["calorimeter"], model, x_test, y_test), 4))
print(f"{model.count_params():,} parameters")"""),
])
CALO.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

if __name__ == "__main__":
    import sys

    # writing a notebook drops its outputs: name the ones to rewrite (default: all three)
    books = {"jet_tagging": JETS, "bragg_peaks": BRAGG, "calorimeter_gradient": CALO}
    for name in sys.argv[1:] or list(books):
        nbf.write(books[name], NB / f"{name}.ipynb")
        print("wrote", NB / f"{name}.ipynb")
