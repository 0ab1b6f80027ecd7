"""Jet substructure in numpy: C/A reclustering, mMDT / soft-drop grooming, energy correlation
functions and the 16 high-level features of the hls4ml LHC jet dataset.

Definitions (the same as FastJet contrib's ``EnergyCorrelator``, measure ``pt_R``: energies are
transverse momenta ``pT_i``, angles are ``R_ij = sqrt(dy^2 + dphi^2)`` in rapidity-azimuth):

* ECF(1) = sum_i pT_i, ECF(2, b) = sum_{i<j} pT_i pT_j R_ij^b,
  ECF(3, b) = sum_{i<j<k} pT_i pT_j pT_k (R_ij R_ik R_jk)^b, and the normalised
  e_N^(b) = ECF(N, b) / ECF(1)^N
  (Larkoski, Salam, Thaler, JHEP 06 (2013) 108, arXiv:1305.0007).
* C1^(b) = e_2^(b) (so C1^(0) = (1 - sum z_i^2) / 2) and C2^(b) = e_3^(b) / (e_2^(b))^2 (same paper).
* D2^(b) = e_3^(b) / (e_2^(b))^3 (Larkoski, Moult, Neill, JHEP 12 (2014) 009, arXiv:1409.6298),
  and the generalised D2^(a,b) = e_3^(a) / (e_2^(b))^(3a/b) (Larkoski, Moult, Neill, JHEP 05 (2016)
  117, arXiv:1507.03018). With a = b = 1 it equals D2^(1) exactly, as in FastJet contrib.
* Generalised ECFs ``e_3^(v, b) = sum_{i<j<k} z_i z_j z_k prod_{m<=v} min^(m){R_ij, R_ik, R_jk}^b``;
  M2^(b) = 1e3^(b) / 1e2^(b) and N2^(b) = 2e3^(b) / (1e2^(b))^2 (Moult, Necib, Thaler, JHEP 12 (2016)
  153, arXiv:1609.07483).
* Grooming: the modified mass-drop tagger (mMDT; Dasgupta, Fregoso, Marzani, Salam, JHEP 09
  (2013) 029, arXiv:1307.0007), i.e. soft drop with beta = 0 (Larkoski, Marzani, Soyez, Thaler,
  JHEP 05 (2014) 146, arXiv:1402.2657): recluster with Cambridge/Aachen and undo the last merging
  while ``min(pT1, pT2) / (pT1 + pT2) < z_cut (R12 / R0)^beta``, following the harder branch.
  z_cut = 0.1 as in the hls4ml dataset's source (Coleman et al., JINST 13 (2018) T01003,
  arXiv:1709.08705).
* zlogz = sum_i z_i ln z_i with z_i = pT_i / sum pT over the (ungroomed) constituents;
  multiplicity = number of constituents. The ``_mmdt`` features are computed on the groomed jet.
"""

from __future__ import annotations

import numpy as np

HLF_FEATURES = ("zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt", "d2_b1_mmdt",
                "d2_b2_mmdt", "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt", "m2_b2_mmdt", "n2_b1_mmdt",
                "n2_b2_mmdt", "mass_mmdt", "multiplicity")


# ---------------------------------------------------------------- kinematics

def pt_y_phi_m(p4):
    """(n, 4) array of (px, py, pz, E) -> pT, rapidity, phi, mass arrays."""
    p4 = np.atleast_2d(np.asarray(p4, dtype=np.float64))
    px, py, pz, e = p4.T
    pt = np.hypot(px, py)
    y = 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))
    phi = np.arctan2(py, px)
    m = np.sqrt(np.maximum(e ** 2 - px ** 2 - py ** 2 - pz ** 2, 0.0))
    return pt, y, phi, m


def eta_of(p4):
    p4 = np.atleast_2d(np.asarray(p4, dtype=np.float64))
    pt = np.hypot(p4[:, 0], p4[:, 1])
    return np.arcsinh(p4[:, 2] / np.maximum(pt, 1e-300))


def mass_of(p4):
    s = np.asarray(p4, dtype=np.float64).reshape(-1, 4).sum(axis=0)
    return float(np.sqrt(max(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0.0)))


