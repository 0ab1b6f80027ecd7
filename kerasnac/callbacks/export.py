"""Export: save each candidate model (``.h5`` and ``.keras``) with a YAML description, and load it back.

Example::

    from kerasnac.callbacks import Export, load_model
    row = Export().on_candidate(candidate)      # {"model_path": ".../model.h5", ...}
    model = load_model(row["model_path"])       # QKeras custom objects included

Both formats round-trip tf_keras models of QKeras layers (weights, quantizers and the compiled
optimizer). ``.h5`` is the format hls4ml and QKeras tools read; ``.keras`` is tf_keras's zip format.
``architecture.yaml`` lists, per layer, the class, inputs, output shape, parameter count, widths
(``units``/``filters``/``kernel_size``...), activation and quantizer strings, plus the candidate's
lineage and metrics.
"""

from __future__ import annotations

import math
import os

import yaml

from .. import _rundir
from ._base import Callback, Candidate, register_callback

#: layer config keys worth describing (when present)
_KEYS = ("units", "filters", "kernel_size", "strides", "padding", "pool_size", "axes", "axis",
         "target_shape", "rate", "use_bias", "momentum", "epsilon")
_QUANTIZERS = ("kernel_quantizer", "bias_quantizer", "depthwise_quantizer", "pointwise_quantizer")
FORMATS = ("h5", "keras")


