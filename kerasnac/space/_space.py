"""SearchSpace: a hierarchical keras-tuner HyperModel (model -> stages -> blocks -> layers -> bits)."""

from __future__ import annotations

import contextlib
import copy
import difflib


from .._keras import keras, kt
from ..errors import SpaceError
from . import _params
from ._quant import ACTIVATIONS, DEFAULT_QUANT, INTEGER_PAIRS, QUANT_KEYS, Quant, integer_bits_error
from .blocks import SKIP_ALIASES, available_blocks, get_block

TASKS = ("classification", "regression")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DEFAULT_TRAINING = {"optimizer": "adam", "learning_rate": 1e-3}
#: keys of the long form of a stage, ``{name: ..., blocks: {...}}``
STAGE_KEYS = ("name", "blocks")
#: the head ends in a float softmax (or a linear output), so only its weights are quantized
HEAD_QUANT_KEYS = ("weight_bits", "weight_integer", "bias_bits")
_QSHORT = {"weight_bits": "w_bits", "weight_integer": "w_int", "bias_bits": "b_bits",
           "activation_bits": "a_bits", "activation_integer": "a_int"}


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
        self.input_shape = self._check_input_shape(input_shape, w)
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
        self._raw = {"quant": quant, "defaults": defaults, "head": head, "training": training, "stages": stages}
        base_quant = self._merge_quant(DEFAULT_QUANT, quant, f"{w}quant")
        defaults = self._check_mapping(defaults or {}, f"{w}defaults")
        for bname in defaults:
            get_block(bname, where=f"{w}defaults: ")
        self.stages = self._normalize_stages(stages, base_quant, defaults, w)
        head = self._check_mapping(head or {}, f"{w}head")
        if set(head) - {"quant"}:
            raise SpaceError(f"{w}head: unknown keys {sorted(set(head) - {'quant'})}; only 'quant' is allowed.")
        self.head_quant = self._merge_quant(base_quant, head.get("quant"), f"{w}head.quant")
        self._check_integer_bits(self.head_quant, f"{w}head.quant", HEAD_QUANT_KEYS)
        self.training = self._normalize_training(training, w)
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

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_input_shape(shape, w):
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise SpaceError(f"{w}input_shape: expected a tuple of positive integers such as (16,) or (11, 11, 1), got {shape!r}.") from None
        if not shape or any(s < 1 for s in shape) or len(shape) > 3:
            raise SpaceError(f"{w}input_shape: expected 1 to 3 positive sizes (features), (N, features) or (H, W, C); got {shape!r}.")
        return shape

    @staticmethod
    def _check_mapping(obj, where):
        if not isinstance(obj, dict):
            raise SpaceError(f"{where}: expected a mapping, got {type(obj).__name__} {obj!r}.")
        return obj

    def _merge_quant(self, base, override, where):
        out = dict(base)
        if override is None:
            return out
        self._check_mapping(override, where)
        for key, spec in override.items():
            if key not in QUANT_KEYS:
                raise SpaceError(f"{where}: unknown key {key!r}; expected one of {', '.join(QUANT_KEYS)}.")
            out[key] = _params.check_spec(spec, f"{where}.{key}")
        for key in ("weight_bits", "activation_bits", "bias_bits"):
            for v in _params.values_of(out[key]) if out[key] is not None else []:
                if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 32:
                    raise SpaceError(f"{where}.{key}: bit widths must be integers in 1..32 (32 = float), got {v!r}.")
        for key in ("weight_integer", "activation_integer"):
            for v in _params.values_of(out[key]):
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise SpaceError(f"{where}.{key}: integer bits must be integers >= 0, got {v!r}.")
        return out

    def _normalize_stages(self, stages, base_quant, defaults, w):
        if not isinstance(stages, (list, tuple)) or not stages:
            raise SpaceError(f"{w}stages: expected a non-empty list of stages, got {stages!r}.")
        out, ranks, names = [], {len(self.input_shape)}, set()
        for i, st in enumerate(stages):
            where = f"{w}stages[{i}]"
            self._check_mapping(st, where)
            self._check_stage_keys(st, where)
            if "blocks" in st:
                name, blocks = st.get("name", f"s{i}"), st["blocks"]
            else:
                name, blocks = f"s{i}", st
            if not isinstance(name, str) or not name or "/" in name or name in names or name in ("head", "train"):
                raise SpaceError(f"{where}.name: {name!r} must be a unique non-empty string without '/' (not 'head'/'train').")
            names.add(name)
            self._check_mapping(blocks, f"{where}.blocks")
            if not blocks:
                raise SpaceError(f"{where}: empty choice of blocks. List at least one block type, e.g. {{mlp: {{}}}}.")
            merged, next_ranks = {}, set()
            for btype, spec in blocks.items():
                bwhere = f"{where}.{btype}"
                block = get_block(btype, where=f"{where}: ")
                btype = block.type_name
                spec = {} if spec is None else self._check_mapping(spec, bwhere)
                mspec = self._merge_block(block, defaults.get(btype, {}), spec, base_quant, bwhere)
                ok = ranks & set(block.input_ranks)
                if not ok:
                    raise SpaceError(
                        f"{bwhere}: block {btype!r} needs inputs of rank {block.input_ranks} (without batch) "
                        f"but this stage receives rank {sorted(ranks)} given input_shape {self.input_shape}. "
                        "Use a block that fits (mlp for flat features, deepsets for (N, features) sets, "
                        "conv/conv_attn for sequences or images) or change input_shape."
                    )
                next_ranks |= {block.output_rank(r) for r in ok}
                merged[btype] = mspec
            ranks = next_ranks
            out.append({"name": name, "blocks": merged})
        return out

    @staticmethod
    def _check_stage_keys(st, where):
        """A stage is ``{name, blocks}`` or a mapping of block types; name a misspelt ``blocks``/``name``."""
        long_form = "blocks" in st or "name" in st
        blocks = set(available_blocks()) | set(SKIP_ALIASES)
        for key in st:
            if key in STAGE_KEYS or (not long_form and key in blocks):
                continue
            if long_form and key in blocks:
                hint = f" (block types go under 'blocks:', e.g. blocks: {{{key}: ...}})"
            else:
                candidates = STAGE_KEYS if long_form else STAGE_KEYS + tuple(sorted(blocks))
                close = difflib.get_close_matches(str(key), candidates, n=1, cutoff=0.6)
                if not long_form and not (close and close[0] in STAGE_KEYS):
                    continue  # an unknown block type: get_block names it and the known blocks
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpaceError(f"{where}: unknown key {key!r}{hint}. A stage is either {{name: ..., blocks: "
                             f"{{block_type: spec, ...}}}} (allowed keys: {', '.join(STAGE_KEYS)}) or a mapping of "
                             f"block types ({', '.join(sorted(blocks))}).")

    def _merge_block(self, block, default_spec, spec, base_quant, where):
        self._check_mapping(default_spec, where)
        out = {}
        known = set(block.params) | ({"quant"} if block.quantized else set())
        for src, sw in ((block.params, where), (default_spec, where + " (defaults)"), (spec, where)):
            for key, value in src.items():
                if key == "quant":
                    continue
                if key not in known:
                    raise SpaceError(f"{sw}: unknown parameter {key!r} for block {block.type_name!r}; "
                                     f"known: {', '.join(sorted(known)) or '(none)'}.")
                out[key] = _params.check_spec(value, f"{sw}.{key}")
        if "activation" in out:
            for a in _params.values_of(out["activation"]):
                if a not in ACTIVATIONS:
                    raise SpaceError(f"{where}.activation: {a!r} is not supported by QKeras and hls4ml together; "
                                     f"use one of {', '.join(ACTIVATIONS)}.")
        for per, count in block.per_layer.items():
            for n in _params.values_of(out[count]):
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise SpaceError(f"{where}.{count}: layer counts must be integers >= 0, got {n!r}.")
        for key in ("units", "filters", "phi_units", "rho_units", "kernel_size"):
            if key in out:
                for n in _params.values_of(out[key]):
                    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                        raise SpaceError(f"{where}.{key}: expected positive integers, got {n!r}.")
        if "dropout" in out:
            for d in _params.values_of(out["dropout"]):
                if not isinstance(d, (int, float)) or not 0 <= d < 1:
                    raise SpaceError(f"{where}.dropout: expected rates in [0, 1), got {d!r}.")
        block.check(out, where)
        if block.quantized:
            q = self._merge_quant(base_quant, default_spec.get("quant"), where + ".quant (defaults)")
            out["quant"] = self._merge_quant(q, spec.get("quant"), where + ".quant")
            self._check_integer_bits(out["quant"], where + ".quant")
        return out

    @staticmethod
    def _check_integer_bits(q, where, keys=QUANT_KEYS):
        """Every combination of bit-width and integer-bit choices can be drawn, so each must be buildable."""
        for bits_key, int_key in INTEGER_PAIRS:
            if bits_key not in keys:
                continue
            bits = q[bits_key] if q[bits_key] is not None else q["weight_bits"]  # bias: same as the weights
            for b in _params.values_of(bits):
                for i in _params.values_of(q[int_key]):
                    msg = integer_bits_error(bits_key, b, int_key, i, where)
                    if msg:
                        if _params.is_searched(bits) or _params.is_searched(q[int_key]):
                            msg += (f" The choices {bits_key}={bits!r} and {int_key}={q[int_key]!r} are drawn "
                                    "independently, so every pair must fit.")
                        raise SpaceError(msg)

    def _normalize_training(self, training, w):
        training = self._check_mapping(training or {}, f"{w}training")
        out = dict(DEFAULT_TRAINING)
        for key, spec in training.items():
            if key not in DEFAULT_TRAINING:
                raise SpaceError(f"{w}training: unknown key {key!r}; expected one of {', '.join(DEFAULT_TRAINING)}.")
            out[key] = _params.check_spec(spec, f"{w}training.{key}")
        for o in _params.values_of(out["optimizer"]):
            if o not in OPTIMIZERS:
                raise SpaceError(f"{w}training.optimizer: {o!r} is not one of {', '.join(OPTIMIZERS)}.")
        return out

    # ------------------------------------------------------------------ hyperparameters
    def _declare_block(self, hp, prefix, block, spec):
        vals = {}
        for key, s in spec.items():
            if key == "quant" or key in block.per_layer:
                continue
            vals[key] = _params.declare(hp, f"{prefix}/{key}", s)
        for per, count in block.per_layer.items():
            counts = _params.values_of(spec[count])
            for i in range(max(counts)):
                active = [n for n in counts if n > i]
                with _scope(hp, f"{prefix}/{count}", active, _params.is_searched(spec[count]) and len(active) < len(counts)):
                    vals[f"{per}_{i}"] = _params.declare(hp, f"{prefix}/{per}_{i}", spec[per])
        if block.quantized:
            vals["quant"] = self._declare_quant(hp, prefix, spec["quant"])
        return vals

    @staticmethod
    def _declare_quant(hp, prefix, qspec, keys=QUANT_KEYS):
        q = {}
        for key in keys:
            if qspec[key] is not None:
                q[key] = _params.declare(hp, f"{prefix}/q/{_QSHORT[key]}", qspec[key])
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
            choice = f"{st['name']}/block"
            chosen = hp.Choice(choice, types) if len(types) > 1 else types[0]
            for t in types:
                with _scope(hp, choice, [t], len(types) > 1):
                    vals = self._declare_block(hp, f"{st['name']}/{t}", get_block(t), st["blocks"][t])
                if t == chosen:
                    cfg["stages"].append({"name": st["name"], "block": t, **vals})
        cfg["head"] = {"quant": self._declare_quant(hp, "head", self.head_quant, HEAD_QUANT_KEYS)}
        cfg["training"] = {k: _params.declare(hp, f"train/{k}", s) for k, s in self.training.items()}
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
        inputs = keras.Input(self.input_shape, name="inputs")
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
            x = keras.layers.Flatten(name="head_flatten")(x)
        hq = Quant(**self._quant_args(cfg["head"]["quant"]))
        n_out = self.num_classes if self.task == "classification" else self.n_outputs
        x = hq.dense(n_out, name="head_dense")(x)
        if self.task == "classification":
            x = keras.layers.Activation("softmax", name="head_softmax")(x)
        model = keras.Model(inputs, x, name=self.name)
        self.compile(model, cfg["training"])
        return model

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
        where = f"{self.source}: baselines.{name}"
        self._check_mapping(config, where)
        stage_names = [s["name"] for s in self.stages]
        unknown = set(config) - set(stage_names) - {"head", "training"}
        if unknown:
            raise SpaceError(f"{where}: unknown stages {sorted(unknown)}; the stages are {stage_names}.")
        values = {}
        for st in self.stages:
            sname, types = st["name"], list(st["blocks"])
            sc = dict(config.get(sname) or {"block": "skip" if "skip" in types else types[0]})
            btype = sc.pop("block", types[0] if len(types) == 1 else None)
            btype = "skip" if btype in SKIP_ALIASES else btype
            if btype not in types:
                raise SpaceError(f"{where}.{sname}.block: {btype!r} is not a choice of this stage ({types}).")
            if len(types) > 1:
                values[f"{sname}/block"] = btype
            block, spec, prefix = get_block(btype), st["blocks"][btype], f"{sname}/{btype}"
            for key, v in sc.items():
                kw = f"{where}.{sname}.{key}"
                if key == "quant":
                    self._check_mapping(v, kw)
                    for qk, qv in v.items():
                        if qk not in QUANT_KEYS or spec["quant"].get(qk) is None:
                            raise SpaceError(f"{kw}: unknown or fixed quant key {qk!r}; expected one of {QUANT_KEYS}.")
                        _params.check_value(spec["quant"][qk], qv, f"{kw}.{qk}")
                        values[f"{prefix}/q/{_QSHORT[qk]}"] = qv
                elif key in block.per_layer:
                    n = sc.get(block.per_layer[key], _params.values_of(spec[block.per_layer[key]])[0])
                    seq = v if isinstance(v, (list, tuple)) else [v] * n
                    if len(seq) != n:
                        raise SpaceError(f"{kw}: {len(seq)} values for {n} layers.")
                    for i, item in enumerate(seq):
                        _params.check_value(spec[key], item, f"{kw}[{i}]")
                        values[f"{prefix}/{key}_{i}"] = item
                elif key in spec:
                    _params.check_value(spec[key], v, kw)
                    values[f"{prefix}/{key}"] = v
                else:
                    raise SpaceError(f"{kw}: unknown parameter for block {btype!r}; known: {sorted(spec)}.")
        for key, v in (config.get("head") or {}).get("quant", {}).items():
            if key not in HEAD_QUANT_KEYS or self.head_quant.get(key) is None:
                raise SpaceError(f"{where}.head.quant: unknown quant key {key!r}.")
            _params.check_value(self.head_quant[key], v, f"{where}.head.quant.{key}")
            values[f"head/q/{_QSHORT[key]}"] = v
        for key, v in (config.get("training") or {}).items():
            if key not in self.training:
                raise SpaceError(f"{where}.training: unknown key {key!r}.")
            _params.check_value(self.training[key], v, f"{where}.training.{key}")
            values[f"train/{key}"] = v
        return self.complete_values(values)

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
            widths = [sc[k] for k in sc if k.split("_")[-1].isdigit() and isinstance(sc[k], int)]
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

