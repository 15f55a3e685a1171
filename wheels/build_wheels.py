"""Download the wheels the extension bundles, for every platform, and list them in the manifest.

    python wheels/build_wheels.py           # download into wheels/, rewrite the manifest and SHA256SUMS
    python wheels/build_wheels.py --check   # download, then fail if the manifest or SHA256SUMS would change
    python wheels/build_wheels.py --ensure  # nothing if the listed wheels are here and match SHA256SUMS,
                                            # else the same as --check (scripts/test.sh runs this)

What is bundled: the third-party packages the core imports, minus the ones Blender already ships (numpy)
and minus torch (installed on demand for the user's GPU by ``dust3r.install_torch``). Versions are the exact
pins of ``tests/requirements.txt``, so the extension ships what the tests ran with. Wheels are fetched with
``pip download --only-binary=:all: --no-deps --python-version 3.11 --platform <tag>`` from whatever index pip
is configured to use; ``SHA256SUMS`` (committed) pins their content.

Only the ``wheels = [...]`` and ``platforms = [...]`` keys of ``blender_manifest.toml`` are rewritten.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import logging
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

log = logging.getLogger("build_wheels")

ROOT = Path(__file__).resolve().parents[1]
WHEELS_DIR = ROOT / "wheels"
MANIFEST = ROOT / "blender_manifest.toml"
REQUIREMENTS = ROOT / "tests" / "requirements.txt"
SUMS = WHEELS_DIR / "SHA256SUMS"

# Imported by the core (scipy: align/matching; pillow: images; safetensors: checkpoints; av: footage, the
# FFmpeg decoders of video files and EXR/DPX sequences; openexr: the depth-map export's float32 Z and
# confidence channels). Blender ships numpy; torch is installed on demand.
# Optional extras (pillow-heif for HEIC photos) are not bundled.
BUNDLED = ("scipy", "pillow", "safetensors", "av", "openexr")
PYTHON_VERSION = "3.11"  # Blender 4.2 LTS to 5.0
# Blender platform id -> the pip platform tags accepted for it. pip does not widen an explicit --platform
# to older glibc / macOS versions, so every accepted version is listed. Floors: glibc 2.28 (Blender 4.2's
# own floor), macOS 12 (the oldest that scipy's current arm64 wheels support). PyAV 18 ships its Apple-silicon
# wheel for macOS 14 only: that tag comes LAST, so pip still takes the macOS 11/12 wheels of the other
# packages (it prefers the tags in the order given) and only footage needs macOS 14 on Apple silicon.
_MANYLINUX = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)) + ("manylinux2014_x86_64",)
_MACOS_X64 = ("12_0", "11_0", *(f"10_{minor}" for minor in range(15, 8, -1)))
PLATFORMS: dict[str, tuple[str, ...]] = {
    "windows-x64": ("win_amd64",),
    "linux-x64": _MANYLINUX,
    "macos-arm64": ("macosx_12_0_arm64", "macosx_11_0_arm64", "macosx_14_0_arm64"),
    "macos-x64": tuple(f"macosx_{version}_x86_64" for version in _MACOS_X64),
}
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


class BuildError(Exception):
    """A wheel could not be downloaded, or the manifest could not be updated."""


def read_pins(requirements: Path, names: tuple[str, ...]) -> dict[str, str]:
    """``name -> version`` for ``names`` from the exact ``name==version`` lines of ``requirements``."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    missing = [name for name in names if name not in pins]
    if missing:
        raise BuildError(f"{requirements} has no exact pin for {', '.join(missing)}")
    return {name: pins[name] for name in names}


def download(platform_id: str, pins: dict[str, str], dest: Path) -> list[Path]:
    """Download the wheels of ``pins`` for one platform into ``dest``; returns their paths."""
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps"]
    cmd += ["--python-version", PYTHON_VERSION, "--dest", str(dest)]
    for tag in PLATFORMS[platform_id]:
        cmd += ["--platform", tag]
    cmd += [f"{name}=={version}" for name, version in pins.items()]
    log.info("%s: %s", platform_id, " ".join(cmd[3:]))
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip download failed for {platform_id}:\n{result.stderr.strip()}")
    got = sorted(set(dest.glob("*.whl")) - before)
    if len(got) != len(pins):
        names = ", ".join(p.name for p in got)
        raise BuildError(f"{platform_id}: expected {len(pins)} new wheels, got {len(got)} ({names})")
    return got


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def toml_array(key: str, values: list[str]) -> str:
    """A TOML array, one value per line (the style Blender's documentation uses)."""
    body = "".join(f'  "{value}",\n' for value in values)
    return f"{key} = [\n{body}]\n"