def _plain(v):
    """YAML-safe plain value (tuples -> lists, numpy scalars -> Python, other objects -> str)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return _plain(v.item())
    return str(v)


def _quantizer_string(layer, key):
    """QKeras's own string of a quantizer, e.g. ``quantized_bits(8,0,0,alpha=1)`` (the same for a
    freshly built and a loaded model, whose ``kernel_quantizer`` is then a config dict)."""
    if getattr(layer, key, None) is None:
        return None
    internal = getattr(layer, f"{key}_internal", None)
    return str(internal if internal is not None else getattr(layer, key))


def _inputs(layer) -> list[str]:
    try:
        inbound = layer._inbound_nodes[0].inbound_layers  # noqa: SLF001 - tf_keras has no public API
    except (AttributeError, IndexError):
        return []
    inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
    return [x.name for x in inbound]


def describe_model(model) -> list[dict]:
    """One mapping per layer: name, class, inputs, output shape, params, widths and quantizers."""
    rows = []
    for layer in model.layers:
        cfg = layer.get_config()
        row = {"name": layer.name, "class": type(layer).__name__}
        ins = _inputs(layer)
        if ins:
            row["inputs"] = ins
        try:
            shape = layer.output_shape
            row["output_shape"] = _plain(shape[0][1:] if isinstance(shape, list) else shape[1:])
        except AttributeError:
            pass
        row["params"] = int(layer.count_params())
        for key in _KEYS:
            if key in cfg:
                row[key] = _plain(cfg[key])
        act = cfg.get("activation")
        if act is not None:
            row["activation"] = act if isinstance(act, str) else str(getattr(layer, "quantizer", act))
        for key in _QUANTIZERS:
            q = _quantizer_string(layer, key)
            if q is not None:
                row[key] = q
        rows.append(row)
    return rows


def architecture(model, candidate: Candidate | None = None) -> dict:
    """The YAML-able description of ``model`` (and of the candidate it comes from)."""
    desc = {}
    if candidate is not None:
        desc.update(candidate_id=candidate.candidate_id, task=candidate.task, lineage=_plain(candidate.lineage),
                    metrics=_plain({k: v for k, v in candidate.metrics.items()
                                    if isinstance(v, (int, float, str, bool)) or v is None}))
    desc["model_name"] = model.name
    desc["input_shape"] = _plain([list(t.shape[1:]) for t in model.inputs] if len(model.inputs) > 1
                                 else list(model.inputs[0].shape[1:]))
    desc["output_shape"] = _plain(list(model.outputs[0].shape[1:]))
    desc["n_params"] = int(model.count_params())
    desc["layers"] = describe_model(model)
    return desc


@register_callback("export")
class Export(Callback):
    """Save the candidate model as ``model.h5`` (and ``model.keras``) plus ``architecture.yaml``.

    Args:
        output_dir: ``None``: the candidate's directory; relative: inside it; absolute:
            ``<output_dir>/<candidate_id>``.
        formats: any of ``"h5"``, ``"keras"``.
        include_optimizer: store the optimizer state in ``.h5`` (``.keras`` always stores it).

    Returns (``on_candidate``) ``model_path`` (the first format), ``model_<fmt>_path`` for each
    format and ``architecture_path``.
    """

    def __init__(self, output_dir: str | None = None, formats=FORMATS, include_optimizer: bool = True):
        formats = (formats,) if isinstance(formats, str) else tuple(formats)
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {formats!r}")
        self.output_dir, self.formats, self.include_optimizer = output_dir, formats, include_optimizer

    def directory(self, candidate: Candidate) -> str:
        if self.output_dir is None:
            path = candidate.output_dir
        elif os.path.isabs(self.output_dir):
            path = os.path.join(self.output_dir, candidate.candidate_id)
        else:
            path = os.path.join(candidate.output_dir, self.output_dir)
        os.makedirs(path, exist_ok=True)
        return path

    def on_candidate(self, candidate: Candidate) -> dict:
        out = self.directory(candidate)
        row = {}
        for fmt in self.formats:
            path = os.path.join(out, f"model.{fmt}")
            if fmt == "h5":
                # tf_keras's .keras format always stores the optimizer and rejects include_optimizer
                model = h5_ready(candidate.model) if self.include_optimizer else candidate.model
                _save_atomic(model, path, include_optimizer=self.include_optimizer)
            else:
                _save_atomic(candidate.model, path)
            row[f"model_{fmt}_path"] = path
        row["model_path"] = row[f"model_{self.formats[0]}_path"]
        arch = os.path.join(out, "architecture.yaml")
        text = yaml.safe_dump(architecture(candidate.model, candidate), sort_keys=False, default_flow_style=None)
        _rundir.atomic_write_text(arch, text)
        row["architecture_path"] = arch
        return row


def _variables(optimizer) -> list:
    vs = getattr(optimizer, "variables", None)
    return list((vs() if callable(vs) else vs) or [])


def h5_ready(model):
    """``model``, or a copy of it whose optimizer variables have distinct names, as ``.h5`` needs.

    tf_keras names the variables of a model loaded from ``.keras`` without their layer
    (``kernel:0``, not ``s0_dense0/kernel:0``), so its optimizer's slots (``m/kernel:0``, ...)
    collide and h5py refuses the second one (``Unable to synchronously create dataset (name
    already exists)``). The copy is a clone (variables named under their layers) with the same
    weights, compiled the same way with the same optimizer configuration and state.
    """
    opt = getattr(model, "optimizer", None)
    names = [v.name for v in _variables(opt)]
    if opt is None or len(set(names)) == len(names):
        return model
    from .._keras import custom_objects, keras
    from .._compile import compile_like

    with keras.utils.custom_object_scope(custom_objects()):
        clone = keras.models.clone_model(model)
        fresh = type(opt).from_config(opt.get_config())
    clone.set_weights(model.get_weights())
    compile_like(clone, model, fresh)
    fresh.build(clone.trainable_variables)
    new_vars = _variables(fresh)
    old_vars = _variables(opt)
    if [tuple(v.shape) for v in new_vars] == [tuple(v.shape) for v in old_vars]:
        for a, b in zip(new_vars, old_vars):
            a.assign(b)
    if len({v.name for v in new_vars}) != len(new_vars):
        raise ValueError("the model's optimizer variables have duplicate names; use Export(include_optimizer=False).")
    return clone


def _save_atomic(model, path: str, **kwargs) -> None:
    """``model.save`` into a temporary file (same suffix, so the same format), then rename."""

    def write(tmp):
        os.unlink(tmp)  # h5py and the .keras zip writer create the file themselves
        model.save(tmp, **kwargs)

    _rundir.atomic_write(path, write)


def load_model(path: str, compile: bool = True):  # noqa: A002 - mirrors keras.models.load_model
    """Load a model saved by :class:`Export` (a ``.h5``/``.keras`` file, or the directory holding
    ``model.keras`` or ``model.h5``), with the QKeras custom objects."""
    from .._keras import custom_objects, keras

    if os.path.isdir(path):
        for name in ("model.keras", "model.h5"):
            if os.path.isfile(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            raise FileNotFoundError(f"no model.keras or model.h5 in {path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no saved model at {path!r}")
    return keras.models.load_model(path, custom_objects=custom_objects(), compile=compile)
