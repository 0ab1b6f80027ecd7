"""Folders kerasnac writes: project names, the ownership marker, safe removal, atomic writes.

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


def claim(path, kind: str) -> str:
    """Create ``path`` if needed and mark it as kerasnac's.

    Refuses (:class:`ConfigError`) a folder that already exists, is not empty and is not ours,
    so kerasnac never writes its files among a user's.
    """
    path = os.fspath(path)
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


def atomic_write(path, write) -> None:
    """``write(tmp)`` into a temporary file beside ``path`` (same suffix, so the same format for
    Keras savers), then rename it onto ``path``: a kill never leaves a half-written file."""
    path = os.fspath(path)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=f".tmp_{base}_", suffix=ext)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result should look like any saved file
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a half-written file."""
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, default=str))


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
