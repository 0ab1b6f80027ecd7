"""Atomic file writes: the one helper every writer of run state, results and data files uses.

A file is written into a temporary file beside its target and renamed onto it (``os.replace`` is
atomic on POSIX), so a killed process never leaves half a file and a reader sees the old or the new
version, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile


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


def write_csv_atomic(df, path) -> None:
    """A pandas DataFrame as CSV (no index)."""
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            df.to_csv(f, index=False)

    atomic_write(path, write)


def save_npz_atomic(path, compress: bool = True, **arrays) -> None:
    """``numpy.savez_compressed`` (or ``numpy.savez`` with ``compress=False``, for scratch files read back at
    once); ``path`` should end in ``.npz``."""
    import numpy as np

    save = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda tmp: save(tmp, **arrays))
