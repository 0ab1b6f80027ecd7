"""Budget controller: a PI controller on the cost multipliers λ (dual ascent with a proportional term).

Budget mode (in the spirit of HGQ2's β controller): the loss of the architecture step gets
``sum_j λ_j · E[C_j] / B_j`` and, after every architecture step, with the error
``e_j = log(C_j / B_j)`` (symmetric: twice over the budget weighs as much as half of it)::

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

A front of budgets (``GradientSearch(budgets=[...])``) has one row of budgets, integrals and λ per
budget; ``penalty``/``update`` take the row ``k`` (a tensor inside the traced step).
"""

from __future__ import annotations

from .._keras import tf

MODES = ("target", "limit")
FEEDBACKS = ("argmax", "expected")


class DualAscent:
    """PI controller of λ for one budget ``{metric: limit}`` or a list of them with the same metrics."""

    def __init__(self, budgets, rate: float = 0.1, gain: float = 2.0, mode: str = "target",
                 bound: float = 100.0, feedback: str = "argmax", tolerance: float = 0.1):
        if mode not in MODES:
            raise ValueError(f"budget mode must be one of {MODES}, got {mode!r}")
        if feedback not in FEEDBACKS:
            raise ValueError(f"budget feedback must be one of {FEEDBACKS}, got {feedback!r}")
        rows = [budgets] if isinstance(budgets, dict) else list(budgets)
        self.names, self.mode, self.feedback = list(rows[0]), mode, feedback
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
        self.lo, self.hi = (-bound if mode == "target" else 0.0), bound
        shape = [len(rows), len(self.names)]
        self.integral = tf.Variable(tf.zeros(shape), trainable=False, name="budget_integral")
        self.lam = tf.Variable(tf.zeros(shape), trainable=False, name="budget_lambda")

    def penalty(self, expected, k=0):
        """``sum_j λ_kj E[C_j] / B_kj`` for the budgeted entries ``expected`` (same order as ``names``)."""
        return tf.reduce_sum(tf.gather(self.lam, k) * expected / tf.gather(self.budgets, k))

    def error(self, measured, k=0):
        """``log(C / B)`` of row ``k``, 0 inside the dead band ``|C / B - 1| <= tolerance``."""
        ratio = tf.maximum(tf.stop_gradient(measured), 1e-12) / tf.gather(self.budgets, k)
        err = tf.math.log(ratio)
        if self.tolerance > 0:
            err = tf.where(tf.abs(ratio - 1.0) <= self.tolerance, tf.zeros_like(err), err)
        return err

    def update(self, measured, k=0):
        """One controller step of row ``k`` on the measured cost(s) (argmax or expected, see ``feedback``)."""
        err = self.error(measured, k)
        integral = tf.clip_by_value(tf.gather(self.integral, k) + self.rate * err, self.lo, self.hi)
        idx = tf.reshape(tf.cast(k, tf.int32), [1, 1])
        self.integral.scatter_nd_update(idx, integral[None])
        self.lam.scatter_nd_update(idx, tf.clip_by_value(integral + self.gain * err, self.lo, self.hi)[None])

    def values(self, k: int = 0) -> dict:
        return {n: float(v) for n, v in zip(self.names, self.lam.numpy()[k])}
