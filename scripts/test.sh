#!/usr/bin/env bash
# The one test command: bash scripts/test.sh [pytest arguments...]
#
# Creates .venv (Python 3.11) with the exact pins of tests/requirements.txt if it is missing or incomplete,
# then runs ruff (lint + format check) and pytest. Exits non-zero if any step fails; "no tests collected"
# (pytest exit code 5) counts as a failure. DUST3R_VENV selects another environment folder.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
# shellcheck source=scripts/lib_venv.sh
source "$ROOT/scripts/lib_venv.sh"

VENV="${DUST3R_VENV:-$ROOT/.venv}"
REQUIREMENTS="${DUST3R_REQUIREMENTS:-$ROOT/tests/requirements.txt}"
# bpy would otherwise write into ~/.config/blender: a temporary user folder, removed on exit.
if [ -z "${BLENDER_USER_RESOURCES:-}" ]; then
    BLENDER_USER_RESOURCES="$(mktemp -d -t dust3r-blender-user-XXXXXX)"
    trap 'rm -rf "$BLENDER_USER_RESOURCES"' EXIT
    export BLENDER_USER_RESOURCES
fi

ensure_venv "$VENV" "$REQUIREMENTS" || { log "error: could not set up $VENV"; exit 1; }

status=0
# The extension build (tested below) needs the bundled wheels: download them once, verified by checksum.
log "bundled wheels"
"$VENV/bin/python" wheels/build_wheels.py --ensure || status=1
# wheels/ is excluded from ruff for its *.whl files: name the script in it explicitly.
log "ruff check ."
"$VENV/bin/ruff" check . wheels/build_wheels.py || status=1
log "ruff format --check ."
"$VENV/bin/ruff" format --check . wheels/build_wheels.py || status=1
# --confcutdir: the repository root is the add-on package; without it pytest imports the root __init__.py
# on its own, which fails when the clone's folder name is not a Python identifier (e.g. dust3r-blender).
log "pytest $*"
"$VENV/bin/python" -m pytest --confcutdir="$ROOT/tests" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    log "error: pytest collected no tests"
    status=1
elif [ "$rc" -ne 0 ]; then
    status=1
fi

if [ "$status" -eq 0 ]; then log "all checks passed"; else log "FAILED (see above)"; fi
exit "$status"
