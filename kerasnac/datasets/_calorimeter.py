"""Electromagnetic showers in a simple sampling calorimeter, for energy regression.

A fast parametrised simulation in the spirit of Grindhammer & Peters (hep-ex/0001020) and of
the spot-based fast simulations used by ATLAS/CMS/Geant4:

* **Longitudinal**: the mean profile is a Gamma distribution in depth t (in radiation lengths X0),
  ``dE/dt = E b (bt)^(a-1) e^(-bt) / Gamma(a)`` with ``b = 0.5`` and shower maximum
  ``t_max = (a-1)/b = ln(E/E_c) + C`` (C = -0.5 for electrons, +0.5 for photons; PDG review
  "Passage of particles through matter", section on electromagnetic cascades). ``t_max`` fluctuates
  shower by shower; energy behind the last layer leaks out.
* **Transverse**: per layer a core and a tail, each with an exponential radial density
  ``~ exp(-r / r_0)`` (in Moliere radii); the core widens and loses weight with depth.
* **Spots**: each layer's energy is deposited by discrete spots (``spots_per_gev`` per GeV), which
  gives shower-shape fluctuations and transverse leakage out of the grid.
* **Sampling fluctuations**: the visible energy of a cell is Gamma distributed with variance
  ``a^2 * E_cell``, so the summed energy has a stochastic resolution term ``a / sqrt(E)``.
* **Electronics**: Gaussian noise per cell (a ``b / E`` term) and a fixed cell-to-cell
  inter-calibration spread (a constant term).

Cell energies are on the electromagnetic scale (divided by the sampling fraction), in GeV.
The target is the incident energy. The task and metric (MAE and resolution sigma(E)/E in bins
of E) follow calorimeter energy-regression studies such as the gradient-based search paper.
"""

from __future__ import annotations

import numpy as np

from ._splits import split_arrays


