"""Part (c) of ``cost_fidelity.py``: a yosys reference for kerasnac's FPGA estimates and for ``da_lut``.

Models come from two seeded streams of the shipped spaces, each untrained (lecun_uniform weights
through the QKeras quantizers), with every quantized width drawn from the space's choices below 32
(3-16 bits; float is left out), and every other model of a stream pruned (a random 50-90% of the
smallest-magnitude kernel weights set to zero):

* ``m###``: ``jets_mlp`` (16 inputs) and ``jets_deepsets`` (6 x 3 sets), widths <= 16, at most 2
  layers per stack. (This stream also draws ``small_cnn`` at 6x6x1 every third model; none of
  those fitted the size limits, so they are no longer built; the draws are kept so that the ids and
  models of the stream stay what they were.)
* ``c###``: ``small_cnn`` on 4x4x1 images with at most 8 filters/units and at most
  ``CONV_MAX_PARAMS`` parameters: a conv model's RTL unrolls every output position, so at 6x6 or
  with 16 filters no draw stayed under the limits below.

Models with more than ``MAX_PARAMS`` parameters or a da4ml cost above ``MAX_DA_LUT`` (conv:
``CONV_MAX_PARAMS``, ``CONV_MAX_DA_LUT``) are redrawn
(yosys time grows with the design: a 2k-LUT design took 8 s of CPU, a 23k-LUT one 190 s wall on the
loaded 2-core machine here). Each model is traced with da4ml, written as pipelined Verilog
(``kerasnac.hardware.write_rtl``) and synthesized with ``yosys synth_xilinx -flatten -noiopad
-family xcup`` (logic synthesis, not place and route).

The design synthesized is da4ml's distributed-arithmetic implementation (adder graphs, no DSPs), not
hls4ml's Latency-strategy firmware that the default analytical estimates describe.

Every model's result is cached as ``<cache>/<model id>.json`` (written atomically after its
synthesis), so a rerun continues where the last one stopped. A model that is not in the cache but
is in the committed CSV (``seed_csv``) with status ok is taken from the CSV after checking that the
draw is the same model (same hyperparameter values, parameter count and pruned fraction).
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pandas as pd

SPACES = (("jets_mlp", None), ("jets_deepsets", (6, 3)), ("small_cnn", (6, 6, 1)))
#: spaces of the m-stream that are drawn (to keep the stream's ids) but not built (see the docstring)
MAIN_NOT_BUILT = ("small_cnn",)
CONV_SPACE, CONV_SHAPE, CONV_MAX_WIDTH = "small_cnn", (4, 4, 1), 8
#: the spaces' width choices are cut to at most this and their layer counts to at most 2, so that a
#: model's synthesis takes about a minute
MAX_WIDTH = 16
MAX_PARAMS = 600
#: conv draws above this many parameters are redrawn before tracing: of 14 c-stream draws, those
#: of 558-574 parameters cost 133k-177k da_lut (12 s traces), those of 74-194 parameters 1.5k-14k
CONV_MAX_PARAMS = 300
#: a conv design unrolls every output position: at MAX_DA_LUT 3 of 29 traced conv draws fitted
#: (their yosys runs took 7 s each), so conv designs may be larger
CONV_MAX_DA_LUT = 12000
MAX_DA_LUT = 4000
EST = ("lut", "ff", "dsp")
#: columns of a cached row (what ``run`` writes); the CSV's other columns are recomputed estimates
ROW_KEYS = ("model", "space", "params", "pruned_fraction", "values", "est_lut", "est_ff", "est_dsp", "est_bops",
            "da_lut", "da_depth", "da_seconds", "syn_lut", "syn_ff", "syn_carry", "syn_dsp", "syn_seconds",
            "syn_source", "status", "error")


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


def _small(name: str, max_width: int = MAX_WIDTH) -> dict:
    """The shipped space ``name`` with widths <= max_width and at most 2 layers per stack; no baselines."""
    from kerasnac.space import _yaml

    data, _ = _yaml.load(name)
    data.pop("baselines", None)
    for stage in data["stages"]:
        for spec in stage["blocks"].values():
            for key, val in list(spec.items()):
                if key in ("units", "phi_units", "rho_units", "filters") and isinstance(val, list):
                    spec[key] = [v for v in val if v <= max_width] or [min(val)]
                elif key.endswith("layers") and isinstance(val, dict):
                    spec[key] = {"min": val["min"], "max": min(val["max"], 2)}
    return data


def _stream(n: int, rng, spaces, prefix: str):
    out = []
    while len(out) < n:
        i = len(out)
        sp = spaces[i % len(spaces)]
        values = _sample_values(sp, rng)
        pruned = (i // len(spaces)) % 2 == 1
        frac = float(rng.uniform(0.5, 0.9)) if pruned else 0.0
        wseed = int(rng.integers(1 << 30))
        out.append((f"{prefix}{i:03d}_{sp.name}", values, sp, frac, wseed))
    return out


def draw_models(n: int, seed: int = 0):
    """The first ``n`` (model id, values, space, pruned fraction, weight seed) of the m-stream."""
    from kerasnac.space import SearchSpace

    spaces = [SearchSpace.from_dict(_small(name), source=name, input_shape=shape) for name, shape in SPACES]
    return _stream(n, np.random.default_rng(seed), spaces, "m")


def draw_conv(n: int, seed: int = 0):
    """The first ``n`` draws of the c-stream (``small_cnn`` at ``CONV_SHAPE``, its own generator)."""
    from kerasnac.space import SearchSpace

    sp = SearchSpace.from_dict(_small(CONV_SPACE, CONV_MAX_WIDTH), source=CONV_SPACE, input_shape=CONV_SHAPE)
    return _stream(n, np.random.default_rng([seed, 1]), [sp], "c")


def draw(model_ids, seed: int = 0) -> dict:
    """``{id: draw}`` for the given ids of either stream."""
    idx = {"m": [], "c": []}
    for mid in model_ids:
        idx[mid[0]].append(int(mid.split("_")[0][1:]))
    out = {}
    for prefix, fn in (("m", draw_models), ("c", draw_conv)):
        if idx[prefix]:
            out.update({d[0]: d for d in fn(max(idx[prefix]) + 1, seed)})
    return {m: out[m] for m in model_ids}


def _build(sp, values, frac, wseed):
    from kerasnac._keras import keras

    keras.utils.set_random_seed(wseed)
    model = sp.model_from_values(values)
    if frac:
        _prune(model, frac)
    return model


def values_key(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def read_seed_csv(path) -> dict:
    """``{model id: row}`` of the status-ok rows of an earlier run's CSV (empty if there is none)."""
    if not path or not os.path.exists(path):
        return {}
    df = pd.read_csv(path)
    df = df[df["status"] == "ok"]
    out = {}
    if "resource_source" in df and "syn_source" not in df:  # the column's name before syn_source
        df = df.rename(columns={"resource_source": "syn_source"})
    for rec in df.to_dict("records"):
        row = {k: rec[k] for k in ROW_KEYS if k in rec and not (isinstance(rec[k], float) and math.isnan(rec[k]))}
        out[rec["model"]] = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    return out


