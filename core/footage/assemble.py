"""From the reconstructed frames, the localised ones and the flags to the :class:`FootageResult`.

Every output frame gets a pose and a status (:mod:`.result`): reconstructed frames keep the alignment's;
localised frames their solve (flagged, and interpolated instead, when it is not trusted); the others are
interpolated; a duplicated frame copies the pose of the frame it repeats; a black or blank frame is
interpolated. Then the whole path is checked for jumps (:func:`.trajectory.find_jumps`): a jumping frame is
flagged and keeps its pose (never silently snapped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..align import AlignmentResult
from ..config import FootageConfig
from ..geometry.camera_uncertainty import aligned_uncertainty_px
from ..geometry.photo import K_photo_from_K_net
from ..result import Reconstruction
from .align import ShotRefinement
from .lens import ShotLens
from .localise import Localisation
from .plan import DecodedFrames, FramePlan
from .read.source import FootageSource
from .result import FLAGGED, INTERPOLATED, LOCALISED, RECONSTRUCTED, FootageResult
from .trajectory import MIN_STEP_DEG, MIN_STEP_OF_DEPTH, find_jumps, interpolate_poses

_LOCALISED_STATUS = "kept: localised against the keyframes, not refined"


@dataclass(frozen=True)
class KeyReconstruction:
    """The reconstructed frames: ``keys`` (frame numbers, view ``k`` = ``keys[k]``), the alignment, the
    cleaned confidences, the refinement step's output and the loop-closing pairs that were used."""

    keys: list[int]
    aligned: AlignmentResult
    conf: list[np.ndarray]
    refinement: ShotRefinement
    loop_pairs: list[tuple[int, int]]

    def nearest(self, frame: int, count: int) -> list[int]:
        """Views of the reconstructed frames nearest to ``frame``: the one before and the one after (or the
        ``count`` nearest on the one side there is)."""
        keys = np.asarray(self.keys)
        before = np.flatnonzero(keys < frame)
        after = np.flatnonzero(keys > frame)
        picks = [int(before[-1])] if len(before) else []
        picks += [int(after[0])] if len(after) else []
        if len(picks) < count:
            order = np.argsort(np.abs(keys - frame), kind="stable")
            picks += [int(v) for v in order if int(v) not in picks][: count - len(picks)]
        return picks[:count]


def _poses(
    plan: FramePlan, frames: DecodedFrames, key: KeyReconstruction, localised: dict[int, Localisation | None]
):
    """``{frame: (world_from_cam or None, status, note)}``; None poses are interpolated afterwards."""
    out: dict[int, tuple[np.ndarray | None, str, str]] = {}
    for view, number in enumerate(key.keys):
        out[number] = (key.aligned.world_from_cam[view], RECONSTRUCTED, "")
    for number in plan.output:
        if number in out:
            continue
        check = frames.checks.get(number)
        if check is not None:
            what = "pose copied" if check.reason == "duplicate" else "pose interpolated"
            out[number] = (None, FLAGGED, f"{check.note}: {what}")
        elif number in localised:
            loc = localised[number]
            if loc is not None and loc.trusted:
                out[number] = (loc.world_from_cam, LOCALISED, loc.note)
            else:
                why = loc.note if loc is not None else "localisation found no pose"
                out[number] = (None, FLAGGED, f"{why}: pose interpolated")
        else:
            out[number] = (None, INTERPOLATED, "")
    return out


def _fill_poses(poses: dict, frames: DecodedFrames) -> dict[int, np.ndarray]:
    solved = sorted(n for n, (T, _, _) in poses.items() if T is not None)
    solved_T = np.stack([poses[n][0] for n in solved])
    result = {n: T for n, (T, _, _) in poses.items() if T is not None}
    missing = [n for n in sorted(poses) if poses[n][0] is None]
    if missing:
        for n, T in zip(missing, interpolate_poses(solved, solved_T, missing), strict=True):
            result[n] = T
    for n in sorted(poses):
        check = frames.checks.get(n)
        if check is not None and check.reason == "duplicate" and check.duplicate_of in result:
            result[n] = result[check.duplicate_of].copy()
    return result


