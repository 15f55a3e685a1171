"""The command line's stderr: a progress bar on a terminal, plain lines elsewhere, ``-v``/``-q`` on either
side of the sub-command, every warning and the estimate once (issue 21)."""

from __future__ import annotations

import io
import logging
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser, main
from core.cli.console import PROGRESS_PREFIX, Console, ConsoleHandler, stage_kind
from core.progress import ProgressClock, format_duration
from tests import synthetic
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def case_path(tmp_path_factory) -> Path:
    case = synthetic.make_case("room", n=4, noise=0, size=(64, 48), seed=7)
    path = tmp_path_factory.mktemp("console") / "case.npz"
    synthetic.save_case(case, path)
    return path


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _align_argv(case: Path, out: Path) -> list[str]:
    """An alignment without the refinement (whose kept views warn): its stderr is progress alone."""
    return [sys.executable, "-m", "core", "align", "--input", str(case), "--output", str(out), "--no-refine"]


def _run_with_stderr_on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` with stderr on a pseudo-terminal; returns the exit code and what the terminal got."""
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, env={**os.environ, "COLUMNS": "100"})  # fmt: skip
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        rc = proc.wait(timeout=120)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_progress_bar(case_path, tmp_path) -> None:
    rc, screen = _run_with_stderr_on_a_terminal(_align_argv(case_path, tmp_path / "est.npz"))
    assert rc == 0, screen
    assert "\r" in screen and "[#" in screen and "elapsed" in screen and "left" in screen, screen
    assert "100%" in screen and PROGRESS_PREFIX not in screen
    assert screen.endswith("\n"), "the finished bar ends its line"


def test_a_pipe_gets_plain_lines(case_path, tmp_path) -> None:
    proc = subprocess.run(_align_argv(case_path, tmp_path / "est.npz"), cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith(PROGRESS_PREFIX) for line in lines), lines
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    assert lines[-1].startswith(f"{PROGRESS_PREFIX} 100% ")
    quiet = subprocess.run([*_align_argv(case_path, tmp_path / "q.npz"), "-q"], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize("before", [True, False])
def test_verbosity_before_or_after_the_command(before: bool, case_path, tmp_path, capsys) -> None:
    command = ["align", "--input", str(case_path), "--output", str(tmp_path / "est.npz")]
    for flag, verbose, quiet in (("-v", True, False), ("-q", False, True)):
        argv = [flag, *command] if before else [*command, flag]
        args = build_parser().parse_args(argv)
        assert (args.verbose, args.quiet) == (verbose, quiet)
    assert main(command + ["-v"] if not before else ["-v", *command]) == 0
    err = capsys.readouterr().err
    assert "global alignment" in err  # an INFO line: -v took effect
    assert main(["-v", *command, "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: -v and -q contradict each other: give one"
    ]


def test_each_warning_and_the_estimate_once(tmp_path, capsys) -> None:
    """The tiny model's refinement keeps every view as aligned, with one warning each: printed once (they
    used to be logged and printed again); the memory/time estimate once, after the model is known."""
    argv = ["reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--images", *map(str, PHOTOS), "--size",
            "224", "--device", "cpu", "--precision", "fp32", "--refine", "--out", str(tmp_path / "r.npz"), "-v"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning:")]
    assert len(warnings) == len(PHOTOS) and len(set(warnings)) == len(warnings), err
    estimates = [line for line in err if line.startswith("estimate:")]
    assert len(estimates) == 1, err
    leftover = [h for h in logging.getLogger().handlers if isinstance(h, ConsoleHandler)]
    assert not leftover, "the console's handler must be removed after the command"


def test_bar_redraws_below_a_log_line() -> None:
    stream, clock = io.StringIO(), FakeClock()
    console = Console(stream, "bar", clock=clock, width=80)
    console.progress("Pairs 1/4", 0.25)
    clock.now += 2.0
    console.progress("Pairs 2/4", 0.5)
    console.write_line("warning: something")
    console.progress("Done", 1.0)
    text = stream.getvalue()
    assert text.count("warning: something") == 1
    before, after = text.split("warning: something")
    assert before.endswith("\r\x1b[K") and "Pairs 2/4" in after and after.endswith("\n")
    assert "0:02 elapsed, 0:02 left" in text  # half done in 2 s: 2 s to go
    assert " 50%" in text and "100%" in text


def test_plain_lines_one_per_stage_and_interval() -> None:
    stream, clock = io.StringIO(), FakeClock()
    console = Console(stream, "lines", clock=clock)
    for k in range(1, 5):
        clock.now += 1.0
        console.progress(f"Pairs {k}/100", k / 100)
    clock.now += 11.0
    console.progress("Pairs 50/100", 0.5)
    console.progress("Aligning 1/300", 0.6)
    console.progress("Done", 1.0)
    lines = stream.getvalue().splitlines()
    assert [line.split("% ")[1].split(" (")[0] for line in lines] == [
        "Pairs 1/100",
        "Pairs 50/100",
        "Aligning 1/300",
        "Done",
    ]
    assert all(line.startswith(PROGRESS_PREFIX) for line in lines)


def test_quiet_console_and_helpers() -> None:
    stream = io.StringIO()
    Console(stream, "off").progress("Pairs 1/2", 0.5)
    assert stream.getvalue() == ""
    assert stage_kind("Pairs 40/132") == stage_kind("Pairs 41/132") == "Pairs"
    assert (
        format_duration(None) == "--:--"
        and format_duration(75) == "1:15"
        and format_duration(3725) == "1:02:05"
    )
    clock = FakeClock()
    timer = ProgressClock(clock)
    assert timer.remaining(0.5) is None  # too early to say
    clock.now += 10
    assert timer.remaining(0.25) == pytest.approx(30.0) and timer.remaining(1.0) == 0.0
