"""Jet-substructure features on synthetic constituents (no Pythia needed)."""

import itertools

import numpy as np
import pytest

from kerasnac.datasets import _jet_substructure as js


def p4_from(pt, eta, phi, m=0.0):
    pt, eta, phi = map(np.atleast_1d, (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.column_stack([px, py, pz, np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)])


def prong(rng, pt, eta, phi, n, spread=0.02):
    """A collimated spray of n massless particles sharing pt."""
    z = rng.dirichlet(np.full(n, 0.7))
    return p4_from(pt * z, eta + rng.normal(0, spread, n), phi + rng.normal(0, spread, n))


def two_prong(rng, mass=80.4, pt=1000.0, z=0.4, n=(12, 10)):
    dr = mass / (pt * np.sqrt(z * (1 - z)))  # m^2 ~ z(1-z) pt^2 dR^2
    return np.vstack([prong(rng, z * pt, 0.3 + (1 - z) * dr, 1.0, n[0]),
                      prong(rng, (1 - z) * pt, 0.3 - z * dr, 1.0, n[1])])


def test_correlators_match_brute_force():
    rng = np.random.default_rng(0)
    p4 = p4_from(rng.uniform(1, 100, 7), rng.normal(0, 0.3, 7), rng.normal(0, 0.3, 7))
    pt, y, phi, _ = js.pt_y_phi_m(p4)
    z = pt / pt.sum()

    def R(i, j):
        return np.hypot(y[i] - y[j], js.delta_phi(phi[i], phi[j]))

    c = js.energy_correlators(pt, y, phi)
    trip = list(itertools.combinations(range(7), 3))
    for b in (1.0, 2.0):
        e2 = sum(z[i] * z[j] * R(i, j) ** b for i, j in itertools.combinations(range(7), 2))
        e3 = sum(z[i] * z[j] * z[k] * (R(i, j) * R(i, k) * R(j, k)) ** b for i, j, k in trip)
        v1 = sum(z[i] * z[j] * z[k] * min(R(i, j), R(i, k), R(j, k)) ** b for i, j, k in trip)
        v2 = sum(z[i] * z[j] * z[k] * np.prod(sorted([R(i, j), R(i, k), R(j, k)])[:2]) ** b for i, j, k in trip)
        assert c["e2"][b] == pytest.approx(e2, rel=1e-10)
        assert c["e3"][b] == pytest.approx(e3, rel=1e-10)
        assert c["e3_v1"][b] == pytest.approx(v1, rel=1e-10)
        assert c["e3_v2"][b] == pytest.approx(v2, rel=1e-10)
    assert c["e2"][0.0] == pytest.approx((1 - (z ** 2).sum()) / 2)
    r = js.ecf_ratios(pt, y, phi)
    assert r["d2_a1_b1"] == pytest.approx(r["d2_b1"])  # D2^(1,1) = D2^(1) by definition
    assert r["c2_b1"] == pytest.approx(c["e3"][1.0] / c["e2"][1.0] ** 2)


def test_ratios_invariant_under_boost_and_rotation():
    rng = np.random.default_rng(1)
    pt, eta, phi = rng.uniform(1, 50, 20), rng.normal(0, 0.2, 20), rng.normal(0, 0.2, 20)
    base = js.hlf_features(p4_from(pt, eta, phi))
    moved = js.hlf_features(p4_from(pt, eta + 1.3, phi + 2.9))  # massless: y = eta shifts exactly
    assert np.allclose(base, moved, rtol=1e-8)


def test_ca_clustering_tree():
    rng = np.random.default_rng(2)
    p4 = prong(rng, 500, 0.0, 0.0, 15)
    nodes, children = js.ca_cluster(p4)
    assert len(nodes) == 2 * 15 - 1 and children.shape == (14, 2)
    assert np.allclose(nodes[-1], p4.sum(axis=0))
    assert sorted(js._leaves(len(nodes) - 1, children, 15).tolist()) == list(range(15))


def test_mmdt_removes_soft_wide_angle_radiation():
    rng = np.random.default_rng(3)
    w = two_prong(rng)
    soft = p4_from(rng.uniform(1, 5, 8), 0.3 + rng.uniform(-0.7, 0.7, 8), 1.0 + rng.uniform(-0.7, 0.7, 8))
    jet = np.vstack([w, soft])
    keep = js.soft_drop(jet, z_cut=0.1)
    assert set(range(len(w))) <= set(keep.tolist())
    assert js.mass_of(jet) > js.mass_of(w) + 5  # contamination raises the plain mass ...
    f = dict(zip(js.HLF_FEATURES, js.hlf_features(jet)))
    assert f["mass_mmdt"] == pytest.approx(js.mass_of(w), rel=0.02)  # ... grooming restores it
    assert f["multiplicity"] == len(jet)


def test_two_prong_vs_one_prong_discrimination():
    rng = np.random.default_rng(4)
    d2_w, d2_q, n2_w, n2_q = [], [], [], []
    for _ in range(20):
        w = two_prong(rng)
        fw = dict(zip(js.HLF_FEATURES, js.hlf_features(w)))
        # one-prong QCD-like jet: a hard core plus broad soft radiation of similar mass
        core = prong(rng, 900, 0.0, 0.0, 15, spread=0.01)
        broad = p4_from(rng.exponential(8, 15), rng.normal(0, 0.25, 15), rng.normal(0, 0.25, 15))
        fq = dict(zip(js.HLF_FEATURES, js.hlf_features(np.vstack([core, broad]))))
        d2_w.append(fw["d2_b1_mmdt"]), d2_q.append(fq["d2_b1_mmdt"])
        n2_w.append(fw["n2_b1_mmdt"]), n2_q.append(fq["n2_b1_mmdt"])
        assert fw["mass_mmdt"] == pytest.approx(js.mass_of(w), rel=1e-6)  # both prongs survive
    assert np.median(d2_w) < np.median(d2_q)
    assert np.median(n2_w) < np.median(n2_q)


def test_small_jets_do_not_crash():
    f1 = js.hlf_features(p4_from(100.0, 0.0, 0.0))
    assert f1[-1] == 1 and f1[0] == pytest.approx(0.0) and np.all(np.isfinite(f1))
    f2 = js.hlf_features(p4_from([60.0, 40.0], [0.0, 0.1], [0.0, 0.0]))
    assert np.all(np.isfinite(f2)) and f2[js.HLF_FEATURES.index("c2_b1_mmdt")] == 0.0


def test_constituent_array_sorted_and_padded():
    p4 = p4_from([10.0, 50.0, 30.0], [0.1, 0.2, 0.3], [1.0, 1.1, 0.9])
    a = js.constituent_array(p4, jet_eta=0.2, jet_phi=1.0, n_max=5)
    assert a.shape == (5, 3)
    assert np.allclose(a[:3, 0], [50, 30, 10]) and np.all(a[3:] == 0)
    assert np.allclose(a[:3, 1], [0.0, 0.1, -0.1], atol=1e-6) and np.allclose(a[:3, 2], [0.1, -0.1, 0.0], atol=1e-6)


def test_matches_fastjet_contrib():
    """Cross-check against FastJet contrib (SoftDrop, EnergyCorrelator) when fastjet is installed."""
    fastjet = pytest.importorskip("fastjet")
    ak = pytest.importorskip("awkward")
    rng = np.random.default_rng(5)
    jets = []
    for _ in range(4):
        n = int(rng.integers(10, 50))
        pt = rng.exponential(20, n) * (1 + 20 * (rng.random(n) < 0.1))
        jets.append(p4_from(pt, rng.normal(0, 0.15, n), rng.normal(0, 0.15, n)))

    def to_ak(list_of_p4):
        return ak.zip({k: ak.Array([a[:, i] for a in list_of_p4]) for i, k in enumerate(("px", "py", "pz", "E"))},
                      with_name="Momentum4D")

    jd = fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0)
    sd = fastjet.ClusterSequence(to_ak(jets), jd).exclusive_jets_softdrop_grooming(
        njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)
    groomed = [a[js.soft_drop(a)] for a in jets]
    assert np.allclose(sd.msoftdrop.to_numpy(), [js.mass_of(g) for g in groomed], rtol=1e-9)
    cs = fastjet.ClusterSequence(to_ak(groomed), jd)
    mine = [js.ecf_ratios(*js.pt_y_phi_m(g)[:3]) for g in groomed]
    for func, beta, key in [("c1", 0, "c1_b0"), ("c1", 2, "c1_b2"), ("c2", 1, "c2_b1"), ("d2", 1, "d2_b1"),
                            ("d2", 2, "d2_b2"), ("n2", 1, "n2_b1"), ("n2", 2, "n2_b2"), ("m2", 1, "m2_b1"),
                            ("m2", 2, "m2_b2")]:
        ref = np.asarray(cs.exclusive_jets_energy_correlator(njets=1, func=func, beta=beta)).ravel()
        assert np.allclose(ref, [m[key] for m in mine], rtol=1e-8), key
