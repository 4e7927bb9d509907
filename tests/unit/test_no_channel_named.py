"""The gateway names no channel: it knows the channels only through the registry, so a sixth channel is its
own package and entry point (tests/integration/test_sixth_channel.py). Docstrings and comments may name
them (they explain); code, identifiers and strings may not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from channels.registry import channel_names

NAMES = re.compile(r"\b(?:sms|whats_?app|viber|telegram|gbm)\b", re.I)


def named_in_code(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = node.name
        elif isinstance(node, ast.arg):
            text = node.arg
        else:
            continue
        found += [f"{path}:{node.lineno}: {text!r}" for _ in NAMES.finditer(text.replace("_", " "))]
    return found


def test_the_names_are_the_registered_channels() -> None:
    assert {name.lower() for name in channel_names()} >= {"sms", "whatsapp", "viber", "telegram", "gbm"}


def test_no_channel_is_named_in_the_gateways_code() -> None:
    root = Path(__file__).parents[2] / "gateway"
    found = [hit for path in sorted(root.rglob("*.py")) for hit in named_in_code(path)]
    assert found == []


def test_the_check_sees_a_name_in_code(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text('"""Docstrings may say sms."""\nkey = "whatsApp"\nviber_rate = 1\n')
    assert [hit.split(": ", 1)[1] for hit in named_in_code(source)] == ["'whatsApp'", "'viber_rate'"]