def make_calorimeter_showers(n: int = 10_000, seed: int = 0, energy_range=(10.0, 100.0), energies=None,
                             grid=(12, 12), n_layers: int = 6, layer_depth_x0: float = 4.0,
                             cell_size_rm: float = 0.5, particle: str = "electron",
                             critical_energy: float = 0.011, sampling_term: float = 0.10,
                             noise_gev: float = 0.01, intercalibration: float = 0.01,
                             spots_per_gev: float = 10.0, impact_spread: float = 0.5):
    """Generate showers, unsplit and unscaled.

    Args:
        energy_range: incident energies in GeV drawn uniformly (ignored if ``energies`` is given).
        energies: explicit incident energies, shape (n,).
        grid: cells per layer (H, W); the shower enters near the centre.
        n_layers, layer_depth_x0: longitudinal segmentation (default 6 x 4 X0 = 24 X0).
        cell_size_rm: cell width in Moliere radii.
        particle: ``"electron"`` or ``"photon"`` (shifts the shower maximum by one X0).
        critical_energy: E_c in GeV (about 11 MeV for a W/Si-like sampling calorimeter).
        sampling_term: a in sigma/E = a/sqrt(E) (E in GeV).
        noise_gev: electronic noise per cell (GeV).
        intercalibration: relative spread of fixed per-cell gains (a constant term).
        spots_per_gev: spot density of the fast simulation.
        impact_spread: the impact point is uniform within +-``impact_spread`` cells of the centre.

    Returns:
        ``x`` (n, H, W, n_layers) float32 cell energies in GeV, ``e`` (n,) float32 incident energies.
    """
    from scipy.special import gammainc

    rng = np.random.default_rng(seed)
    if energies is None:
        e = rng.uniform(*energy_range, n)
    else:
        e = np.asarray(energies, dtype=np.float64).ravel()
        n = len(e)
    if n < 1 or np.any(e <= 0):
        raise ValueError("Need at least one shower and positive energies.")
    C = {"electron": -0.5, "photon": 0.5}[particle]
    H, W = grid
    b = 0.5
    t_max = np.log(e / critical_energy) + C
    t_max = np.clip(t_max * rng.lognormal(0.0, 0.08, n), 0.5, None)  # shower-to-shower fluctuation
    a = b * t_max + 1.0
    edges = np.arange(n_layers + 1) * layer_depth_x0
    cdf = gammainc(a[:, None], b * edges[None, :])
    frac = np.diff(cdf, axis=1)  # (n, L); 1 - cdf[:, -1] leaks out the back
    depth = 0.5 * (edges[:-1] + edges[1:])  # layer centres, X0
    tau = depth[None, :] / t_max[:, None]
    r_core = 0.08 + 0.12 * tau  # Moliere radii
    r_tail = 0.35 + 0.25 * tau
    p_core = np.clip(0.85 - 0.12 * tau, 0.3, 0.9)
    # impact point in cell units, relative to the grid centre
    x0 = rng.uniform(-impact_spread, impact_spread, n)
    y0 = rng.uniform(-impact_spread, impact_spread, n)

    e_layer = e[:, None] * frac
    n_spots = rng.poisson(np.maximum(spots_per_gev * e_layer, 0.0))
    n_spots = np.maximum(n_spots, (e_layer > 0).astype(np.int64))
    ev = np.repeat(np.arange(n), n_spots.sum(axis=1))
    lay = np.concatenate([np.repeat(np.arange(n_layers), k) for k in n_spots])
    per_spot = np.repeat((e_layer / np.maximum(n_spots, 1)).ravel(), n_spots.ravel())
    is_core = rng.random(len(ev)) < p_core[ev, lay]
    r0 = np.where(is_core, r_core[ev, lay], r_tail[ev, lay])
    r = rng.gamma(2.0, 1.0, len(ev)) * r0 / cell_size_rm  # 2-D exponential density -> r ~ Gamma(2, r0)
    phi = rng.uniform(0, 2 * np.pi, len(ev))
    col = np.floor(W / 2 + x0[ev] + r * np.cos(phi)).astype(np.int64)
    row = np.floor(H / 2 + y0[ev] + r * np.sin(phi)).astype(np.int64)
    inside = (row >= 0) & (row < H) & (col >= 0) & (col < W)
    flat = ((ev * H + row) * W + col) * n_layers + lay
    dep = np.bincount(flat[inside], weights=per_spot[inside], minlength=n * H * W * n_layers)
    dep = dep.reshape(n, H, W, n_layers)

    # sampling fluctuations: Gamma with mean E_cell and variance a^2 E_cell
    a2 = sampling_term ** 2
    vis = np.zeros_like(dep)
    m = dep > 0
    vis[m] = rng.gamma(dep[m] / a2, a2)
    gains = np.random.default_rng(12345).normal(1.0, intercalibration, (H, W, n_layers))  # fixed detector
    vis = vis * gains[None] + rng.normal(0.0, noise_gev, vis.shape)
    return vis.astype(np.float32), e.astype(np.float32)


def calorimeter_showers(n: int = 10_000, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                        energy_scale: float | None = 100.0, **kwargs):
    """Calorimeter showers split for Keras: ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    ``x`` has shape (n, 12, 12, 6) (cells x layers), ``y`` shape (n, 1). Both are in GeV divided by
    ``energy_scale`` (``None`` keeps GeV), so a network sees O(1) numbers; pass the same
    ``energy_scale`` to :func:`calorimeter_metrics`. Keyword arguments go to
    :func:`make_calorimeter_showers`.

    Example:
        >>> (xt, yt), _, _ = calorimeter_showers(100, seed=0)
        >>> xt.shape, yt.shape
        ((60, 12, 12, 6), (60, 1))
    """
    x, e = make_calorimeter_showers(n, seed=seed, **kwargs)
    s = 1.0 if energy_scale is None else float(energy_scale)
    return split_arrays((x / s).astype(np.float32), (e / s)[:, None].astype(np.float32),
                        val_fraction, test_fraction, seed)


