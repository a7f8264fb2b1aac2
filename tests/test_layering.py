"""The package's shape: layers with arrows pointing one way and no import cycle.

    com/    generic COM (types, HRESULTs, declarations, objects, proxies, backends): no MAPI word
    sync/   the MAPI background-sync protocol, on com/
    embed/  the Python half of embedding, on com/ and sync/
    tools/  the mapisync command, its demo provider, the pytest plugin, on the three above
            (the CLI names embedding's HRESULTs when it drives the shim)

Every import counts: module level, inside functions, and the package's own lazy names
(``mapisync_ctypes.__init__`` loads its public names on first use).
"""

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import mapisync_ctypes

PACKAGE = Path(mapisync_ctypes.__file__).resolve().parent
LAYERS = {"com": 0, "sync": 1, "embed": 2, "tools": 3}


def _modules() -> Dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str) -> Set[str]:
    """Every package module ``name`` imports, wherever the import statement is."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: Set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.add(sub if sub in MODULES else module)
    if name == "mapisync_ctypes":  # the lazy public names and submodules
        targets.update(f"mapisync_ctypes{home}" for home in mapisync_ctypes._HOME.values())
        targets.update(f"mapisync_ctypes.{sub}" for sub in mapisync_ctypes._SUBMODULES)
        targets.add("mapisync_ctypes.com.backends")  # BACKEND
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.get(parts[1], -1) if len(parts) > 1 else -1


def test_no_import_cycle():
    cycles: List[List[str]] = []
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_layers_import_only_downwards():
    wrong = []
    for name, targets in GRAPH.items():
        layer = _layer(name)
        if layer < 0:
            continue  # the package root, its aliases and _locate
        for target in targets:
            target_layer = _layer(target)
            if target_layer >= layer and target.split(".")[1] != name.split(".")[1]:
                wrong.append(f"{name} -> {target}")
            if target_layer < 0 and target not in ("mapisync_ctypes._locate", "mapisync_ctypes._version"):
                wrong.append(f"{name} -> {target} (a layer imports the package root or an alias)")
    assert not wrong, wrong


def test_the_com_layer_knows_no_mapi_word():
    mapi = re.compile(r"MAPI_|MAPISIB|IMAPISync|SyncProvider|SYNC_|SyncFlags|run_sync")
    found = []
    for name, path in MODULES.items():
        if not name.startswith("mapisync_ctypes.com"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            identifier = (getattr(node, "id", None) or getattr(node, "attr", None)
                          or (node.name if isinstance(node, ast.alias) else None))
            if isinstance(identifier, str) and mapi.search(identifier):
                found.append(f"{name}: {identifier}")
    assert not found, found


def test_each_module_reads_in_one_sitting():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long
