"""Budget controller: a PI controller on the cost multipliers λ (dual ascent with a proportional term).

Budget mode (in the spirit of HGQ2's β controller): the loss of the architecture step gets a budget
term weighed by λ_j (``steering="linear"``: ``sum_j λ_j · E[C_j] / B_j``; the default band term is
below) and, after every architecture step, with the error ``e_j = log(C_j / B_j)`` (symmetric: twice
over the budget weighs as much as half of it)::

    I_j ← clip(I_j + k_i · e_j)          (dual ascent on the constraint C_j = B_j)
    λ_j ← clip(I_j + k_p · e_j)          (the proportional term damps the overshoot)

What the error measures matters more than the gains. ``C_j`` is the exact cost of the *argmax*
architecture (``feedback="argmax"``, the default), not the expected cost ``E[C_j]`` under the soft
probabilities: costs grow faster than linearly in widths and bits, so a distribution whose
expectation sits on the budget has a cheaper mode, and the derived (argmax) model used to land
31–49% under its budget. Inside ``± tolerance`` the error is 0 (a dead band): the integral then holds
the λ that balances the task gradient, and stops pushing an architecture that already fits.
``feedback="expected"`` is the former behaviour (error on ``E[C_j]``, no dead band).

``mode="target"`` (default) lets λ go negative, so an architecture below its budget is pushed *up* to
it (use the resources you have for accuracy); ``mode="limit"`` keeps λ ≥ 0 (the budget is only an upper
bound and the task loss alone decides how far below it to stay).

``steering="band"`` (the default) replaces the linear term ``λ E[C] / B`` by a push toward the band
itself. A linear term rewards (λ < 0) or penalises (λ > 0) every choice in proportion to the cost
it adds, so when the argmax is below its budget the strongest pull is toward the choice that adds the
most cost, and a near-tied choice that multiplies the cost by seven (a first conv's kernel size
1 → 3) jumps over the band while the in-band choice (16-bit weights, −5% of the budget) is never
made: a duality gap on a discrete space, measured in ``docs/benchmarks.md`` (section 6). The band
term looks one move ahead instead. For every single-choice change ``n: a → v`` of the argmax
architecture it takes the exact cost ``C_nv`` and scores the change by how much it shortens the
distance of the argmax to the inner half of the band (so that a change also counts just outside
the band's edge, where the distance to the band itself would be nearly 0),

    d(C) = relu(|log C/B| − ½ log(1 + tol))      (target mode; limit mode: relu(log C/B − ...)),
    s_nv = Σ_j μ_j (d(C_nv) − d(C)),

and adds ``Σ_n Σ_v softmax(z_n)[v] s_nv`` (at temperature 1, so the push on a value the annealed
softmax has all but given up does not vanish) to the loss of the architecture step. A move that
overshoots the band scores worse than one that lands in it, and once the argmax is inside the band,
every move out of it is penalised: the architecture is held there. The gain ``μ_j ≥ 0`` is the same
PI controller on the error ``|log C_j/B_j|`` of the argmax after each step (0 inside the band, so
there μ is its integral, which holds). ``C_nv`` costs nothing extra: the expected cost is linear
in each choice's probability vector (a chain of einsums in which every choice enters once), so with ``g = ∂E[C]/∂P``
at the one-hot argmax, ``C_nv = C + g_n[v] − g_n[a]`` exactly (checked in the tests).
With ``lookahead=2``, when no single change brings the argmax into the inner half band
(``stuck``), a change ``r`` is scored by the best change ``s`` that can follow it,
``s_r = min_s Σ_j μ_j (d(C_rs) − d(C))``: two choices that must change together to land (neither alone
does) then both get a push. ``C_rs`` is exact too: E[C] is multilinear, so its Hessian at the one-hot
argmax holds every pair's cost change (``Supernet.pair_costs``), computed only on the stuck steps.
With ``lookahead=3`` (the default), the settle phase after the epochs also looks three changes
ahead for a budget where no pair lands: the landing triple with the smallest summed logit deficit,
found exactly outside the traced step (``_landing``), becomes a waypoint, and each of its three
changes is scored ``Σ_j μ_j (d(C_waypoint) − d(C))`` (:meth:`DualAscent.toward`) where that is the
better score. During the epochs it acts as ``lookahead=2``.
``steering="linear"`` is the former term (with ``mode``'s sign rules for λ), and the default with
``feedback="expected"``.

A front of budgets (``GradientSearch(budgets=[...])``) has one row of budgets, integrals and λ per
budget; ``penalty``/``update``/``steer`` take the row ``k`` (a tensor inside the traced step).
"""

