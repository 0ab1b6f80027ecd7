"""Case studies: the whole codesign pipeline against a physicist's baseline, measured on a test split.

A study searches a shipped space (the baselines enqueued as the first trials), runs the local stage
(training-HPO, QAT, pruning) and the hls4ml C-simulation on the final front, and gives each
baseline the same treatment: the same per-trial training in the global search, then the same local
stage (so it is retrained, quantized at the same precisions and pruned like the found models).
Every model is then scored once on the held-out **test** split, which neither the search nor the
local stage has seen. Ratios are reported twice:

* ``full``: the found models (quantized, pruned) against the *float* baseline, as the NAC paper does;
* ``equal precision``: each found model against the baseline at the *same* QAT precision (and
  pruning step), so that quantization cannot inflate the ratio.

    >>> import kerasnac as kn                                          # doctest: +SKIP
    >>> rows, nac = kn.studies.run("jets_hlf", quick=True)             # doctest: +SKIP
    >>> kn.studies.compare(rows)                                       # doctest: +SKIP
"""

from ._defs import COLUMNS, STUDIES, Study, bragg_distance_px, calorimeter_mae_gev, load_data, test_metric
from ._report import REDUCTION_COSTS, REDUCTION_TOLERANCE, compare, headline, plot
from ._run import run, run_gradient

__all__ = ["COLUMNS", "STUDIES", "Study", "bragg_distance_px", "calorimeter_mae_gev", "load_data", "test_metric",
           "REDUCTION_COSTS", "REDUCTION_TOLERANCE", "compare", "headline", "plot", "run", "run_gradient"]
