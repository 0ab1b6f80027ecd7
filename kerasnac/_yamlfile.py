"""Reading a YAML mapping from a file safely, with errors that name the file, line and fix."""

from __future__ import annotations

from pathlib import Path

import yaml


def read_mapping(path: Path, error_cls, top_keys, what: str) -> dict:
    """``yaml.safe_load`` of ``path``; a mapping whose keys are all in ``top_keys``, or ``error_cls``."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error_cls(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}. Fix the syntax there.") from None
    except UnicodeDecodeError:
        raise error_cls(f"{path}: not a text (UTF-8) file.") from None
    if not isinstance(data, dict):
        raise error_cls(f"{path}: expected a mapping with {what} at the top level, got {type(data).__name__}.")
    unknown = sorted(set(data) - set(top_keys), key=str)
    if unknown:
        raise error_cls(f"{path}: unknown top-level keys {unknown}; allowed: {', '.join(top_keys)}.")
    return data
