"""SearchSpace: a hierarchical keras-tuner HyperModel (model -> stages -> blocks -> layers -> bits)."""

from __future__ import annotations

import contextlib
import copy

import numpy as np

from .._keras import keras, kt
from ..errors import SpaceError
from . import _baselines, _params, names
from ._quant import DEFAULT_QUANT, HEAD_QUANT_KEYS, QUANT_KEYS, Quant
from ._validate import (TASKS, check_input_shape, check_integer_bits, check_mapping, merge_quant, normalize_stages,
                        normalize_training)
from .blocks import get_block


def _scope(hp, parent: str, values: list, needed: bool):
    return hp.conditional_scope(parent, values) if needed else contextlib.nullcontext()


class SearchSpace(kt.HyperModel):
    """A hierarchical search space that builds compiled tf_keras models of QKeras layers.

    Args:
        input_shape: shape of one sample, without the batch axis, e.g. ``(16,)``, ``(8, 3)``,
            ``(11, 11, 1)``.
        stages: list of stages. Each stage is a mapping ``{block_type: spec, ...}`` (a choice
            among block types; add ``skip: {}`` to make the stage optional) or
            ``{"name": ..., "blocks": {...}}``. A block spec maps parameter names to a fixed
            value, a list of choices or a ``{min, max, step}`` range, plus an optional ``quant``
            mapping (``weight_bits``, ``weight_integer``, ``bias_bits``, ``activation_bits``,
            ``activation_integer``; a width of 32 means float).
        task: ``"classification"`` (softmax over ``num_classes``) or ``"regression"``
            (``n_outputs`` linear outputs).
        quant: default quantization spec of every block and of the head.
        defaults: per block type default specs, e.g. ``{"mlp": {"units": [16, 32]}}``.
        head: ``{"quant": {...}}`` for the output layer.
        training: ``{"optimizer": "adam", "learning_rate": 1e-3}`` (each may be searched).
        baselines: ``{name: config}`` fixed architectures, enqueued first by KerasNAC.

    Example:
        >>> space = SearchSpace((16,), [{"mlp": {"units": [16, 32]}}, {"mlp": {}, "skip": {}}],
        ...                     num_classes=5)
        >>> model = space.build(space.hyperparameters())
    """

    def __init__(self, input_shape, stages, *, task: str = "classification", num_classes: int | None = None,
                 n_outputs: int | None = None, quant: dict | None = None, defaults: dict | None = None,
                 head: dict | None = None, training: dict | None = None, baselines: dict | None = None,
                 name: str = "custom", description: str = "", source: str | None = None):
        super().__init__(name=name, tunable=True)
        self.source = source or "search space"
        self.description = description
        w = self.source + ": "
        self.input_shape = check_input_shape(input_shape, w)
        if task not in TASKS:
            raise SpaceError(f"{w}task: {task!r} is not one of {TASKS}.")
        self.task = task
        if task == "classification":
            if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
                raise SpaceError(f"{w}num_classes: a classification space needs num_classes >= 2, got {num_classes!r}.")
        else:
            n_outputs = 1 if n_outputs is None else n_outputs
            if not isinstance(n_outputs, int) or n_outputs < 1:
                raise SpaceError(f"{w}n_outputs: expected a positive integer, got {n_outputs!r}.")
        self.num_classes, self.n_outputs = num_classes, n_outputs
        self.label_mode = "onehot"  # set by KerasNAC from the labels ("onehot" or "sparse")
        #: initial bias of a regression head, one value per output (KerasNAC sets it to the training
        #: targets' mean, see ``KerasNAC(output_bias=...)``); None: zeros, Keras' default
        self.output_bias = None
        self._raw = {"quant": quant, "defaults": defaults, "head": head, "training": training, "stages": stages}
        base_quant = merge_quant(DEFAULT_QUANT, quant, f"{w}quant")
        defaults = check_mapping(defaults or {}, f"{w}defaults")
        for bname in defaults:
            get_block(bname, where=f"{w}defaults: ")
        self.stages = normalize_stages(self.input_shape, stages, base_quant, defaults, w)
        head = check_mapping(head or {}, f"{w}head")
        if set(head) - {"quant"}:
            raise SpaceError(f"{w}head: unknown keys {sorted(set(head) - {'quant'})}; only 'quant' is allowed.")
        self.head_quant = merge_quant(base_quant, head.get("quant"), f"{w}head.quant")
        check_integer_bits(self.head_quant, f"{w}head.quant", HEAD_QUANT_KEYS)
        self.training = normalize_training(training, w)
        self._hp = None
        self.baselines: dict[str, dict] = {}
        for bname, bcfg in (baselines or {}).items():
            self.baselines[bname] = self.baseline_values(bcfg, name=bname)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(cls, data: dict, source: str | None = None, **overrides) -> "SearchSpace":
        """Build a space from a mapping with the YAML schema (``overrides`` win over ``data``)."""
        kw = {k: v for k, v in data.items() if k != "input_shape"}
        kw.update({k: v for k, v in overrides.items() if v is not None and k != "input_shape"})
        shape = overrides.get("input_shape") or data.get("input_shape")
        if shape is None:
            raise SpaceError(f"{source or 'search space'}: no input_shape. Pass input_shape=... (e.g. (16,)).")
        if kw.get("task", "classification") == "regression":
            kw.pop("num_classes", None)
        else:
            kw.pop("n_outputs", None)
        stages = kw.pop("stages", None)
        return cls(shape, stages, source=source, **kw)

    @classmethod
    def from_yaml(cls, name_or_path, input_shape=None, num_classes=None, n_outputs=None, **overrides) -> "SearchSpace":
        """Load a shipped space by name (``jets_mlp``, ``jets_deepsets``, ``braggnn``,
        ``small_cnn``) or a YAML file by path. ``input_shape``, ``num_classes`` and
        ``n_outputs`` override the file's values."""
        from . import _yaml

        data, source = _yaml.load(name_or_path)
        return cls.from_dict(data, source=source, input_shape=input_shape, num_classes=num_classes,
                             n_outputs=n_outputs, **overrides)

    # ------------------------------------------------------------------ hyperparameters
    def _declare_block(self, hp, prefix, block, spec):
        vals = {}
        for key, s in spec.items():
            if key == "quant" or key in block.per_layer:
                continue
            vals[key] = _params.declare(hp, names.param_hp(prefix, key), s)
        for per, count in block.per_layer.items():
            counts = _params.values_of(spec[count])
            for i in range(max(counts)):
                active = [n for n in counts if n > i]
                with _scope(hp, names.param_hp(prefix, count), active, _params.is_searched(spec[count]) and len(active) < len(counts)):
                    key = names.per_layer(per, i)
                    vals[key] = _params.declare(hp, names.param_hp(prefix, key), spec[per])
        if block.quantized:
            vals["quant"] = self._declare_quant(hp, prefix, spec["quant"])
        return vals

    @staticmethod
    def _declare_quant(hp, prefix, qspec, keys=QUANT_KEYS):
        q = {}
        for key in keys:
            if qspec[key] is not None:
                q[key] = _params.declare(hp, names.quant_hp(prefix, key), qspec[key])
        return q

    def configure(self, hp) -> dict:
        """Declare every hyperparameter in ``hp`` and return the active configuration.

        Each block type's parameters live in a keras-tuner conditional scope on the stage's
        ``block`` choice, and per-layer widths in a scope on the layer count, so inactive
        values are never part of a configuration.
        """
        cfg = {"stages": []}
        for st in self.stages:
            types = list(st["blocks"])
            choice = names.block_hp(st["name"])
            chosen = hp.Choice(choice, types) if len(types) > 1 else types[0]
            for t in types:
                with _scope(hp, choice, [t], len(types) > 1):
                    vals = self._declare_block(hp, names.block_prefix(st["name"], t), get_block(t), st["blocks"][t])
                if t == chosen:
                    cfg["stages"].append({"name": st["name"], "block": t, **vals})
        cfg["head"] = {"quant": self._declare_quant(hp, names.HEAD, self.head_quant, HEAD_QUANT_KEYS)}
        cfg["training"] = {k: _params.declare(hp, names.train_hp(k), s) for k, s in self.training.items()}
        return cfg

    def hyperparameters(self) -> "kt.HyperParameters":
        """All hyperparameters of the space (with their conditions), as a fresh copy."""
        if self._hp is None:
            self._hp = kt.HyperParameters()
            self.configure(self._hp)
        return self._hp.copy()

    def declare_hyperparameters(self, hp):
        self.configure(hp)

    # ------------------------------------------------------------------ building
    def build(self, hp):
        """Build and compile the tf_keras QKeras model for the values in ``hp``."""
        return self.assemble(self.configure(hp))

    def assemble(self, cfg: dict):
        inputs = keras.Input(self.input_shape, name=names.INPUT_LAYER)
        x = inputs
        for sc in cfg["stages"]:
            block = get_block(sc["block"])
            rank = len(x.shape) - 1
            if rank not in block.input_ranks:
                raise kt.errors.FailedTrialError(
                    f"stage {sc['name']}: block {sc['block']!r} cannot follow a rank-{rank} output "
                    "(e.g. a conv after an mlp that flattened); this combination is not buildable."
                )
            quant = Quant(**self._quant_args(sc.get("quant", {})))
            x = block.build(x, sc, quant, name=sc["name"])
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name=names.HEAD_FLATTEN)(x)
        hq = Quant(**self._quant_args(cfg["head"]["quant"]))
        x = hq.dense(self.head_units, name=names.HEAD_DENSE, bias=self.head_bias())(x)
        if self.task == "classification":
            x = keras.layers.Activation("softmax", name=names.HEAD_SOFTMAX)(x)
        model = keras.Model(inputs, x, name=self.name)
        self.compile(model, cfg["training"])
        return model

    def head_bias(self):
        """The head's initial bias (``output_bias``: a regression's target mean, a classifier's log class
        frequencies) checked against the head's width, or None."""
        if self.output_bias is None:
            return None
        bias = [float(b) for b in np.ravel(self.output_bias)]
        if len(bias) != self.head_units:
            classes = self.task == "classification"
            raise SpaceError(f"{self.source}: output_bias has {len(bias)} values but the space has "
                             f"{'num_classes' if classes else 'n_outputs'}={self.head_units}; give one initial bias "
                             f"per {'class' if classes else 'output'} (or None for zeros).")
        return bias

    @property
    def head_units(self) -> int:
        """The head's width: ``num_classes`` for a classifier, ``n_outputs`` for a regression."""
        return self.num_classes if self.task == "classification" else self.n_outputs

    @staticmethod
    def _quant_args(q):
        return {k: v for k, v in q.items() if v is not None}

    def compile(self, model, training: dict | None = None):
        training = training or {k: _params.values_of(s)[0] for k, s in self.training.items()}
        opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
               "rmsprop": keras.optimizers.RMSprop}[training["optimizer"]](learning_rate=training["learning_rate"])
        if self.task == "classification":
            loss = "categorical_crossentropy" if self.label_mode == "onehot" else "sparse_categorical_crossentropy"
            metrics = ["accuracy"]
        else:
            loss, metrics = "mse", ["mae"]
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
        return model

    @property
    def metric_names(self) -> list[str]:
        """Names of the training metrics Keras logs (and their ``val_`` versions)."""
        base = ["loss", "accuracy"] if self.task == "classification" else ["loss", "mae"]
        return base + [f"val_{m}" for m in base]

    # ------------------------------------------------------------------ baselines
    def baseline_values(self, config: dict, name: str = "baseline") -> dict:
        """Translate a fixed architecture into hyperparameter values of this space.

        ``config`` maps stage names to ``{"block": type, param: value, ...}`` (per-layer
        parameters as a list or one value for all layers; ``quant`` as a mapping of bit widths),
        plus optional ``head: {quant: ...}`` and ``training: {...}``. Stages not mentioned are
        skipped when they can be, otherwise they take their default values.
        """
        return _baselines.baseline_values(self, config, name)

    def complete_values(self, values: dict) -> dict:
        """Fill in defaults for every active hyperparameter and drop inactive ones."""
        space = self.hyperparameters()
        hp = kt.HyperParameters()
        for h in space.space:
            hp.merge([h])
            if hp.is_active(h):
                hp.values[h.name] = values.get(h.name, h.default)
        known = {h.name for h in space.space}
        stray = set(values) - known
        if stray:
            raise SpaceError(f"{self.source}: unknown hyperparameters {sorted(stray)}.")
        return dict(hp.values)

    def model_from_values(self, values: dict):
        """Build the model for a plain ``{name: value}`` mapping (e.g. a trial's values)."""
        hp = self.hyperparameters()
        hp.values.update(values)
        return self.build(hp)

    # ------------------------------------------------------------------ description
    def describe(self, values: dict) -> str:
        """A one-line human description of an architecture, e.g. ``mlp[64,32](6b) > softmax``."""
        hp = self.hyperparameters()
        hp.values.update(values)
        cfg = self.configure(hp)
        parts = []
        for sc in cfg["stages"]:
            if sc["block"] == "skip":
                continue
            widths = [sc[k] for k in sc if names.is_per_layer(k) and isinstance(sc[k], int)]
            q = sc.get("quant", {})
            bits = "f" if q.get("weight_bits", 32) >= 32 else f"{q.get('weight_bits')}b"
            w = "" if not widths else "[" + ",".join(str(x) for x in widths) + "]"
            if not widths and "filters" in sc:
                w = f"[{sc['filters']}]"
            parts.append(f"{sc['block']}{w}({bits})")
        return " > ".join(parts) or "head only"

    def to_dict(self) -> dict:
        d = {"name": self.name, "task": self.task, "input_shape": list(self.input_shape)}
        d.update({k: copy.deepcopy(v) for k, v in self._raw.items() if v})
        if self.task == "classification":
            d["num_classes"] = self.num_classes
        else:
            d["n_outputs"] = self.n_outputs
        return d

