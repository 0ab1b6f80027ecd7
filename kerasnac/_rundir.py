"""Run folders: project names, the ownership marker, safe removal, one search's layout and resume checks.

Every folder kerasnac creates for a search, a local stage or an hls4ml project gets a marker
file (:data:`MARKER`). kerasnac removes or overwrites a folder only when it is empty or carries
that marker, and only when it lies inside the folder the user named, so a mistyped
``project_name`` or ``output_dir`` can never delete a user's files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

from ._io import atomic_write, atomic_write_json, atomic_write_text  # noqa: F401  (re-exported)
from .errors import ConfigError

MARKER = ".kerasnac"
# folders made by kerasnac versions before the marker existed: a search holds both files
_LEGACY_SEARCH = ("kerasnac.json", "oracle.json")


def check_project_name(name, what: str = "project_name") -> str:
    """A project name is one plain folder name: not empty, not ``.``/``..``, no path separator."""
    if not isinstance(name, str):
        raise ConfigError(f"{what} must be a string (one folder name), got {type(name).__name__}.")
    bad = (not name.strip() or name in (".", "..") or "/" in name or "\\" in name
           or (os.sep in name) or (os.altsep is not None and os.altsep in name) or "\0" in name)
    if bad:
        raise ConfigError(f"{what}={name!r} is not a plain folder name. Give one name such as 'jets_search' "
                          "(no empty name, no '.' or '..', no path separator); put the parent folder in "
                          "directory= instead.")
    return name


def is_ours(path) -> bool:
    """True when ``path`` is a folder kerasnac made (it holds the marker, or a pre-marker search)."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, MARKER)):
        return True
    return all(os.path.isfile(os.path.join(path, f)) for f in _LEGACY_SEARCH)


def _listing(path, n: int = 5) -> str:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return "?"
    shown = ", ".join(names[:n]) + (f", ... ({len(names)} entries)" if len(names) > n else "")
    return shown or "nothing"


def _inside(path, root) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path != root and os.path.commonpath([path, root]) == root


# the temporary file of a marker being written (``atomic_write``'s name for it), renamed onto MARKER at once
_MARKER_TMP = f".tmp_{MARKER}_"
MARKER_WAIT = 5.0  # seconds claim() waits for another process's marker write to be renamed into place


def _marker_in_flight(path) -> bool:
    """True when ``path`` holds nothing but another process's marker write, not yet renamed."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(names) and all(n.startswith(_MARKER_TMP) for n in names)


def claim(path, kind: str) -> str:
    """Create ``path`` if needed and mark it as kerasnac's.

    Refuses (:class:`ConfigError`) a folder that already exists, is not empty and is not ours,
    so kerasnac never writes its files among a user's. When processes of one search (a chief and its
    workers) claim the folder at the same moment, one may see only the other's marker being written:
    it waits up to :data:`MARKER_WAIT` seconds for that marker, then checks the folder as usual.
    """
    path = os.fspath(path)
    deadline = time.monotonic() + MARKER_WAIT
    while os.path.isdir(path) and _marker_in_flight(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    if os.path.isdir(path) and os.listdir(path) and not is_ours(path):
        raise ConfigError(f"{path} exists and holds files kerasnac did not make ({_listing(path)}). kerasnac "
                          "writes only into an empty folder or one it made: choose another name, or move "
                          "those files away.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{path} exists and is a file, not a folder; choose another name.")
    os.makedirs(path, exist_ok=True)
    marker = os.path.join(path, MARKER)
    if not os.path.isfile(marker):
        atomic_write_text(marker, json.dumps({"kind": kind, "created": time.time()}) + "\n")
    return path


def remove(path, root) -> bool:
    """Delete the folder ``path`` if it is kerasnac's (or empty) and lies inside ``root``.

    Returns False when there was nothing to delete. Anything else raises :class:`ConfigError`
    naming the folder and what is in it; nothing is deleted then.
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        return False
    if not _inside(path, root):
        raise ConfigError(f"refusing to delete {path}: it is not inside {root}, the folder you named.")
    if os.path.islink(path) or not os.path.isdir(path):
        raise ConfigError(f"refusing to delete {path}: it is not a folder kerasnac made (a file or a link).")
    if os.listdir(path) and not is_ours(path):
        raise ConfigError(f"refusing to delete {path}: it holds files kerasnac did not make ({_listing(path)}) "
                          f"and no {MARKER} marker. Delete it yourself if you mean to, or choose another name.")
    shutil.rmtree(path)
    return True


