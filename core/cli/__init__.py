"""Command line of the core: ``python -m core {infer,align,reconstruct,export,download} ...``.

Each sub-command lives in its own module exposing ``add_parser(subparsers)``, which registers the command
and sets ``func`` (``args -> int``) as its handler. ``-v``/``-q`` are accepted before or after the
sub-command. While a command runs, ``args.progress`` is the ``progress(stage, fraction)`` callback of its
:class:`~.console.Console` (a bar on a terminal, plain lines elsewhere) and every log record is written once,
by the console's handler. User mistakes (:class:`~core.errors.Dust3rError`) print one line on stderr and exit
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import Dust3rError
from . import align_cmd, download_cmd, export_cmd, infer_cmd, reconstruct_cmd
from .console import console_session

EXIT_USER_ERROR = 2
COMMAND_MODULES = (infer_cmd, align_cmd, reconstruct_cmd, export_cmd, download_cmd)


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
    for module in COMMAND_MODULES:
        module.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        _add_verbosity(subparser, argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        except KeyboardInterrupt:
            console.close()
            print("error: interrupted", file=sys.stderr)
            return 130


__all__ = ["EXIT_USER_ERROR", "build_parser", "main"]
