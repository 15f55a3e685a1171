"""Architecture rules that keep the add-on installable and the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BLENDER_MODULES = {"bpy", "mathutils", "bmesh", "bpy_extras", "addon_utils", "gpu", "blf"}


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif node.level > 0 and node.module:
                names.add("." * node.level + node.module.split(".")[0])
    return names


CORE_FILES = sorted((REPO_ROOT / "core").rglob("*.py"))
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def _core_import_violations(path: Path) -> list[str]:
    """What a core file imports that core may not: Blender modules (``import``, ``from``, and
    ``importlib.import_module`` / ``__import__`` calls), relative imports that climb out of ``core``, and
    dynamic imports whose module name is not a string literal (they cannot be checked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    depth = len(path.relative_to(REPO_ROOT).parts) - 1  # core/x.py: 1, core/geometry/x.py: 2
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in BLENDER_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in BLENDER_MODULES:
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom) and node.level > depth - 1 + 1:
            found.append(f"line {node.lineno}: from {'.' * node.level}{node.module or ''} leaves core")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in DYNAMIC_IMPORTS:
                continue
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                found.append(f"line {node.lineno}: {name}(<not a literal>) cannot be checked")
            elif arg.value.split(".")[0] in BLENDER_MODULES or arg.value.startswith("."):
                found.append(f"line {node.lineno}: {name}({arg.value!r})")
    return found


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_core_never_imports_blender(path: Path) -> None:
    forbidden = _core_import_violations(path)
    assert not forbidden, f"{path}: {forbidden}: core/ must stay usable without Blender"


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import bpy", True),
        ("import mathutils.geometry as g", True),
        ("from bpy.types import Operator", True),
        # the probe is core/geometry/x.py: three dots climb to the add-on root, two to core
        ("from ...operators import job", True),
        ("from ... import panels", True),
        ("from ..errors import ConfigError", False),
        ("import importlib\nimportlib.import_module('bpy')", True),
        ("__import__('mathutils')", True),
        ("import importlib\nname = 'b' + 'py'\nimportlib.import_module(name)", True),
        ("import importlib\nimportlib.import_module('json')", False),
        ("import numpy", False),
    ],
)
def test_core_import_check_catches_every_way_in(tmp_path: Path, source: str, caught: bool) -> None:
    fake = REPO_ROOT / "core" / "geometry" / "_layout_probe.py"  # never written: parsed from tmp_path
    probe = tmp_path / "probe.py"
    probe.write_text(source + "\n")
    original = Path.read_text

    def read_text(self, *args, **kwargs):
        return original(probe if self == fake else self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "read_text", read_text)
        assert bool(_core_import_violations(fake)) is caught


# Imports every core module in a fresh Python whose import system refuses (and records) Blender modules.
_IMPORT_ALL_WITHOUT_BLENDER = """
import importlib, importlib.abc, pkgutil, sys
BLENDER = set(sys.argv[1].split(","))
attempts = []
class NoBlender(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLENDER:
            attempts.append(name)
            raise ImportError(f"{name} is not available (core must not need Blender)")
        return None
sys.meta_path.insert(0, NoBlender())
import core
failed = []
names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if not m.name.endswith("__main__")]
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print(len(names), "modules")
print("ATTEMPTS", sorted(set(attempts)))
print("FAILED", failed)
"""


def test_every_core_module_imports_where_blender_modules_do_not_exist() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL_WITHOUT_BLENDER, ",".join(sorted(BLENDER_MODULES))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert int(lines[0].split()[0]) >= len(CORE_FILES) - 10, lines[0]  # every module was imported
    assert "ATTEMPTS []" in lines and "FAILED []" in lines, proc.stdout


def test_core_has_files() -> None:
    assert len(CORE_FILES) > 10


