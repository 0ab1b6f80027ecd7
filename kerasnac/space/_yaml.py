"""Loading search spaces from YAML files (a ``yaml.SafeLoader`` only; nothing is evaluated; ``1e-3`` is a number)."""

from __future__ import annotations

from pathlib import Path

from .._yamlfile import read_mapping
from ..errors import SpaceError

TOP_KEYS = ("name", "description", "task", "input_shape", "num_classes", "n_outputs", "quant",
            "defaults", "stages", "head", "training", "baselines")


def shipped_dirs() -> list[Path]:
    """Where shipped spaces live: inside the installed package, or the source checkout."""
    here = Path(__file__).resolve().parent.parent  # kerasnac/
    return [d for d in (here / "search_spaces", here.parent / "search_spaces") if d.is_dir()]


def shipped_spaces() -> list[str]:
    names = set()
    for d in shipped_dirs():
        names |= {p.stem for p in d.glob("*.yaml")}
    return sorted(names)


def resolve(name_or_path) -> Path:
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in str(name_or_path):
        if not p.is_file():
            raise SpaceError(f"search space file {str(p)!r} does not exist. Give an existing .yaml path "
                             f"or a shipped space name: {', '.join(shipped_spaces())}.")
        return p
    for d in shipped_dirs():
        for ext in (".yaml", ".yml"):
            if (d / f"{name_or_path}{ext}").is_file():
                return d / f"{name_or_path}{ext}"
    raise SpaceError(f"unknown search space {name_or_path!r}. Shipped spaces: {', '.join(shipped_spaces())}; "
                     "or give the path of a .yaml file.")


def load(name_or_path) -> tuple[dict, str]:
    """Return the parsed mapping of a YAML space and the file name used in error messages."""
    path = resolve(name_or_path)
    data = read_mapping(path, SpaceError, TOP_KEYS, "keys such as 'stages' and 'task'")
    if "stages" not in data:
        raise SpaceError(f"{path}: missing the required key 'stages' (a list of block choices).")
    return data, str(path)
