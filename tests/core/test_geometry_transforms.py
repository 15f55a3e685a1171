"""core.geometry.transforms and core.geometry.procrustes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from core.geometry.procrustes import batched_umeyama, weighted_umeyama
from core.geometry.transforms import invert_rigid, make_rigid, rotation_angle_deg, skew, transform_points


def _random_rigid(rng: np.random.Generator) -> np.ndarray:
    return make_rigid(Rotation.random(random_state=rng.integers(1 << 30)).as_matrix(), rng.normal(size=3))


def test_invert_rigid_composes_to_identity() -> None:
    rng = np.random.default_rng(0)
    b_from_a = np.stack([_random_rigid(rng) for _ in range(5)]).astype(np.float32)
    a_from_b = invert_rigid(b_from_a)
    assert a_from_b.dtype == np.float64
    np.testing.assert_allclose(a_from_b @ b_from_a, np.broadcast_to(np.eye(4), (5, 4, 4)), atol=1e-6)
    np.testing.assert_allclose(a_from_b, np.linalg.inv(b_from_a.astype(np.float64)), atol=1e-6)


def test_transform_points_matches_homogeneous_product() -> None:
    rng = np.random.default_rng(1)
    dst_from_src = _random_rigid(rng)
    pts = rng.normal(size=(4, 6, 3))
    homog = np.concatenate([pts, np.ones((4, 6, 1))], axis=-1) @ dst_from_src.T
    np.testing.assert_allclose(transform_points(dst_from_src, pts), homog[..., :3], atol=1e-12)


def test_rotation_angle_deg() -> None:
    R = Rotation.from_rotvec(np.radians(37.0) * np.array([0.0, 0.6, 0.8])).as_matrix()
    assert rotation_angle_deg(R) == pytest.approx(37.0, abs=1e-9)
    assert rotation_angle_deg(make_rigid(R, np.zeros(3))) == pytest.approx(37.0, abs=1e-9)
    np.testing.assert_allclose(rotation_angle_deg(np.stack([np.eye(3), R])), [0.0, 37.0], atol=1e-6)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="make_rigid"):
        make_rigid(np.eye(4), np.zeros(3))
    with pytest.raises(ValueError, match="4, 4"):
        invert_rigid(np.eye(3))
    with pytest.raises(ValueError, match="pts"):
        transform_points(np.eye(4), np.zeros((5, 2)))


@pytest.mark.parametrize("with_scale", [True, False])
def test_umeyama_recovers_similarity(with_scale: bool) -> None:
    rng = np.random.default_rng(2)
    T = _random_rigid(rng)
    s_true = 2.5 if with_scale else 1.0
    src = rng.normal(size=(50, 3)).astype(np.float32)
    dst = s_true * src.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    s, R, t = weighted_umeyama(src, dst, with_scale=with_scale)
    assert s == pytest.approx(s_true, rel=1e-6)
    np.testing.assert_allclose(R, T[:3, :3], atol=1e-6)
    np.testing.assert_allclose(t, T[:3, 3], atol=1e-5)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_umeyama_weights_ignore_outliers() -> None:
    rng = np.random.default_rng(3)
    T = _random_rigid(rng)
    src = rng.normal(size=(40, 3))
    dst = transform_points(T, src)
    dst[:10] += rng.normal(scale=5.0, size=(10, 3))  # outliers, weight 0
    weights = np.r_[np.zeros(10), rng.uniform(0.5, 2.0, size=30)]
    s, R, t = weighted_umeyama(src, dst, weights)
    np.testing.assert_allclose(s * src[10:] @ R.T + t, dst[10:], atol=1e-9)


def test_umeyama_weighted_optimum() -> None:
    """With noise, the weighted solution has a lower weighted cost than small perturbations of it."""
    rng = np.random.default_rng(4)
    src = rng.normal(size=(30, 3))
    dst = transform_points(_random_rigid(rng), src) + rng.normal(scale=0.1, size=(30, 3))
    w = rng.uniform(0.1, 3.0, size=30)
    s, R, t = weighted_umeyama(src, dst, w)

    def cost(s_, R_, t_):
        return float(w @ np.sum((dst - (s_ * src @ R_.T + t_)) ** 2, axis=1))

    best = cost(s, R, t)
    for _ in range(20):
        dR = Rotation.from_rotvec(rng.normal(scale=1e-3, size=3)).as_matrix()
        assert cost(s * (1 + rng.normal(scale=1e-3)), dR @ R, t + rng.normal(scale=1e-3, size=3)) > best


def test_umeyama_never_returns_a_reflection() -> None:
    rng = np.random.default_rng(5)
    src = rng.normal(size=(20, 3))
    dst = src * np.array([1.0, 1.0, -1.0])  # a mirror image: the best proper rotation is not exact
    _, R, _ = weighted_umeyama(src, dst)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_umeyama_rejects_bad_input() -> None:
    pts = np.zeros((5, 3))
    with pytest.raises(ValueError, match="at least 3"):
        weighted_umeyama(pts[:2], pts[:2])
    with pytest.raises(ValueError, match="at least 3"):
        weighted_umeyama(pts, pts, np.zeros(5))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_umeyama(pts, pts, -np.ones(5))
    with pytest.raises(ValueError, match=r"\(M, 3\)"):
        weighted_umeyama(pts, pts[:4])


def test_batched_umeyama_unweighted_recovers_each_similarity() -> None:
    """The footage PnP's old expectations (its batched fit, unweighted), on the one Umeyama."""
    rng = np.random.default_rng(4)
    src = rng.normal(size=(7, 5, 3))
    R = np.stack([_random_rigid(rng)[:3, :3] for _ in range(7)])
    s, t = rng.uniform(0.5, 2, 7), rng.normal(size=(7, 3))
    dst = s[:, None, None] * np.einsum("bij,bpj->bpi", R, src) + t[:, None]
    s2, R2, t2 = batched_umeyama(src, dst)
    np.testing.assert_allclose(s2, s)
    np.testing.assert_allclose(R2, R, atol=1e-10)
    np.testing.assert_allclose(t2, t, atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(R2), 1.0)


def test_batched_umeyama_weighted_equals_one_problem_at_a_time() -> None:
    """The alignment's old expectations (weighted, zero-weight padding ignored): each problem of the batch
    is the checked single fit, and without scale the rigid fit."""
    rng = np.random.default_rng(5)
    src = rng.normal(size=(4, 30, 3))
    dst = np.stack([transform_points(_random_rigid(rng), x) * 1.7 for x in src]) + rng.normal(
        scale=0.05, size=(4, 30, 3)
    )
    w = rng.uniform(0.1, 3.0, size=(4, 30))
    w[:, 25:] = 0.0  # padding, as the alignment's shorter views leave it
    dst[:, 25:] = 1e6
    for with_scale in (True, False):
        s, R, t = batched_umeyama(src, dst, w, with_scale=with_scale)
        for e in range(4):
            s1, R1, t1 = weighted_umeyama(src[e], dst[e], w[e], with_scale=with_scale)
            assert s[e] == pytest.approx(s1, rel=1e-12)
            np.testing.assert_allclose(R[e], R1, atol=1e-12)
            np.testing.assert_allclose(t[e], t1, atol=1e-9)
        if not with_scale:
            np.testing.assert_array_equal(s, 1.0)


def test_skew_is_the_cross_product() -> None:
    rng = np.random.default_rng(6)
    v, x = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(np.einsum("bij,bj->bi", skew(v), x), np.cross(v, x), atol=1e-12)
    np.testing.assert_allclose(skew(v[0]), -skew(v[0]).T)