def test_addon_init_does_not_import_torch_at_module_level() -> None:
    assert "torch" not in _module_level_imports(REPO_ROOT / "__init__.py")


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "panels").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_panels_never_import_core_or_torch(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not (node.level > 0 and node.module.split(".")[0] == "core"), f"{path} imports core"
        names = _imported_top_modules(path)
        assert "torch" not in names, f"{path} imports torch: drawing must not import torch"


# ----------------------------------------------------------------------------- the add-on's import graph
# Every import of our own modules, wherever it sits in a file (a lazy import inside a function is still a
# dependency): ``module -> set of modules``, dotted names relative to the repository root ("jobs.tasks").
def _own_module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def _resolve(importer: str, is_package: bool, level: int, module: str | None, names: list[str]) -> set[str]:
    """The own modules an ``ImportFrom`` of ``importer`` names (``from ..core import errors`` -> core.errors)."""
    base = importer.split(".") if importer != "__init__" else []
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    target = [*base, *(module.split(".") if module else [])]
    found = set()
    for name in names:
        candidate = ".".join([*target, name])
        found.add(candidate if _module_path(candidate) else ".".join(target) or "__init__")
    return found


def _module_path(name: str) -> Path | None:
    base = REPO_ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


ADDON_FILES = [
    p
    for top in ("__init__.py", "addon.py", "operators", "panels", "properties", "jobs", "scene", "core")
    for p in ([REPO_ROOT / top] if top.endswith(".py") else sorted((REPO_ROOT / top).rglob("*.py")))
]


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ADDON_FILES:
        name = _own_module_name(path)
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                names = [alias.name for alias in node.names]
                edges |= _resolve(name, path.name == "__init__.py", node.level, node.module, names)
        graph[name] = {e for e in edges if e != name}
    return graph


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_the_blender_side_runs_one_way() -> None:
    """panels -> operators -> jobs -> scene -> properties -> core, with the leaf ``addon`` beside them; a floor
    may use any floor below it, never one above (ARCHITECTURE.md)."""
    allowed = {
        "__init__": {"operators", "panels"},
        "addon": set(),
        "panels": {"panels", "operators", "jobs", "scene", "properties", "addon"},
        "operators": {"operators", "jobs", "scene", "properties", "core", "addon"},
        "jobs": {"jobs", "scene", "properties", "core", "addon"},
        "scene": {"scene", "properties", "core", "addon"},
        "properties": {"properties", "core", "addon"},
        "core": {"core"},
    }
    wrong = [
        f"{module} imports {dep}"
        for module, deps in _import_graph().items()
        for dep in deps
        if _layer(dep) not in allowed[_layer(module)]
    ]
    assert not wrong, "imports against the direction panels -> operators -> core:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    """No module reaches itself through imports (a package's __init__ re-exporting its modules is fine)."""
    graph = _import_graph()

    def reachable(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in graph.get(node, ()):
                if dep == start:
                    return [*path, dep]
                if dep not in seen and not start.startswith(dep + "."):  # a module's own package __init__
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))
        return None

    cycles = [" -> ".join(c) for m in graph if (c := reachable(m)) is not None]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_core_keeps_its_layers() -> None:
    """``geometry`` is a leaf (errors aside); ``model`` needs only itself and the leaves."""
    leaves = {"core.errors", "core.progress"}
    rules = {"core.geometry": {"core.geometry"}, "core.model": {"core.model"}}
    wrong = []
    for module, deps in _import_graph().items():
        for package, allowed in rules.items():
            if module == package or module.startswith(package + "."):
                wrong += [
                    f"{module} imports {d}"
                    for d in deps
                    if d not in leaves and not any(d == a or d.startswith(a + ".") for a in allowed)
                ]
    assert not wrong, "\n".join(wrong)


# The core's floors, bottom up: a module may import modules of its own floor and of the floors below, never
# one above (a lazy import inside a function counts). The longest matching prefix gives a module's floor.
CORE_FLOORS: tuple[tuple[str, ...], ...] = (
    ("core.errors",),
    ("core.progress", "core.color", "core.geometry", "core.model"),  # leaves: geometry and the network
    (
        "core.config",
        "core.io",
        "core.torch_setup",
    ),  # settings, files (atomic writes, checkpoints), torch set-up
    ("core.predictions", "core.result", "core.graphs"),  # basic data types; which pairs the network sees
    ("core.resources",),  # what the machine has, what a run needs
    ("core.inference", "core.align"),  # the network runner and its backends; global alignment
    ("core.refine", "core.footage"),  # sub-pixel refinement; footage maths and reading
    ("core.export",),
    ("core.jobs",),  # whole jobs: photos, footage, the refinement stage, the plan
    ("core.cli",),
    ("core", "core.__main__"),
)
# The Blender side's floors, bottom up (``addon`` is the shared leaf everyone may use; core is below all).
BLENDER_FLOORS: tuple[tuple[str, ...], ...] = (
    ("addon",),
    ("core",),
    ("properties",),
    ("scene",),
    ("jobs",),
    ("operators",),
    ("panels",),
    ("__init__",),
)


def floor_of(module: str, floors: tuple[tuple[str, ...], ...]) -> int:
    """Index of ``module``'s floor in ``floors`` (longest matching dotted prefix)."""
    best, level = -1, None
    for index, names in enumerate(floors):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, level = len(name), index
    if level is None:
        raise KeyError(f"{module} has no floor: add its folder to the floors in tests/core/test_layout.py")
    return level


def test_core_never_imports_up_a_floor() -> None:
    """Inside core, no import runs back up (CORE_FLOORS): e.g. a basic data type never imports a job."""
    wrong = [
        f"{module} imports {dep}"
        for module, deps in _import_graph().items()
        if module == "core" or module.startswith("core.")
        for dep in deps
        if floor_of(dep, CORE_FLOORS) > floor_of(module, CORE_FLOORS)
    ]
    assert not wrong, "imports up a floor of the core:\n" + "\n".join(wrong)


def test_the_blender_side_never_imports_up_a_floor() -> None:
    """Blender side: panels -> operators -> jobs -> scene -> properties -> core, addon usable by all."""
    wrong = [
        f"{module} imports {dep}"
        for module, deps in _import_graph().items()
        if not module.startswith("core")
        for dep in deps
        if _layer(dep) != "core"
        and floor_of(_layer(dep), BLENDER_FLOORS) > floor_of(_layer(module), BLENDER_FLOORS)
    ]
    assert not wrong, "imports up a floor of the Blender side:\n" + "\n".join(wrong)


def test_result_and_predictions_depend_on_nothing_above_them() -> None:
    """The basic data types use only errors, geometry, the config and atomic file writes."""
    allowed = ("core.errors", "core.geometry", "core.config", "core.io.atomic")
    graph = _import_graph()
    for module in ("core.result", "core.predictions"):
        extra = [d for d in graph[module] if not any(d == a or d.startswith(a + ".") for a in allowed)]
        assert not extra, f"{module} imports {extra}"


def test_floor_rules_catch_an_import_up_and_a_lazy_loop() -> None:
    """The rules are not vacuous: a data type importing a job is up a floor; a lazy import that closes a loop
    is a cycle (the graph holds imports inside functions)."""
    assert floor_of("core.jobs.photos", CORE_FLOORS) > floor_of("core.result", CORE_FLOORS)
    assert floor_of("core.inference.backend", CORE_FLOORS) > floor_of("core.graphs.photos", CORE_FLOORS)
    assert floor_of("operators.reconstruct", BLENDER_FLOORS) > floor_of("scene.build", BLENDER_FLOORS)
    graph = _import_graph()
    assert "core.inference.backend" in graph["core.jobs.photos"]  # a lazy import, inside _run_network
    with pytest.raises(KeyError):
        floor_of("nowhere.module", CORE_FLOORS)


def test_import_graph_sees_the_known_edges() -> None:
    """The graph itself is right: it finds edges we know exist (so the rules above cannot pass vacuously)."""
    graph = _import_graph()
    assert "jobs.reconstruct" in graph["operators.reconstruct"]
    assert "core.config" in graph["properties.settings"]
    assert "properties.settings" in graph["panels.properties"]
    assert "addon" in graph["panels.sidebar"]
    assert "core.inference.backend" in graph["core.jobs.footage"]  # lazy, inside reconstruct_footage


def _defined_operators(path: Path) -> list[str]:
    """Names of the classes in ``path`` that Blender registers as operators (``bl_idname`` with a dot)."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if any(getattr(t, "id", None) == "bl_idname" for t in targets) and isinstance(
                stmt.value, ast.Constant
            ):
                if "." in str(stmt.value.value):
                    found.append(node.name)
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (REPO_ROOT / "operators").glob("*.py") if p.name != "__init__.py"),
    ids=lambda p: p.name,
)
def test_operators_holds_one_operator_per_file(path: Path) -> None:
    """``operators/`` is Operator classes only: each file defines exactly one (helpers live in jobs/, scene/)."""
    assert len(_defined_operators(path)) == 1, f"{path.name} defines {_defined_operators(path)}"
