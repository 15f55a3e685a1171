"""The camera path: quaternions without sign flips, SLERP interpolation, and the jumps that are flagged."""

from __future__ import annotations

import numpy as np
import pytest

from core.footage.pnp import rotation_from_vector
from core.footage.trajectory import (
    continuous_quaternions,
    find_jumps,
    interpolate_poses,
    matrix_from_quaternion,
    quaternion_from_matrix,
    slerp,
)
from core.geometry.transforms import make_rigid


def _path(n: int, turn_deg: float = 3.0, step: float = 0.05) -> np.ndarray:
    """A camera turning at a constant rate about a fixed axis while moving along a line."""
    axis = np.array([0.2, 1.0, 0.1]) / np.linalg.norm([0.2, 1.0, 0.1])
    return np.stack(
        [
            make_rigid(rotation_from_vector(axis * np.radians(turn_deg * k)), [step * k, 0.0, 0.01 * k])
            for k in range(n)
        ]
    )


def test_quaternion_round_trip(random_world_from_cam) -> None:
    rng = np.random.default_rng(0)
    R = np.stack([random_world_from_cam(rng)[:3, :3] for _ in range(50)])
    R[0] = np.diag([1.0, -1.0, -1.0])  # 180 degrees: the trace is -1
    q = quaternion_from_matrix(R)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0)
    np.testing.assert_allclose(matrix_from_quaternion(q), R, atol=1e-12)


def test_quaternions_keep_their_sign_along_the_path() -> None:
    poses = _path(200, turn_deg=4.0)  # 800 degrees in all: w changes sign several times
    plain = quaternion_from_matrix(poses[:, :3, :3])
    assert (np.sum(plain[1:] * plain[:-1], axis=1) < 0).any()  # the canonical (w >= 0) form flips
    q = continuous_quaternions(poses[:, :3, :3])
    assert (np.sum(q[1:] * q[:-1], axis=1) > 0).all()
    np.testing.assert_allclose(matrix_from_quaternion(q), poses[:, :3, :3], atol=1e-12)


def test_slerp_takes_the_short_way() -> None:
    q0 = quaternion_from_matrix(np.eye(3))
    q1 = -quaternion_from_matrix(rotation_from_vector([0, 0, np.radians(40)]))  # same rotation, other sign
    half = matrix_from_quaternion(slerp(q0, q1, 0.5))
    np.testing.assert_allclose(half, rotation_from_vector([0, 0, np.radians(20)]), atol=1e-12)


def test_interpolation_is_exact_for_a_constant_turn_and_a_straight_move() -> None:
    poses = _path(13)
    known = [0, 4, 8, 12]
    query = [1, 2, 3, 5, 11]
    got = interpolate_poses(known, poses[known], query)
    np.testing.assert_allclose(got, poses[query], atol=1e-12)
    held = interpolate_poses(known, poses[known], [-3, 20])  # outside: the nearest pose, no extrapolation
    np.testing.assert_allclose(held, poses[[0, 12]])
    with pytest.raises(ValueError):
        interpolate_poses([0, 1], poses[:1], [0])


def test_a_frame_off_the_path_is_found_and_a_fast_move_is_not() -> None:
    poses = _path(30)
    assert find_jumps(range(30), poses) == {}
    fast = poses.copy()
    fast[15:, :3, 3] += np.arange(15)[:, None] * [0.3, 0, 0]  # the camera speeds up: still a path
    assert find_jumps(range(30), fast) == {}
    bad = poses.copy()
    bad[10, :3, 3] += [1.0, 0.0, 0.0]  # one frame thrown off
    bad[20, :3, :3] = rotation_from_vector([0, np.radians(25), 0]) @ bad[20, :3, :3]
    bad[0, :3, 3] += [0.0, 2.0, 0.0]  # the first frame too
    jumps = find_jumps(range(30), bad)
    assert sorted(jumps) == [0, 10, 20]
    assert "moves" in jumps[10] and "turns" in jumps[20]


def test_a_still_camera_does_not_turn_its_noise_into_jumps() -> None:
    rng = np.random.default_rng(5)
    still = np.stack(
        [make_rigid(rotation_from_vector(rng.normal(0, 1e-4, 3)), rng.normal(0, 1e-5, 3)) for _ in range(20)]
    )
    still[7, :3, :3] = rotation_from_vector([0, np.radians(0.5), 0]) @ still[7, :3, :3]  # half a degree
    assert 7 in find_jumps(range(20), still, min_step=(0.0, 0.0))  # against the noise it is a jump
    assert find_jumps(range(20), still, min_step=(1e-3, 0.2)) == {}  # below 6 x 0.2 degrees: not flagged
