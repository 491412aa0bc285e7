"""The core and the store never import a chat platform's library."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

FORBIDDEN = ("slack_bolt", "slack_sdk", "discord")
ROOT = Path(bot.__file__).parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_store_and_render_text_are_platform_neutral():
    paths = [
        *ROOT.joinpath("core").rglob("*.py"),
        *ROOT.joinpath("store").rglob("*.py"),
        ROOT / "render" / "text.py",
    ]
    assert len(paths) > 8
    for path in paths:
        bad = {n for n in imports(path) if n.split(".")[0] in FORBIDDEN}
        assert not bad, f"{path} imports {bad}"
