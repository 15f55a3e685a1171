"""Command line of the core: ``python -m core {infer,align,reconstruct,export,download} ...``.

Each sub-command lives in its own module exposing ``add_parser(subparsers)``, which registers the command
and sets ``func`` (``args -> int``) as its handler. ``-v``/``-q`` are accepted before or after the
sub-command. While a command runs, ``args.progress`` is the ``progress(stage, fraction)`` callback of its
:class:`~.console.Console` (a bar on a terminal, plain lines elsewhere) and every log record is written once,
by the console's handler. User mistakes (:class:`~core.errors.Dust3rError`) print one line on stderr and exit
with status 2, and so do the OS errors that are the user's situation (a full disk, a name too long, no
permission: :func:`core.errors.user_os_error`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from ..errors import DependencyError, Dust3rError, user_os_error
from .console import console_session

EXIT_USER_ERROR = 2
# In --help order. Imported when the parser is built; a command whose module needs a package this Python
# lacks (NumPy, Pillow, ...) is still listed and says what to install: `download` needs only the standard
# library, so a bare Python can fetch the weights.
COMMANDS = ("infer", "align", "reconstruct", "export", "download")


def _command_module(command: str) -> ModuleType:
    """The module of ``command`` (imported here, by a literal name, so that tests/core/test_layout.py can
    check what the core imports)."""
    if command == "infer":
        from . import infer_cmd as module
    elif command == "align":
        from . import align_cmd as module
    elif command == "reconstruct":
        from . import reconstruct_cmd as module
    elif command == "export":
        from . import export_cmd as module
    elif command == "download":
        from . import download_cmd as module
    else:
        raise KeyError(command)
    return module


def _add_verbosity(parser: argparse.ArgumentParser, default) -> None:
    """``-v``/``-q`` on ``parser``; sub-commands use ``argparse.SUPPRESS`` so that an option given before
    the sub-command is not reset by the sub-command's default."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="also log details (the memory and time estimate, each stage)")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="no progress display, errors only")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="DUSt3R reconstruction from photos.")
    _add_verbosity(parser, False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        try:
            module = _command_module(command)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] == __name__.split(".")[0]:
                raise  # one of ours: a bug, keep the traceback
            _add_unavailable(subparsers, command, exc.name)
            continue
        module.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        if subparser.prefix_chars == "-":  # not the stand-in of a command that cannot run here
            _add_verbosity(subparser, argparse.SUPPRESS)
    return parser


def _add_unavailable(subparsers: argparse._SubParsersAction, command: str, missing: str) -> None:
    """``command`` listed, but running it says which package this Python lacks (exit 2, one line)."""
    # Every argument is taken as it comes (no option prefix), whatever the command would have accepted.
    parser = subparsers.add_parser(
        command, help=f"(needs {missing}, not installed in this Python)", prefix_chars="\x00", add_help=False
    )
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)

    def run(_args: argparse.Namespace) -> int:
        raise DependencyError(
            f"python -m core {command} needs the package {missing!r}, which this Python does not have: install "
            "the core's requirements (tests/requirements.txt lists them), or use Blender's Python"
        )

    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose, args.quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    if args.verbose and args.quiet:
        print("error: -v and -q contradict each other: give one", file=sys.stderr)
        return EXIT_USER_ERROR
    with console_session(args.verbose, args.quiet) as console:
        args.progress = console.progress
        try:
            return int(args.func(args) or 0)
        except Dust3rError as exc:
            console.close()
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USER_ERROR
        except OSError as exc:  # a full disk, a read-only file system...: the user's situation, not a bug
            message = user_os_error(exc)
            if message is None:
                raise
            console.close()
            print(f"error: {message}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            console.close()
            print("error: interrupted", file=sys.stderr)
            return 130


__all__ = ["EXIT_USER_ERROR", "build_parser", "main"]