# ---------------------------------------------------------------------------------- comparability
def data_digest(*arrays) -> str:
    """A short hash of arrays (dtype, shape and bytes); for a ``tf.data.Dataset``, of its element
    spec and cardinality only (its content is not read)."""
    import hashlib

    import numpy as np

    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        if a is None:
            h.update(b"none")
        elif hasattr(a, "element_spec"):
            h.update(repr(a.element_spec).encode())
            try:
                h.update(str(int(a.cardinality())).encode())
            except Exception:  # noqa: BLE001 - a dataset without a known cardinality
                h.update(b"?")
        else:
            a = np.ascontiguousarray(np.asarray(a))
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def fingerprint(x, y, validation_data, validation_split, epochs, batch_size, *, fidelity=None, screening=None,
                cost_options=None, output_bias=None) -> dict:
    """What makes two trials comparable: the same training budget, data, fidelity/screening settings,
    cost model and the head's initial bias (JSON-safe). Per-trial Keras callbacks are left out: a
    logger or a timer must not block a resume. ``output_bias`` is recorded only when set
    (``output_bias="mean"``): runs with heads started at zero keep the fingerprint of runs made
    before the option existed."""
    val = tuple(validation_data) if isinstance(validation_data, (tuple, list)) else (validation_data,)
    return json.loads(json.dumps({
        "epochs": epochs, "batch_size": batch_size,
        "validation_split": None if validation_data is not None else validation_split,
        "training data": data_digest(x, y),
        "validation data": data_digest(*val) if validation_data is not None else None,
        "fidelity": _options_record(fidelity) if fidelity is not None else None,
        "screening": _options_record(screening) if screening else None,
        "cost_options": cost_options,
        **({"output_bias": output_bias} if output_bias is not None else {}),
    }, default=str))


def _options_record(options) -> dict:
    """A dataclass of search options as a fingerprint entry, without the fields it lists in
    ``FINGERPRINT_OPTIONAL`` while they hold their listed value (fields added later)."""
    from dataclasses import asdict

    record = asdict(options)
    for name, value in getattr(options, "FINGERPRINT_OPTIONAL", {}).items():
        if name in record and record[name] == value:
            del record[name]
    return record


def fingerprint_changes(old: dict, new: dict) -> list[str]:
    """``["epochs: 1 -> 4", ...]``: the entries of two run fingerprints that differ."""
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key.endswith("data"):
                out.append(f"{key} (a different hash: other samples, shapes or values)")
            else:
                out.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return out


def check_writable(directory) -> None:
    """Create ``directory`` if needed and check that a file can be written in it (ConfigError otherwise)."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".kerasnac_write_test"):
            pass
    except OSError as e:
        raise ConfigError(f"directory {directory!r} is not writable ({e.strerror}). Pass directory= a folder you "
                          "can write to.") from None


# ---------------------------------------------------------------------------------- one search's folder
class RunDir:
    """The layout of one search's folder ``<directory>/<project_name>`` and its ``kerasnac.json``.

    Everything that reads or writes a run (the facade, the CLI's ``report``/``export``, the tuner's
    trial folders) takes its paths from here, and the resume checks live here too.
    """

    META, TRIALS, FRONT, FINAL, FINAL_DIR, WORKERS = ("kerasnac.json", "trials.csv", "pareto_front.csv", "final.csv",
                                                      "final", "workers")

    def __init__(self, path):
        self.path = os.fspath(path)

    def __fspath__(self):
        return self.path

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def meta_path(self) -> str:
        return self.file(self.META)

    def trial_dir(self, trial_id) -> str:
        return self.file(f"trial_{trial_id}")

    def worker_log(self, tuner_id: str) -> str:
        return os.path.join(self.path, self.WORKERS, f"{tuner_id}.jsonl")

    @classmethod
    def is_run(cls, path) -> bool:
        return os.path.isfile(os.path.join(os.fspath(path), cls.META))

    def read_meta(self) -> dict | None:
        if not os.path.isfile(self.meta_path):
            return None
        with open(self.meta_path) as f:
            return json.load(f)

    def write_meta(self, meta: dict) -> None:
        os.makedirs(self.path, exist_ok=True)
        atomic_write_json(self.meta_path, meta)

    def check_resume(self, new: dict) -> dict | None:
        """The stored ``kerasnac.json``, after checking that a search with the settings ``new`` may
        continue it (same objectives, space, population and seed); ``None`` for a new search."""
        old = self.read_meta()
        if old is None:
            return None
        new = json.loads(json.dumps(new, default=str))
        checks = (("objectives", "objectives"), ("hyperparameters", "search space"),
                  ("space", "search space"), ("population_size", "population_size"), ("seed", "seed"))
        for key, what in checks:
            if key in old and old.get(key) != new.get(key):
                if key == "space":
                    diff = sorted(k for k in set(old[key]) | set(new[key]) if old[key].get(k) != new[key].get(k))
                    shown = f"its entries {diff} differ"
                else:
                    shown = f"{old.get(key)} vs {new.get(key)}"
                raise ConfigError(
                    f"{self.path} holds a search with different {what} ({shown}). Resuming would mix "
                    "incomparable trials: resume with the same settings, use another project_name, or pass "
                    "overwrite=True to start over."
                )
        return old

    def check_fingerprint(self, old: dict | None, new: dict, n_trials: int) -> None:
        """Refuse to add trials to ``n_trials`` made with another training budget, data or cost model."""
        if old is not None and n_trials and old != new:
            changes = "; ".join(fingerprint_changes(old, new))
            raise ConfigError(
                f"{self.path} holds {n_trials} trials made with other settings ({changes}). Their results "
                "cannot be compared with new trials: rerun with the settings of that search, give another "
                "project_name= to start a new search, or pass overwrite=True to replace this one.")
