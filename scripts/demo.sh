#!/usr/bin/env bash
# The one demo command: bash scripts/demo.sh
#
# Sets up .venv like scripts/test.sh (exact pins of tests/requirements.txt), then reconstructs the three
# example photos in examples/photos with `python -m core reconstruct` and prints a summary of
# examples/out/result.npz. By default it uses the tiny random-weight test model (tests/data/tiny_linear_224):
# it proves the whole pipeline runs, but its geometry is meaningless. For real geometry pass an official
# checkpoint (see README, Install):
#   DUST3R_CHECKPOINT=/path/to/DUSt3R_ViTLarge_BaseDecoder_512_dpt DUST3R_SIZE=512 bash scripts/demo.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib_venv.sh
source "$ROOT/scripts/lib_venv.sh"

VENV="${DUST3R_VENV:-$ROOT/.venv}"
CHECKPOINT="${DUST3R_CHECKPOINT:-$ROOT/tests/data/tiny_linear_224}"
SIZE="${DUST3R_SIZE:-224}"
OUT="$ROOT/examples/out/result.npz"

ensure_venv "$VENV" "$ROOT/tests/requirements.txt"
[ -e "$CHECKPOINT" ] || { log "error: checkpoint not found: $CHECKPOINT"; exit 2; }
mkdir -p "$(dirname "$OUT")"

mapfile -t PHOTOS < <(ls "$ROOT"/examples/photos/*.jpg "$ROOT"/examples/photos/*.png 2>/dev/null | sort -V)
[ "${#PHOTOS[@]}" -ge 2 ] || { log "error: no example photos in examples/photos"; exit 2; }

log "reconstructing ${#PHOTOS[@]} photos with $CHECKPOINT (size $SIZE)"
start=$SECONDS
"$VENV/bin/python" -m core reconstruct --checkpoint "$CHECKPOINT" --size "$SIZE" --device cpu \
    --images "${PHOTOS[@]}" --out "$OUT"
log "reconstruction took $((SECONDS - start)) s"

"$VENV/bin/python" - "$OUT" <<'PY'
import sys

import numpy as np

result = np.load(sys.argv[1])
n = len(result["image_paths"])
print(f"\n{sys.argv[1]}: {n} views")
total = 0
for i in range(n):
    w, h = result["photo_size"][i]
    fx = result["K_photo"][i][0, 0]
    centre = result["cam2world"][i][:3, 3]
    conf = result[f"conf_{i}"]
    total += conf.size
    name = str(result["image_paths"][i]).rsplit("/", 1)[-1]
    print(
        f"  view {i} {name:12s} {w}x{h}  focal {fx:7.1f} px  "
        f"centre ({centre[0]:+.3f}, {centre[1]:+.3f}, {centre[2]:+.3f})  mean confidence {conf.mean():.2f}"
    )
print(f"  {total} points in total; arrays: {', '.join(sorted(result.keys())[:6])}, ...")
print("Note: the tiny test model has random weights; use an official checkpoint for meaningful geometry.")
PY
