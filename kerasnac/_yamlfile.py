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
    stack = [yaml.compose(text, Loader=yaml.SafeLoader)]
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
