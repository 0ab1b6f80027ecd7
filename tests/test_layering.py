"""The package's dependencies point one way (issue: one-way architecture), checked from the source.

Every ``import`` of every module (function-level imports included) is read with ``ast``; a module
may import only from its own layer or the layers below, and never a private name of a sibling
package (``kerasnac.local._stage`` from ``kerasnac.callbacks``, say).
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kerasnac"

#: bottom to top; a name is the first component under kerasnac (a module or a subpackage)
LAYERS = [
    ("binding, errors, I/O", {"_keras", "_importhook", "errors", "_io", "_rundir", "_registry", "_yamlfile",
                              "_deprecation", "distributed", "_shapes_only"}),
    ("Pareto", {"_pareto"}),
    # an objective is a registered cost or a metric, so objectives (and the results table, which
    # formats them) sit with the cost registry rather than below it
    ("space, costs, objectives, data", {"space", "costs", "objectives", "results", "_data", "_compile", "datasets", "hardware"}),
    ("search strategies, local stage, callbacks", {"oracle", "_tuner", "screening", "fidelity", "gradient", "local",
                                                   "callbacks", "evolution", "pareto_search"}),
    ("facade and CLI", {"nac", "_options", "_reports", "_gradient_run", "_runconfig", "_worker", "cli", "__main__", "demo", "studies", "__init__"}),
]
LAYER_OF = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, parts


def _imports(path, parts):
    """``(line, kerasnac-relative dotted target, imported names)`` of every kerasnac import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = list(parts[:-1]) if parts[-1] != "__init__" else list(parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "kerasnac":
                target = node.module.split(".")[1:]
            else:
                continue
            yield node.lineno, target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "kerasnac":
                    yield node.lineno, a.name.split(".")[1:], []


def _violations():
    out = []
    for path, parts in _modules():
        top = parts[0]
        if top not in LAYER_OF:
            out.append(f"{path.relative_to(ROOT)}: module {top!r} has no layer in tests/test_layering.py")
            continue
        for line, target, names in _imports(path, parts):
            where = f"{path.relative_to(ROOT)}:{line}"
            if not target:  # from . import x, y (the root package): each name is a module of its own
                targets = [[n] for n in names]
            else:
                targets = [target + [n] for n in names] if names else [target]
            for t in targets:
                dep = t[0]
                if dep == top or dep not in LAYER_OF:
                    continue
                if LAYER_OF[dep] > LAYER_OF[top]:
                    out.append(f"{where}: {top} ({LAYERS[LAYER_OF[top]][0]}) imports {'.'.join(t)} from the "
                               f"higher layer {LAYERS[LAYER_OF[dep]][0]!r}")
                private = [p for p in t[1:] if p.startswith("_") and p != "__init__"]
                if (ROOT / dep).is_dir() and private:
                    out.append(f"{where}: {top} imports the private name {'.'.join(t)} of the sibling package {dep}")
    return out


def test_every_module_has_a_layer_and_imports_point_down():
    problems = _violations()
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    """The check is not vacuous: an upward import and a private sibling import are reported."""
    pkg = tmp_path / "kerasnac"
    (pkg / "local").mkdir(parents=True)
    (pkg / "_io.py").write_text("from .nac import KerasNAC\n")
    (pkg / "local" / "__init__.py").write_text("")
    (pkg / "callbacks").mkdir()
    (pkg / "callbacks" / "x.py").write_text("def f():\n    from ..local._stage import _row\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", pkg)
    problems = _violations()
    assert any("_io.py:1" in p and "higher layer" in p for p in problems), problems
    assert any("private name local._stage" in p for p in problems), problems


@pytest.mark.parametrize("layer", [n for n, _ in LAYERS])
def test_layers_are_disjoint(layer):
    names = dict(LAYERS)[layer]
    others = set().union(*(s for n, s in LAYERS if n != layer))
    assert not names & others


def test_readme_layout_is_the_package_tree():
    import importlib.util

    path = ROOT.parent / "scripts" / "layout.py"
    spec = importlib.util.spec_from_file_location("layout", path)
    layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layout)
    shown = layout.readme_block((ROOT.parent / "README.md").read_text())
    assert shown is not None, "README.md lost its layout markers"
    assert shown == layout.tree(), "README's Layout is stale: run python scripts/layout.py --write"


def test_every_module_says_what_it_is():
    missing = [str(p.relative_to(ROOT)) for p, _ in _modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, f"modules without a docstring: {missing}"
