"""The layout the README describes holds: no import cycle between the gateway's packages (and top-level
modules), and the channel adapters don't depend on the gateway."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _unit(module: str) -> str | None:
    """The package (``gateway.messages``) or top-level module (``gateway.app``) a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("gateway", "channels") and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    """Every module an import in the file names, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph(top: str) -> dict[str, set[str]]:
    units = {_unit(".".join(path.relative_to(ROOT).with_suffix("").parts)) for path in (ROOT / top).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in (ROOT / top).rglob("*.py"):
        source = _unit(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if source is None:
            continue
        for name in _imports(path):
            target = _unit(name)
            if target in units and target != source:
                graph.setdefault(source, set()).add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle_between_the_gateways_packages() -> None:
    graph = _graph("gateway")
    assert "gateway.store" in graph and "gateway.messages" in graph  # the graph is the real one
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_infrastructure_and_the_store_do_not_depend_on_the_domain_above_them() -> None:
    graph = _graph("gateway")
    above = {"gateway.messages", "gateway.webhooks", "gateway.tenants", "gateway.api", "gateway.app", "gateway.cli"}
    assert graph.get("gateway.lib", set()) & (above | {"gateway.store"}) == set()
    assert graph.get("gateway.store", set()) & above == set()


def test_the_channels_do_not_import_the_gateway() -> None:
    for path in (ROOT / "channels").rglob("*.py"):
        assert not any(name.split(".")[0] == "gateway" for name in _imports(path)), path


def test_wire_is_shared_below_the_gateway_and_the_channels() -> None:
    """wire/ (field errors, request shapes, the HTTP transport) is what both sides use: it imports neither."""
    for path in (ROOT / "wire").rglob("*.py"):
        assert not any(name.split(".")[0] in ("gateway", "channels") for name in _imports(path)), path
