"""Per-pixel ray casting of the analytic scenes and their procedural, anti-aliased shading.

Pixel ``(u, v)`` (index coordinates: ``u`` = column, ``v`` = row) of a camera with intrinsics ``K`` and radial
distortion ``dist = (k1, k2)`` looks along the undistorted ray of ``x_d = ((u - cx) / f, (v - cy) / f)``
(``core.geometry.distortion``); rays have ``z = 1`` in the camera frame, so the hit distance along a ray IS
the z-depth. Colours are a function of the surface point and normal only (view-independent Lambert
shading), low-pass filtered by the pixel's footprint on the surface (each sinusoid of a texture is damped
by the Gaussian blur of half a footprint), so that views at different distances and resolutions see the
same surface without aliasing: the textures stay matchable to a fraction of a pixel.
"""

from __future__ import annotations

import math

import numpy as np

from core.geometry.cameras import pixel_grid
from core.geometry.distortion import pixel_rays

from .scenes import Material, Prim

EPS = 1e-9
LIGHT = np.array([0.4, -0.3, 0.85]) / np.linalg.norm([0.4, -0.3, 0.85])
FILL = np.array([-0.5, 0.6, 0.3]) / np.linalg.norm([-0.5, 0.6, 0.3])


def _nonzero(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 1e-15, 1e-15, x)


