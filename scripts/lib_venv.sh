# Shared shell helpers of scripts/test.sh, scripts/demo.sh and .ci/run (sourced, not run).
#
# ensure_venv DIR REQUIREMENTS
#   Creates the virtual environment DIR with Python 3.11 if it is missing or broken, and installs the exact
#   pins of REQUIREMENTS into it unless a stamp file says this very requirements file was already installed.
#   Python 3.11 is needed because bpy 4.2 - 5.0 are built for it. Set PYTHON to choose the interpreter.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

find_python311() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    log "error: Python 3.11 not found (bpy 4.2 to 5.0 need it); set PYTHON=/path/to/python3.11"
    return 1
}

# venv_satisfies DIR REQUIREMENTS: every exact pin (name==version) is installed at that version (a local
# label such as +cpu is ignored). Fast (no pip): catches packages removed or changed by hand.
venv_satisfies() {
    "$1/bin/python" - "$2" <<'PY'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
    if not match:
        continue
    name, wanted = match.groups()
    try:
        found = version(name).split("+")[0]
    except PackageNotFoundError:
        found = None
    if found != wanted.split("+")[0]:
        bad.append(f"{name} {found or 'missing'} (want {wanted})")
if bad:
    print("venv out of date: " + ", ".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

ensure_venv() {
    local venv="$1" requirements="$2"
    local stamp="$venv/.requirements.sha256"
    local wanted
    wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        local python
        python="$(find_python311)" || return 1
        log "creating $venv with $python"
        rm -rf "$venv"
        "$python" -m venv "$venv" || return 1
    fi
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && venv_satisfies "$venv" "$requirements"; then
        return 0
    fi
    log "installing $requirements into $venv (a cold install takes a few minutes)"
    "$venv/bin/python" -m pip install --quiet --upgrade-strategy only-if-needed -r "$requirements" || return 1
    "$venv/bin/python" -m pip check >&2 || log "warning: pip check reports conflicts (see above)"
    echo "$wanted" >"$stamp"
}
