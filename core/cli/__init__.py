"""Command line of the core: ``python -m core {infer,align,reconstruct} ...``.

Each sub-command lives in its own module exposing ``add_parser(subparsers)``, which registers the command
and sets ``func`` (``args -> int``) as its handler. User mistakes (:class:`~core.errors.Dust3rError`) print
one line on stderr and exit with status 2, and so do the OS errors that are the user's situation (a full
disk, a name too long, no permission: :func:`core.errors.user_os_error`); anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import Dust3rError, user_os_error
from . import align_cmd, export_cmd, infer_cmd, reconstruct_cmd

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="DUSt3R reconstruction from photos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (infer_cmd, align_cmd, reconstruct_cmd, export_cmd):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except Dust3rError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a full disk, a read-only file system...: the user's situation, not a bug
        message = user_os_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
