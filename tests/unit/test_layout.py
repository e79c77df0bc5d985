"""The package's shape: no import cycles (function-level imports included), dependencies
pointing one way between the layers, and method names only in ``espnet_peft/methods/``."""

import ast
import re
from pathlib import Path

import pytest

import espnet_peft
from espnet_peft.methods import catalog
from helpers.matrix import METHOD_CONFIGS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "espnet_peft"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(name: str):
    """Package modules ``name`` imports anywhere in its file (a ``from X import y`` counts
    as X.y where that is a module, else X)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):  # a package's own __init__ is no edge
                found.add(t)
    return found


GRAPH = {m: imported_modules(m) for m in MODULES}


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


# What each layer may import besides itself (entry points -> integration/results/recipe ->
# methods -> core/ops). The package root only wires the lazy API and import hooks.
ALLOWED = {
    "core": {"ops"},
    "ops": {"core"},
    "methods": {"core", "ops"},
    "checkpoint": {"core"},
    "models": set(),
    "convert": {"core"},
    "data": set(),
    "results": {"core", "methods"},
    "recipe": {"core", "methods", "data", "results"},
    "integration": {"core", "ops", "methods", "checkpoint", "models"},
    "bin": {"core", "ops", "methods", "checkpoint", "integration", "convert", "results", "recipe", "data"},
}


def test_layers_depend_one_way():
    wrong = []
    for module, deps in GRAPH.items():
        own = layer(module)
        if own in ALLOWED:
            wrong += [f"{module} -> {d}" for d in sorted(deps) if layer(d) not in ALLOWED[own] | {own, ""}]
    assert wrong == []


def string_literals(path: Path):
    """(line, text) of every string constant that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


# ESPnet's own name for its built-in (loralib) LoRA, which ours replaces in its adapter table.
ESPNET_NAMES = {("espnet_peft/integration/adapters.py", "lora")}


def test_method_names_appear_only_in_methods():
    names = set(catalog.method_names())
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel.startswith("espnet_peft/methods/"):
            continue
        hits += [f"{rel}:{line}: {text!r}" for line, text in string_literals(path)
                 if text in names and (rel, text) not in ESPNET_NAMES]
    stage_script = ROOT / "egs2/TEMPLATE/peft1/peft.sh"
    for n, line in enumerate(stage_script.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        hits += [f"peft.sh:{n}: {w}" for w in re.findall(r"[A-Za-z0-9_]+", code) if w in names]
    assert hits == []


def test_catalog_and_registry_and_matrix_name_the_same_methods():
    assert catalog.method_names() == list(espnet_peft.METHODS)
    assert sorted(METHOD_CONFIGS) == sorted(espnet_peft.METHODS)
    for name, card in catalog.cards().items():
        if name == catalog.ZERO_SHOT:
            continue
        fields = {f.name for f in __import__("dataclasses").fields(espnet_peft.get_method(name).config_cls)}
        assert set(card.hyperparameters) <= fields, name
        if card.benchmark is not None:
            espnet_peft.get_method(name).config_cls(**card.benchmark).validate()


@pytest.mark.parametrize("module", ["espnet_peft", "espnet_peft.methods.catalog", "espnet_peft.results.writers",
                                    "espnet_peft.recipe.__main__"])
def test_light_modules_import_without_torch(module):
    import subprocess
    import sys

    code = f"import sys, importlib; importlib.import_module({module!r}); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
