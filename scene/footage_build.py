"""What the footage camera builder needs beside the ``Reconstruction``: the plate, its rate, each frame's status.

No bpy. :class:`FootageBuild` comes from a finished ``core.footage`` job (:meth:`FootageBuild.from_result`)
or from the extra arrays of a footage ``RESULT.npz`` (:meth:`FootageBuild.from_npz`, docs/CONTRACTS.md
"core/footage"); :func:`locate_footage` finds the plate of an imported result where it is now.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.config import DEFAULT_SENSOR_WIDTH_MM

log = logging.getLogger(__name__)

RECONSTRUCTED = (
    "reconstructed"  # the core's statuses (core.footage.result), repeated here without importing it
)
FLAGGED = "flagged"
UNKNOWN = "unknown"  # a footage RESULT.npz without frame_status (written by another tool)
SHOWN_FLAGGED = 8  # flagged frames named one by one in the report, the rest counted
UNCERTAIN_PX = 1.0  # frames whose camera is uncertain by more than this (pixels of the frames) are listed too


@dataclass(frozen=True)
class FootageBuild:
    """The footage side of one build.

    Attributes:
        status, notes: per view (frame), the core's status (``reconstructed``, ``localised``,
            ``interpolated``, ``flagged``) and its note ('' when there is nothing to say).
        fps_rational: ``(num, den)`` of a video's rate (e.g. 24000/1001); None when unknown (sequences).
        footage_path: the video file, or the sequence as ``folder/plate.####.png``.
        footage_kind: ``video``, ``sequence`` or ``frames``.
        sensor_width_mm: the film back on the frame's long side; ``sensor_width_assumed`` when it is the
            36 mm default; ``focal_mm`` the shot's focal on it.
        clip_path: the file Blender loads as the MovieClip (the video, or the FIRST file of the sequence);
            None: no background plate.
        clip_name: an existing MovieClip (``bpy.data.movieclips``) to use instead of loading one.
        messages: shot-level notes of the run for the artist.
        keep_scene_rate: the rate came from the scene (an image sequence): leave ``render.fps`` as it is.
    """

    status: tuple[str, ...]
    notes: tuple[str, ...]
    fps_rational: tuple[int, int] | None
    footage_path: str
    footage_kind: str
    sensor_width_mm: float
    sensor_width_assumed: bool
    focal_mm: float
    clip_path: str | None = None
    clip_name: str | None = None
    messages: tuple[str, ...] = ()
    keep_scene_rate: bool = False

    @classmethod
    def from_result(cls, result, clip_name: str | None = None, keep_scene_rate: bool = False) -> FootageBuild:
        """From a ``core.footage.FootageResult`` (the plate is where the job read it)."""
        info = result.info
        recon = result.reconstruction
        return cls(
            status=tuple(result.status),
            notes=tuple(result.notes),
            fps_rational=info.fps_rational,
            footage_path=str(info.path),
            footage_kind=str(info.kind),
            sensor_width_mm=float(result.sensor_width_mm),
            sensor_width_assumed=bool(result.sensor_width_assumed),
            focal_mm=float(result.focal_mm),
            clip_path=None if clip_name else clip_file(info.kind, str(info.path), recon.image_paths),
            clip_name=clip_name,
            messages=tuple(result.messages),
            keep_scene_rate=keep_scene_rate,
        )

    @classmethod
    def of_reconstruction(cls, recon) -> FootageBuild:
        """What a footage build knows from ``recon`` alone: every frame with points counts as reconstructed
        (``unknown`` without), no rate, no plate, the default film back assumed, focal unknown."""
        return cls(
            status=tuple(RECONSTRUCTED if np.isfinite(p).any() else UNKNOWN for p in recon.pts3d),
            notes=("",) * recon.num_views,
            fps_rational=None,
            footage_path=str(recon.image_paths[0]),
            footage_kind="video" if len(set(recon.image_paths)) == 1 else "sequence",
            sensor_width_mm=DEFAULT_SENSOR_WIDTH_MM,
            sensor_width_assumed=True,
            focal_mm=float("nan"),
        )

    @classmethod
    def from_npz(cls, path: str | Path, recon) -> FootageBuild:
        """From a footage RESULT.npz (``recon`` is its ``Reconstruction``); absent arrays keep the defaults
        of :meth:`of_reconstruction`."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if not _is_per_view(name)}
        base = cls.of_reconstruction(recon)
        n = recon.num_views
        status = base.status
        if "frame_status" in arrays and len(arrays["frame_status"]) == n:
            status = tuple(str(s) for s in arrays["frame_status"])
        notes = tuple(str(s) for s in arrays.get("frame_notes", base.notes))
        if len(notes) != n:
            notes = base.notes
        rate = tuple(int(v) for v in np.asarray(arrays.get("fps_rational", (0, 0))).reshape(-1)[:2])
        footage = str(arrays.get("footage_path", base.footage_path))
        kind = str(arrays.get("footage_kind", base.footage_kind))
        sensor = float(arrays.get("sensor_width_mm", base.sensor_width_mm))
        return dataclasses.replace(
            base,
            status=status,
            notes=notes,
            fps_rational=rate if len(rate) == 2 and min(rate) > 0 else None,
            footage_path=footage,
            footage_kind=kind,
            sensor_width_mm=sensor if np.isfinite(sensor) and sensor > 0 else base.sensor_width_mm,
            sensor_width_assumed=bool(arrays.get("sensor_width_assumed", "sensor_width_mm" not in arrays)),
            focal_mm=float(arrays.get("focal_mm", base.focal_mm)),
            clip_path=clip_file(kind, footage, recon.image_paths),
            messages=tuple(str(w) for w in arrays.get("messages", ())),
        )

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status)


