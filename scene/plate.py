"""Blender's side of a footage build: which file becomes the camera's MovieClip, whether the scene keeps its
rate, where an imported result's plate is now, and what the artist is told about the frames.

No bpy. The shot itself is the core's :class:`~..core.footage.result.FootageResult` (from the job, or read
from a RESULT.npz by :func:`~..core.footage.result.read_footage_result`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from ..core.footage.result import FLAGGED, FootageResult

log = logging.getLogger(__name__)

SHOWN_FLAGGED = 8  # flagged frames named one by one in the report, the rest counted
UNCERTAIN_PX = 1.0  # frames whose camera is uncertain by more than this (pixels of the frames) are listed too


@dataclass(frozen=True)
class Plate:
    """The camera's background plate and the scene rate of one footage build.

    Attributes:
        clip_path: the file Blender loads as the MovieClip (the video, or the FIRST file of the sequence);
            None: no background plate.
        clip_name: an existing MovieClip (``bpy.data.movieclips``) to use instead of loading one.
        keep_scene_rate: the rate came from the scene (an image sequence): leave ``render.fps`` as it is.
    """

    clip_path: str | None = None
    clip_name: str | None = None
    keep_scene_rate: bool = False

    @classmethod
    def of(cls, footage: FootageResult, clip_name: str | None = None, keep_scene_rate: bool = False) -> Plate:
        """The plate where ``footage`` says it is (or the artist's clip ``clip_name``)."""
        recon = footage.reconstruction
        path = None if clip_name else clip_file(footage.info.kind, footage.info.path, recon.image_paths)
        return cls(clip_path=path, clip_name=clip_name, keep_scene_rate=keep_scene_rate)


def clip_file(kind: str, footage_path: str, image_paths) -> str | None:
    """The file to load as the MovieClip: the video; for a sequence the first file of the sequence that
    the first view's frame belongs to; None when it does not exist."""
    if kind == "video":
        return footage_path if Path(footage_path).is_file() else None
    if not image_paths or not Path(image_paths[0]).is_file():
        return None
    from ..core.errors import Dust3rError
    from ..core.footage.read.sequence import sequence_of_file

    try:
        sequence = sequence_of_file(image_paths[0])
    except (Dust3rError, OSError) as exc:
        log.warning("no sequence around %s: %s", image_paths[0], exc)
        return str(image_paths[0])
    return str(sequence.frames[sequence.first])


def locate_footage(footage: FootageResult, result_path: str | Path) -> tuple[FootageResult, Plate, list[str]]:
    """``(footage, plate, warnings)`` with the plate where it is: as recorded, else next to the result file
    under its name (a farm's output folder). When it is nowhere the camera is still built, without its
    background plate, and the warning says what to do."""
    recon, info = footage.reconstruction, footage.info
    folder = Path(result_path).resolve().parent
    paths = []
    for recorded in recon.image_paths:
        beside = folder / Path(recorded).name
        paths.append(recorded if Path(recorded).is_file() or not beside.is_file() else str(beside))
    moved = paths != list(recon.image_paths)
    where = info.path
    if info.kind == "video" and not Path(where).is_file() and (folder / Path(where).name).is_file():
        where = str(folder / Path(where).name)
    elif info.kind != "video" and moved:
        where = str(Path(paths[0]).parent / Path(where).name)
    if moved:
        recon = dataclasses.replace(recon, image_paths=tuple(paths))
    footage = dataclasses.replace(footage, reconstruction=recon, info=dataclasses.replace(info, path=where))
    plate = Plate.of(footage)
    warnings = []
    if plate.clip_path is None:
        warnings.append(
            f"The footage {Path(where).name} was not found at {where} nor next to the result: the camera is "
            "built without its background plate. Put the footage next to the .npz file and import again."
        )
    return footage, plate, warnings


def status_lines(footage: FootageResult) -> list[str]:
    """What the artist is told about the frames: how each was solved, the flagged ones by number, and (when
    the shot was refined) the frames whose camera is uncertain by more than ``UNCERTAIN_PX`` pixels, listed
    the same way."""
    recon = footage.reconstruction
    frame_numbers = recon.frame_numbers
    counts = [f"{footage.count(s)} {s}" for s in dict.fromkeys(footage.status)]
    lines = [f"{len(footage.status)} frames: " + ", ".join(counts)]
    rows = zip(frame_numbers, footage.status, footage.notes, strict=True)
    flagged = [(int(f), note) for f, s, note in rows if s == FLAGGED]
    for frame, note in flagged[:SHOWN_FLAGGED]:
        lines.append(f"Frame {frame} flagged: {note or 'pose not trusted'}")
    if len(flagged) > SHOWN_FLAGGED:
        lines.append(
            f"... and {len(flagged) - SHOWN_FLAGGED} more flagged frames (see the camera's dust3r_frame_notes)"
        )
    if any(recon.refine_status):
        rows = zip(frame_numbers, recon.uncertainty_px, recon.refine_status, strict=True)
        uncertain = [(int(f), float(u), s) for f, u, s in rows if not u <= UNCERTAIN_PX]
        for frame, u, status in uncertain[:SHOWN_FLAGGED]:
            why = f" ({status[len('kept: ') :]})" if status.startswith("kept: ") else ""
            lines.append(f"Frame {frame} uncertain: ±{u:.2g} px{why}")
        if len(uncertain) > SHOWN_FLAGGED:
            lines.append(
                f"... and {len(uncertain) - SHOWN_FLAGGED} more uncertain frames (see the camera's "
                "dust3r_uncertainty_px)"
            )
    return lines