def set_top_level_array(text: str, key: str, values: list[str]) -> str:
    """Replace (or insert before the first table) the top-level ``key = [...]`` of a TOML document."""
    new = toml_array(key, values)
    pattern = re.compile(rf"^{re.escape(key)}\s*=\s*\[.*?\][ \t]*\n", re.MULTILINE | re.DOTALL)
    first_table = re.search(r"^\[", text, re.MULTILINE)
    match = pattern.search(text)
    if match and (first_table is None or match.start() < first_table.start()):
        return text[: match.start()] + new + text[match.end() :]
    if first_table is None:
        return text.rstrip("\n") + "\n\n" + new
    return text[: first_table.start()] + new + "\n" + text[first_table.start() :]


def render_manifest(text: str, wheel_names: list[str]) -> str:
    text = set_top_level_array(text, "platforms", list(PLATFORMS))
    text = set_top_level_array(text, "wheels", [f"./wheels/{name}" for name in sorted(wheel_names)])
    parsed = tomllib.loads(text)  # never write a manifest Blender cannot read
    if parsed.get("platforms") != list(PLATFORMS) or len(parsed.get("wheels", [])) != len(wheel_names):
        raise BuildError("rewriting the manifest failed (platforms/wheels keys not as expected)")
    return text


def render_sums(wheels: list[Path]) -> str:
    return "".join(f"{sha256_of(path)}  {path.name}\n" for path in sorted(wheels, key=lambda p: p.name))


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), name, f"{name} (expected)")
    return "".join(lines)


def wheels_present() -> bool:
    """True if every wheel the manifest lists is in wheels/ with the checksum SHA256SUMS records."""
    if not SUMS.is_file():
        return False
    recorded = dict(line.split()[::-1] for line in SUMS.read_text(encoding="utf-8").splitlines() if line)
    listed = [Path(w).name for w in tomllib.loads(MANIFEST.read_text(encoding="utf-8")).get("wheels", [])]
    if not listed or sorted(listed) != sorted(recorded):
        return False
    return all((WHEELS_DIR / n).is_file() and sha256_of(WHEELS_DIR / n) == recorded[n] for n in listed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the manifest or SHA256SUMS is stale")
    parser.add_argument(
        "--ensure", action="store_true", help="download (as --check) only if wheels are missing"
    )
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="only these")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.ensure:
        if wheels_present():
            log.info("bundled wheels present and matching SHA256SUMS")
            return 0
        args.check = True
    platforms = args.platform or list(PLATFORMS)
    try:
        pins = read_pins(REQUIREMENTS, BUNDLED)
        with tempfile.TemporaryDirectory(prefix="dust3r-wheels-") as tmp:
            wheels = [w for platform_id in platforms for w in download(platform_id, pins, Path(tmp))]
            names = sorted({w.name for w in wheels})
            sums = render_sums(wheels)
            if args.platform is None:
                for stale in set(WHEELS_DIR.glob("*.whl")) - {WHEELS_DIR / n for n in names}:
                    stale.unlink()
            for wheel in wheels:
                wheel.replace(WHEELS_DIR / wheel.name)
    except BuildError as exc:
        log.error("error: %s", exc)
        return 1
    if args.platform is not None:
        log.info("downloaded %d wheels for %s (manifest untouched)", len(names), ", ".join(platforms))
        return 0
    manifest_old = MANIFEST.read_text(encoding="utf-8")
    manifest_new = render_manifest(manifest_old, names)
    sums_old = SUMS.read_text(encoding="utf-8") if SUMS.is_file() else ""
    if args.check:
        stale = [_diff(manifest_old, manifest_new, MANIFEST.name), _diff(sums_old, sums, SUMS.name)]
        if any(stale):
            log.error("%s", "".join(stale))
            log.error("error: run `python wheels/build_wheels.py` and commit the manifest and SHA256SUMS")
            return 1
        log.info("%d wheels for %d platforms match the manifest and SHA256SUMS", len(names), len(platforms))
        return 0
    MANIFEST.write_text(manifest_new, encoding="utf-8")
    SUMS.write_text(sums, encoding="utf-8")
    log.info("wrote %d wheels, %s and %s", len(names), MANIFEST.name, SUMS.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