def delta_phi(a, b):
    return (np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi


def _pairwise_r(y, phi):
    dy = y[:, None] - y[None, :]
    dphi = delta_phi(phi[:, None], phi[None, :])
    return np.sqrt(dy ** 2 + dphi ** 2)


# ---------------------------------------------------------------- C/A clustering and grooming

def ca_cluster(p4):
    """Cluster all particles into one tree with Cambridge/Aachen (E-scheme).

    Returns ``(nodes_p4, children)``: leaves are ``0..n-1``; internal node ``n + k`` is the k-th
    merging with ``children[k] = (a, b)``; the root is the last node. Naive O(n^3), fine for one jet.
    """
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    n = len(p4)
    if n <= 1:
        return p4.copy(), np.zeros((0, 2), dtype=np.int64)
    nodes = np.zeros((2 * n - 1, 4))
    nodes[:n] = p4
    children = np.zeros((n - 1, 2), dtype=np.int64)
    _, y, phi, _ = pt_y_phi_m(p4)
    slot_node = np.arange(n)  # node id held by each slot
    d2 = _pairwise_r(y, phi) ** 2
    np.fill_diagonal(d2, np.inf)
    for k in range(n - 1):
        i, j = divmod(int(np.argmin(d2)), n)
        a, b = slot_node[i], slot_node[j]
        nodes[n + k] = nodes[a] + nodes[b]
        children[k] = (a, b)
        slot_node[i] = n + k
        d2[j, :] = np.inf
        d2[:, j] = np.inf
        _, yi, phii, _ = pt_y_phi_m(nodes[n + k][None])
        y[i], phi[i] = yi[0], phii[0]
        dd = (y - y[i]) ** 2 + delta_phi(phi, phi[i]) ** 2
        dd[i] = np.inf
        live = np.isfinite(d2[:, i]) | (np.arange(n) == j)
        live[j] = False
        dd = np.where(live, dd, np.inf)
        d2[i, :] = dd
        d2[:, i] = dd
    return nodes, children


def soft_drop(p4, z_cut: float = 0.1, beta: float = 0.0, r0: float = 0.8):
    """Indices of the constituents kept by soft drop (beta = 0: mMDT) on a C/A reclustering."""
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    n = len(p4)
    if n <= 1:
        return np.arange(n)
    nodes, children = ca_cluster(p4)
    node = len(nodes) - 1
    while node >= n:
        a, b = children[node - n]
        pa, ya, phia, _ = pt_y_phi_m(nodes[a][None])
        pb, yb, phib, _ = pt_y_phi_m(nodes[b][None])
        z = min(pa[0], pb[0]) / (pa[0] + pb[0])
        dr = np.hypot(ya[0] - yb[0], delta_phi(phia[0], phib[0]))
        if z > z_cut * (dr / r0) ** beta:
            break
        node = a if pa[0] >= pb[0] else b
    return _leaves(node, children, n)


def _leaves(node, children, n):
    out, stack = [], [node]
    while stack:
        k = stack.pop()
        if k < n:
            out.append(k)
        else:
            stack.extend(children[k - n])
    return np.sort(np.array(out, dtype=np.int64))


# ---------------------------------------------------------------- energy correlation functions

def _safe_div(a, b):
    return a / b if b > 0 else 0.0


_TRIPLETS = np.zeros((0, 3), dtype=np.int32)
_TRIPLETS_N = 0


def _triplets(n):
    """Index arrays (i, j, k) of all triplets i < j < k < n. They are stored ordered by k, so the
    triplets of range(n) are a prefix of those of any larger range; the table grows on demand."""
    global _TRIPLETS, _TRIPLETS_N
    if n > _TRIPLETS_N:
        new_n = max(n, 2 * _TRIPLETS_N, 64)
        parts = [_TRIPLETS]
        for k in range(max(_TRIPLETS_N, 2), new_n):
            iu, ju = np.triu_indices(k, k=1)
            parts.append(np.column_stack([iu, ju, np.full(len(iu), k)]).astype(np.int32))
        _TRIPLETS, _TRIPLETS_N = np.concatenate(parts), new_n
    t = _TRIPLETS[: n * (n - 1) * (n - 2) // 6]
    return t[:, 0], t[:, 1], t[:, 2]


def energy_correlators(pt, y, phi, betas=(1.0, 2.0)):
    """Normalised correlators of one jet: ``e2[b]``, ``e3[b]`` (all three angles), ``e3_v1[b]``
    (smallest angle) and ``e3_v2[b]`` (two smallest angles), plus ``e2[0]``. ``z_i = pT_i / sum pT``."""
    pt = np.asarray(pt, dtype=np.float64)
    z = pt / pt.sum()
    R = _pairwise_r(np.asarray(y, dtype=np.float64), np.asarray(phi, dtype=np.float64))
    n = len(z)
    out = {"e2": {}, "e3": {}, "e3_v1": {}, "e3_v2": {}}
    zz = np.outer(z, z)
    out["e2"][0.0] = 0.5 * (1.0 - float((z ** 2).sum()))
    iu = np.triu_indices(n, k=1)
    for b in betas:
        out["e2"][b] = float((zz[iu] * R[iu] ** b).sum())
        za = z[:, None] * R ** b  # diag(z) A with A_ii = 0
        out["e3"][b] = float(np.trace(za @ za @ za)) / 6.0
        out["e3_v1"][b] = out["e3_v2"][b] = 0.0
    if n >= 3:
        i, j, k = _triplets(n)
        Rf = R.ravel()
        a, bb, c = Rf[i * n + j], Rf[i * n + k], Rf[j * n + k]
        lo = np.minimum(np.minimum(a, bb), c)
        mid = a + bb + c - lo - np.maximum(np.maximum(a, bb), c)
        w = z[i] * z[j] * z[k]
        for b in betas:
            lob = lo ** b
            out["e3_v1"][b] = float(w @ lob)
            out["e3_v2"][b] = float(w @ (lob * mid ** b))
    return out


def ecf_ratios(pt, y, phi) -> dict:
    """C1 (b=0,1,2), C2, D2, D2^(1,b), M2, N2 (b=1,2) of a set of particles (see module docstring)."""
    if len(pt) == 0:
        return {k: 0.0 for k in ("c1_b0", "c1_b1", "c1_b2", "c2_b1", "c2_b2", "d2_b1", "d2_b2", "d2_a1_b1",
                                 "d2_a1_b2", "m2_b1", "m2_b2", "n2_b1", "n2_b2")}
    c = energy_correlators(pt, y, phi, betas=(1.0, 2.0))
    e2, e3, v1, v2 = c["e2"], c["e3"], c["e3_v1"], c["e3_v2"]
    out = {"c1_b0": e2[0.0], "c1_b1": e2[1.0], "c1_b2": e2[2.0]}
    for b, tag in ((1.0, "b1"), (2.0, "b2")):
        out[f"c2_{tag}"] = _safe_div(e3[b], e2[b] ** 2)
        out[f"d2_{tag}"] = _safe_div(e3[b], e2[b] ** 3)
        out[f"d2_a1_{tag}"] = _safe_div(e3[1.0], e2[b] ** (3.0 / b))
        out[f"m2_{tag}"] = _safe_div(v1[b], e2[b])
        out[f"n2_{tag}"] = _safe_div(v2[b], e2[b] ** 2)
    return out


def hlf_features(p4, z_cut: float = 0.1, beta: float = 0.0, r0: float = 0.8):
    """The 16 hls4ml high-level features of one jet from its constituents (n, 4) = (px, py, pz, E),
    in the order of :data:`HLF_FEATURES`."""
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    pt, y, phi, _ = pt_y_phi_m(p4)
    z = pt / pt.sum()
    zlogz = float((z * np.log(np.maximum(z, 1e-300))).sum())
    keep = soft_drop(p4, z_cut=z_cut, beta=beta, r0=r0)
    r = ecf_ratios(pt[keep], y[keep], phi[keep])
    vals = [zlogz] + [r[k[:-5]] for k in HLF_FEATURES[1:14]] + [mass_of(p4[keep]), float(len(p4))]
    return np.array(vals, dtype=np.float64)


def constituent_array(p4, jet_eta, jet_phi, n_max: int):
    """Leading ``n_max`` constituents by pT as (pT, eta - eta_jet, dphi(phi, phi_jet)), zero-padded."""
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    order = np.argsort(-pt, kind="stable")[:n_max]
    out = np.zeros((n_max, 3), dtype=np.float32)
    if len(order):
        sel = p4[order]
        out[:len(order), 0] = pt[order]
        out[:len(order), 1] = eta_of(sel) - jet_eta
        out[:len(order), 2] = delta_phi(np.arctan2(sel[:, 1], sel[:, 0]), jet_phi)
    return out
