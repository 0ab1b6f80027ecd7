"""Pareto utilities (pure numpy): non-dominated sorting, crowding distance, 2-D hypervolume.

All functions take an objective matrix ``F`` of shape ``(n, m)`` whose columns are
*minimized*; use :func:`to_minimization` to convert "max" columns first.

NaN handling: a row with any NaN objective (or a NaN violation) cannot be compared with the
others, so it is treated as the worst possible point. All such rows share one front, ranked after
every other front; their crowding distance is 0.

References:
    K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist multiobjective genetic
    algorithm: NSGA-II", IEEE TEC 6(2), 2002 (fast non-dominated sort, crowding distance).
    K. Deb, "An efficient constraint handling method for genetic algorithms", CMAME 186, 2000
    (constraint-domination).

Example:
    >>> import numpy as np
    >>> F = np.array([[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [3.0, 3.0]])
    >>> nondominated_sort(F).tolist()
    [0, 0, 0, 1]
    >>> hypervolume_2d(F, ref=(5.0, 5.0))
    11.0
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

_CHUNK = 256  # rows per block when building the domination matrix (bounds memory to ~chunk*n*m)


def to_minimization(values, directions: Sequence[str]) -> np.ndarray:
    """Return a float copy of ``values`` (n, m) with the "max" columns negated."""
    F = np.array(values, dtype=float, copy=True)
    if F.ndim == 1:
        F = F.reshape(-1, len(directions)) if len(directions) else F.reshape(-1, 0)
    if F.shape[1] != len(directions):
        raise ValueError(f"values has {F.shape[1]} columns but {len(directions)} directions were given.")
    for j, d in enumerate(directions):
        if d not in ("min", "max"):
            raise ValueError(f'Each direction must be "min" or "max", got {d!r}.')
        if d == "max":
            F[:, j] = -F[:, j]
    return F


def _as_matrix(F) -> np.ndarray:
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"F must be a 2-D array (n_points, n_objectives), got shape {F.shape}.")
    return F


def _domination_matrix(F: np.ndarray, violation: np.ndarray | None) -> np.ndarray:
    """``D[i, j]`` is True iff point i (constraint-)dominates point j. Rows of F must be finite."""
    n = F.shape[0]
    D = np.empty((n, n), dtype=bool)
    for s in range(0, n, _CHUNK):
        A = F[s:s + _CHUNK, None, :]
        B = F[None, :, :]
        D[s:s + _CHUNK] = np.all(A <= B, axis=2) & np.any(A < B, axis=2)
    if violation is not None:
        feas = violation <= 0
        both_feas = feas[:, None] & feas[None, :]
        feas_vs_infeas = feas[:, None] & ~feas[None, :]
        both_infeas_less = (~feas[:, None]) & (~feas[None, :]) & (violation[:, None] < violation[None, :])
        D = np.where(both_feas, D, feas_vs_infeas | both_infeas_less)
    return D


def _check_violation(violation, n: int) -> np.ndarray:
    v = np.asarray(violation, dtype=float).reshape(-1)
    if v.shape[0] != n:
        raise ValueError(f"violation has {v.shape[0]} entries for {n} points.")
    if np.any(v < 0):
        raise ValueError("violation must be >= 0 (0 means feasible).")
    return v


def nondominated_sort(F, violation=None) -> np.ndarray:
    """Front index (0 = non-dominated) of every point, all objectives minimized.

    With ``violation`` (shape (n,), >= 0, 0 = feasible) constraint-domination (Deb 2000) is used:
    a feasible point dominates any infeasible one; of two infeasible points the one with the
    smaller violation dominates; two feasible points compare by Pareto dominance.
    Rows with NaN (objectives or violation) all go into one last front.
    """
    F = _as_matrix(F)
    n = F.shape[0]
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    bad = np.any(np.isnan(F), axis=1)
    v = None
    if violation is not None:
        v = _check_violation(violation, n)
        bad |= np.isnan(v)
    ok = np.flatnonzero(~bad)
    if ok.size:
        D = _domination_matrix(F[ok], None if v is None else v[ok])
        n_dominators = D.sum(axis=0)
        remaining = np.ones(ok.size, dtype=bool)
        rank = 0
        while remaining.any():
            front = np.flatnonzero(remaining & (n_dominators == 0))
            ranks[ok[front]] = rank
            remaining[front] = False
            n_dominators = n_dominators - D[front].sum(axis=0)
            rank += 1
    ranks[bad] = ranks.max() + 1 if ok.size else 0
    return ranks


def _crowding_one_front(F: np.ndarray) -> np.ndarray:
    n, m = F.shape
    cd = np.zeros(n)
    if n <= 2:
        cd[:] = np.inf
        return cd
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        f = F[order, j]
        span = f[-1] - f[0]
        if not span > 0:
            continue  # zero range: this objective contributes nothing
        cd[order[0]] = np.inf
        cd[order[-1]] = np.inf
        cd[order[1:-1]] += (f[2:] - f[:-2]) / span
    return cd


def crowding_distance(F, ranks=None) -> np.ndarray:
    """Crowding distance (Deb et al. 2002) of each point.

    Without ``ranks`` all points are treated as one front; with ``ranks`` (e.g. from
    :func:`nondominated_sort`) the distance is computed within each front. Per objective the points
    are sorted (stable, so ties keep index order); the first and last get ``inf``, interior points
    add the gap between their neighbours divided by the objective's range. An objective with zero
    range contributes 0. Fronts of one or two points get ``inf``. Rows with NaN get 0.
    """
    F = _as_matrix(F)
    n = F.shape[0]
    cd = np.zeros(n)
    bad = np.any(np.isnan(F), axis=1)
    groups = np.zeros(n, dtype=int) if ranks is None else np.asarray(ranks).reshape(-1)
    if groups.shape[0] != n:
        raise ValueError(f"ranks has {groups.shape[0]} entries for {n} points.")
    for r in np.unique(groups[~bad]):
        idx = np.flatnonzero((groups == r) & ~bad)
        cd[idx] = _crowding_one_front(F[idx])
    return cd


def rank_and_crowding(F, violation=None) -> tuple[np.ndarray, np.ndarray]:
    """``(ranks, crowding)`` with crowding computed within each front."""
    ranks = nondominated_sort(F, violation)
    return ranks, crowding_distance(F, ranks)


def pareto_order(F, violation=None) -> np.ndarray:
    """Indices sorted by (rank ascending, crowding descending, index ascending)."""
    F = _as_matrix(F)
    ranks, cd = rank_and_crowding(F, violation)
    return np.lexsort((np.arange(F.shape[0]), -cd, ranks))


def hypervolume_2d(F, ref) -> float:
    """Area dominated by the points of ``F`` (n, 2, minimized) and bounded by ``ref``.

    Points that do not strictly dominate ``ref`` in both objectives (or contain NaN) add nothing.
    """
    F = _as_matrix(F)
    if F.shape[1] != 2:
        raise ValueError(f"hypervolume_2d needs 2 objectives, got {F.shape[1]}.")
    r0, r1 = (float(x) for x in ref)
    F = F[np.all(np.isfinite(F), axis=1) & (F[:, 0] < r0) & (F[:, 1] < r1)]
    if F.shape[0] == 0:
        return 0.0
    F = F[np.lexsort((F[:, 1], F[:, 0]))]
    hv, best_f1 = 0.0, r1
    for a, b in F:
        if b < best_f1:
            hv += (r0 - a) * (best_f1 - b)
            best_f1 = b
    return float(hv)


# ---------------------------------------------------------------------------------- constraints
@dataclasses.dataclass(frozen=True)
class Constraint:
    """``metric op bound`` with ``op`` in ``{"<=", ">="}``, read from the trial metrics.

    ``violation(value)`` is 0 when satisfied, else the distance to ``bound`` divided by
    ``|bound|`` (by 1 when ``bound == 0``), so constraints of different scales add up fairly.
    A value that is missing (``None``), not a number, NaN or infinite is an infinite violation
    (see :func:`constraint_violation`).

    >>> c = Constraint.parse("lut <= 50000")
    >>> c.violation(40000.0), c.violation(60000.0), c.violation(None)
    (0.0, 0.2, inf)
    """

    metric: str
    op: str
    bound: float

    _PATTERN = re.compile(r"^\s*([^\s<>=]+)\s*(<=|>=)\s*(\S+)\s*$")

    def __post_init__(self):
        if self.op not in ("<=", ">="):
            raise ValueError(f"Constraint operator must be '<=' or '>=', got {self.op!r}.")
        object.__setattr__(self, "bound", float(self.bound))

    @classmethod
    def parse(cls, text: "str | Constraint") -> "Constraint":
        """Parse ``"<metric> <= <number>"`` or ``"<metric> >= <number>"``."""
        if isinstance(text, Constraint):
            return text
        if not isinstance(text, str):
            raise TypeError(f"A constraint must be a string or a Constraint, got {type(text).__name__}.")
        m = cls._PATTERN.match(text)
        bound = None
        if m:
            try:
                bound = float(m.group(3))
            except ValueError:
                bound = None
        if bound is None or not math.isfinite(bound):
            raise ValueError(
                f"Malformed constraint {text!r}: expected '<metric> <= <number>' or "
                f"'<metric> >= <number>', e.g. 'lut <= 50000' or 'val_accuracy >= 0.7'."
            )
        return cls(m.group(1), m.group(2), bound)

    def violation(self, value) -> float:
        try:
            value = float(value)
        except (TypeError, ValueError):  # None, pandas.NA, a string: the metric is not usable
            return math.inf
        if not math.isfinite(value):
            return math.inf
        excess = value - self.bound if self.op == "<=" else self.bound - value
        return max(0.0, excess) / (abs(self.bound) or 1.0)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound!r}"


def constraint_violation(constraints: Iterable[Constraint], metrics: Mapping) -> float:
    """Total violation of ``constraints`` by one record ``metrics`` (``{metric: value}``): the sum
    of :meth:`Constraint.violation` over the constraints; 0 means feasible.

    The rule for a missing metric, the same in every place kerasnac ranks (the global search, its
    rungs, the final table): a constraint whose metric is absent from ``metrics``, ``None``, not a
    number, NaN or infinite counts as an **infinite** violation, so the record is infeasible and
    ranks behind every feasible one (constraint-domination). A model of which kerasnac cannot tell
    whether it meets a constraint is never on a front. (A completed global trial lacking such a
    metric is, before that, an invalid trial that the oracle does not rank at all.)

    >>> cs = [Constraint.parse("lut <= 100"), Constraint.parse("acc >= 0.5")]
    >>> constraint_violation(cs, {"lut": 120.0, "acc": 0.5}), constraint_violation(cs, {"lut": 50.0})
    (0.2, inf)
    """
    return float(sum(c.violation(metrics.get(c.metric)) for c in constraints))


__all__ = ["Constraint", "constraint_violation", "to_minimization", "nondominated_sort", "crowding_distance", "rank_and_crowding",
           "pareto_order", "hypervolume_2d"]
