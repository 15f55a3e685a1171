"""The README tells a newcomer the truth: the two commands it names are the ones CI runs, its pictures exist,
and it stays short (issue 21)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
TWO_COMMANDS = ("bash scripts/demo.sh", "bash scripts/test.sh")


def _ci_steps() -> list[str]:
    """The commands of ``.ci/run``'s ``step "name" command...`` lines."""
    steps = []
    for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines():
        if line.startswith("step "):
            words = shlex.split(line)
            steps.append(" ".join(words[2:]))
    return steps


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    steps = _ci_steps()
    assert "bash scripts/test.sh" in steps and "bash scripts/demo.sh" in steps, steps
    assert steps.index("bash scripts/test.sh") < steps.index("bash scripts/demo.sh")
    intro = README.split("\n## ", 1)[0]
    development = _section("Development")
    first_block = re.search(r"```bash\n(.*?)```", development, re.S).group(1)
    for command in TWO_COMMANDS:
        assert command in intro, f"{command} is not named near the top of the README"
        assert command in first_block, f"{command} is not in the first code block of Development"
        assert command in steps


def test_sections_in_the_readers_order_and_short() -> None:
    titles = re.findall(r"^## (.+)$", README, re.M)
    assert titles[:4] == ["Install into Blender (4.2 or newer)", "Use", "Development", "Licence"], titles
    assert len(README.splitlines()) < 350
    assert "CC BY-NC-SA 4.0" in _section("Install into Blender (4.2 or newer)")
    assert "python -m core download" in _section("Install into Blender (4.2 or newer)")


def test_pictures_exist_and_no_file_of_the_shared_folder_is_named_as_ours() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert pictures and all((REPO_ROOT / p).is_file() for p in pictures), pictures
    for name in ("synthgen.py", "INTERFACES.md", "CONVENTIONS.md", "TESTING.md"):
        assert name not in README, f"{name} lives in the project's shared folder, not in this repository"
    for path in re.findall(r"`((?:docs|scripts|tests|benchmarks)/[\w./-]+)`", README):
        if path != "docs/FARM.md":  # written by the farm work (issue 19)
            assert (REPO_ROOT / path).exists(), path
