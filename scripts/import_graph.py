"""The add-on's structure as its own imports draw it: rooms, arrows, arrows back up, circles, the biggest room.

    python scripts/import_graph.py [ROOT]          (ROOT: a checkout of the add-on; default: this one)

* A *room* is a folder of the add-on that holds Python files (``operators``, ``core/inference``, ...; the
  repository root's own files, ``__init__.py`` and ``addon.py``, are the room ``.``).
* An *arrow* is one import of one of our modules by another, wherever it sits in the file (a lazy import
  inside a function counts): module-level arrows, and room-level arrows (distinct room -> room pairs).
* An arrow *runs back up* when it goes from a lower floor to a higher one (the floors of the layout test,
  ``tests/core/test_layout.py``: the Blender side ``panels > operators > jobs > scene > properties > core``,
  ``addon`` usable by all; inside the core, leaves at the bottom, whole jobs and the command line at the top).
  A module importing its own package's ``__init__`` is not counted.
* A *circle* is a set of modules (or rooms) that reach each other through arrows (a strongly connected
  component of more than one); for room circles, each loose file of the two root folders counts as a room.

Standard library only; prints a small table. Used for the closing note of issue 17 (before and after).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

TOPS = ("__init__.py", "addon.py", "operators", "panels", "properties", "jobs", "scene", "core")

# The floors are the layout test's (tests/core/test_layout.py: CORE_FLOORS, BLENDER_FLOORS). To measure the tree
# before issue 17's moves by the same rules, the modules that had no room of their role then are measured by
# where they went (the core's jobs, the Blender side's flat operators/); the others by the room they were in.
RENAMED = {
    "core.pipeline": "core.jobs.photos",
    "core.pipeline_refine": "core.jobs.refine",
    "core.footage.pipeline": "core.jobs.footage",
    "core.footage.cli": "core.cli.footage",
    "core.io.torch_setup": "core.torch_setup",
    **{
        f"operators.{name}": f"properties.{name}"
        for name in ("settings", "footage_settings", "camera_presets", "build_options")
    },
    **{
        f"operators.{name}": f"jobs.{name}"
        for name in ("tasks", "task_operator", "estimate", "photos", "torch_status", "setup")
    },
    **{
        f"operators.{name}": f"scene.{name}"
        for name in (
            "scene_builder",
            "cameras",
            "points",
            "surfaces",
            "geonodes",
            "footage_camera",
            "footage_lens",
            "animation",
            "datablocks",
            "viewport",
            "reconstruction_objects",
            "export_scene",
            "orientation",
        )
    },
    "operators.footage_build": "scene.plate",
}


def _layout_test():
    path = Path(__file__).resolve().parents[1] / "tests" / "core" / "test_layout.py"
    spec = importlib.util.spec_from_file_location("_layout_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def floor(module: str) -> tuple[int, int]:
    """``(side, floor)``: the Blender side's floors above all of the core's."""
    rules = _RULES
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in RENAMED:
            module = ".".join([RENAMED[".".join(parts[:k])], *parts[k:]])
            break
    if module == "core" or module.startswith("core."):
        return 0, rules.floor_of(module, rules.CORE_FLOORS)
    return 1, rules.floor_of(module.split(".")[0], rules.BLENDER_FLOORS)


def own_files(root: Path) -> list[Path]:
    files = []
    for top in TOPS:
        path = root / top
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(path.rglob("*.py"))
    return files


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def module_path(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(root: Path, path: Path) -> set[str]:
    """Our modules that ``path`` imports (relative imports, and absolute ``core.*`` ones)."""
    name = module_name(root, path)
    base = name.split(".") if name != "__init__" else []
    if path.name != "__init__.py":
        base = base[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            pkg = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = [*pkg, *(node.module.split(".") if node.module else [])]
            for alias in node.names:
                candidate = ".".join([*target, alias.name])
                found.add(candidate if module_path(root, candidate) else ".".join(target) or "__init__")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "core":
            found.add(node.module)
    return {f for f in found if f != name and not name.startswith(f + ".")}


def room_of(root: Path, module: str) -> str:
    path = module_path(root, module)
    folder = path.parent.relative_to(root)
    return str(folder) if str(folder) != "." else "."


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def measure(root: Path) -> dict:
    files = own_files(root)
    graph = {module_name(root, p): imports_of(root, p) for p in files}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    lines = {module_name(root, p): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    rooms: dict[str, list[str]] = defaultdict(list)
    for module in graph:
        rooms[room_of(root, module)].append(module)
    room_graph: dict[str, set[str]] = {r: set() for r in rooms}
    for module, deps in graph.items():
        for dep in deps:
            if room_of(root, dep) != room_of(root, module):
                room_graph[room_of(root, module)].add(room_of(root, dep))
    # for circles, the loose files of the two root folders (leaves such as core/errors.py beside entry points
    # such as core/__main__.py) are each a room of their own
    unit = {m: (m if room_of(root, m) in (".", "core") else room_of(root, m)) for m in graph}
    unit_graph: dict[str, set[str]] = {u: set() for u in unit.values()}
    for module, deps in graph.items():
        unit_graph[unit[module]] |= {unit[d] for d in deps if unit[d] != unit[module]}
    up = sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        for d in deps
        if d.split(".")[0] != "addon" and floor(d) > floor(m)
    )
    biggest = max(rooms, key=lambda r: sum(lines[m] for m in rooms[r]))
    return {
        "rooms": len(rooms),
        "module arrows": sum(len(d) for d in graph.values()),
        "room arrows": sum(len(d) for d in room_graph.values()),
        "arrows back up": up,
        "module circles": circles(graph),
        "room circles": circles(unit_graph),
        "biggest room": (biggest, len(rooms[biggest]), sum(lines[m] for m in rooms[biggest])),
        "total lines": sum(lines.values()),
    }


_RULES = None


def main(argv: list[str]) -> int:
    global _RULES
    _RULES = _layout_test()
    root = Path(argv[1]).resolve() if len(argv) > 1 else Path(__file__).resolve().parents[1]
    found = measure(root)
    name, n_files, n_lines = found["biggest room"]
    print(f"rooms (folders)        {found['rooms']}")
    print(f"arrows (module)        {found['module arrows']}")
    print(f"arrows (room -> room)  {found['room arrows']}")
    print(f"arrows back up         {len(found['arrows back up'])}")
    for arrow in found["arrows back up"]:
        print(f"    {arrow}")
    print(f"circles (module)       {len(found['module circles'])}")
    for circle in found["module circles"]:
        print(f"    {' <-> '.join(circle)}")
    print(f"circles (room)         {len(found['room circles'])}")
    for circle in found["room circles"]:
        print(f"    {' <-> '.join(circle)}")
    share = 100 * n_lines / max(found["total lines"], 1)
    print(
        f"biggest room           {name}: {n_files} files, {n_lines} lines ({share:.0f} % of {found['total lines']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
