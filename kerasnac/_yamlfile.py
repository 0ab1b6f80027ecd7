"""Reading a YAML mapping from a file safely, with errors that name the file, line and fix."""

from __future__ import annotations

import re
from pathlib import Path

import yaml


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3``, ``1.2e4``, ``1E5`` as numbers, as YAML 1.2 does.

    PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent, so ``learning_rate:
    1e-3`` would arrive as the string ``'1e-3'``; physicists write numbers that way. Only this
    subclass gets the extra resolver (the module-wide ``SafeLoader`` is left as it is)."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def safe_load(text: str):
    """``yaml.safe_load`` with YAML 1.2 exponent floats (:class:`_Loader`); nothing is constructed but
    plain data."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass


def read_mapping(path: Path, error_cls, top_keys, what: str) -> dict:
    """``yaml.safe_load`` of ``path``; a mapping whose keys are all in ``top_keys``, or ``error_cls``."""
    try:
        data = safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error_cls(f"{path}: not valid YAML{at}: {getattr(e, 'problem', e)}. Fix the syntax there.") from None
    except UnicodeDecodeError:
        raise error_cls(f"{path}: not a text (UTF-8) file.") from None
    _check_duplicate_keys(path, Path(path).read_text(), error_cls)
    if not isinstance(data, dict):
        raise error_cls(f"{path}: expected a mapping with {what} at the top level, got {type(data).__name__}.")
    unknown = sorted(set(data) - set(top_keys), key=str)
    if unknown:
        raise error_cls(f"{path}: unknown top-level keys {unknown}; allowed: {', '.join(top_keys)}.")
    return data


def _check_duplicate_keys(path, text: str, error_cls) -> None:
    """``safe_load`` silently keeps the last of two equal keys; name the key and both lines instead.

    Works on the composed node tree (``yaml.compose`` with the safe loader: nothing is constructed).
    """
    seen_nodes = set()
    stack = [yaml.compose(text, Loader=_Loader)]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, value_node in node.value:
                stack.append(value_node)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                if key in first:
                    raise error_cls(f"{path}: duplicate key {key_node.value!r} at line {key_node.start_mark.line + 1} "
                                    f"(first at line {first[key] + 1}); YAML would silently keep only the last value. "
                                    "Remove or rename one of them.")
                first[key] = key_node.start_mark.line
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
