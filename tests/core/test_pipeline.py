"""The whole pipeline with the vendored tiny model: shapes, photo intrinsics, priors, N = 1, errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.config import InferenceConfig, ReconstructConfig, RefineConfig
from core.errors import Cancelled, ConfigError, ImageError
from core.geometry.photo import PhotoCrop, focal_35mm_from_net
from tests.cli_support import message_lines
from tests.pipeline_support import FAST_CONFIG as CONFIG
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def three_view_result(tiny_model):
    from core.jobs.photos import reconstruct

    stages: list[tuple[str, float]] = []
    result = reconstruct(PHOTOS, None, CONFIG, progress=lambda s, f: stages.append((s, f)), model=tiny_model)
    return result, stages


def test_three_photos_give_a_complete_reconstruction(three_view_result) -> None:
    result, _ = three_view_result
    assert result.num_views == 3
    assert result.image_paths == tuple(str(p.resolve()) for p in PHOTOS)
    np.testing.assert_array_equal(result.photo_size, [[384, 288]] * 3)
    np.testing.assert_array_equal(result.net_size, [[224, 224]] * 3)
    for k in range(3):
        assert result.pts3d[k].shape == (224, 224, 3) and np.isfinite(result.pts3d[k]).all()
        assert result.colors[k].min() >= 0.0 and result.colors[k].max() <= 1.0
        R = result.world_from_cam[k, :3, :3]
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert (result.K_net[:, 0, 0] > 0).all()


def test_photo_intrinsics_follow_the_crop(three_view_result) -> None:
    """384x288 at size 224: resized to 299x224, crop x 37..261 (CONVENTIONS section 3)."""
    result, _ = three_view_result
    scale = 384 / 299
    for k in range(3):
        K_net, K_photo = result.K_net[k], result.K_photo[k]
        assert K_photo[0, 0] == pytest.approx(K_net[0, 0] * scale)
        assert K_photo[1, 1] == pytest.approx(K_net[1, 1] * 288 / 224)
        assert K_photo[0, 2] == pytest.approx((K_net[0, 2] + 0.5 + 37) * scale)
        assert K_photo[1, 2] == pytest.approx((K_net[1, 2] + 0.5) * 288 / 224)


def test_progress_is_monotonic_and_ends_at_one(three_view_result) -> None:
    _, stages = three_view_result
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    labels = " ".join(s for s, _ in stages)
    assert "Encoding 3/3" in labels and "Pairs 6/6" in labels and "Aligning" in labels


def test_single_photo_is_monocular(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    result = reconstruct(PHOTOS[:1], None, CONFIG, model=tiny_model)
    assert result.num_views == 1
    np.testing.assert_allclose(result.world_from_cam[0], np.eye(4), atol=1e-12)
    # The random model gives no usable focal; the pipeline must still produce a buildable camera.
    assert np.isfinite(result.K_photo[0]).all() and result.K_photo[0, 0, 0] > 0


def test_focal_prior_in_mm_is_kept(tiny_model) -> None:
    from dataclasses import replace

    from core.jobs.photos import reconstruct

    config = replace(CONFIG, focal_prior="mm", focal_mm=50.0)
    result = reconstruct(PHOTOS[:2], None, config, model=tiny_model)
    crop = PhotoCrop(photo_size=(384, 288), resized_size=(299, 224), crop_offset=(37, 0), net_size=(224, 224))
    for k in range(2):
        assert focal_35mm_from_net(result.K_net[k, 0, 0], crop) == pytest.approx(50.0, rel=1e-9)
        assert result.K_photo[k, 0, 0] * 36 / 384 == pytest.approx(50.0, rel=1e-9)


def test_cancel_stops_the_job(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    cancel = threading.Event()

    def progress(stage: str, fraction: float) -> None:
        if stage.startswith("Pairs"):
            cancel.set()

    with pytest.raises(Cancelled):
        reconstruct(PHOTOS, None, CONFIG, progress=progress, cancel=cancel, model=tiny_model)


def test_no_photos_is_a_clear_error() -> None:
    from core.jobs.photos import reconstruct

    with pytest.raises(ImageError, match="No photos"):
        reconstruct([], TINY_CHECKPOINT, CONFIG)


def test_cli_reconstruct_writes_the_interface_layout(tmp_path) -> None:
    out = tmp_path / "result.npz"
    args = [
        "reconstruct",
        "--checkpoint",
        str(TINY_CHECKPOINT),
        "--size",
        "224",
        "--device",
        "cpu",
        "--no-refine",
    ]
    assert cli_main([*args, "--images", *map(str, PHOTOS[:2]), "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["cam2world"].shape == (2, 4, 4)
        assert data["K_photo"].shape == (2, 3, 3) and data["K_net"].shape == (2, 3, 3)
        np.testing.assert_array_equal(data["photo_size"], [[384, 288]] * 2)
        assert data["pts3d_1"].shape == (224, 224, 3) and data["colors_0"].dtype == np.float32


def test_cli_reconstruct_user_errors_exit_2(tmp_path, capsys) -> None:
    args = [
        "reconstruct",
        "--checkpoint",
        str(TINY_CHECKPOINT),
        "--size",
        "224",
        "--out",
        str(tmp_path / "r.npz"),
    ]
    assert cli_main([*args, "--images", str(tmp_path / "missing.jpg")]) == 2
    err = message_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error:") and "missing.jpg" in err[0]
    bad_ckpt = tmp_path / "bad.pth"
    bad_ckpt.write_bytes(b"not a checkpoint")
    args[2] = str(bad_ckpt)
    assert cli_main([*args, "--images", str(PHOTOS[0])]) == 2


def test_image_size_must_match_the_model(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    config = ReconstructConfig(
        inference=InferenceConfig(image_size=512, device="cpu"), refine=RefineConfig(enabled=False)
    )
    with pytest.raises(ConfigError, match="trained at 224"):
        reconstruct(PHOTOS[:2], None, config, model=tiny_model)
