"""Budget controller: a PI controller on the cost multipliers λ_k (dual ascent with a proportional term).

Budget mode (in the spirit of HGQ2's β controller): the loss of the architecture step gets
``sum_k λ_k · E[C_k] / B_k`` and, after every architecture step, with ``e_k = log(E[C_k] / B_k)``
(symmetric: twice over the budget weighs as much as half of it)::

    I_k ← clip(I_k + k_i · e_k)          (dual ascent on the constraint E[C_k] = B_k)
    λ_k ← clip(I_k + k_p · e_k)          (the proportional term damps the overshoot)

``mode="target"`` (default) lets λ go negative, so an architecture below its budget is pushed *up* to
it (use the resources you have for accuracy); ``mode="limit"`` keeps λ ≥ 0 (the budget is only an upper
bound and the task loss alone decides how far below it to stay).

Because the architecture logits are trained with Adam, the size of λ matters less than its sign
relative to the task gradient; the integral term supplies the sign, the proportional term reacts at
once when the cost jumps (e.g. while the Gumbel temperature falls and the probabilities sharpen).
"""

from __future__ import annotations

from .._keras import tf

MODES = ("target", "limit")


class DualAscent:
    def __init__(self, budgets: dict, rate: float = 0.1, gain: float = 2.0, mode: str = "target",
                 bound: float = 100.0):
        if mode not in MODES:
            raise ValueError(f"budget mode must be one of {MODES}, got {mode!r}")
        self.names, self.mode = list(budgets), mode
        for k, b in budgets.items():
            if isinstance(b, bool) or not isinstance(b, (int, float)) or b <= 0:
                raise ValueError(f"budget[{k!r}] must be a positive number, got {b!r}")
        self.budgets = tf.constant([float(budgets[k]) for k in self.names])
        self.rate, self.gain = float(rate), float(gain)
        self.lo, self.hi = (-bound if mode == "target" else 0.0), bound
        n = len(self.names)
        self.integral = tf.Variable(tf.zeros([n]), trainable=False, name="budget_integral")
        self.lam = tf.Variable(tf.zeros([n]), trainable=False, name="budget_lambda")

    def penalty(self, expected):
        """``sum_k λ_k E[C_k] / B_k`` for the budgeted entries ``expected`` (same order as ``names``)."""
        return tf.reduce_sum(self.lam * expected / self.budgets)

    def update(self, expected):
        err = tf.math.log(tf.maximum(tf.stop_gradient(expected), 1e-12) / self.budgets)
        self.integral.assign(tf.clip_by_value(self.integral + self.rate * err, self.lo, self.hi))
        self.lam.assign(tf.clip_by_value(self.integral + self.gain * err, self.lo, self.hi))

    def values(self) -> dict:
        return {k: float(v) for k, v in zip(self.names, self.lam.numpy())}
