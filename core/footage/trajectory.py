"""The camera path of a shot: quaternions without sign flips, interpolation, and the jumps to flag.

Quaternions are ``(w, x, y, z)``, unit, of the rotation part of ``world_from_cam``. ``q`` and ``-q`` are the
same rotation; an animation curve is not, so consecutive frames get the sign that keeps them on the same
side (``dot >= 0``): no 360-degree spin between two keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_STEP_DEG = 0.2  # a turn counts as a jump only beyond factor x this per frame (1.2 degrees by default)
MIN_STEP_OF_DEPTH = 0.005  # likewise for a move: 0.5 % of the scene's median depth per frame


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations -> ``(..., 4)`` unit quaternions ``(w, x, y, z)`` with ``w >= 0``."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    # Each row of `cand` is a valid quaternion up to scale; the one with the largest norm is well conditioned.
    cand = np.stack(
        [
            np.stack([1 + tr, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], -1),
            np.stack(
                [
                    m[:, 2, 1] - m[:, 1, 2],
                    1 + 2 * m[:, 0, 0] - tr,
                    m[:, 0, 1] + m[:, 1, 0],
                    m[:, 0, 2] + m[:, 2, 0],
                ],
                -1,
            ),
            np.stack(
                [
                    m[:, 0, 2] - m[:, 2, 0],
                    m[:, 0, 1] + m[:, 1, 0],
                    1 + 2 * m[:, 1, 1] - tr,
                    m[:, 1, 2] + m[:, 2, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    m[:, 1, 0] - m[:, 0, 1],
                    m[:, 0, 2] + m[:, 2, 0],
                    m[:, 1, 2] + m[:, 2, 1],
                    1 + 2 * m[:, 2, 2] - tr,
                ],
                -1,
            ),
        ],
        axis=1,
    )
    norms = np.linalg.norm(cand, axis=-1)
    q = cand[np.arange(len(m)), np.argmax(norms, axis=1)]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q.reshape(R.shape[:-2] + (4,))


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """``(..., 4)`` quaternions ``(w, x, y, z)`` (any norm > 0) -> ``(..., 3, 3)`` rotations."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations in frame order -> ``(N, 4)`` quaternions, each on the side of the previous
    one (``dot(q[k-1], q[k]) >= 0``), so that keyframes interpolate the short way."""
    q = quaternion_from_matrix(rotations).reshape(-1, 4)
    for k in range(1, len(q)):
        if np.dot(q[k - 1], q[k]) < 0:
            q[k] = -q[k]
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions, ``t`` in ``[0, 1]``, the short way round."""
    q0, q1 = np.asarray(q0, dtype=np.float64), np.asarray(q1, dtype=np.float64)
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(min(d, 1.0))
    return (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / np.sin(theta)


def interpolate_poses(
    known_frames: Sequence[int], world_from_cam: np.ndarray, query_frames: Sequence[int]
) -> np.ndarray:
    """Poses at ``query_frames`` from the poses at ``known_frames`` (sorted, at least one): SLERP of the
    rotations and linear interpolation of the camera centres between the two nearest known frames; a query
    outside the known range takes the nearest known pose (no extrapolation).

    Returns:
        ``(Q, 4, 4)`` float64 ``world_from_cam``.
    """
    known = np.asarray(known_frames, dtype=np.float64)
    poses = np.asarray(world_from_cam, dtype=np.float64)
    if len(known) == 0 or poses.shape != (len(known), 4, 4):
        raise ValueError(f"need one (4, 4) pose per known frame, got {poses.shape} for {len(known)} frames")
    quats = continuous_quaternions(poses[:, :3, :3])
    out = np.tile(np.eye(4), (len(query_frames), 1, 1))
    for k, f in enumerate(query_frames):
        hi = int(np.searchsorted(known, f))
        if hi <= 0 or hi >= len(known):
            out[k] = poses[0 if hi <= 0 else -1]
            continue
        lo = hi - 1
        t = (f - known[lo]) / (known[hi] - known[lo])
        out[k, :3, :3] = matrix_from_quaternion(slerp(quats[lo], quats[hi], t))
        out[k, :3, 3] = (1 - t) * poses[lo, :3, 3] + t * poses[hi, :3, 3]
    return out


def find_jumps(
    frame_numbers: Sequence[int],
    world_from_cam: np.ndarray,
    factor: float = 6.0,
    min_step: tuple[float, float] = (0.0, MIN_STEP_DEG),
) -> dict[int, str]:
    """Frames whose pose jumps away from the path: ``{index: note}``.

    Per frame-number step, the camera moves by ``d_k`` (centre distance) and turns by ``a_k`` (degrees). A
    frame is a jump when its steps to BOTH neighbours exceed ``factor`` times the shot's typical step (the
    median step, at least ``min_step = (distance, degrees)`` per frame, so that a camera on a tripod does not
    turn its noise into jumps) while its two neighbours are close to each other (it is off the path, not on a
    fast move). The first and the last frame are compared with their two nearest frames instead.
    """
    frames = np.asarray(frame_numbers, dtype=np.float64)
    poses = np.asarray(world_from_cam, dtype=np.float64)
    n = len(frames)
    if n < 4:
        return {}
    centres, rots = poses[:, :3, 3], poses[:, :3, :3]

    def step(a: int, b: int) -> tuple[float, float]:
        gap = max(abs(frames[b] - frames[a]), 1.0)
        cos = (np.trace(rots[a].T @ rots[b]) - 1) / 2
        return float(np.linalg.norm(centres[b] - centres[a]) / gap), float(
            np.degrees(np.arccos(np.clip(cos, -1, 1))) / gap
        )

    steps = np.array([step(k, k + 1) for k in range(n - 1)])
    typical = np.maximum(np.median(steps, axis=0), np.maximum(min_step, [1e-12, 1e-9]))
    jumps: dict[int, str] = {}
    for k in range(n):
        a, b = (k - 1, k + 1) if 0 < k < n - 1 else ((1, 2) if k == 0 else (n - 2, n - 3))
        to_a, to_b, across = np.array(step(k, a)), np.array(step(k, b)), np.array(step(a, b))
        off = (to_a > factor * typical) & (to_b > factor * typical) & (across < 0.5 * np.minimum(to_a, to_b))
        if off.any():
            axis = 0 if off[0] else 1
            ratio = float(min(to_a[axis], to_b[axis]) / typical[axis])
            what = "moves" if axis == 0 else "turns"
            jumps[k] = f"pose jumps off the camera path (it {what} {ratio:.0f}x the shot's typical step)"
    return jumps
