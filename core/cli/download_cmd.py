"""``python -m core download``: fetch an official checkpoint, as the Blender preferences' Download does.

The same registry (:mod:`core.io.checkpoints`) and the same resumable, verified downloader
(:mod:`core.io.download`): an interrupted download resumes from its ``.part`` file, the size the server
announces (and ``--sha256`` when given) is checked before the file is kept. The weights' licence
(:data:`~core.io.checkpoints.LICENSE_NOTICE`) is printed first and must be accepted: ``--accept-license``, or
a "yes" typed on a terminal; without either the command exits with status 2 and one line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ..errors import ConfigError
from ..io.checkpoints import (
    LICENSE_NOTICE,
    OFFICIAL_CHECKPOINTS,
    SOURCES,
    WEIGHTS_LICENSE_URL,
    checkpoint_by_key,
    download_checkpoint,
)

BASE_URL_ENV = "DUST3R_DOWNLOAD_BASE_URL"
DEFAULT_DEST = Path("checkpoints")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    keys = [entry.key for entry in OFFICIAL_CHECKPOINTS.values()]
    models = "; ".join(f"{entry.key}: {entry.description}" for entry in OFFICIAL_CHECKPOINTS.values())
    parser = subparsers.add_parser(
        "download",
        help="download an official checkpoint (licence CC BY-NC-SA 4.0: non-commercial)",
        description=f"Download an official DUSt3R checkpoint (about 2.2 GB; resumable, verified). {LICENSE_NOTICE}",
    )
    parser.add_argument("--model", default=keys[0], metavar="|".join(keys),
                        help=f"which checkpoint ({models}) (default: %(default)s)")  # fmt: skip
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, metavar="DIR",
                        help="folder to store it in; the checkpoint goes to DIR/<official name> "
                        "(default: %(default)s)")  # fmt: skip
    parser.add_argument("--accept-license", action="store_true",
                        help=f"accept the weights' licence ({WEIGHTS_LICENSE_URL}) without being asked")  # fmt: skip
    parser.add_argument("--source", choices=SOURCES, default=SOURCES[0],
                        help="huggingface: model.safetensors + config.json (safe to load); naver: the "
                        "original .pth file (default: %(default)s)")  # fmt: skip
    parser.add_argument("--sha256", default=None, metavar="HEX",
                        help="also check the weights against this SHA-256 (e.g. from the model page); a "
                        "mismatching file is deleted")  # fmt: skip
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help=f"a mirror with the source's layout instead of the official server (also: "
                        f"${BASE_URL_ENV})")  # fmt: skip
    parser.set_defaults(func=run)


def ask_license(stdin=None, stderr=None) -> bool | None:
    """Ask on the terminal whether the licence is accepted: True/False, or None when there is no terminal to
    ask on (stdin and stderr must both be one)."""
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    if not (stdin.isatty() and stderr.isatty()):
        return None
    stderr.write(f"{LICENSE_NOTICE}\n  {WEIGHTS_LICENSE_URL}\nAccept the licence and download? [y/N] ")
    stderr.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    entry = checkpoint_by_key(args.model)
    if args.sha256 is not None and not _SHA256.match(args.sha256):
        raise ConfigError(f"--sha256 must be 64 hexadecimal digits, got {args.sha256!r}")
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or None
    if args.accept_license:
        if not args.quiet:
            print(f"licence: {LICENSE_NOTICE} ({WEIGHTS_LICENSE_URL})", file=sys.stderr)
    else:
        accepted = ask_license()
        if accepted is None:
            raise ConfigError(
                f"the weights' licence must be accepted first: {LICENSE_NOTICE} ({WEIGHTS_LICENSE_URL}); "
                "add --accept-license to accept it"
            )
        if not accepted:
            raise ConfigError("the licence was not accepted: nothing was downloaded")
    path = download_checkpoint(
        entry.name, args.dest, args.source, args.progress, base_url=base_url, sha256=args.sha256
    )
    print(f"checkpoint ready: {path} (python -m core reconstruct --checkpoint {path} ...)")
    return 0