def intersect(prim: Prim, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ray hits of one primitive.

    Args:
        origin: ``(3,)`` ray origin (world). dirs: ``(M, 3)`` ray directions (world, any length).

    Returns:
        ``t (M,)`` (hit = origin + t * dir; inf where missed) and ``normal (M, 3)`` (world, unit, facing the
        ray origin; undefined where missed).
    """
    o = prim.rot.T @ (origin - prim.center)
    d = dirs @ prim.rot  # local directions
    m = len(d)
    normal = np.zeros((m, 3))
    if prim.kind == "plane":
        t = -o[2] / _nonzero(d[:, 2])
        hit = o + d * t[:, None]
        ok = (t > EPS) & (np.abs(hit[:, 0]) <= prim.half[0]) & (np.abs(hit[:, 1]) <= prim.half[1])
        normal[:, 2] = 1.0 if o[2] > 0 else -1.0
    elif prim.kind == "box":
        inv = 1.0 / _nonzero(d)
        t1, t2 = (-prim.half - o) * inv, (prim.half - o) * inv
        t_near, t_far = np.minimum(t1, t2), np.maximum(t1, t2)
        enter, leave = t_near.max(1), t_far.min(1)
        if prim.inside:
            t, axis = leave, t_far.argmin(1)
        else:
            t, axis = enter, t_near.argmax(1)
        ok = (leave >= enter) & (t > EPS)
        rows = np.arange(m)
        normal[rows, axis] = -np.sign(d[rows, axis])
    elif prim.kind == "sphere":
        b = d @ o
        a = np.einsum("ij,ij->i", d, d)
        disc = b * b - a * (o @ o - prim.half[0] ** 2)
        root = np.sqrt(np.maximum(disc, 0.0))
        t = ((-b + root) if prim.inside else (-b - root)) / a
        ok = (disc >= 0) & (t > EPS)
        normal = (o + d * t[:, None]) / prim.half[0] * (-1.0 if prim.inside else 1.0)
    else:
        raise ValueError(f"unknown primitive kind {prim.kind!r}")
    return np.where(ok, t, np.inf), normal @ prim.rot.T


def cast(prims: list[Prim], origin: np.ndarray, dirs: np.ndarray):
    """Nearest hit over all primitives: ``t (M,)``, ``normal (M, 3)`` (world) and primitive ``ids (M,)`` int."""
    best_t = np.full(len(dirs), np.inf)
    best_n = np.zeros((len(dirs), 3))
    ids = np.full(len(dirs), -1, dtype=np.int64)
    for k, prim in enumerate(prims):
        t, n = intersect(prim, origin, dirs)
        closer = t < best_t
        best_t[closer], best_n[closer], ids[closer] = t[closer], n[closer], k
    if not np.all(ids >= 0):
        raise RuntimeError("a ray hit nothing: the scene must be closed (a dome or a room)")
    return best_t, best_n, ids


def cast_pixels(prims: list[Prim], world_from_cam: np.ndarray, K: np.ndarray, dist, uv: np.ndarray):
    """Cast the rays of pixels ``uv`` ``(..., 2)`` (index coordinates, any sub-pixel position).

    Returns:
        ``depth (...)`` float64 z-depth, ``pts_world (..., 3)`` float64 hit points, ``ids (...)`` primitive
        index, ``normal (..., 3)`` world normals, ``rays (..., 3)`` the camera-frame rays (z = 1).
    """
    uv = np.asarray(uv, dtype=np.float64)
    rays = pixel_rays(uv, K, dist)
    dirs = rays.reshape(-1, 3) @ world_from_cam[:3, :3].T
    origin = world_from_cam[:3, 3]
    t, normal, ids = cast(prims, origin, dirs)
    shape = uv.shape[:-1]
    pts = origin + dirs * t[:, None]
    return t.reshape(shape), pts.reshape(*shape, 3), ids.reshape(shape), normal.reshape(*shape, 3), rays


def _damp(sigma: np.ndarray, wavenumber) -> np.ndarray:
    """Gain of a sinusoid of ``wavenumber`` (rad/m) under a Gaussian blur of std ``sigma`` (m)."""
    return np.exp(-0.5 * (sigma * wavenumber) ** 2)


def _noise(mat: Material, p: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Multi-octave sum of sinusoids (about unit std when unfiltered), each damped by the footprint."""
    phase = p @ mat.waves.T + mat.phases  # (M, K)
    gain = mat.amps * _damp(sigma[:, None], np.linalg.norm(mat.waves, axis=1))
    return (np.sin(phase) * gain).sum(1) / math.sqrt(0.5 * np.sum(mat.amps**2))


def _pattern(mat: Material, p: np.ndarray, n_local: np.ndarray, sigma: np.ndarray, noise: np.ndarray):
    """Pattern value in [0, 1] at local points ``p`` (M, 3)."""
    c = mat.cell
    if mat.pattern == "checker":  # in the two local axes across the face's dominant normal axis
        axis = np.abs(n_local).argmax(1)
        u = np.where(axis == 0, p[:, 1], p[:, 0])
        v = np.where(axis == 2, p[:, 1], p[:, 2])
        s = np.sin(math.pi * u / c) * np.sin(math.pi * v / c)
        edge = np.tanh(s * c / (math.pi * np.maximum(sigma, 1e-6)))
        return 0.5 + 0.5 * edge * np.exp(-((math.pi * sigma / c) ** 2))
    if mat.pattern == "grating":  # a square-ish grating: fundamental and third harmonic
        x = 2 * math.pi * (p @ mat.direction) / c
        k = 2 * math.pi / c
        wave = np.sin(x) * _damp(sigma, k) + np.sin(3 * x) / 3 * _damp(sigma, 3 * k)
        return 0.5 + 0.4 * wave
    if mat.pattern == "marble":
        x = 2 * math.pi * (p @ mat.direction) / c + 2.5 * noise
        return 0.5 + 0.5 * np.sin(x) * _damp(sigma, 2 * math.pi / c)
    return np.clip(0.5 + 0.3 * noise, 0.0, 1.0)  # "noise" and "sky"


def shade(prim: Prim, pts_world: np.ndarray, normal: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``(M, 3)`` RGB in [0, 1] of points of ``prim`` (world points and normals, footprint std ``sigma``)."""
    mat = prim.material
    p = (pts_world - prim.center) @ prim.rot
    noise = _noise(mat, p, sigma)
    a = _pattern(mat, p, normal @ prim.rot, sigma, noise)
    rgb = mat.c1 + (mat.c2 - mat.c1) * a[:, None]
    if mat.pattern not in ("noise", "sky"):
        rgb = rgb * (1.0 + mat.detail * np.clip(noise, -1.5, 1.5)[:, None] / 1.5)
    if mat.pattern != "sky":
        light = 0.45 + 0.5 * np.clip(normal @ LIGHT, 0, 1) + 0.2 * np.clip(normal @ FILL, 0, 1)
        rgb = rgb * light[:, None]
    return np.clip(rgb, 0.0, 1.0)


def render_view(prims: list[Prim], world_from_cam: np.ndarray, K: np.ndarray, dist, H: int, W: int):
    """Ray cast one ``H x W`` view.

    Returns:
        ``depth (H, W)`` float64 z-depth, ``image (H, W, 3)`` uint8, ``obj_id (H, W)`` int16 primitive index.
    """
    depth, pts, ids, normal, rays = cast_pixels(prims, world_from_cam, K, dist, pixel_grid(H, W))
    pts, ids, normal = pts.reshape(-1, 3), ids.reshape(-1), normal.reshape(-1, 3)
    dirs = rays.reshape(-1, 3) @ world_from_cam[:3, :3].T
    length = depth.reshape(-1) * np.linalg.norm(dirs, axis=1)
    cos_inc = np.abs(np.einsum("ij,ij->i", normal, dirs)) / np.linalg.norm(dirs, axis=1)
    sigma = 0.5 * length / (float(K[0, 0]) * np.maximum(cos_inc, 0.25))
    rgb = np.zeros((len(ids), 3))
    for k in np.unique(ids):
        sel = ids == k
        rgb[sel] = shade(prims[k], pts[sel], normal[sel], sigma[sel])
    image = (rgb.reshape(H, W, 3) * 255.0 + 0.5).astype(np.uint8)
    return depth, image, ids.reshape(H, W).astype(np.int16)
