"""What finding the cheapest architecture of a space costs (``CostStratified(anchor=True)``).

    python benchmarks/anchor_descent.py [--spaces jets_mlp jets_deepsets calorimeter braggnn]

For each shipped space: the coordinate descent on the exact BOPs (``kerasnac.evolution.anchor``) from
the cheapest of 40 uniform draws, as the first-population plan runs it, with KerasNAC's own
shapes-only cost function. Prints the cost evaluations (model builds), the wall time, the log10 BOPs
of the start and of what it found, and the cheapest of 500 uniform draws for comparison.
"""

from __future__ import annotations

import argparse
import math
import random
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spaces", nargs="+", default=["jets_mlp", "jets_deepsets", "calorimeter", "braggnn"])
    args = p.parse_args(argv)

    import kerasnac as kn
    from kerasnac.evolution.anchor import cheapest_values

    print("| space | hyperparameters | start (cheapest of 40 draws) | found | cheapest of 500 draws | evaluations | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name in args.spaces:
        space = kn.SearchSpace.from_yaml(name, **({"input_shape": (16,), "num_classes": 5} if name == "jets_mlp" else {}))
        nac = kn.KerasNAC(space, [space.metric_names[-1], "bops"], directory="/tmp/kerasnac_anchor_descent",
                          project_name=name, overwrite=True, verbose=0)
        hps = nac.oracle.hyperparameters.space
        calls = []

        def bops(values):
            calls.append(1)
            return nac._exact_costs(values)["bops"]

        def draws(n, seed):
            r = random.Random(seed)
            return [nac.oracle._walk(lambda i, hp: hp.random_sample(r.randint(0, 2**31))) for _ in range(n)]

        log = lambda x: math.log10(x + 1.0)  # noqa: E731
        start = min(draws(40, 0), key=lambda v: nac._exact_costs(v)["bops"])
        bops(start)  # warm the builders up, outside the timing
        calls.clear()
        t = time.perf_counter()
        values, low = cheapest_values(hps, bops, start)
        seconds = time.perf_counter() - t
        many = min(nac._exact_costs(v)["bops"] for v in draws(500, 1))
        print(f"| {name} | {len(hps)} | {log(nac._exact_costs(start)['bops']):.2f} | {log(low):.2f} | {log(many):.2f} "
              f"| {len(calls)} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