def _is_per_view(name: str) -> bool:
    head, _, tail = name.rpartition("_")
    return head in ("depth", "pts3d", "conf", "colors") and tail.isdigit()


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


def locate_footage(recon, build: FootageBuild, result_path: str | Path):
    """``(recon, build, warnings)`` with the plate where it is: as recorded, else next to the result file
    under its name (a farm's output folder). When it is nowhere the camera is still built, without its
    background plate, and the warning says what to do."""
    folder = Path(result_path).resolve().parent
    paths = []
    for recorded in recon.image_paths:
        beside = folder / Path(recorded).name
        paths.append(recorded if Path(recorded).is_file() or not beside.is_file() else str(beside))
    moved = paths != list(recon.image_paths)
    footage = build.footage_path
    if (
        build.footage_kind == "video"
        and not Path(footage).is_file()
        and (folder / Path(footage).name).is_file()
    ):
        footage = str(folder / Path(footage).name)
    elif build.footage_kind != "video" and moved:
        footage = str(Path(paths[0]).parent / Path(footage).name)
    recon = dataclasses.replace(recon, image_paths=tuple(paths)) if moved else recon
    clip = clip_file(build.footage_kind, footage, recon.image_paths)
    build = dataclasses.replace(build, footage_path=footage, clip_path=clip)
    warnings = []
    if clip is None:
        name = Path(build.footage_path).name
        warnings.append(
            f"The footage {name} was not found at {footage} nor next to the result: the camera is built "
            "without its background plate. Put the footage next to the .npz file and import again."
        )
    return recon, build, warnings


def status_lines(build: FootageBuild, frame_numbers, recon=None) -> list[str]:
    """What the artist is told about the frames: how each was solved, the flagged ones by number, and (when
    ``recon``, the shot's :class:`~..core.result.Reconstruction`, was refined) the frames whose camera is
    uncertain by more than ``UNCERTAIN_PX`` pixels, listed the same way."""
    counts = [f"{build.count(s)} {s}" for s in dict.fromkeys(build.status)]
    lines = [f"{len(build.status)} frames: " + ", ".join(counts)]
    rows = zip(frame_numbers, build.status, build.notes, strict=True)
    flagged = [(int(f), note) for f, s, note in rows if s == FLAGGED]
    for frame, note in flagged[:SHOWN_FLAGGED]:
        lines.append(f"Frame {frame} flagged: {note or 'pose not trusted'}")
    if len(flagged) > SHOWN_FLAGGED:
        lines.append(
            f"... and {len(flagged) - SHOWN_FLAGGED} more flagged frames (see the camera's dust3r_frame_notes)"
        )
    if recon is not None and any(recon.refine_status):
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
