"""Numbered image sequences (``plate.1001.exr``, ``shot_0001.png``, any padding): finding, ordering, gaps.

A sequence is the set of files of one folder whose names differ only in the LAST group of digits before the
suffix: ``plate.`` + ``1001`` + ``.exr``. That number is the frame number, kept end to end (the result's
``frame_numbers``). Pure file-name logic: nothing here opens an image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...inference.images import BASE_SUFFIXES
from .errors import FootageError

# Pillow reads the usual formats; OpenEXR goes through FFmpeg's decoder (see frames_io.py).
EXR_SUFFIXES = frozenset({".exr"})
SEQUENCE_SUFFIXES = frozenset(BASE_SUFFIXES | EXR_SUFFIXES)
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class NumberedName:
    """A file name split around its frame number: ``prefix + number (padded) + suffix``."""

    prefix: str
    number: int
    digits: int
    suffix: str

    @property
    def key(self) -> tuple[str, str]:
        """What all files of one sequence share: ``(prefix, lower-case suffix)``."""
        return (self.prefix, self.suffix.lower())


def parse_numbered(name: str) -> NumberedName | None:
    """Split ``name`` around its last group of digits before the suffix; None when it has none."""
    match = _NUMBERED.match(name)
    if match is None:
        return None
    digits = match.group("number")
    return NumberedName(match.group("prefix"), int(digits), len(digits), match.group("suffix"))


@dataclass(frozen=True)
class ImageSequence:
    """The frames of one numbered image sequence.

    Attributes:
        folder: the folder holding the files.
        pattern: the sequence as artists write it, ``plate.####.exr`` (one ``#`` per digit of padding).
        frames: ``{frame number: file}``, sorted by frame number.
    """

    folder: Path
    pattern: str
    frames: dict[int, Path]

    @property
    def numbers(self) -> list[int]:
        return list(self.frames)

    @property
    def first(self) -> int:
        return self.numbers[0]

    @property
    def last(self) -> int:
        return self.numbers[-1]

    @property
    def suffix(self) -> str:
        return next(iter(self.frames.values())).suffix.lower()

    def missing(self, lo: int | None = None, hi: int | None = None) -> list[int]:
        """Frame numbers absent between ``lo`` and ``hi`` (default: the first and the last frame)."""
        lo = self.first if lo is None else max(lo, self.first)
        hi = self.last if hi is None else min(hi, self.last)
        return [f for f in range(lo, hi + 1) if f not in self.frames]

    def check_no_gap(self, lo: int | None = None, hi: int | None = None) -> None:
        """Raise a :class:`FootageError` naming the missing frames when ``[lo, hi]`` has a gap."""
        gaps = self.missing(lo, hi)
        if gaps:
            lo = self.first if lo is None else max(lo, self.first)
            hi = self.last if hi is None else min(hi, self.last)
            raise FootageError(
                f"{self.folder / self.pattern}: {len(gaps)} frame(s) missing between {lo} and {hi} "
                f"({format_ranges(gaps)}): add the missing files, choose a range without them (start/end), "
                "or allow gaps to reconstruct without them"
            )


def format_ranges(numbers: Iterable[int], limit: int = 6) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"`` (at most ``limit`` runs, then ``", ..."``)."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:limit]]
    return ", ".join(text) + (", ..." if len(runs) > limit else "")


def _pattern(names: Sequence[NumberedName]) -> str:
    digits = {n.digits for n in names}
    width = digits.pop() if len(digits) == 1 else min(n.digits for n in names)
    return f"{names[0].prefix}{'#' * width}{names[0].suffix}"


def _build(folder: Path, entries: Sequence[tuple[NumberedName, Path]]) -> ImageSequence:
    frames: dict[int, Path] = {}
    for parsed, path in sorted(entries, key=lambda e: e[0].number):
        if parsed.number in frames:
            raise FootageError(
                f"frame {parsed.number} is there twice ({frames[parsed.number].name} and {path.name}): "
                "keep one of them"
            )
        frames[parsed.number] = path
    return ImageSequence(folder=folder, pattern=_pattern([e[0] for e in entries]), frames=frames)


def sequence_from_files(paths: Sequence[str | Path]) -> ImageSequence:
    """The sequence made of exactly these files (``--images plate.*.png``), in frame order.

    Raises:
        FootageError: a file is missing, has no frame number or an unsupported type, or the files belong to
            different sequences (other folder, prefix or suffix).
    """
    if not paths:
        raise FootageError("no image files given for the sequence")
    entries: list[tuple[NumberedName, Path]] = []
    for p in paths:
        path = Path(p).expanduser().resolve()
        if not path.is_file():
            raise FootageError(f"frame not found: {path}")
        parsed = parse_numbered(path.name)
        if parsed is None:
            raise FootageError(f"{path.name} has no frame number: name frames like plate.1001.png")
        if parsed.suffix.lower() not in SEQUENCE_SUFFIXES:
            raise FootageError(f"{path.name}: unsupported image type {parsed.suffix}")
        entries.append((parsed, path))
    first_parsed, first_path = entries[0]
    for parsed, path in entries[1:]:
        if path.parent != first_path.parent or parsed.key != first_parsed.key:
            raise FootageError(
                f"{first_path.name} and {path.name} are not frames of one sequence "
                "(same folder, same name around the frame number)"
            )
    return _build(first_path.parent, entries)


def sequence_in_folder(folder: str | Path) -> ImageSequence:
    """The one numbered image sequence of ``folder``.

    Raises:
        FootageError: no numbered images, or several sequences (the message lists them).
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FootageError(f"not a folder: {folder}")
    groups: dict[tuple[str, str], list[tuple[NumberedName, Path]]] = {}
    for entry in folder.iterdir():
        parsed = parse_numbered(entry.name)
        if entry.name.startswith(".") or parsed is None or not entry.is_file():
            continue
        if parsed.suffix.lower() in SEQUENCE_SUFFIXES:
            groups.setdefault(parsed.key, []).append((parsed, entry))
    if not groups:
        raise FootageError(f"{folder} holds no numbered image sequence (plate.1001.png, ...)")
    if len(groups) > 1:
        names = ", ".join(sorted(_pattern([e[0] for e in g]) for g in groups.values()))
        raise FootageError(
            f"{folder} holds several image sequences ({names}): choose one file of the one to use"
        )
    return _build(folder, next(iter(groups.values())))


def sequence_of_file(path: str | Path) -> ImageSequence:
    """The sequence that the numbered image ``path`` belongs to (its siblings with the same name pattern)."""
    path = Path(path).expanduser().resolve()
    parsed = parse_numbered(path.name)
    if parsed is None or parsed.suffix.lower() not in SEQUENCE_SUFFIXES:
        raise FootageError(f"{path.name} is not a numbered image (plate.1001.png, ...)")
    siblings = []
    for entry in path.parent.iterdir():
        other = parse_numbered(entry.name)
        if other is not None and other.key == parsed.key and entry.is_file():
            siblings.append((other, entry))
    return _build(path.parent, siblings)