def csv_rows(path) -> list[dict]:
    """The status-ok rows of an earlier run's CSV as cached rows (``ROW_KEYS`` and ``from_csv``), for a
    report without a cache (``--yosys-report`` on a fresh checkout)."""
    if not path or not os.path.exists(path):
        return []
    flags = pd.read_csv(path).set_index("model").get("from_csv")
    out = []
    for mid, row in read_seed_csv(path).items():
        flag = None if flags is None else flags.get(mid)
        reused = isinstance(flag, (bool, np.bool_)) and bool(flag)  # taken from a still earlier CSV
        out.append(dict(row, from_csv=True) if reused else dict(row))
    return out


def same_model(row: dict, values: dict, params: int, frac: float) -> bool:
    """Is ``row`` (from a CSV) the result of this draw?"""
    return (row.get("values") == values_key(values) and int(row.get("params", -1)) == params
            and math.isclose(float(row.get("pruned_fraction", -1.0)), frac, rel_tol=1e-9, abs_tol=1e-12))


def _write(path: str, row: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(row, f)
    os.replace(tmp, path)


def _one(draw_item, cache: str, seeds: dict, log) -> str:
    """Make sure one drawn model is in the cache; returns its status (``ok``, ``skipped``, ``failed``,
    ``not_built``)."""
    from kerasnac import _rundir, costs, hardware

    mid, values, sp, frac, wseed = draw_item
    if sp.name in MAIN_NOT_BUILT and mid.startswith("m"):
        return "not_built"
    path = os.path.join(cache, f"{mid}.json")
    limit = MAX_DA_LUT if mid.startswith("m") else CONV_MAX_DA_LUT
    if os.path.exists(path):
        with open(path) as f:
            row = json.load(f)
        if not (row.get("status") == "skipped" and row.get("da_lut", math.inf) <= limit):
            return row.get("status")
        # skipped under a smaller limit: synthesize it now
    model = _build(sp, values, frac, wseed)
    if model.count_params() > (MAX_PARAMS if mid.startswith("m") else CONV_MAX_PARAMS):
        return "skipped"  # cheap to redraw: not cached
    if mid in seeds:
        if same_model(seeds[mid], values, int(model.count_params()), frac):
            _write(path, dict(seeds[mid], from_csv=True))
            return "ok"
        log(f"{mid}: the seed CSV's row is another model than this draw; synthesizing it again")
    row = {"model": mid, "space": sp.name, "params": int(model.count_params()), "pruned_fraction": frac,
           "values": values_key(values)}
    try:
        est = costs.evaluate(model, list(EST) + ["bops"], input_bits=16)
        row.update({f"est_{k}": v for k, v in est.items()})
        t0 = time.perf_counter()
        tr = hardware.trace(model)
        row.update(da_lut=tr.cost, da_depth=tr.depth, da_seconds=round(time.perf_counter() - t0, 3))
        if tr.cost > limit:
            row["status"] = "skipped"
        else:
            prj = os.path.join(cache, "rtl_" + mid)
            hardware.write_rtl(tr, prj)
            row.update(hardware.synthesize(prj))
            _rundir.remove(prj, cache)  # write_rtl's folder: removed only if marked as kerasnac's and inside the cache
            row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a failing model is recorded, the others go on
        row.update(status="failed", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    _write(path, row)
    if row["status"] != "skipped":
        log(f"{mid}: {row.get('status')} params={row['params']} da_lut={row.get('da_lut')} "
            f"syn_lut={row.get('syn_lut')} syn_ff={row.get('syn_ff')} est_lut={row.get('est_lut')} "
            f"yosys {row.get('syn_seconds')} s {row.get('error', '')}")
    return row["status"]


def run(n: int, cache: str, seed: int = 0, log=print, n_conv: int = 0, seed_csv=None,
        worker: int = 0, workers: int = 1) -> list[dict]:
    """Bring the cache to ``n - n_conv`` m-stream and ``n_conv`` c-stream models with status ok
    (continuing from ``cache`` and ``seed_csv``); returns the rows of the whole cache.

    The two streams advance in turn (the one furthest from its target first), so a run stopped early
    still has both kinds. ``worker``/``workers``: this process takes only every ``workers``-th draw of
    each stream (several processes can share one cache)."""
    os.makedirs(cache, exist_ok=True)
    seeds = read_seed_csv(seed_csv)
    targets = {"m": -(-(n - n_conv) // workers), "c": -(-n_conv // workers)}
    pools = {"m": iter(draw_models(20 * max(n - n_conv, 1), seed)), "c": iter(draw_conv(20 * max(n_conv, 1), seed))}
    done = {"m": 0, "c": 0}
    counts: dict = {}
    while True:
        open_ = [k for k in ("m", "c") if done[k] < targets[k] and pools[k] is not None]
        if not open_:
            break
        k = min(open_, key=lambda s: done[s] / targets[s])
        item = next(pools[k], None)
        if item is None:
            log(f"stream {k}: draws exhausted at {done[k]} models")
            pools[k] = None
            continue
        if int(item[0].split("_")[0][1:]) % workers != worker:
            continue
        status = _one(item, cache, seeds, log)
        counts[status] = counts.get(status, 0) + 1
        done[k] += status == "ok"
    rows = load_cache(cache)
    log(f"{len(rows)} models synthesized in the cache; this run's draws by status: {counts}")
    return rows


def load_cache(cache: str) -> list[dict]:
    rows = []
    for name in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
        if name.endswith(".json"):
            with open(os.path.join(cache, name)) as f:
                row = json.load(f)
            if row.get("status") == "ok":
                rows.append(row)
    return rows
