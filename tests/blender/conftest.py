"""Real-Blender test setup: the add-on enabled as an extension (``bl_ext.<repo>.dust3r``), a clean file per test.

TESTING.md option (c): a local extension repository whose folder holds a symlink named ``dust3r`` to the
repository root, so the add-on gets its real package name and ``AddonPreferences`` lookups work.
The add-on is enabled once per session; each test gets a fresh empty file (see ``clean_file``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402  (only exists once bpy is imported)

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON_ID = "dust3r"
REPO_NAME = "dust3r_tests"


class AddonHandle:
    """Enables/disables the add-on as Blender would, through a local extension repository."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.module_name: str | None = None

    def _ensure_repo(self) -> str:
        prefs = bpy.context.preferences
        for repo in prefs.extensions.repos:
            if Path(repo.directory).resolve() == self.repo_dir.resolve():
                return repo.module
        bpy.ops.preferences.extension_repo_add(
            name=REPO_NAME, type="LOCAL", use_custom_directory=True, custom_directory=str(self.repo_dir)
        )
        for repo in prefs.extensions.repos:
            if Path(repo.directory).resolve() == self.repo_dir.resolve():
                return repo.module
        raise RuntimeError("could not add the test extension repository")

    def enable(self) -> ModuleType:
        self.module_name = f"bl_ext.{self._ensure_repo()}.{ADDON_ID}"
        module = addon_utils.enable(self.module_name, default_set=True, handle_error=_raise)
        if module is None:
            raise RuntimeError(f"could not enable {self.module_name}")
        return module

    def disable(self) -> None:
        if self.module_name is not None:
            addon_utils.disable(self.module_name, default_set=True, handle_error=_raise)

    def is_enabled(self) -> bool:
        return self.module_name is not None and self.module_name in bpy.context.preferences.addons

    @property
    def module(self) -> ModuleType:
        return sys.modules[self.module_name]

    def submodule(self, name: str) -> ModuleType:
        """``core.result`` etc. as the add-on itself imported it (same class identities)."""
        import importlib

        return importlib.import_module(f"{self.module_name}.{name}")


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.fixture(scope="session")
def addon_repo_dir():
    with tempfile.TemporaryDirectory(prefix="dust3r-ext-repo-") as tmp:
        (Path(tmp) / ADDON_ID).symlink_to(REPO_ROOT, target_is_directory=True)
        yield Path(tmp)


@pytest.fixture(scope="session")
def addon_handle(addon_repo_dir) -> AddonHandle:
    return AddonHandle(addon_repo_dir)


@pytest.fixture(scope="session")
def enabled_addon(addon_handle):
    """The add-on enabled once for the whole session (re-enabling it re-syncs its bundled wheels: ~2.5 s)."""
    addon_handle.enable()
    yield addon_handle
    if addon_handle.is_enabled():
        addon_handle.disable()


@pytest.fixture
def clean_file():
    """A fresh empty file from the factory startup file, keeping the preferences (the add-on stays enabled).

    ``read_factory_settings`` would also reset the preferences, which removes the test extension repository
    and so forces a wheel re-sync on every re-enable; ``test_registration`` exercises that path on purpose.
    """
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    yield bpy.context


@pytest.fixture
def addon(enabled_addon, clean_file):
    """A fresh empty file with the add-on enabled and its preferences at their defaults."""
    if not enabled_addon.is_enabled():
        enabled_addon.enable()
    prefs = bpy.context.preferences.addons[enabled_addon.module_name].preferences
    for name in ("checkpoint", "device"):
        prefs.property_unset(name)
    yield enabled_addon
    tasks = enabled_addon.submodule("jobs.tasks")
    tasks.cancel_all(join=True, discard=True)  # never leave a worker behind for the next test


