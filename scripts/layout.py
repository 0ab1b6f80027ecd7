#!/usr/bin/env python
"""Print the package tree, one line per module with the first line of its docstring, or write it into
the README's Layout section (between the layout markers): `python scripts/layout.py --write`.

tests/test_layering.py checks that the README shows exactly this tree, so the two never disagree.
"""

import ast
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
START, END = "<!-- layout:start (python scripts/layout.py --write) -->", "<!-- layout:end -->"


def _summary(path: pathlib.Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ")
    line = re.sub(r"``([^`]+)``", r"\1", re.sub(r":\w+:`~?([^`]+)`", r"\1", line))
    return (line[:95] + "…") if len(line) > 96 else line


def tree(root: pathlib.Path = REPO / "kerasnac") -> str:
    lines = ["kerasnac/"]

    def walk(folder: pathlib.Path, depth: int):
        entries = sorted(p for p in folder.iterdir() if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
        for p in sorted(entries, key=lambda p: (p.is_dir(), p.name)):
            pad = "  " * depth
            if p.is_dir():
                lines.append(f"{pad}{p.name}/")
                walk(p, depth + 1)
            else:
                lines.append(f"{pad}{p.name:<{28 - len(pad)}} {_summary(p)}".rstrip())

    walk(root, 1)
    return "\n".join(lines)


def readme_block(text: str) -> str | None:
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip().removeprefix("```").removesuffix("```").strip()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    t = tree()
    if "--write" in argv:
        readme = REPO / "README.md"
        text = readme.read_text()
        if readme_block(text) is None:
            print("README.md has no layout markers", file=sys.stderr)
            return 1
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        readme.write_text(f"{before}{START}\n```\n{t}\n```\n{END}{after}")
        print("README.md: Layout section rewritten")
    else:
        print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
