#!/usr/bin/env bash
# The one build command: bash scripts/build.sh [build_extension.py arguments...]
#
# Builds the per-platform extension zips dist/dust3r-<version>-<platform>.zip from a fresh clone: sets up
# .venv like scripts/test.sh (Python 3.11, the exact pins of tests/requirements.txt, which include the bpy
# module whose extension tool does the build), fetches the bundled wheels once (checked against
# wheels/SHA256SUMS), then runs scripts/build_extension.py, which builds and validates every zip.
# Needs Python 3.11 and the package registry the first time. DUST3R_VENV selects another environment folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib_venv.sh
source "$ROOT/scripts/lib_venv.sh"

VENV="${DUST3R_VENV:-$ROOT/.venv}"

ensure_venv "$VENV" "$ROOT/tests/requirements.txt" || { log "error: could not set up $VENV"; exit 1; }
log "bundled wheels"
"$VENV/bin/python" wheels/build_wheels.py --ensure
log "building the extension zips"
"$VENV/bin/python" scripts/build_extension.py "$@"
