"""Checks shared by the footage tests: the one footage camera, and its reprojection of a result's points at
every keyed frame (CONVENTIONS.md section 6, through ``world_to_camera_view`` after ``scene.frame_set``)."""

from __future__ import annotations

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

POINTS_PER_FRAME = 1200


def footage_camera():
    cams = [o for o in bpy.data.objects if o.get("dust3r_role") == "footage_camera"]
    assert len(cams) == 1, [o.name for o in bpy.data.objects]
    return cams[0]


def import_result(path) -> None:
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}


def blender_points(pts_opencv: np.ndarray) -> np.ndarray:
    """OpenCV world -> Blender world (CONVENTIONS.md section 4)."""
    return np.stack([pts_opencv[:, 0], pts_opencv[:, 2], -pts_opencv[:, 1]], axis=-1)


def tracking_distort(uv_pinhole: np.ndarray, clip, size) -> np.ndarray:
    """Blender's POLYNOMIAL model, from the clip's tracking camera as Blender stores it (libmv: normalise by
    the focal in pixels, the vertical one ``pixel_aspect`` times it, around the principal point measured
    from the bottom-left corner; ``1 + k1 r^2 + k2 r^4 + k3 r^6``)."""
    cam = clip.tracking.camera
    w, h = size
    f = cam.focal_length_pixels
    fy = f * cam.pixel_aspect
    cx, cy_up = cam.principal_point_pixels
    x = (uv_pinhole[:, 0] - cx) / f
    y = ((h - uv_pinhole[:, 1]) - cy_up) / fy  # v down -> Blender's y up
    r2 = x * x + y * y
    scale = 1 + cam.k1 * r2 + cam.k2 * r2 * r2 + cam.k3 * r2 * r2 * r2
    return np.stack([x * scale * f + cx, h - (y * scale * fy + cy_up)], axis=-1)


def reprojection_errors(recon, cam_obj, clip=None) -> dict[int, float]:
    """Worst error (px of the photo) of each view's points through the camera at that view's frame. A
    point of network pixel ``(i, j)`` belongs at ``photo_from_net_pixels`` of it (``core.geometry.photo``):
    ``(i + 0.5 + crop_offset) * scale``."""
    scene = bpy.context.scene
    w, h = (int(v) for v in recon.photo_size[0])
    rng = np.random.default_rng(0)
    worst = {}
    for k, frame in enumerate(recon.frame_numbers):
        net_h, net_w = np.asarray(recon.pts3d[k]).shape[:2]
        crop = recon.crops[k]
        grid = np.stack(np.meshgrid(np.arange(net_w), np.arange(net_h)), axis=-1) + 0.5
        grid = (grid + np.asarray(crop.crop_offset, dtype=np.float64)) * np.asarray(crop.scale_xy)
        pts = np.asarray(recon.pts3d[k], dtype=np.float64).reshape(-1, 3)
        ok = np.isfinite(pts).all(axis=1)
        if not ok.any():
            continue
        pick = rng.choice(np.flatnonzero(ok), size=min(POINTS_PER_FRAME, int(ok.sum())), replace=False)
        expected = grid.reshape(-1, 2)[pick]
        scene.frame_set(int(frame))
        uv = np.array(
            [
                (p.x * w, (1.0 - p.y) * h)
                for p in (world_to_camera_view(scene, cam_obj, Vector(q)) for q in blender_points(pts[pick]))
            ]
        )
        if clip is not None:
            uv = tracking_distort(uv, clip, (w, h))
        worst[int(frame)] = float(np.abs(uv - expected).max())
    return worst


def camera_agreement_px(recon, cam_obj) -> dict[int, float]:
    """Worst difference (px of the photo) between Blender's projection through the camera at each view's
    frame and the result's own pinhole camera of that view (``K_photo``, ``world_from_cam``), over points in
    front of it. For a real run, whose points are not exactly on their pixels' rays (the network's
    pointmaps), this is the exact check that the camera at every key IS the result's camera."""
    scene = bpy.context.scene
    w, h = (int(v) for v in recon.photo_size[0])
    rng = np.random.default_rng(0)
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in recon.pts3d])
    pts = pts[np.isfinite(pts).all(axis=1)]
    pts = pts[rng.choice(len(pts), size=min(POINTS_PER_FRAME, len(pts)), replace=False)]
    worst = {}
    for k, frame in enumerate(recon.frame_numbers):
        T = np.asarray(recon.world_from_cam[k], dtype=np.float64)
        K = np.asarray(recon.K_photo[k], dtype=np.float64)
        cam_pts = (pts - T[:3, 3]) @ T[:3, :3]
        z = cam_pts[:, 2]
        # Points at a tenth of the view's median depth or nearer: float32 keys and matrices alone move them
        # by more than 0.01 px (a random tiny model puts points right in front of the lens).
        z = np.where(z > 0.1 * np.median(z[z > 0]), z, np.nan)
        projected = cam_pts[:, :2] / z[:, None] @ K[:2, :2].T + K[:2, 2]
        front = ((projected >= 0) & (projected <= (w, h))).all(axis=1)  # NaN (behind): False
        expected = projected[front]
        scene.frame_set(int(frame))
        uv = np.array(
            [
                (p.x * w, (1.0 - p.y) * h)
                for p in (world_to_camera_view(scene, cam_obj, Vector(q)) for q in blender_points(pts[front]))
            ]
        )
        worst[int(frame)] = float(np.abs(uv - expected).max()) if front.any() else float("nan")
    return worst
