"""Synthetic scenes (analytic primitives with procedural materials) and camera paths.

World: right-handed, metres, +z up. Cameras: OpenCV axes (x right, y down, z forward); a camera is its
``world_from_cam`` (4, 4) float64 transform. Every scene is closed (a dome or a room), so every ray hits.

Scenes (``SCENES[name] = (build_scene, camera_path)``):

* ``orbit``: objects on a table, photographed from all around (each photo its own focal);
* ``room``: furniture in a room, photographed from one side (each photo its own focal);
* ``shot``: footage in the room, one lens, a hand-held dolly with a pan;
* ``arc``: footage around the table, one lens, an arc.

Photo sets have a horizontal field of view of 50-70 degrees per view; footage moves a few centimetres (or
about 2 degrees of arc) per frame, so 24, 48 or more frames make a smooth path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PATTERNS = ("checker", "grating", "marble", "noise")


@dataclass(frozen=True)
class Material:
    """A procedural, view-independent surface colour (see ``render.shade``).

    Attributes:
        c1, c2: ``(3,)`` linear RGB in [0, 1], the two colours the pattern mixes.
        pattern: one of ``PATTERNS`` (``sky``: unlit low-frequency clouds).
        cell: checker cell size / grating or marble wavelength, metres.
        direction: ``(3,)`` unit vector of the grating / marble bands (local frame).
        waves: ``(K, 3)`` wave vectors (rad/m) of the multi-octave noise, ``phases``/``amps`` ``(K,)``.
        detail: weight of the multi-octave noise on top of the pattern.
    """

    c1: np.ndarray
    c2: np.ndarray
    pattern: str
    cell: float
    direction: np.ndarray
    waves: np.ndarray
    phases: np.ndarray
    amps: np.ndarray
    detail: float = 0.45


@dataclass(frozen=True)
class Prim:
    """An analytic primitive in its own local frame (``world = rot @ local + center``).

    ``kind``: ``plane`` (local z = 0, ``|x| <= half[0]``, ``|y| <= half[1]``, inf allowed), ``box``
    (``|local| <= half``) or ``sphere`` (radius ``half[0]``). ``inside``: seen from the inside (room, dome):
    the far hit counts and normals point inwards. ``background``: sky-like, low confidence in predictions.
    """

    kind: str
    center: np.ndarray
    rot: np.ndarray
    half: np.ndarray
    material: Material
    inside: bool = False
    background: bool = False


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_from_rotvec(rotvec) -> np.ndarray:
    """``(3,)`` axis * angle (rad) -> ``(3, 3)`` rotation (Rodrigues)."""
    r = np.asarray(rotvec, dtype=np.float64)
    angle = float(np.linalg.norm(r))
    if angle < 1e-15:
        return np.eye(3)
    k = r / angle
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * cross @ cross


def look_at(center, target, roll: float = 0.0) -> np.ndarray:
    """``world_from_cam`` (4, 4) of a camera at ``center`` looking at ``target``, +z world up, ``roll`` rad."""
    c = np.asarray(center, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - c
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1) @ rotation_from_rotvec([0.0, 0.0, roll])
    T[:3, 3] = c
    return T


def focal_from_fov(width: int, fov_deg: float) -> float:
    """Focal length in pixels giving a horizontal field of view of ``fov_deg`` over ``width`` pixels."""
    return width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))


def make_material(
    rng: np.random.Generator, pattern: str | None = None, cell: float | None = None, c1=None, c2=None
):
    """A random material: a pattern plus eight octaves of noise (wavelengths from 2.5 ``cell`` down)."""
    pattern = pattern or PATTERNS[int(rng.integers(len(PATTERNS)))]
    cell = float(cell if cell is not None else rng.uniform(0.06, 0.25))
    waves, amps = [], []
    top = max(2.5 * cell, 0.3)
    for octave in range(8):
        wavelength = top / 2.0**octave
        for _ in range(3):
            d = rng.normal(size=3)
            waves.append(d / np.linalg.norm(d) * 2.0 * math.pi / wavelength)
            amps.append(wavelength**0.25)
    d = rng.normal(size=3)
    return Material(
        c1=np.asarray(c1 if c1 is not None else rng.uniform(0.1, 0.9, 3), dtype=np.float64),
        c2=np.asarray(c2 if c2 is not None else rng.uniform(0.1, 0.9, 3), dtype=np.float64),
        pattern=pattern,
        cell=cell,
        direction=d / np.linalg.norm(d),
        waves=np.array(waves),
        phases=rng.uniform(0.0, 2.0 * math.pi, len(waves)),
        amps=np.array(amps),
    )


def _prim(kind, center, half, material, yaw=0.0, **flags) -> Prim:
    return Prim(kind, np.asarray(center, float), rot_z(yaw), np.asarray(half, float), material, **flags)


def _objects(rng: np.random.Generator, slots, z0: float, tall: float) -> list[Prim]:
    """Boxes (half height up to ``tall`` x size) and spheres on the plane ``z = z0`` at ``(x, y, size)`` slots."""
    prims = []
    for k, (x, y, size) in enumerate(slots):
        if k % 3 == 1:
            prims.append(_prim("sphere", (x, y, z0 + size), (size,) * 3, make_material(rng)))
        else:
            h = size * rng.uniform(0.6, tall)
            half = (size, size * rng.uniform(0.5, 1.0), h)
            prims.append(_prim("box", (x, y, z0 + h), half, make_material(rng), yaw=rng.uniform(0, math.pi)))
    return prims


def orbit_scene(rng: np.random.Generator) -> list[Prim]:
    """A table (1 m above a checker floor) with 5-7 objects, under a textured sky dome of radius 10 m."""
    sky = make_material(rng, "sky", 3.0, c1=(0.45, 0.55, 0.7), c2=(0.85, 0.9, 1.0))
    prims = [
        _prim("sphere", (0, 0, 0), (10.0,) * 3, sky, inside=True, background=True),
        _prim("plane", (0, 0, -1.0), (np.inf, np.inf, 0), make_material(rng, "checker", 0.45)),
        _prim("box", (0, 0, -0.03), (1.25, 0.95, 0.03), make_material(rng, "checker", 0.12)),
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            prims.append(_prim("box", (1.1 * sx, 0.8 * sy, -0.53), (0.05, 0.05, 0.47), make_material(rng)))
    slots: list[tuple[float, float, float]] = []
    for _ in range(400):
        if len(slots) == int(rng.integers(5, 8)):
            break
        size = rng.uniform(0.1, 0.28)
        x, y = rng.uniform(-0.85, 0.85), rng.uniform(-0.6, 0.6)
        if all(math.hypot(x - a, y - b) > 1.5 * (size + s) + 0.03 for a, b, s in slots):
            slots.append((x, y, size))
    return prims + _objects(rng, slots, 0.0, tall=1.8)


def room_scene(rng: np.random.Generator) -> list[Prim]:
    """A closed room of 8 x 6 x 3 m: textured walls, floor and ceiling, 8-11 pieces of furniture, a pillar."""
    prims = [
        _prim("box", (0, 0, 1.5), (4.0, 3.0, 1.5), make_material(rng, "grating", 0.3), inside=True),
        _prim("plane", (0, 0, 0.002), (3.99, 2.99, 0), make_material(rng, "checker", 0.5)),
        _prim("plane", (0, 0, 2.998), (3.99, 2.99, 0), make_material(rng, "noise", 0.8)),
        _prim("box", (0.8, -1.2, 1.5), (0.15, 0.15, 1.5), make_material(rng, "grating", 0.1), yaw=0.4),
    ]
    for k in range(3):  # pictures on the far wall
        m = make_material(rng, "marble", 0.2)
        prims.append(
            Prim("plane", np.array([3.99, -1.8 + 1.8 * k, 1.6]), _wall_rot(), np.array([0.5, 0.35, 0]), m)
        )
    slots = [
        (x + rng.uniform(-0.3, 0.3), s * rng.uniform(1.8, 2.4)) for s in (-1, 1) for x in (-3, -1.2, 0.6, 2.4)
    ]
    slots += [(rng.uniform(2.9, 3.3), y + rng.uniform(-0.2, 0.2)) for y in (-1.2, 0.0, 1.2)]
    order = rng.permutation(len(slots))[: int(rng.integers(8, 12))]
    # at most 1.35 m high: the cameras (1.45 m and up) never stand inside furniture
    return prims + _objects(rng, [(*slots[i], rng.uniform(0.25, 0.45)) for i in order], 0.0, tall=1.5)


def _wall_rot() -> np.ndarray:
    """Local z along -x (a plane on the wall x = const, facing the room), local x along y."""
    return np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def smooth_wobble(rng: np.random.Generator, n: int, sigma: float, dims: int = 3) -> np.ndarray:
    """``(n, dims)`` smooth per-frame offsets (std ~ sigma): a few sinusoids of 15-60 frames per cycle.

    Frame k's value does not depend on ``n``: a longer shot extends the same path.
    """
    k = np.arange(n, dtype=np.float64)[:, None]
    out = np.zeros((n, dims))
    for _ in range(3):
        freq = rng.uniform(1 / 60, 1 / 15, dims)
        out += np.sin(2 * math.pi * freq * k + rng.uniform(0, 2 * math.pi, dims))
    return out * sigma / math.sqrt(1.5)


def orbit_cameras(rng: np.random.Generator, n: int, width: int):
    """Photos all around the table, 2.1-2.6 m away, 0.7-1.5 m above it, each with its own 50-70 degree FOV."""
    start = rng.uniform(0, 2 * math.pi)
    poses, focals = [], []
    for k in range(n):
        az = start + 2 * math.pi * k / n + rng.normal(0, 0.06)
        r, h = rng.uniform(2.1, 2.6), rng.uniform(0.7, 1.5)
        target = np.array([0.0, 0.0, 0.15]) + rng.normal(0, 0.08, 3)
        poses.append(look_at((r * math.cos(az), r * math.sin(az), h), target, roll=rng.normal(0, 0.03)))
        focals.append(focal_from_fov(width, rng.uniform(50, 70)))
    return np.stack(poses), np.array(focals)


def room_cameras(rng: np.random.Generator, n: int, width: int):
    """Photos of the furnished +x half of the room from a 110-degree fan of viewpoints 2.3-3 m away."""
    target = np.array([1.6, 0.0, 1.0])
    poses, focals = [], []
    for k in range(n):
        az = math.pi + math.radians(110) * ((k + 0.5) / n - 0.5) + rng.normal(0, 0.05)
        r = rng.uniform(2.3, 3.0)
        center = target + (r * math.cos(az), r * math.sin(az), rng.uniform(0.45, 0.8))
        center[:2] = np.clip(center[:2], (-3.6, -2.6), (3.6, 2.6))
        poses.append(look_at(center, target + rng.normal(0, 0.15, 3), roll=rng.normal(0, 0.03)))
        focals.append(focal_from_fov(width, rng.uniform(50, 70)))
    return np.stack(poses), np.array(focals)


def shot_cameras(rng: np.random.Generator, n: int, width: int):
    """Footage through the room: a dolly of 3.5 cm per frame towards +x with a slow pan, hand-held wobble."""
    step = min(0.035, 4.5 / max(n - 1, 1))
    y0, yaw0, pan = rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2), rng.uniform(-0.4, 0.4) / 48
    shake = smooth_wobble(rng, n, 0.015)
    turn = smooth_wobble(rng, n, math.radians(0.8))
    poses = []
    for k in range(n):
        c = np.array([-3.0 + step * k, y0, 1.5]) + shake[k]
        yaw, pitch = yaw0 + pan * k + turn[k, 0], math.radians(-6) + turn[k, 1]
        forward = np.array(
            [math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)]
        )
        poses.append(look_at(c, c + forward, roll=turn[k, 2]))
    return np.stack(poses), np.full(n, focal_from_fov(width, rng.uniform(50, 65)))


def arc_cameras(rng: np.random.Generator, n: int, width: int):
    """Footage around the table: 2 degrees of arc per frame (at most 200 in all), 2.4 m away, hand-held."""
    step = math.radians(min(2.0, 200.0 / max(n - 1, 1)))
    start = rng.uniform(0, 2 * math.pi)
    shake = smooth_wobble(rng, n, 0.02)
    aim = smooth_wobble(rng, n, 0.04)
    poses = []
    for k in range(n):
        az = start + step * k
        c = np.array([2.4 * math.cos(az), 2.4 * math.sin(az), 1.1]) + shake[k]
        poses.append(look_at(c, np.array([0.0, 0.0, 0.15]) + aim[k]))
    return np.stack(poses), np.full(n, focal_from_fov(width, rng.uniform(50, 65)))


SCENES = {
    "orbit": (orbit_scene, orbit_cameras),
    "room": (room_scene, room_cameras),
    "shot": (room_scene, shot_cameras),
    "arc": (orbit_scene, arc_cameras),
}
FOOTAGE = ("shot", "arc")
