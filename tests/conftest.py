"""Shared test setup: import paths, private temporary folders for Blender, and no silent skips.

* The repository root is on ``sys.path``: ``core`` is a top-level package (INTERFACES.md section 1) and the
  test helpers import as ``tests.synthetic``, ``tests.reference_data``, ``tests.packaging_support``.
* A test run leaves nothing behind: one session folder (``$TMPDIR/dust3r-tests-*``, removed at the end)
  holds the ``tmp_path`` folders (``--basetemp``, unless given), every temporary file (``TMPDIR``), the
  cache (``XDG_CACHE_HOME``: bpy's thumbnails would go to ``~/.cache``) and, unless the caller chose one,
  Blender's user folder (``BLENDER_USER_RESOURCES``; bpy would write into ``~/.config/blender``, TESTING.md).
* Every skip shows its reason (``-ra`` in pyproject.toml). In CI (``CI`` set, as ``.ci/run`` does) or with
  ``DUST3R_NO_SKIPS=1`` a skipped test, or a skipped test module, is reported as a FAILURE: CI has every
  dependency and ../shared, so a skip there means a test that did not run. Platform skips are allowed only
  for conditions that do not occur on the Linux CI machine (there are none at present).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="dust3r-tests-"))
_PREVIOUS_ENV = {
    name: os.environ.get(name) for name in ("BLENDER_USER_RESOURCES", "XDG_CACHE_HOME", "TMPDIR")
}
_PREVIOUS_TEMPDIR = tempfile.tempdir
if not os.environ.get("BLENDER_USER_RESOURCES"):
    os.environ["BLENDER_USER_RESOURCES"] = str(_SESSION_DIR / "blender-user")
    (_SESSION_DIR / "blender-user").mkdir()
os.environ["XDG_CACHE_HOME"] = str(_SESSION_DIR / "cache")
(_SESSION_DIR / "cache").mkdir()
# every temporary file of the session (ours, the add-on's, Blender's, subprocesses') goes in here too
(_SESSION_DIR / "tmp").mkdir()
os.environ["TMPDIR"] = tempfile.tempdir = str(_SESSION_DIR / "tmp")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    if config.option.basetemp is None:  # tmp_path folders: removed with the session folder, not kept
        config.option.basetemp = str(_SESSION_DIR / "pytest")


def strict_skips() -> bool:
    """Whether a skip must fail the run: in CI (``CI`` set to anything but ``0``/``false``), or when
    DUST3R_NO_SKIPS=1."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("DUST3R_NO_SKIPS", "") == "1"


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return f"{longrepr[0]}:{longrepr[1]}: {longrepr[2]}"
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and strict_skips() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI / with DUST3R_NO_SKIPS=1, which counts as a failure: {_skip_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and strict_skips():
        report.outcome = "failed"
        report.longrepr = (
            f"{collector.nodeid or collector.path}: skipped at collection in CI / with DUST3R_NO_SKIPS=1, "
            f"which counts as a failure: {_skip_reason(report.longrepr)}"
        )


_GOLDEN_IDS = pytest.StashKey[set]()


def _compares_with_the_reference(item) -> bool:
    """A golden case: a test whose module holds the reference fixtures (``REF = reference()``)."""
    from tests.reference_data import Reference

    module = getattr(item, "module", None)
    return module is not None and any(isinstance(value, Reference) for value in vars(module).values())


def pytest_collection_modifyitems(session, config, items) -> None:
    config.stash[_GOLDEN_IDS] = {item.nodeid for item in items if _compares_with_the_reference(item)}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say which reference fixtures the run used and how many golden cases ran: a clone without ../shared
    uses the vendored subset, where some cases are not collected (they need files only the full set has)."""
    from tests.reference_data import reference

    golden = config.stash.get(_GOLDEN_IDS, set())
    ran = {
        report.nodeid
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "call") == "call" and report.nodeid in golden
    }
    ref = reference()
    terminalreporter.write_sep("-", "reference fixtures")
    terminalreporter.write_line(f"reference fixtures: {ref.label}")
    terminalreporter.write_line(
        f"golden cases (tests against the reference fixtures): {len(ran)} ran of {len(golden)} collected"
    )
    if not ref.full:
        terminalreporter.write_line(
            "the full reference (../shared/reference beside the clone) adds the cases that need its other files"
        )


def pytest_unconfigure(config) -> None:
    tempfile.tempdir = _PREVIOUS_TEMPDIR
    for name, value in _PREVIOUS_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def _random_world_from_cam(rng, translation_scale: float = 2.0):
    """A random rigid ``(4, 4)`` float64 transform: rotation from a uniform unit quaternion, translation
    ``N(0, translation_scale^2)`` per axis."""
    import numpy as np

    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = rng.normal(size=3) * translation_scale
    return T


@pytest.fixture(scope="session")
def random_world_from_cam():
    """``random_world_from_cam(rng, translation_scale=2.0)`` -> a random rigid (4, 4) transform."""
    return _random_world_from_cam
