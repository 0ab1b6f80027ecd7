"""Part (c) of ``cost_fidelity.py``: a yosys reference for kerasnac's FPGA estimates and for ``da_lut``.

Models are drawn at random from the shipped spaces (``jets_mlp``, ``jets_deepsets``, ``small_cnn`` at
8x8x1), with every quantized width drawn from the space's choices below 32 (3-16 bits; float is
left out), untrained (lecun_uniform weights through the QKeras quantizers), and every other one
pruned (a random 50-90% of the smallest-magnitude kernel weights set to zero). Models with more than
``MAX_PARAMS`` parameters or a da4ml cost above ``MAX_DA_LUT`` are redrawn, so each synthesis
stays small. Each model is traced with da4ml,
written as pipelined Verilog (``kerasnac.hardware.write_rtl``) and synthesized with
``yosys synth_xilinx -flatten -noiopad -family xcup`` (logic synthesis, not place and route).

The design synthesized is da4ml's distributed-arithmetic implementation (adder graphs, no DSPs), not
hls4ml's Latency-strategy firmware that the analytical estimates describe; the comparison says how
well each estimate ranks and sizes that design.

Every model's result is cached as ``<cache>/<model id>.json`` (written atomically after its
synthesis), so a rerun continues where the last one stopped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time

import numpy as np
import pandas as pd

SPACES = (("jets_mlp", None), ("jets_deepsets", (6, 3)), ("small_cnn", (6, 6, 1)))
#: the spaces' width choices are cut to at most this and their layer counts to at most 2, so that a
#: model's synthesis takes seconds (drawing from the full spaces and rejecting large models spent
#: most of the time building models that were then thrown away)
MAX_WIDTH = 16
MAX_PARAMS = 600
#: models whose da4ml graph is larger are redrawn (yosys time grows with it: a 2k-LUT design took
#: 8 s of CPU, a 23k-LUT one 190 s wall on the loaded 2-core machine here)
MAX_DA_LUT = 4000
EST = ("lut", "ff", "dsp")


def _sample_values(space, rng) -> dict:
    import keras_tuner as kt

    full = space.hyperparameters()
    hp = kt.HyperParameters()
    for h in full.space:
        hp.merge([h])
        if not hp.is_active(h):
            continue
        choices = list(getattr(h, "values", None) or [])
        if "/q/" in h.name and choices and any(isinstance(c, int) and c >= 32 for c in choices):
            choices = [c for c in choices if c < 32]
        if choices:
            hp.values[h.name] = choices[int(rng.integers(len(choices)))]
        else:
            hp.values[h.name] = h.random_sample(int(rng.integers(1 << 30)))
    return dict(hp.values)


def _prune(model, fraction: float) -> None:
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        w = kernel.numpy()
        cut = np.quantile(np.abs(w), fraction)
        kernel.assign(np.where(np.abs(w) <= cut, 0.0, w).astype(w.dtype))


def _small(name: str) -> dict:
    """The shipped space ``name`` with widths <= MAX_WIDTH and at most 2 layers per stack; no baselines."""
    from kerasnac.space import _yaml

    data, _ = _yaml.load(name)
    data.pop("baselines", None)
    for stage in data["stages"]:
        for spec in stage["blocks"].values():
            for key, val in list(spec.items()):
                if key in ("units", "phi_units", "rho_units", "filters") and isinstance(val, list):
                    spec[key] = [v for v in val if v <= MAX_WIDTH] or [min(val)]
                elif key.endswith("layers") and isinstance(val, dict):
                    spec[key] = {"min": val["min"], "max": min(val["max"], 2)}
    return data


def draw_models(n: int, seed: int = 0):
    """``n`` (model id, description, builder) triples, deterministic in ``seed``."""
    from kerasnac.space import SearchSpace

    spaces = [SearchSpace.from_dict(_small(name), source=name, input_shape=shape) for name, shape in SPACES]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        i = len(out)
        sp = spaces[i % len(spaces)]
        values = _sample_values(sp, rng)
        pruned = (i // len(spaces)) % 2 == 1
        frac = float(rng.uniform(0.5, 0.9)) if pruned else 0.0
        wseed = int(rng.integers(1 << 30))
        out.append((f"m{i:03d}_{sp.name}", values, sp, frac, wseed))
    return out


def _build(sp, values, frac, wseed):
    from kerasnac._keras import keras

    keras.utils.set_random_seed(wseed)
    model = sp.model_from_values(values)
    if frac:
        _prune(model, frac)
    return model


def run(n: int, cache: str, seed: int = 0, log=print, worker: int = 0, workers: int = 1) -> pd.DataFrame:
    """Synthesize ``n`` models (continuing from ``cache``); returns one row per model.

    ``worker``/``workers``: this process synthesizes only the models whose index modulo ``workers``
    is ``worker`` (several processes can share one cache); the returned table is what the cache holds."""
    from kerasnac import costs, hardware

    os.makedirs(cache, exist_ok=True)
    rows, skipped, drawn = [], 0, 0
    pool = iter(draw_models(20 * n, seed))
    target = -(-n // workers)
    while len(rows) < target:
        mid, values, sp, frac, wseed = next(pool)
        drawn += 1
        path = os.path.join(cache, f"{mid}.json")
        if int(mid.split("_")[0][1:]) % workers != worker:
            continue
        row = None
        if os.path.exists(path):
            with open(path) as f:
                row = json.load(f)
            if row.get("status") == "skipped" and row.get("da_lut", math.inf) <= MAX_DA_LUT:
                row = None  # skipped under a smaller limit: synthesize it now
        if row is not None:
            if row.get("status") == "ok":
                rows.append(row)
            skipped += row.get("status") == "skipped"
            continue
        model = _build(sp, values, frac, wseed)
        if model.count_params() > MAX_PARAMS:
            skipped += 1
            continue  # cheap to redraw: not cached
        row = {"model": mid, "space": sp.name, "params": int(model.count_params()), "pruned_fraction": frac,
               "values": json.dumps(values, sort_keys=True, default=str)}
        try:
            est = costs.evaluate(model, list(EST) + ["bops"], input_bits=16)
            row.update({f"est_{k}": v for k, v in est.items()})
            t0 = time.perf_counter()
            tr = hardware.trace(model)
            row.update(da_lut=tr.cost, da_depth=tr.depth, da_seconds=round(time.perf_counter() - t0, 3))
            if tr.cost > MAX_DA_LUT:
                raise _TooLarge()
            prj = os.path.join(cache, "rtl_" + mid)
            hardware.write_rtl(tr, prj)
            row.update(hardware.synthesize(prj))
            shutil.rmtree(prj)  # made by write_rtl (marked); only the numbers are kept
            row["status"] = "ok"
        except _TooLarge:
            row["status"] = "skipped"
            skipped += 1
        except Exception as exc:  # noqa: BLE001 - a failing model is recorded, the others go on
            row.update(status="failed", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(row, f)
        os.replace(tmp, path)
        if row["status"] == "skipped":
            continue
        log(f"{mid}: {row.get('status')} params={row['params']} da_lut={row.get('da_lut')} "
            f"syn_lut={row.get('syn_lut')} syn_ff={row.get('syn_ff')} est_lut={row.get('est_lut')} "
            f"yosys {row.get('syn_seconds')} s")
        if row["status"] == "ok":
            rows.append(row)
    rows = load_cache(cache)
    log(f"{len(rows)} models synthesized in the cache ({drawn} drawn by this worker, {skipped} over {MAX_PARAMS} parameters or "
        f"{MAX_DA_LUT} da_lut skipped)")
    return rows


def load_cache(cache: str) -> list[dict]:
    rows = []
    for name in sorted(os.listdir(cache)):
        if name.endswith(".json"):
            with open(os.path.join(cache, name)) as f:
                row = json.load(f)
            if row.get("status") == "ok":
                rows.append(row)
    return rows


class _TooLarge(Exception):
    pass


def _spearman(a, b) -> float:
    a, b = pd.Series(a).rank(), pd.Series(b).rank()
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 else math.nan


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per (estimate, synthesized count): median and 10-90% spread of estimate / synthesized, median
    |log2 ratio| and the Spearman rank correlation."""
    pairs = [("est_lut", "syn_lut"), ("est_ff", "syn_ff"), ("est_dsp", "syn_dsp"), ("da_lut", "syn_lut"),
             ("est_lut_da", "syn_lut"), ("est_ff_da", "syn_ff")]
    out = []
    for est, ref in pairs:
        if est not in df or ref not in df:
            continue
        d = df[[est, ref]].astype(float)
        ok = d[(d[ref] > 0) & (d[est] > 0)]
        r = ok[est] / ok[ref]
        out.append({"estimate": est, "synthesized": ref, "n": int(len(ok)), "n_ref_zero": int((d[ref] <= 0).sum()),
                    "median_ratio": float(r.median()) if len(r) else math.nan,
                    "p10_ratio": float(r.quantile(0.1)) if len(r) else math.nan,
                    "p90_ratio": float(r.quantile(0.9)) if len(r) else math.nan,
                    "median_abs_log2": float(np.abs(np.log2(r)).median()) if len(r) else math.nan,
                    "spearman": _spearman(ok[est], ok[ref])})
    return pd.DataFrame(out)


