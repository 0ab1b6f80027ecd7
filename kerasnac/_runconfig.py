"""The one-file run configuration of ``kerasnac search CONFIG.yaml``.

Read with a ``yaml.SafeLoader`` only (``1e-3`` is a number, as in YAML 1.2); nothing in it is evaluated, imported or unpickled. Names
(spaces, data sources, objectives, callbacks) are looked up in kerasnac's registries. Relative
paths are relative to the config file. Every section except ``space`` and ``data`` is optional::

    space: jets_mlp                 # a shipped space, a .yaml path, {file: ..., num_classes: ...}
                                    # or an inline space mapping (the search-space YAML schema)
    data:
      source: jets                  # jets (Pythia sample or path:) | toy_jets | bragg_peaks
                                    #   | calorimeter_showers | openml_jets
      n: 4000                       #   | hls4ml_h5 | npz (x_train, y_train[, x_val, y_val])
      val_fraction: 0.2
    objectives: [val_accuracy, bops]          # or {name: my_metric, direction: min}
    constraints: ["lut <= 50000"]
    search: {max_trials: 30, population_size: 10, epochs: 5, batch_size: 256, seed: 0,
             directory: runs, project_name: jets,
             screening: {candidates: 8},            # default true; false = plain NSGA-II
             fidelity: {min_epochs: 1, eta: 3},     # or true; kn.SuccessiveHalving arguments
             strategy: evolution}                   # every other KerasNAC / KerasNAC.search option too
    local: {top_k: 3, hpo_trials: 4, bits: [[8, 3], [6, 2]], prune: {target_sparsity: 0.8}}
    callbacks: [{hls4ml: {part: xcvu13p-flga2577-2-e}}]
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
import os
from pathlib import Path

import numpy as np

from ._yamlfile import read_mapping
from .errors import ConfigError, KerasNACError

TOP_KEYS = ("space", "data", "objectives", "constraints", "search", "local", "callbacks")
#: KerasNAC arguments that have their own section (or are Python objects a YAML file cannot hold)
_NOT_SEARCH_KEYS = ("self", "space", "objectives", "constraints", "local_search", "post_search", "callbacks",
                    "fit_callbacks", "callbacks_on", "x", "y", "validation_data",
                    "validation_split")  # the data section holds the validation split (val_fraction)


def search_keys() -> dict:
    """The ``search:`` keys and their defaults, read from ``KerasNAC.__init__`` and ``KerasNAC.search``, so
    that every option of the class is an option of the file (no copied defaults)."""
    import inspect

    from .nac import KerasNAC

    out = {}
    for fn in (KerasNAC.__init__, KerasNAC.search):
        for name, p in inspect.signature(fn).parameters.items():
            if name in _NOT_SEARCH_KEYS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            out[name] = None if p.default is inspect.Parameter.empty else p.default
    return out


SPACE_FILE_KEYS = ("file", "input_shape", "num_classes", "n_outputs")
#: data sources: name -> (module attribute of kerasnac.datasets, what it needs)
DATA_SOURCES = {"jets": "jets", "toy_jets": "toy_jets_hlf", "bragg_peaks": "bragg_peaks", "calorimeter_showers": "calorimeter_showers",
                "openml_jets": "load_openml_jets", "hls4ml_h5": "load_hls4ml_h5", "npz": None}
_CALLBACK_MODULES = ("pruning", "export", "hls4ml_export")  # importing them registers their callbacks


@dataclasses.dataclass
class RunConfig:
    """A validated run configuration; :meth:`build` makes the data and the :class:`KerasNAC`."""

    path: Path
    raw: dict
    search: dict

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path) -> "RunConfig":
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"run config {str(path)!r} does not exist. Give the path of a YAML file "
                              "(see `kerasnac search --help` for its keys).")
        raw = read_mapping(path, ConfigError, TOP_KEYS, f"the keys {', '.join(TOP_KEYS)}")
        for key in ("space", "data"):
            if key not in raw:
                raise ConfigError(f"{path}: missing the required key {key!r}.")
        search = _mapping(raw.get("search"), f"{path}: search")
        defaults = search_keys()
        unknown = sorted(set(search) - set(defaults), key=str)
        if unknown:
            raise ConfigError(f"{path}: search: unknown keys {unknown}; allowed: {', '.join(defaults)}.")
        cfg = cls(path, raw, {**defaults, **search})
        cfg._check_types()
        cfg._check_data_path()
        return cfg

    def _check_data_path(self):
        """A missing ``data.path`` is named now, before the space, the tuner or any data are built."""
        spec = self.raw["data"]
        if not isinstance(spec, dict) or spec.get("path") is None:
            return
        path = self.resolve_path(spec["path"])
        if os.path.exists(path) or (any(ch in path for ch in "*?[") and glob.glob(path)):
            return
        raise ConfigError(f"{self.where('data')}.path: {str(spec['path'])!r} does not exist (looked for {path!r}; "
                          "relative paths are relative to the config file). Give the path of an existing data file.")

    def _check_types(self):
        s, w = self.search, f"{self.path}: search"
        for key in ("max_trials", "population_size", "epochs", "batch_size", "max_consecutive_failed_trials", "workers"):
            if key == "population_size" and s[key] is None:  # KerasNAC's own default (from max_trials)
                continue
            if isinstance(s[key], bool) or not isinstance(s[key], int):
                raise ConfigError(f"{w}.{key}: expected an integer, got {s[key]!r}.")
        for key in ("directory", "project_name"):
            if not isinstance(s[key], str) or not s[key]:
                raise ConfigError(f"{w}.{key}: expected a non-empty string, got {s[key]!r}.")
        if not isinstance(s["overwrite"], bool):
            raise ConfigError(f"{w}.overwrite: expected true or false, got {s['overwrite']!r}.")
        _mapping(s["cost_options"], f"{w}.cost_options")
        _mapping(s["gradient"], f"{w}.gradient")

    def _search_option(self, key: str, cls_name: str):
        """``search.<key>``: null/false (off) and true (defaults) go to KerasNAC as they are; a mapping
        holds the class's arguments."""
        import kerasnac

        value, cls = self.search[key], getattr(kerasnac, cls_name)
        if value is None or isinstance(value, bool):
            return value
        spec = _mapping(value, f"{self.path}: search.{key}")
        try:
            return cls(**spec)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{self.path}: search.{key}: {e} (give true, or a mapping such as "
                              f"{ {'candidates': 8} if key == 'screening' else {'min_epochs': 1, 'eta': 3} }).") from None

    def where(self, section: str) -> str:
        return f"{self.path}: {section}"

    def resolve_path(self, p) -> str:
        p = Path(str(p)).expanduser()
        return str(p if p.is_absolute() else (self.path.parent / p))

    # ------------------------------------------------------------------ pieces
    def space(self):
        from .space import SearchSpace

        spec = self.raw["space"]
        if isinstance(spec, str):
            return SearchSpace.from_yaml(self._space_ref(spec))
        spec = _mapping(spec, self.where("space"))
        if "file" in spec:
            unknown = sorted(set(spec) - set(SPACE_FILE_KEYS), key=str)
            if unknown:
                raise ConfigError(f"{self.where('space')}: unknown keys {unknown} next to 'file'; allowed: "
                                  f"{', '.join(SPACE_FILE_KEYS)}.")
            kw = {k: (tuple(v) if k == "input_shape" and isinstance(v, list) else v)
                  for k, v in spec.items() if k != "file"}
            return SearchSpace.from_yaml(self._space_ref(spec["file"]), **kw)
        from .space import YAML_KEYS

        unknown = sorted(set(spec) - set(YAML_KEYS), key=str)
        if unknown:
            raise ConfigError(f"{self.where('space')}: unknown keys {unknown}; an inline space has the keys "
                              f"{', '.join(YAML_KEYS)} (or give file: path.yaml).")
        return SearchSpace.from_dict(spec, source=self.where("space"))

    def _space_ref(self, ref: str) -> str:
        if ref.endswith((".yaml", ".yml")) or "/" in ref:
            return self.resolve_path(ref)
        return ref  # a shipped space name

    def data(self):
        """``((x_train, y_train), (x_val, y_val))`` numpy arrays."""
        from . import datasets

        spec = dict(_mapping(self.raw["data"], self.where("data")))
        w = self.where("data")
        source = spec.pop("source", None)
        if source not in DATA_SOURCES:
            raise ConfigError(f"{w}.source: {source!r} is not a data source; use one of {', '.join(DATA_SOURCES)}.")
        if "path" in spec:
            spec["path"] = self.resolve_path(spec["path"])
        if source == "npz":
            return self._npz(spec, w)
        fn = getattr(datasets, DATA_SOURCES[source])
        try:
            if source == "toy_jets":
                split = {k: spec.pop(k) for k in ("val_fraction", "test_fraction") if k in spec}
                x, y = fn(**spec)
                tr, va, _ = datasets.split_and_scale(x, y, seed=spec.get("seed", 0), **split)
                return tr, va
            if source in ("openml_jets", "hls4ml_h5"):
                if "path" not in spec:
                    raise ConfigError(f"{w}: source {source} needs path: (a local file).")
                target = spec.pop("path")
                tr, va, _ = fn([target] if source == "hls4ml_h5" else target, **spec)
                return tr, va
            tr, va, _ = fn(**spec)
            return tr, va
        except TypeError as e:
            raise ConfigError(f"{w}: {source} does not accept these arguments ({e}). Check the keys of data:.") from None

    def _npz(self, spec, w):
        unknown = sorted(set(spec) - {"path", "val_fraction"}, key=str)
        if unknown or "path" not in spec:
            raise ConfigError(f"{w}: source npz takes path: (and optional val_fraction:), got keys {sorted(spec)}.")
        try:
            with np.load(spec["path"], allow_pickle=False) as f:  # never unpickle user files
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise ConfigError(f"{w}.path: cannot read {spec['path']!r} as a numpy .npz file without pickles ({e}).") from None
        if not {"x_train", "y_train"} <= set(arrays):
            raise ConfigError(f"{w}.path: {spec['path']!r} must hold arrays x_train and y_train (and optionally "
                              f"x_val, y_val); it holds {sorted(arrays)}.")
        if "x_val" in arrays and "y_val" in arrays:
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_val"], arrays["y_val"])
        from . import _data

        x, y = arrays["x_train"], arrays["y_train"]
        return _data.split(x, y, spec.get("val_fraction", 0.2), int(self.search["seed"]))

    def objectives(self):
        from .objectives import Objective

        objs = self.raw.get("objectives", ["val_accuracy", "bops"])
        if isinstance(objs, (str, dict)):
            objs = [objs]
        if not isinstance(objs, list):
            raise ConfigError(f"{self.where('objectives')}: expected a list of names or {{name, direction}} mappings.")
        out = []
        for i, o in enumerate(objs):
            if isinstance(o, dict):
                unknown = sorted(set(o) - {"name", "direction"}, key=str)
                if unknown or "name" not in o:
                    raise ConfigError(f"{self.where('objectives')}[{i}]: expected {{name: ..., direction: min|max}}, "
                                      f"got {o!r}.")
                out.append(Objective(o["name"], o.get("direction")))
            elif isinstance(o, str):
                out.append(o)
            else:
                raise ConfigError(f"{self.where('objectives')}[{i}]: expected a name, got {o!r}.")
        return out

    def constraints(self):
        cons = self.raw.get("constraints") or []
        if isinstance(cons, str):
            cons = [cons]
        if not isinstance(cons, list) or not all(isinstance(c, str) for c in cons):
            raise ConfigError(f"{self.where('constraints')}: expected a list of strings like 'lut <= 50000'.")
        from .oracle import Constraint

        try:
            return [Constraint.parse(c) for c in cons]
        except ValueError as e:
            raise ConfigError(f"{self.where('constraints')}: {e}") from None

    def local(self):
        spec = self.raw.get("local")
        if spec is None or spec is False:
            return None
        from .callbacks.pruning import Pruning
        from .local import LocalSearch, TrainingSpace

        spec = dict(_mapping(spec, self.where("local")))
        fields = {f.name for f in dataclasses.fields(LocalSearch)}
        unknown = sorted(set(spec) - fields, key=str)
        if unknown:
            raise ConfigError(f"{self.where('local')}: unknown keys {unknown}; allowed: {', '.join(sorted(fields))}.")
        try:
            if spec.get("prune") is not None:
                spec["prune"] = Pruning(**_mapping(spec["prune"], self.where("local.prune")))
            if spec.get("training_space") is not None:
                ts = _mapping(spec["training_space"], self.where("local.training_space"))
                spec["training_space"] = TrainingSpace(**{k: tuple(v) if isinstance(v, list) else v for k, v in ts.items()})
            if "bits" in spec:
                spec["bits"] = [tuple(b) if isinstance(b, list) else b for b in spec["bits"]]
            return LocalSearch(**spec)
        except (TypeError, ValueError) as e:
            if isinstance(e, KerasNACError):
                raise
            raise ConfigError(f"{self.where('local')}: {e}") from None

    def callbacks(self):
        from .callbacks import available_callbacks, get_callback

        for mod in _CALLBACK_MODULES:
            try:
                importlib.import_module(f"kerasnac.callbacks.{mod}")
            except ImportError:  # an optional callback whose dependency is missing
                pass
        specs = self.raw.get("callbacks") or []
        if not isinstance(specs, list):
            raise ConfigError(f"{self.where('callbacks')}: expected a list such as [hls4ml, {{export: {{...}}}}].")
        out = []
        for i, spec in enumerate(specs):
            w = f"{self.where('callbacks')}[{i}]"
            if isinstance(spec, str):
                name, kwargs = spec, {}
            elif isinstance(spec, dict) and len(spec) == 1:
                name, kwargs = next(iter(spec.items()))
                kwargs = _mapping(kwargs, f"{w}.{name}")
            else:
                raise ConfigError(f"{w}: expected a callback name or {{name: {{arguments}}}}, got {spec!r}.")
            if name not in available_callbacks():
                raise ConfigError(f"{w}: unknown callback {name!r}; known: {', '.join(available_callbacks())}.")
            try:
                out.append(get_callback(name, **kwargs))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{w}.{name}: {e}") from None
        return out

    # ------------------------------------------------------------------ everything
    def build(self, **overrides):
        """Return ``(nac, fit_kwargs)``; ``overrides`` replace keys of the ``search`` section."""
        import inspect

        from .nac import KerasNAC

        s = {**self.search, **{k: v for k, v in overrides.items() if v is not None}}
        fit_keys = set(inspect.signature(KerasNAC.search).parameters) - set(_NOT_SEARCH_KEYS)
        options = {k: v for k, v in s.items() if k not in fit_keys}
        options.update(screening=self._search_option("screening", "Screening"),
                       fidelity=self._search_option("fidelity", "SuccessiveHalving"),
                       directory=self.resolve_path(s["directory"]))
        nac = KerasNAC(self.space(), self.objectives(), constraints=self.constraints(), local_search=self.local(),
                       post_search=self.callbacks(), **options)
        (x, y), validation = self.data()
        return nac, dict(x=x, y=y, validation_data=validation, **{k: s[k] for k in fit_keys})


def _mapping(obj, where) -> dict:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(obj).__name__} {obj!r}.")
    return obj


def run(path, **overrides):
    """Load ``path``, build the search and run it; returns the :class:`KerasNAC`."""
    nac, fit = RunConfig.load(path).build(**overrides)
    x, y = fit.pop("x"), fit.pop("y")
    return nac.search(x, y, **fit)