def assemble_result(
    source: FootageSource,
    plan: FramePlan,
    frames: DecodedFrames,
    key: KeyReconstruction,
    localised: dict[int, Localisation | None],
    lens: ShotLens,
    config: FootageConfig,
) -> FootageResult:
    """The :class:`FootageResult` of a shot (module docstring)."""
    info = source.info
    poses = _poses(plan, frames, key, localised)
    world_from_cam = _fill_poses(poses, frames)
    output = plan.output
    status = [poses[n][1] for n in output]
    notes = [poses[n][2] for n in output]
    stack = np.stack([world_from_cam[n] for n in output])
    depth = np.concatenate([d[np.isfinite(d)].ravel() for d in key.aligned.depth])
    scale = float(np.median(depth)) if depth.size else 0.0
    for k, note in find_jumps(output, stack, min_step=(MIN_STEP_OF_DEPTH * scale, MIN_STEP_DEG)).items():
        if status[k] != FLAGGED:
            status[k], notes[k] = FLAGGED, note if not notes[k] else f"{notes[k]}; {note}"
    recon = _reconstruction(source, output, stack, frames, key)
    focal_mm = lens.focal_mm_from_net(float(key.aligned.focals[0]), frames.crop)
    messages = list(plan.messages) + lens.notes() + [f"refinement: {w}" for w in key.refinement.warnings]
    if info.kind == "sequence" and config.fps is None:
        messages.append(f"frame rate unknown for an image sequence: {info.fps:g} fps assumed (give the fps)")
    flagged = sum(s == FLAGGED for s in status)
    if flagged:
        messages.append(f"{flagged} frame(s) flagged: see the frame notes")
    return FootageResult(
        reconstruction=recon,
        status=tuple(status),
        notes=tuple(notes),
        info=info,
        sensor_width_mm=lens.sensor_width_mm,
        sensor_width_assumed=lens.sensor_width_assumed,
        focal_mm=focal_mm,
        messages=tuple(messages),
    )


def _reconstruction(
    source: FootageSource, output, world_from_cam, frames: DecodedFrames, key: KeyReconstruction
) -> Reconstruction:
    aligned, crop = key.aligned, frames.crop
    K_net = aligned.intrinsics()[0]
    w2, h2 = crop.net_size
    empty_depth = np.full((h2, w2), np.nan, np.float32)
    empty_pts = np.full((h2, w2, 3), np.nan, np.float32)
    zero_conf = np.zeros((h2, w2), np.float32)
    black = np.zeros((h2, w2, 3), np.float32)
    view_of = {n: v for v, n in enumerate(key.keys)}
    depth, pts3d, conf, colors = [], [], [], []
    for n in output:
        v = view_of.get(n)
        depth.append(aligned.depth[v] if v is not None else empty_depth)
        pts3d.append(aligned.pts3d[v] if v is not None else empty_pts)
        conf.append(key.conf[v] if v is not None else zero_conf)
        rgb = frames.rgb.get(n)
        colors.append(rgb.astype(np.float32) / 255.0 if rgb is not None else black)
    num = len(output)
    solve = np.full(num, np.nan)
    K_photo = K_photo_from_K_net(K_net, crop)
    uncertainty = np.full(num, aligned_uncertainty_px(K_photo[None])[0])  # localised frames: not refined
    status = []
    dist = np.zeros((num, 2))
    scale = crop.scale_xy[0]
    for k, n in enumerate(output):
        v = view_of.get(n)
        if v is not None:
            solve[k] = key.refinement.solve_error_px[v] * scale
            uncertainty[k] = key.refinement.uncertainty_px[v] * scale
        if v is not None:
            status.append(key.refinement.status[v])
        else:  # a localised frame: posed against the (refined) keyframes, not refined itself
            status.append(_LOCALISED_STATUS if any(key.refinement.status) else "")
        dist[k] = key.refinement.dist[v if v is not None else 0]
    return Reconstruction(
        image_paths=tuple(source.frame_path(n) for n in output),
        world_from_cam=world_from_cam,
        K_photo=np.stack([K_photo_from_K_net(K_net, crop)] * num),
        photo_size=np.array([crop.photo_size] * num, dtype=np.int64),
        K_net=np.stack([K_net] * num),
        net_size=np.array([crop.net_size] * num, dtype=np.int64),
        depth=tuple(depth),
        pts3d=tuple(pts3d),
        conf=tuple(conf),
        colors=tuple(colors),
        frame_numbers=np.asarray(output, dtype=np.int64),
        fps=source.info.fps,
        dist=dist,
        solve_error_px=solve,
        uncertainty_px=uncertainty,
        refine_status=tuple(status),
        crops=(crop,) * num,
    )
