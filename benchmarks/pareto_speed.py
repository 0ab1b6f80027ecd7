"""Speed of the Pareto ranking used by the oracle and the results table.

    python benchmarks/pareto_speed.py
"""

import time

import numpy as np

from kerasnac import _pareto as P

for n in (500, 1000, 3000, 5000):
    rng = np.random.default_rng(0)
    F = rng.random((n, 3))
    v = np.where(rng.random(n) < 0.7, 0.0, rng.random(n))
    t = time.perf_counter()
    P.pareto_order(F, v)
    print(f"{n:5d} points x 3 objectives, with constraints: pareto_order in {time.perf_counter() - t:.3f} s")
