
import numpy as np
import pytest

from kerasnac import _pareto as P


# ----------------------------------------------------------------------------- references
def _dominates(a, b):
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _cdominates(a, b, va, vb):
    if va == 0 and vb == 0:
        return _dominates(a, b)
    if va == 0:
        return True
    if vb == 0:
        return False
    return va < vb


def _ref_sort(F, v=None):
    """Peel fronts by the definition: a front is the set not dominated by any remaining point."""
    n = len(F)
    v = np.zeros(n) if v is None else v  # all feasible: plain Pareto dominance
    ranks = [-1] * n
    remaining = set(range(n))
    r = 0
    while remaining:
        front = [i for i in remaining
                 if not any(_cdominates(F[j], F[i], v[j], v[i]) for j in remaining if j != i)]
        for i in front:
            ranks[i] = r
        remaining -= set(front)
        r += 1
    return np.array(ranks)


def _ref_crowding(F):
    n, m = F.shape
    cd = [0.0] * n
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = sorted(range(n), key=lambda i: (F[i, j], i))
        lo, hi = F[order[0], j], F[order[-1], j]
        if hi == lo:
            continue
        cd[order[0]] = cd[order[-1]] = np.inf
        for k in range(1, n - 1):
            cd[order[k]] += (F[order[k + 1], j] - F[order[k - 1], j]) / (hi - lo)
    return np.array(cd)


def _random_points(rng, n, m):
    # Integers on a small grid produce many ties and exact duplicates.
    F = rng.integers(0, 6, size=(n, m)).astype(float)
    F[: n // 5] = F[n // 5: 2 * (n // 5)]  # explicit duplicate rows
    return F


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_nondominated_sort_matches_definition(m, seed):
    rng = np.random.default_rng(seed)
    F = _random_points(rng, 60, m)
    np.testing.assert_array_equal(P.nondominated_sort(F), _ref_sort(F))
    G = rng.random((50, m))
    np.testing.assert_array_equal(P.nondominated_sort(G), _ref_sort(G))


@pytest.mark.parametrize("seed", range(5))
def test_constraint_domination_matches_definition(seed):
    rng = np.random.default_rng(seed)
    F = _random_points(rng, 50, 2)
    v = np.where(rng.random(50) < 0.5, 0.0, rng.integers(1, 4, 50).astype(float))
    ranks = P.nondominated_sort(F, v)
    np.testing.assert_array_equal(ranks, _ref_sort(F, v))
    # every feasible point is ranked before every infeasible one
    assert ranks[v == 0].max() < ranks[v > 0].min()


def test_constraint_domination_small_example():
    F = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 1.0], [0.0, 0.0]])
    v = np.array([0.2, 0.0, 0.1, 0.2])
    # feasible (5,5) first; then smaller violation; equal violations share a front
    np.testing.assert_array_equal(P.nondominated_sort(F, v), [2, 0, 1, 2])
    np.testing.assert_array_equal(P.pareto_order(F, v), [1, 2, 0, 3])


def test_nan_rows_are_worst():
    F = np.array([[1.0, 2.0], [np.nan, 0.0], [2.0, 1.0], [3.0, 3.0]])
    np.testing.assert_array_equal(P.nondominated_sort(F), [0, 2, 0, 1])
    assert P.pareto_order(F)[-1] == 1
    assert P.crowding_distance(F)[1] == 0
    v = np.array([0.0, 0.0, np.nan, 0.0])
    G = np.array([[1.0, 2.0], [2.0, 1.0], [0.0, 0.0], [3.0, 3.0]])
    np.testing.assert_array_equal(P.nondominated_sort(G, v), [0, 0, 2, 1])


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_crowding_matches_definition(m, seed):
    rng = np.random.default_rng(seed)
    F = _random_points(rng, 40, m)
    np.testing.assert_allclose(P.crowding_distance(F), _ref_crowding(F))
    ranks = P.nondominated_sort(F)
    cd = P.crowding_distance(F, ranks)
    for r in np.unique(ranks):
        idx = np.flatnonzero(ranks == r)
        np.testing.assert_allclose(cd[idx], _ref_crowding(F[idx]))


def test_crowding_edge_cases():
    assert np.all(np.isinf(P.crowding_distance(np.array([[1.0, 2.0], [2.0, 1.0]]))))
    # zero range in objective 0 contributes nothing; objective 1 drives the distance
    F = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 3.0], [1.0, 4.0]])
    np.testing.assert_allclose(P.crowding_distance(F), [np.inf, 0.75, 0.75, np.inf])
    np.testing.assert_array_equal(P.crowding_distance(np.ones((3, 2))), [0, 0, 0])


@pytest.mark.parametrize("seed", range(3))
def test_pareto_order(seed):
    rng = np.random.default_rng(seed)
    F = _random_points(rng, 50, 2)
    order = P.pareto_order(F)
    ranks, cd = P.rank_and_crowding(F)
    keys = [(ranks[i], -cd[i], i) for i in order]
    assert keys == sorted(keys)
    assert sorted(order.tolist()) == list(range(50))


def test_to_minimization():
    F = P.to_minimization([[1.0, 0.9], [2.0, 0.5]], ["min", "max"])
    np.testing.assert_array_equal(F, [[1.0, -0.9], [2.0, -0.5]])
    with pytest.raises(ValueError):
        P.to_minimization([[1.0, 2.0]], ["min", "maximize"])


def test_hypervolume_2d_hand_example():
    F = np.array([[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [3.0, 3.0]])
    # staircase with ref (5, 5): 4*1 + 3*2 + 1*1 = 11; (3,3) is dominated
    assert P.hypervolume_2d(F, (5, 5)) == pytest.approx(11.0)
    assert P.hypervolume_2d(F[[1]], (5, 5)) == pytest.approx(9.0)
    # points beyond the reference and duplicates add nothing
    G = np.vstack([F, [[6.0, 0.0], [2.0, 2.0], [np.nan, 0.0]]])
    assert P.hypervolume_2d(G, (5, 5)) == pytest.approx(11.0)
    assert P.hypervolume_2d(np.empty((0, 2)), (1, 1)) == 0.0


def test_hypervolume_matches_monte_carlo():
    rng = np.random.default_rng(0)
    F = rng.random((30, 2))
    S = rng.random((200_000, 2))
    dominated = np.zeros(len(S), dtype=bool)
    for p in F:
        dominated |= np.all(S >= p, axis=1)
    assert P.hypervolume_2d(F, (1, 1)) == pytest.approx(dominated.mean(), abs=5e-3)