def electron_photon_showers(n: int = 10_000, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                            photon_fraction: float = 0.5, **kwargs):
    """Electron / photon identification from shower shapes, split for Keras:
    ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    Half the showers are electrons, half photons (:func:`make_calorimeter_showers`, same energies
    range and detector; a photon's shower maximum lies one X0 deeper); ``photon_fraction`` below 0.5
    makes photons the rare class, as a trigger's signal is. ``x`` (n, 12, 12, 6) is each
    cell's share of its shower's total visible energy in percent (O(1) numbers for the network), so
    only the shape tells the two apart, not the energy; ``y`` (n, 2) is one-hot in the order
    ``("electron", "photon")``. Keyword arguments go to :func:`make_calorimeter_showers` (not
    ``particle``).

    Example:
        >>> (xt, yt), _, _ = electron_photon_showers(100, seed=0)
        >>> xt.shape, yt.shape
        ((60, 12, 12, 6), (60, 2))
    """
    if "particle" in kwargs:
        raise ValueError("electron_photon_showers() makes both particles; drop the 'particle' argument.")
    if n < 2:
        raise ValueError(f"electron_photon_showers needs n >= 2 showers (one of each particle), got {n}.")
    if not 0 < photon_fraction < 1:
        raise ValueError(f"photon_fraction must be in (0, 1) (both particles present), got {photon_fraction}.")
    seeds = np.random.SeedSequence(seed).generate_state(2)
    half = min(max(int(n * (1 - photon_fraction)), 1), n - 1)  # the electrons (n // 2 at 0.5); one of each at least
    xe, _ = make_calorimeter_showers(half, seed=int(seeds[0]), particle="electron", **kwargs)
    xg, _ = make_calorimeter_showers(n - half, seed=int(seeds[1]), particle="photon", **kwargs)
    x = np.concatenate([xe, xg]).astype(np.float64)
    total = x.sum(axis=(1, 2, 3), keepdims=True)
    x = 100.0 * x / np.where(total > 0, total, 1.0)
    y = np.eye(2, dtype=np.float32)[np.r_[np.zeros(half, np.int64), np.ones(n - half, np.int64)]]
    return split_arrays(x.astype(np.float32), y, val_fraction, test_fraction, seed)


def calorimeter_metrics(y_true, y_pred, energy_scale: float | None = 100.0, bins=8) -> dict:
    """MAE (GeV) and the energy resolution in bins of the true energy.

    Returns a dict with ``mae``, ``rmse`` (GeV), ``bin_centers`` (GeV), ``response`` (mean of
    pred/true per bin), ``resolution`` (std of (pred - true)/true per bin) and a fit of
    ``(sigma/E)^2 = a^2/E + b^2/E^2 + c^2`` giving ``a`` (stochastic, sqrt(GeV)), ``b`` (noise, GeV)
    and ``c`` (constant).
    """
    from scipy.optimize import nnls

    s = 1.0 if energy_scale is None else float(energy_scale)
    t = np.asarray(y_true, dtype=np.float64).ravel() * s
    p = np.asarray(y_pred, dtype=np.float64).ravel() * s
    edges = np.histogram_bin_edges(t, bins=bins)
    which = np.clip(np.digitize(t, edges) - 1, 0, len(edges) - 2)
    centers, resp, reso, counts = [], [], [], []
    for k in range(len(edges) - 1):
        sel = which == k
        if sel.sum() < 5:
            continue
        rel = (p[sel] - t[sel]) / t[sel]
        centers.append(t[sel].mean())
        resp.append(float((p[sel] / t[sel]).mean()))
        reso.append(float(rel.std()))
        counts.append(int(sel.sum()))
    out = {"mae": float(np.abs(p - t).mean()), "rmse": float(np.sqrt(((p - t) ** 2).mean())),
           "bin_centers": np.array(centers), "response": np.array(resp), "resolution": np.array(reso),
           "counts": np.array(counts)}
    if len(centers) >= 3:
        E = np.array(centers)
        coef, _ = nnls(np.column_stack([1 / E, 1 / E ** 2, np.ones_like(E)]), np.array(reso) ** 2)
        out.update(a=float(np.sqrt(coef[0])), b=float(np.sqrt(coef[1])), c=float(np.sqrt(coef[2])))
    return out


def calorimeter_baseline(x_train, y_train, x):
    """Classical estimate: the summed cell energy with a linear calibration fitted on the training
    split (``E = k * sum + m``). Works in whatever units ``x`` and ``y`` use; returns (n, 1)."""
    s_tr = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1).sum(axis=1)
    k, m = np.polyfit(s_tr, np.asarray(y_train, dtype=np.float64).ravel(), 1)
    s = np.asarray(x, dtype=np.float64).reshape(len(x), -1).sum(axis=1)
    return (k * s + m)[:, None].astype(np.float32)
