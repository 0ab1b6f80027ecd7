"""Command line: ``kerasnac search CONFIG.yaml``, ``kerasnac report DIR``, ``kerasnac export DIR --trial ID``.

Exit codes (stable, for scripts):

====  =====================================================================================
0     success
1     unexpected internal error (a bug: please report it with the traceback)
2     bad command line, run config, search space, data or directory (the message names the fix)
3     the search stopped early: too many trials failed in a row (the message names the cause)
4     nothing found: DIR holds no kerasnac search, no finished trial yet, or no such trial
5     hls4ml export failed (conversion, C++ compilation or C simulation)
130   interrupted (Ctrl-C); completed trials are kept, run the same command to resume
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from ._rundir import RunDir

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_STOPPED, EXIT_NOT_FOUND, EXIT_EXPORT, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


class NotFound(Exception):
    """Exit code 4."""


class ExportFailed(Exception):
    """Exit code 5."""


# ---------------------------------------------------------------------------------- search
def cmd_search(args) -> int:
    from ._runconfig import run

    overrides = {"max_trials": args.max_trials, "directory": args.directory, "project_name": args.project_name,
                 "overwrite": True if args.overwrite else None, "verbose": 0 if args.quiet else None}
    if args.directory is not None:
        overrides["directory"] = os.path.abspath(args.directory)  # relative to the shell, not the config
    nac = run(args.config, **overrides)
    if nac.role == "worker":
        print(f"kerasnac: worker finished; the chief writes the results in {nac.project_dir}")
        return EXIT_OK
    if not args.quiet:
        nac.summary()
    print(f"kerasnac: results in {nac.project_dir} (trials.csv, pareto_front.csv); "
          f"`kerasnac report {nac.project_dir}` shows them again.")
    return EXIT_OK


# ---------------------------------------------------------------------------------- report
def find_project(directory: str) -> str:
    """``directory`` itself, or its only sub-directory holding a kerasnac search."""
    if not os.path.isdir(directory):
        raise NotFound(f"{directory!r} is not a directory. Give the search's project directory "
                       "(<directory>/<project_name>).")
    if RunDir.is_run(directory):
        return directory
    subs = sorted(d for d in os.listdir(directory) if RunDir.is_run(os.path.join(directory, d)))
    if len(subs) == 1:
        return os.path.join(directory, subs[0])
    if subs:
        raise NotFound(f"{directory!r} holds several searches ({', '.join(subs)}); give one of them.")
    raise NotFound(f"{directory!r} holds no kerasnac search (no kerasnac.json). Give <directory>/<project_name> "
                   "of a search.")


def load_meta(project: str) -> dict:
    return RunDir(project).read_meta()


def load_table(project: str):
    import pandas as pd

    path = RunDir(project).file(RunDir.TRIALS)
    if not os.path.isfile(path):
        raise NotFound(f"{project}: no finished trial yet (no trials.csv). Run `kerasnac report` again later.")
    df = pd.read_csv(path, dtype={"trial_id": str, "baseline": str, "reason": str}, keep_default_na=True)
    for col in ("baseline", "reason"):
        if col in df:
            df[col] = df[col].fillna("")
    return df


def cmd_report(args) -> int:
    from .objectives import Objective
    from .results import normalize_reason, plot_pareto

    project = find_project(args.dir)
    meta = load_meta(project)
    objectives = [Objective(n, d) for n, d in meta["objectives"]]
    df = load_table(project)
    names = [o.name for o in objectives]
    done = df[df["status"] == "COMPLETED"]
    failed = df[df["status"].isin(["FAILED", "INVALID"])]
    running = len(df) - len(done) - len(failed)
    front = done[done["on_front"].astype(bool)]
    o = objectives[0]
    front = front.sort_values(o.name, ascending=o.direction == "min")
    if args.format == "csv":
        (df if args.all else front).to_csv(sys.stdout, index=False)
        return EXIT_OK
    if args.format == "json":
        print((df if args.all else front).to_json(orient="records"))
        return EXIT_OK
    print(f"kerasnac search {project}: {len(df)} trials, {len(done)} completed, {len(failed)} failed, "
          f"{running} running or queued")
    print("objectives: " + ", ".join(f"{x.name} ({x.direction})" for x in objectives)
          + ("; constraints: " + ", ".join(meta["constraints"]) if meta.get("constraints") else ""))
    cols = ["trial_id", "architecture"] + names + [c for c in ("params", "bops", "lut", "dsp") if c in df and c not in names]
    shown = df if args.all else front
    if not shown.empty:
        print(("All trials" if args.all else f"Pareto front ({len(front)} trials)") + ":")
        print(shown[[c for c in cols + (["status"] if args.all else []) if c in shown]].to_string(
            index=False, float_format=lambda v: f"{v:.4g}"))
    if not failed.empty:
        common = failed["reason"].map(normalize_reason).value_counts()
        print(f"failures: {len(failed)}; most common ({common.iloc[0]}x): {common.index[0]}")
    if not args.no_plot and not done.empty:
        path = args.plot or os.path.join(project, "pareto.png")
        fig = plot_pareto(df, objectives, path=path)
        import matplotlib.pyplot as plt

        plt.close(fig)
        print(f"plot: {path}")
    return EXIT_OK


# ---------------------------------------------------------------------------------- export
def load_trial_model(project: str, trial_id: str):
    """The trained tf_keras model of one trial, rebuilt from the project's files."""
    from ._keras import kt
    from ._tuner import WEIGHTS_FILE
    from .space import SearchSpace

    ids = sorted(d[len("trial_"):] for d in os.listdir(project) if d.startswith("trial_"))
    match = [t for t in ids if t == trial_id or (t.isdigit() and trial_id.isdigit() and int(t) == int(trial_id))]
    if not match:
        raise NotFound(f"{project}: no trial {trial_id!r}; trials: {', '.join(ids) or 'none'}.")
    tdir = RunDir(project).trial_dir(match[0])
    trial = kt.engine.trial.Trial.load(os.path.join(tdir, "trial.json"))
    weights = os.path.join(tdir, WEIGHTS_FILE)
    if str(trial.status) != "COMPLETED" or not os.path.isfile(weights):
        raise NotFound(f"trial {match[0]} is {trial.status} and has no trained weights; export a completed trial "
                       "(see `kerasnac report`).")
    meta = load_meta(project)
    space = SearchSpace.from_dict(meta["space"], source=RunDir(project).meta_path)
    space.label_mode = meta.get("label_mode", space.label_mode)  # integer labels: sparse loss
    model = space.build(trial.hyperparameters)
    model.load_weights(weights)
    return match[0], space, model