# ----------------------------------------------------------------------------- synthetic reconstructions
def write_photo(path: Path, size: tuple[int, int], exif_orientation: int = 1, seed: int = 0) -> None:
    """A photo that DISPLAYS as ``size = (W0, H0)``; with orientation 6/8 its stored pixels are transposed."""
    import numpy as np
    from PIL import Image

    w0, h0 = size
    stored = (h0, w0) if exif_orientation in (5, 6, 7, 8) else (w0, h0)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : stored[1], 0 : stored[0]]
    rgb = np.stack([xx * 255 // max(stored[0] - 1, 1), yy * 255 // max(stored[1] - 1, 1), 0 * xx], -1)
    rgb = (rgb + rng.integers(0, 30, 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(rgb)
    if exif_orientation == 1:
        img.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(path, exif=exif.tobytes(), quality=95)


@pytest.fixture(scope="session")
def photo_writer():
    """:func:`write_photo` for test modules (conftest is not importable under --import-mode=importlib)."""
    return write_photo


@pytest.fixture
def make_reconstruction(addon, tmp_path, random_world_from_cam):
    """Factory: ``make(specs, seed=0, image_size=512)`` -> (Reconstruction, crops) of a synthetic pinhole scene.

    Each spec is ``(W0, H0)`` or ``((W0, H0), exif_orientation)``. Per view: a real photo file, the network
    crop the core's loader would use, a random pose, a random network focal and principal point, random
    depths (or a smooth depth surface with ``smooth=True``); ``pts3d`` are the world points of the network pixels (exactly the pinhole model), ``K_photo``
    comes from the core's mapping (CONVENTIONS.md section 3).
    """
    import numpy as np

    images = addon.submodule("core.inference.images")
    photo = addon.submodule("core.geometry.photo")
    result = addon.submodule("core.result")

    def make(specs, seed: int = 0, image_size: int = 512, folder_name: str = "photos", smooth: bool = False):
        rng = np.random.default_rng(seed)
        folder = tmp_path / folder_name
        folder.mkdir(exist_ok=True)
        paths, w2c, k_photo, k_net, photo_sizes, net_sizes = [], [], [], [], [], []
        depth, pts3d, conf, colors, crops = [], [], [], [], []
        for k, spec in enumerate(specs):
            size, orientation = (spec, 1) if isinstance(spec[0], int) else spec
            path = folder / f"img{k}.{'png' if orientation == 1 else 'jpg'}"
            write_photo(path, size, orientation, seed=k)
            crop = images.plan_crop(size, image_size).crop
            w2, h2 = crop.net_size
            f2 = rng.uniform(0.7, 1.3) * max(w2, h2)
            pp = np.array([w2 / 2 + rng.uniform(-8, 8), h2 / 2 + rng.uniform(-8, 8)])
            K2 = photo.intrinsics_matrix(f2, f2, pp[0], pp[1])
            v, u = np.mgrid[0:h2, 0:w2].astype(np.float64)
            if smooth:  # a gently curved surface: neighbouring depths agree
                d = 2.0 + 0.3 * np.sin(u / w2 * 3.0) * np.cos(v / h2 * 2.0)
            else:
                d = rng.uniform(1.0, 5.0, (h2, w2))
            cam = np.stack([(u - pp[0]) / f2 * d, (v - pp[1]) / f2 * d, d], -1)
            T = random_world_from_cam(rng, translation_scale=2.0)
            world = cam @ T[:3, :3].T + T[:3, 3]
            paths.append(str(path))
            w2c.append(T)
            k_net.append(K2)
            k_photo.append(photo.K_photo_from_K_net(K2, crop))
            photo_sizes.append(size)
            net_sizes.append((w2, h2))
            depth.append(d.astype(np.float32))
            pts3d.append(world.astype(np.float32))
            conf.append(rng.uniform(1.0, 10.0, (h2, w2)).astype(np.float32))
            colors.append(rng.uniform(0, 1, (h2, w2, 3)).astype(np.float32))
            crops.append(crop)
        recon = result.Reconstruction(
            image_paths=tuple(paths),
            world_from_cam=np.stack(w2c),
            K_photo=np.stack(k_photo),
            photo_size=np.array(photo_sizes),
            K_net=np.stack(k_net),
            net_size=np.array(net_sizes),
            depth=tuple(depth),
            pts3d=tuple(pts3d),
            conf=tuple(conf),
            colors=tuple(colors),
        )
        return recon, crops

    return make


# ------------------------------------------------------------- ground-truth results of synthetic scenes
def _similar_pose(world_from_cam, rotation, translation, scale):
    """A camera pose seen in a world that is ``scale * rotation @ x + translation`` of the original."""
    import numpy as np

    out = np.array(world_from_cam, dtype=np.float64)
    out[:3, :3] = rotation @ out[:3, :3]
    out[:3, 3] = scale * rotation @ out[:3, 3] + translation
    return out


@pytest.fixture
def synthetic_result(addon, tmp_path):
    """Factory: ``make(scene="room", n=2, size=(96, 72), seed=0, frame=None, folder="photos")`` ->
    ``(recon, case, result_path)``.

    A ground-truth reconstruction of a ``tests.synthetic`` case, as the network would give it if it were
    perfect: the network image IS the photo (saved as PNG in ``folder``), the points are the true depth
    back-projected, colours the rendered pixels, confidence 10. ``frame=(rotation, translation, scale)``
    puts it in another similarity frame (a reconstruction's world is arbitrary). The result is written as
    a RESULT.npz (``Reconstruction.save_npz``) at ``result_path``.
    """
    import numpy as np
    from PIL import Image

    from tests.synthetic import make_case

    result = addon.submodule("core.result")
    photo = addon.submodule("core.geometry.photo")

    def make(scene="room", n=2, size=(96, 72), seed=0, frame=None, folder="photos"):
        case = make_case(scene, n=n, noise=0.0, size=size, seed=seed, preds=False)
        w, h = size
        crop = photo.PhotoCrop(photo_size=(w, h), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
        photo_dir = tmp_path / folder
        photo_dir.mkdir(exist_ok=True)
        paths = []
        for k in range(n):
            path = photo_dir / f"view{k}.png"
            Image.fromarray(case["images"][k]).save(path)
            paths.append(str(path))
        poses, depth = case["cam2world"], case["depth"]
        if frame is not None:
            rotation, translation, scale = frame
            poses = np.stack([_similar_pose(T, rotation, translation, scale) for T in poses])
            depth = depth * np.float32(scale)
        recon = result.reconstruction_from_depth(
            paths,
            poses,
            case["K"],  # index coordinates: the DUSt3R convention of network images
            [crop] * n,
            depth,
            [np.full((h, w), 10.0, np.float32)] * n,
            [img.astype(np.float32) / 255.0 for img in case["images"]],
        )
        result_path = tmp_path / f"{folder}_RESULT.npz"
        recon.save_npz(result_path)
        return recon, case, result_path

    return make


def bpy_data_state() -> dict:
    """Names in every collection of ``bpy.data``, and the scene's camera, resolution and collections."""
    state = {}
    for prop in bpy.data.bl_rna.properties:
        if prop.type == "COLLECTION":
            state[prop.identifier] = sorted(id_.name for id_ in getattr(bpy.data, prop.identifier))
    scene = bpy.context.scene
    render = scene.render
    state["scene"] = (
        scene.camera.name if scene.camera else None,
        (render.resolution_x, render.resolution_y, render.pixel_aspect_x, render.pixel_aspect_y),
        sorted(c.name for c in scene.collection.children),
    )
    return state


@pytest.fixture(scope="session")
def data_state():
    """:func:`bpy_data_state` for test modules (conftest is not importable under --import-mode=importlib)."""
    return bpy_data_state


# ------------------------------------------------------------------ ground-truth footage results (a shot)
@pytest.fixture
def footage_result(addon, tmp_path):
    """Factory: ``make(kind="video", n=6, size=(64, 48), first=1001, ...)`` -> ``(recon, case, result_path,
    plate)``: a ground-truth footage RESULT.npz of the ``tests.synthetic`` ``shot`` scene with its plate.

    The plate is the case's frames as a lossless H.264 video (``plate.mp4``, frames 1..n) or a PNG
    sequence ``plate.<first>.png``... (``kind="sequence"``). Cameras are the true ones; the points are
    the true depths along the rays of the result's own lens (``K`` with the principal point moved by
    ``pp_offset`` pixels, radial distortion ``(k1, k2)``), so the result is exact for its cameras.
    ``status`` (per frame) marks frames that have no points ("interpolated", "flagged", ...); ``zoom``
    scales the focal linearly over the shot (a lens that changes); ``solve_error`` fills
    ``solve_error_px``; ``fps_rational`` is the video's rate (sequences: ``fps``).
    """
    import fractions

    import numpy as np

    from tests.footage_support import write_sequence, write_video
    from tests.synthetic import make_case

    result = addon.submodule("core.result")
    photo = addon.submodule("core.geometry.photo")
    distortion = addon.submodule("core.geometry.distortion")
    cameras = addon.submodule("core.geometry.cameras")

    def make(
        kind="video",
        n=6,
        size=(64, 48),
        first=1001,
        k1=0.0,
        k2=0.0,
        pp_offset=(0.0, 0.0),
        status=None,
        zoom=0.0,
        solve_error=None,
        fps_rational=(24000, 1001),
        fps=25.0,
        sensor_width=None,
        seed=0,
        name="plate",
    ):
        case = make_case("shot", n=n, noise=0.0, size=size, seed=seed, preds=False)
        w, h = size
        crop = photo.PhotoCrop(photo_size=(w, h), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
        if kind == "video":
            plate = write_video(
                tmp_path / f"{name}.mp4",
                case["images"],
                codec="libx264",
                rate=fractions.Fraction(*fps_rational),
            )
            frames = np.arange(1, n + 1)
            paths = [str(plate.resolve())] * n
            rate, footage_path = float(fractions.Fraction(*fps_rational)), str(plate.resolve())
        else:
            files = write_sequence(tmp_path / name, case["images"], first=first, name=name)
            plate = files[0]
            frames = np.arange(first, first + n)
            paths = [str(p.resolve()) for p in files]
            rate, fps_rational = float(fps), (0, 0)
            footage_path = str(files[0].resolve().parent / f"{name}.{'#' * 4}.png")
        status = list(status or ["reconstructed"] * n)
        grid = cameras.pixel_grid(h, w)
        K_net, depth, pts3d, conf = [], [], [], []
        for k in range(n):
            K = np.array(case["K"][k], dtype=np.float64)
            K[0, 0] *= 1.0 + zoom * k / max(n - 1, 1)
            K[1, 1] = K[0, 0]
            K[:2, 2] += pp_offset
            rays = distortion.pixel_rays(grid, K, (k1, k2))  # (H, W, 3), z = 1
            d = np.asarray(case["depth"][k], dtype=np.float64)
            T = np.asarray(case["cam2world"][k])
            world = (rays * d[..., None]) @ T[:3, :3].T + T[:3, 3]
            solved = status[k] == "reconstructed"
            K_net.append(K)
            depth.append(np.where(solved, d, np.nan).astype(np.float32))
            pts3d.append(np.where(solved, world, np.nan).astype(np.float32))
            conf.append(np.full((h, w), 10.0 if solved else 0.0, np.float32))
        recon = result.Reconstruction(
            image_paths=tuple(paths),
            world_from_cam=np.asarray(case["cam2world"], dtype=np.float64),
            K_photo=np.stack([photo.K_photo_from_K_net(K, crop) for K in K_net]),
            photo_size=np.array([(w, h)] * n),
            K_net=np.stack(K_net),
            net_size=np.array([(w, h)] * n),
            depth=tuple(depth),
            pts3d=tuple(pts3d),
            conf=tuple(conf),
            colors=tuple(img.astype(np.float32) / 255.0 for img in case["images"]),
            frame_numbers=frames,
            fps=rate,
            dist=np.tile([k1, k2], (n, 1)),
            solve_error_px=None if solve_error is None else np.asarray(solve_error, dtype=np.float64),
            crops=(crop,) * n,
        )
        extra = {
            "frame_status": np.array(status, dtype=str),
            "frame_notes": np.array(
                ["black frame: pose interpolated" if s == "flagged" else "" for s in status]
            ),
            "fps_rational": np.array(fps_rational, dtype=np.int64),
            "sensor_width_mm": np.float64(36.0 if sensor_width is None else sensor_width),
            "sensor_width_assumed": np.bool_(sensor_width is None),
            "focal_mm": np.float64(K_net[0][0, 0] * (36.0 if sensor_width is None else sensor_width) / w),
            "footage_path": np.array(footage_path),
            "footage_kind": np.array(kind),
        }
        result_path = tmp_path / f"{name}_RESULT.npz"
        recon.save_npz(result_path, extra=extra)
        return recon, case, result_path, plate

    return make