from __future__ import annotations

from .._keras import tf

MODES = ("target", "limit")
FEEDBACKS = ("argmax", "expected")
STEERINGS = ("band", "linear")


class DualAscent:
    """PI controller of λ for one budget ``{metric: limit}`` or a list of them with the same metrics."""

    def __init__(self, budgets, rate: float = 0.1, gain: float = 2.0, mode: str = "target",
                 bound: float = 100.0, feedback: str = "argmax", tolerance: float = 0.1, steering: str | None = None,
                 lookahead: int = 3):
        if mode not in MODES:
            raise ValueError(f"budget mode must be one of {MODES}, got {mode!r}")
        if feedback not in FEEDBACKS:
            raise ValueError(f"budget feedback must be one of {FEEDBACKS}, got {feedback!r}")
        if steering is None:  # band steering needs the argmax feedback; the former controller keeps its term
            steering = "band" if feedback == "argmax" else "linear"
        if steering not in STEERINGS:
            raise ValueError(f"budget steering must be one of {STEERINGS}, got {steering!r}")
        if steering == "band" and feedback != "argmax":
            raise ValueError("budget steering 'band' scores the argmax architecture's neighbours, so it needs "
                             "budget_feedback='argmax'; use budget_steering='linear' with feedback 'expected'.")
        if isinstance(lookahead, bool) or lookahead not in (1, 2, 3):
            raise ValueError(f"budget lookahead must be 1 (single-choice changes), 2 (pairs too) or 3 (and, in the "
                             f"settle phase, a landing triple), got {lookahead!r}")
        rows = [budgets] if isinstance(budgets, dict) else list(budgets)
        self.names, self.mode, self.feedback, self.steering = list(rows[0]), mode, feedback, steering
        self.lookahead = int(lookahead)
        for row in rows:
            if list(row) != self.names:
                raise ValueError(f"every budget must name the same metrics {self.names}, got {list(row)}")
            for k, b in row.items():
                if isinstance(b, bool) or not isinstance(b, (int, float)) or b <= 0:
                    raise ValueError(f"budget[{k!r}] must be a positive number, got {b!r}")
        self.rows = [dict(r) for r in rows]
        self.budgets = tf.constant([[float(r[k]) for k in self.names] for r in rows])  # [K, metrics]
        self.rate, self.gain = float(rate), float(gain)
        self.tolerance = float(tolerance) if feedback == "argmax" else 0.0
        self.lo, self.hi = (-bound if mode == "target" and steering == "linear" else 0.0), bound
        shape = [len(rows), len(self.names)]
        self.integral = tf.Variable(tf.zeros(shape), trainable=False, name="budget_integral")
        self.lam = tf.Variable(tf.zeros(shape), trainable=False, name="budget_lambda")
        # multiplies the integral gain; 1 during the epochs, raised by the settle phase (GradientSearch._settle)
        self.boost = tf.Variable(1.0, trainable=False, name="budget_boost")

    def penalty(self, expected, k=0):
        """``sum_j λ_kj E[C_j] / B_kj`` for the budgeted entries ``expected`` (same order as ``names``);
        0 with band steering, whose term is :meth:`steer`."""
        if self.steering == "band":
            return tf.zeros([])
        return tf.reduce_sum(tf.gather(self.lam, k) * expected / tf.gather(self.budgets, k))

    def distance(self, cost, k=0):
        """``d(C)``: how far costs ``[..., metrics]`` are from row ``k``'s budget, in log units beyond
        half the band (``relu(|log C/B| − ½ log(1 + tol))``; limit mode: only above the budget)."""
        logr = tf.math.log(tf.maximum(cost, 1e-12) / tf.gather(self.budgets, k))
        if self.mode == "target":
            logr = tf.abs(logr)
        return tf.nn.relu(logr - 0.5 * tf.math.log1p(self.tolerance))

    def steer(self, cost, neighbours, k=0, pairs=None):
        """Scores ``s_r = Σ_j μ_kj (d(C_r) − d(C))`` of the single-choice changes ``r`` of the argmax.

        ``cost``: ``[metrics]`` exact cost of the argmax; ``neighbours``: ``[D, metrics]``, the costs
        with one choice changed to value ``r`` (every value of every choice, the argmax's own included).
        With ``pairs`` (``[D, D, metrics]``, :meth:`Supernet.pair_costs`), a change is scored by the
        best second change that can follow it, ``s_r = min_s Σ_j μ_kj (d(C_rs) − d(C))``. Returns
        ``[D]``, to be weighed with each choice's softmax in the loss."""
        mu = tf.gather(self.lam, k)
        base = self.distance(cost, k)
        if pairs is not None:
            return tf.reduce_min(tf.reduce_sum(mu * (self.distance(pairs, k) - base), axis=-1), axis=-1)
        return tf.reduce_sum(mu * (self.distance(neighbours, k) - base), axis=-1)

    def toward(self, cost, target, k=0):
        """``Σ_j μ_kj (d(target) − d(C))``: what reaching the costs ``target`` (``[metrics]``, a waypoint
        several changes away) removes of the argmax's distance to row ``k``'s band (negative: closer).

        A target within the full ``± tolerance`` counts as landed, ``d(target) = 0``. The waypoint is
        found exactly, so its landing is certain, whereas ``d`` measures from the inner half band (so
        that a single move just outside the edge still scores). Without this, a waypoint at −8.7% of a
        10% band scored only 0.013 μ better than staying at +10.9% (the misses of ``docs/benchmarks.md``,
        section 6) instead of 0.056 μ."""
        inside = self._within(target / tf.gather(self.budgets, k))
        landed = tf.where(inside, tf.zeros_like(target), self.distance(target, k))
        return tf.reduce_sum(tf.gather(self.lam, k) * (landed - self.distance(cost, k)))

    def stuck(self, neighbours, k=0):
        """True when no single-choice change (``[D, metrics]`` costs) brings every metric into the inner
        half band: the case where ``lookahead=2`` scores pairs of changes."""
        return tf.reduce_all(tf.reduce_max(self.distance(neighbours, k), axis=-1) > 0)

    def error(self, measured, k=0):
        """``log(C / B)`` of row ``k``, 0 inside the dead band ``|C / B - 1| <= tolerance``; with band
        steering ``|log(C / B)|`` (limit mode: above the budget only), 0 inside the band: it drives
        the gain μ, which never turns negative."""
        ratio = tf.maximum(tf.stop_gradient(measured), 1e-12) / tf.gather(self.budgets, k)
        err = tf.math.log(ratio)
        if self.steering == "band":
            err = tf.abs(err) if self.mode == "target" else tf.nn.relu(err)
        if self.tolerance > 0:
            err = tf.where(self._within(ratio), tf.zeros_like(err), err)
        return err

    def _within(self, ratio):
        """Whether cost / budget ratios lie within ``± tolerance``: the dead band of :meth:`error`, and
        a waypoint that counts as landed in :meth:`toward`."""
        return tf.abs(ratio - 1.0) <= self.tolerance

    def update(self, measured, k=0):
        """One controller step of row ``k`` on the measured cost(s) (argmax or expected, see ``feedback``)."""
        err = self.error(measured, k)
        integral = tf.clip_by_value(tf.gather(self.integral, k) + self.rate * self.boost * err, self.lo, self.hi)
        idx = tf.reshape(tf.cast(k, tf.int32), [1, 1])
        self.integral.scatter_nd_update(idx, integral[None])
        self.lam.scatter_nd_update(idx, tf.clip_by_value(integral + self.gain * err, self.lo, self.hi)[None])

    def values(self, k: int = 0) -> dict:
        return {n: float(v) for n, v in zip(self.names, self.lam.numpy()[k])}
