"""How well the screening's trees predict a child's log10 BOPs from its hyperparameter encoding.

    python benchmarks/cost_prediction.py            # the kerasnac_default rows of four committed CSVs

For each seed of a task's ``kerasnac_default`` rows, the screening's ``ExtraTreesRegressor``
(:func:`kerasnac.screening._predict`, 50 trees) is fitted on the first 10, 20 and 30 trials and
scored (R²) on the next 10. Prints the median and lower quartile per task. It reads the CSVs only;
nothing is trained.
"""

import ast
import os

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

import kerasnac as kn
from kerasnac.screening import Encoder, _log_cost, _predict

HERE = os.path.dirname(os.path.abspath(__file__))
SPACES = {"jets_tune": lambda: kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5),
          "deepsets": lambda: kn.SearchSpace.from_yaml("jets_deepsets"),
          "calo_short": lambda: kn.SearchSpace.from_yaml("calorimeter"),
          "bragg_small": lambda: kn.SearchSpace.from_yaml("braggnn")}


def r2_scores(df: pd.DataFrame, space, starts=(10, 20, 30), ahead: int = 10) -> list[float]:
    encoder = Encoder(space.hyperparameters().space)
    scores = []
    for _, g in df.groupby("seed"):
        g = g.sort_values("trial")
        X = np.array([encoder(dict(ast.literal_eval(h))) for h in g.hp])
        y = _log_cost(g.bops.to_numpy())
        for t in starts:
            if len(g) < t + ahead:
                continue
            pred, _ = _predict(X[:t], y[:t], X[t:t + ahead], 50, 0)
            scores.append(r2_score(y[t:t + ahead], pred))
    return scores


def main():
    for name, make_space in SPACES.items():
        df = pd.read_csv(os.path.join(HERE, "results", f"search_quality_{name}.csv"))
        df = df[(df.method == "kerasnac_default") & df.bops.notna()]
        r2 = r2_scores(df, make_space())
        print(f"{name}: median R² of log10 BOPs on the next 10 trials {np.median(r2):.2f} "
              f"(lower quartile {np.quantile(r2, 0.25):.2f}, {len(r2)} fits)")


if __name__ == "__main__":
    main()
