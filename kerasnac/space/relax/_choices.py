"""Architecture choices of a supernet: one categorical variable (with logits) per searched value.

Every searched parameter of the :class:`~kerasnac.space.SearchSpace` becomes a :class:`Choice`
named exactly like its keras-tuner hyperparameter (``s0/block``, ``s0/mlp/units_1``,
``s0/mlp/q/w_bits``, ``head/q/w_bits``), so that the derived architecture is a plain
``{hp name: value}`` mapping that ``space.complete_values`` / ``space.model_from_values`` accept.
A fixed value is a :class:`Choice` with a single value and no logits.
"""

from __future__ import annotations

import itertools

from ..._keras import tf
from ...errors import NotRelaxableError, SpaceError  # noqa: F401  (NotRelaxableError re-exported)
from .. import _params, names




class Choice:
    """A categorical architecture variable. ``logits`` is ``None`` for a fixed value."""

    def __init__(self, name: str, values: list, searched: bool):
        self.name, self.values = name, list(values)
        self.logits = tf.Variable(tf.zeros([len(self.values)]), name=name.replace(names.SEP, "__"), trainable=True) \
            if searched else None

    @property
    def searched(self) -> bool:
        return self.logits is not None

    def __len__(self):
        return len(self.values)

    def __repr__(self):
        return f"Choice({self.name!r}, {self.values})"


class ChoiceSet:
    """All choices of one supernet, with the user's ``fixed`` values applied.

    ``probs(mode, temperature, rng)`` returns ``{name: probability vector}`` for the searched
    choices: ``"soft"`` is ``softmax(logits / T)`` (used for the expected cost), ``"sample"`` a
    Gumbel-softmax sample ``softmax((logits + g) / T)`` (used in the forward pass while training),
    ``"argmax"`` the one-hot of the most likely value (the derived architecture).
    """

    def __init__(self, fixed: dict | None = None):
        self.fixed = dict(fixed or {})
        self.used_fixed: set[str] = set()
        self.choices: dict[str, Choice] = {}
        self.constants: dict[str, object] = {}

    def declare(self, name: str, spec, where: str, relaxable: bool = True, why: str = "") -> Choice:
        """A :class:`Choice` for the parameter ``name`` with spec ``spec`` (scalar, list or range)."""
        if isinstance(spec, list):  # plain copies of Keras' tracking wrappers
            spec = list(spec)
        elif isinstance(spec, dict):
            spec = dict(spec)
        if name in self.fixed:
            value = self.fixed[name]
            self.used_fixed.add(name)
            try:
                _params.check_value(spec, value, f"fixed[{name!r}]")
            except SpaceError:
                if not (isinstance(spec, dict) and isinstance(value, (int, float))):
                    raise
            return self._const(name, value)
        if not _params.is_searched(spec):
            return self._const(name, _params.values_of(spec)[0], record=isinstance(spec, dict))
        if isinstance(spec, dict) and not (isinstance(spec["min"], int) and isinstance(spec["max"], int)
                                           and isinstance(spec.get("step", 1), int)):
            raise NotRelaxableError(f"{where}: {name} is a continuous range {spec}; the gradient search relaxes only "
                                    f"categorical choices. Fix it, e.g. fixed={{{name!r}: {spec['min']}}}.")
        if not relaxable:
            raise NotRelaxableError(f"{where}: {name} = {spec} is not relaxable by the gradient search ({why}). "
                                    f"Fix it, e.g. fixed={{{name!r}: {_params.values_of(spec)[0]!r}}}.")
        values = _params.values_of(spec)
        if name in self.choices:
            raise ValueError(f"choice {name} declared twice")
        c = Choice(name, values, searched=True)
        self.choices[name] = c
        return c

    def _const(self, name, value, record=True) -> Choice:
        if record:
            self.constants[name] = value
        return Choice(name, [value], searched=False)

    def check_fixed_used(self):
        unknown = set(self.fixed) - self.used_fixed
        if unknown:
            raise SpaceError(f"fixed: unknown or inactive choices {sorted(unknown)}; searched choices are "
                             f"{sorted(self.choices)}.")

    # ------------------------------------------------------------------ probabilities
    @property
    def logit_variables(self) -> list:
        return [c.logits for c in self.choices.values()]

    def probs(self, mode: str, temperature=1.0, rng=None, logits: dict | None = None) -> dict:
        """``logits``: ``{name: tensor}`` to use instead of the choices' own variables (e.g. one row of
        the per-budget logits of a front search)."""
        out = {}
        for name, c in self.choices.items():
            z = c.logits if logits is None else logits[name]
            if mode == "sample":
                u = rng.uniform(z.shape, minval=1e-6, maxval=1.0 - 1e-6)
                z = z - tf.math.log(-tf.math.log(u))
            if mode == "argmax":
                out[name] = tf.one_hot(tf.argmax(z), len(c))
            else:
                out[name] = tf.nn.softmax(z / temperature)
        return out

    def numpy_probs(self, temperature=1.0) -> dict:
        return {n: p.numpy() for n, p in self.probs("soft", temperature).items()}

    def argmax_values(self) -> dict:
        return {n: c.values[int(tf.argmax(c.logits))] for n, c in self.choices.items()}

    def onehot(self, values: dict) -> dict:
        """Probabilities that put all mass on ``values`` (missing choices: their first value)."""
        out = {}
        for n, c in self.choices.items():
            v = values.get(n, c.values[0])
            out[n] = tf.one_hot(c.values.index(v), len(c))
        return out


def p_of(choice: Choice, P: dict):
    """Probability vector of ``choice`` in ``P`` (a fixed value: ``[1.0]``)."""
    return P[choice.name] if choice.searched else tf.ones([1])


def joint(choices: list, P: dict):
    """Joint probabilities of independent choices, flattened in ``itertools.product`` order, and the
    list of value tuples."""
    p = tf.ones([1])
    for c in choices:
        p = tf.reshape(p[:, None] * p_of(c, P)[None, :], [-1])
    return p, list(itertools.product(*[c.values for c in choices]))