def cmd_export(args) -> int:
    from .callbacks import Candidate
    from .callbacks.hls4ml_export import HLS4MLExport

    project = find_project(args.dir)
    trial_id, space, model = load_trial_model(project, str(args.trial))
    out = os.path.abspath(args.output or os.path.join(project, "export"))
    cb = HLS4MLExport(output_dir=out, part=args.part, backend=args.backend, io_type=args.io_type,
                      strategy=args.strategy, reuse_factor=args.reuse_factor, on_error="raise", synth=args.synth)
    cand = Candidate(model=model, candidate_id=f"trial_{trial_id}", lineage={"trial_id": trial_id, "stage": "global"},
                     task=space.task, output_dir=os.path.join(out, f"trial_{trial_id}"))
    try:
        row = cb.on_candidate(cand)
    except Exception as e:  # noqa: BLE001 - HLS4MLExportError or a hls4ml crash
        raise ExportFailed(str(e)) from e
    print(f"kerasnac: hls4ml project of trial {trial_id} in {row.get('hls_dir', out)}")
    for key in ("lut", "ff", "dsp", "bram", "latency_cycles", "resource_source"):
        if key in row:
            print(f"  {key}: {row[key]}")
    return EXIT_OK


# ---------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="kerasnac", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Neural architecture codesign of QKeras models for FPGAs.",
        epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--version", action="version", version=f"kerasnac {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{search,report,export}", required=True)

    s = sub.add_parser("search", help="run (or resume) a search from one YAML run config",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run the search described by CONFIG.yaml (space, data, objectives, budget, local "
                                   "stage, callbacks). Running it again resumes it: completed trials are kept.\n"
                                   "For a chief/worker search set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and "
                                   "KERASTUNER_ORACLE_PORT and run the same command on every process.",
                       epilog=_config_doc())
    s.add_argument("config", metavar="CONFIG.yaml", help="the run config")
    s.add_argument("--max-trials", type=int, help="override search.max_trials (raise it to extend a finished search)")
    s.add_argument("--directory", help="override search.directory")
    s.add_argument("--project-name", help="override search.project_name")
    s.add_argument("--overwrite", action="store_true", help="delete an existing search of that name and start over")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    s.set_defaults(func=cmd_search)

    r = sub.add_parser("report", help="front table and plot of a results directory (also while a search runs)",
                       description="Print the Pareto front (or all trials) of a search and save its plot. Safe to "
                                   "run while the search is running: the result files are replaced atomically.")
    r.add_argument("dir", metavar="DIR", help="the search's project directory (<directory>/<project_name>)")
    r.add_argument("--all", action="store_true", help="every trial, not only the front")
    r.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default table)")
    r.add_argument("--plot", metavar="FILE", help="where to save the plot (default DIR/pareto.png)")
    r.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    r.set_defaults(func=cmd_report)

    e = sub.add_parser("export", help="hls4ml project of one trial",
                       description="Rebuild one trial's trained model from DIR and write its hls4ml project "
                                   "(converted and compiled with g++; synthesized when the HLS tools are installed "
                                   "and --synth is given).")
    e.add_argument("dir", metavar="DIR", help="the search's project directory")
    e.add_argument("--trial", required=True, metavar="ID", help="trial id (see `kerasnac report`)")
    e.add_argument("--output", metavar="OUT", help="output directory (default DIR/export)")
    e.add_argument("--part", default="xcvu13p-flga2577-2-e", help="FPGA part (default %(default)s)")
    e.add_argument("--backend", default="Vitis", choices=("Vitis", "Vivado"), help="hls4ml backend")
    e.add_argument("--io-type", default="io_parallel", choices=("io_parallel", "io_stream"))
    e.add_argument("--strategy", default="Latency", choices=("Latency", "Resource"))
    e.add_argument("--reuse-factor", type=int, default=1)
    e.add_argument("--synth", action="store_true", default=None, help="run HLS synthesis (needs the vendor tools)")
    e.set_defaults(func=cmd_export)
    return p


def _config_doc() -> str:
    from . import _runconfig

    return "CONFIG.yaml:\n" + _runconfig.__doc__.split("::", 1)[1].rstrip()


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit with 2, --help with 0
    from .errors import ConsecutiveFailuresError, KerasNACError

    try:
        return args.func(args)
    except ConsecutiveFailuresError as e:  # before KerasNACError, its base class
        print(f"kerasnac {args.command}: {e}", file=sys.stderr)
        return EXIT_STOPPED
    except KerasNACError as e:
        print(f"kerasnac {args.command}: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except NotFound as e:
        print(f"kerasnac {args.command}: {e}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ExportFailed as e:
        print(f"kerasnac {args.command}: export failed: {e}", file=sys.stderr)
        return EXIT_EXPORT
    except KeyboardInterrupt:
        print(f"kerasnac {args.command}: interrupted. Completed trials are kept; run the same command to resume.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print(f"kerasnac {args.command}: internal error (exit 1). Please report it with the traceback above.",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