def add_refit(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Add ``est_lut_da``/``est_ff_da``: the analytical estimate with ``strategy="distributed_arithmetic"``
    (``kerasnac/costs/_fpga.py``), on the same models (rebuilt from their values and seeds)."""
    from kerasnac import costs

    if df.empty:
        return df
    want = set(df["model"])
    n = max(int(m.split("_")[0][1:]) for m in want) + 1
    est = {}
    for mid, values, sp, frac, wseed in draw_models(n, seed):
        if mid in want:
            ev = costs.evaluate(_build(sp, values, frac, wseed), ["lut", "ff"], input_bits=16,
                                strategy="distributed_arithmetic")
            est[mid] = (ev["lut"], ev["ff"])
    df = df.copy()
    df["est_lut_da"] = df["model"].map(lambda m: est[m][0])
    df["est_ff_da"] = df["model"].map(lambda m: est[m][1])
    return df


def report(df: pd.DataFrame, summary: pd.DataFrame, cmd: str, elapsed: float) -> list[str]:
    cols = list(summary.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in summary.to_dict("records"):
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    per_space = df.groupby("space").size().to_dict()
    by_space = []
    for space, part in df.groupby("space"):
        for rec in summarize(part).to_dict("records"):
            if rec["estimate"] in ("est_lut", "est_lut_da", "da_lut"):
                by_space.append(f"| {space} | {rec['estimate']} | {rec['n']} | {rec['median_ratio']:.3g} | "
                                f"{rec['median_abs_log2']:.3g} | {rec['spearman']:.3g} |")
    return ["# Cost fidelity (c): kerasnac estimates and da_lut vs yosys logic synthesis", "",
            f"Made by `{cmd}` in {elapsed:.0f} s ({len(df)} models: {per_space}; cached results reused).", "",
            __doc__.strip(), "",
            "Estimates: `est_*` = `kerasnac.costs.evaluate(model, input_bits=16)` (the default, hls4ml Latency "
            "strategy); `est_*_da` = the same with `strategy=\"distributed_arithmetic\"`; `da_lut` = da4ml's cost "
            "of the traced graph. Ratios are estimate / synthesized over models with a synthesized count > 0 "
            "(`n_ref_zero`: models whose weights all quantized to zero, or no DSP at all).", "",
            "## Summary", "", *lines, "", "## LUT per space", "",
            "| space | estimate | n | median ratio | median abs log2 | Spearman |", "|---|---|---|---|---|---|",
            *by_space, "",
            f"yosys time per model (wall, shared 2-core machine): median {df['syn_seconds'].median():.1f} s, "
            f"max {df['syn_seconds'].max():.1f} s; da4ml trace: median {df['da_seconds'].median():.2f} s.", ""]
