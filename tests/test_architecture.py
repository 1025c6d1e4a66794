"""The package graph: imports point one way, cli -> serve (the MCP server) -> macro, report (the
run report) -> agent -> desktop / vision -> the top level (plan, config, errors, models, ...).
Lazy imports inside functions count too; imports for type checking only do not. Nothing below
cli imports Typer or a console."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tracer_cli"
LAYERS = {"cli": 6, "serve": 5, "bench": 5, "report": 4, "macro": 4, "batch": 4, "agent": 3,
          "desktop": 2, "vision": 2, "": 1}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def area(module: str) -> str:
    """The sub-package a module belongs to ("" for the top level)."""
    parts = module.split(".")
    if parts == ["tracer_cli", "__main__"]:
        return "cli"  # the entry point runs the command
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def runtime_imports(path: Path) -> set[str]:
    """Every tracer_cli module imported by ``path``, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tracer_cli"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if is_module(f"{node.module}.{a.name}"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tracer_cli"))
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): runtime_imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_sits_in_a_layer() -> None:
    for module in graph():
        assert area(module) in LAYERS, module


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, imports in graph().items():
        for target in imports:
            here, there = area(module), area(target)
            if here == there:
                continue
            if LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports running up or across the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_between_modules() -> None:
    edges = {m: {t for t in ts if t != m} for m, ts in graph().items()}
    seen: dict[str, int] = {}  # 1 on the path, 2 done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if seen.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for start in sorted(edges):
        if start not in seen:
            visit(start, [start])
    # a package's __init__ may import its own modules (a registry finds them): not a cycle
    cycles = [c for c in cycles if not all(part.startswith(c.split(" -> ")[0]) for part in c.split(" -> "))]
    assert cycles == [], "\n".join(cycles)


def test_nothing_below_the_cli_imports_typer_or_prints_to_a_console() -> None:
    for path in PACKAGE.rglob("*.py"):
        if area(module_name(path)) == "cli":
            continue
        text = path.read_text(encoding="utf-8")
        assert "import typer" not in text and "rich.console" not in text, path


DESKTOP_ONLY = ("Xlib", "pynput", "mss", "pyautogui", "pywayland", "jeepney")
SESSION_VARIABLES = ("DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "SWAYSOCK",
                     "DBUS_SESSION_BUS_ADDRESS")


def test_only_desktop_knows_the_desktop() -> None:
    """The rest of tracer asks the platform for a run's hands: nothing outside desktop/ imports
    a display library or reads the session's variables."""
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if area(module_name(path)) == "desktop":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in DESKTOP_ONLY:
                    wrong.append(f"{module_name(path)} imports {name}")
            if isinstance(node, ast.Constant) and node.value in SESSION_VARIABLES:
                wrong.append(f"{module_name(path)} names {node.value}")
    assert wrong == [], "\n".join(sorted(wrong))
