#!/usr/bin/env python
"""Execute the example notebooks in place (outputs kept), through papermill in a Jupyter kernel.

    python scripts/run_notebooks.py                      # every notebook, the budgets of their parameters cells
    python scripts/run_notebooks.py bragg_peaks -p HLS=False

The case-study notebooks resume the runs of `benchmarks/case_studies.py` (same folder, same settings),
so after a benchmark run they only rescore the stored models.
"""

import argparse
import ast
import os
import sys
import time

import papermill

NB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="notebook names without .ipynb (default: all)")
    ap.add_argument("-p", "--param", action="append", default=[], help="NAME=python-literal, e.g. HLS=False")
    args = ap.parse_args(argv)
    params = {}
    for p in args.param:
        k, v = p.split("=", 1)
        params[k] = ast.literal_eval(v)
    names = args.names or sorted(f[:-6] for f in os.listdir(NB) if f.endswith(".ipynb"))
    for name in names:
        path = os.path.join(NB, name + ".ipynb")
        t0 = time.perf_counter()
        papermill.execute_notebook(path, path, parameters=params, cwd=NB, kernel_name="python3", progress_bar=False)
        print(f"{name}: executed in {time.perf_counter() - t0:.0f} s with {params}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
