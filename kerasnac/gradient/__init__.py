"""Gradient-based hardware-aware search: a single-shot supernet over a SearchSpace (ConNAS4ML-style).

    >>> gs = GradientSearch(space, cost=kn.costs.weighted(lut=1.0, ff=0.5, dsp=2.0), budget={"lut": 40_000})  # doctest: +SKIP
    >>> gs.fit(x, y, validation_data=(xv, yv)); model = gs.derive(); gs.summary()                          # doctest: +SKIP

A front from one training (``kerasnac.gradient._front``): several budgets share the supernet weights,
each with its own architecture logits and λ, and one model is derived and fine-tuned per budget:

    >>> gs = GradientSearch(space, cost="bops", budgets=5)         # or budgets={"bops": [2e4, 1e5, 5e5]}  # doctest: +SKIP
    >>> gs.fit(x, y, validation_data=(xv, yv)); gs.derive_front()                                          # doctest: +SKIP
    >>> gs.front_dataframe(); gs.plot_front()     # the evolutionary search's trials table and Pareto plot  # doctest: +SKIP

How each choice of the space is relaxed
---------------------------------------
Each block type declares its relaxation in its own file (``Block.relaxation``, a
``kerasnac.space.relax.Relaxed`` layer, built by ``Block.relax``); the supernet asks the block registry
for it, so a user-registered block is searchable once it declares one (see ``kerasnac.space.relax``).
The built-in blocks relax as follows:

* stage block type (``skip`` included), layer count, activation, batchnorm, Deep Sets aggregation,
  max/avg pooling: a mixed op, the sum of the candidates' outputs weighted by their probabilities
  (DARTS/FBNet); the layer count mixes the outputs after 1..n layers;
* weight / bias / activation bits and integer bits: the same tensor through every candidate QKeras
  quantizer (the ones ``Quant`` gives the derived model), weighted (mixed-precision DNAS);
* units / filters (per layer): FBNetV2 channel masking at the maximum width;
* kernel size: one kernel at the largest size, candidates use its centre (Single-Path NAS); 'valid'
  padding is emulated on a fixed canvas with an eroded mask of valid positions.

Not relaxable (``NotRelaxableError`` names the choice; pin it with ``fixed={name: value}``):
continuous ranges and dropout rates, 'same' vs 'valid' padding, pooling vs 'none', block choices whose
outputs differ in rank or spatial size (an mlp that flattens next to a skip of a feature map, a pooled
conv next to a skip), pooling after a searched 'valid' kernel size, even kernel sizes shared by several
candidates, and block types without a relaxation (``Block.relax`` names them). Searched training parameters
(optimizer, learning rate) take their first value unless fixed.

Expected cost: exact ``E[C]`` under independent choices, from probes of ``kerasnac.costs`` on every
candidate layer in every reachable (input shape, input bits) context (see ``kerasnac.space.relax._expected``). The cost
must be additive over layer-table rows (built-in table costs, weighted sums, a callable on a row);
``latency_cycles`` is the sum of the layers' cycles (exact for chains, an upper bound with branches).

Budgets: a PI controller (``kerasnac.gradient._controller``) fed with the exact cost of the argmax
architecture, with a dead band of ``± budget_tolerance``, so that the derived model itself lands on the
budget. Its gain weighs, by default (``budget_steering="band"``), a push of every choice toward those of
its values whose single-choice change of the argmax brings the exact cost closer to the band (the costs
of all such changes come from one gradient of the multilinear E[C], ``Supernet.neighbour_costs``); a cost
penalty linear in E[C] would pull hardest toward the choice that adds most cost and jump over a narrow band.
When no single change lands, each change is scored by the best second change that can follow it, with
the exact pair costs from E[C]'s Hessian (``Supernet.pair_costs``).
A budget that never came within the tolerance during the epochs gets up to ``budget_settle`` (300)
further architecture steps of its own, weights frozen, until its argmax lands (``settle_log``); where no
pair lands either, the three changes that land with the smallest summed logit deficit are pushed
together there (``budget_lookahead=3``, the default; ``_landing``).
``repair()`` then only moves a model that still misses it.

Collapse to Skip: warm-up epochs train only the weights, with uniformly sampled paths, before the
logits move; and the skip path gets dropout (rate ``skip_dropout``, decaying linearly to 0, P-DARTS),
so weights cannot lean on it early and parametric ops are trained when they compete.
"""

from ..space.relax import NotRelaxableError
from ._controller import DualAscent
from ._search import GradientSearch
from ._supernet import Supernet

__all__ = ["GradientSearch", "Supernet", "NotRelaxableError", "DualAscent"]
