"""The refinement inside the pipelines: on the original photos (photo pixels, the crop mapping), on a shot's
frames (one lens, the artist's focal kept), and ``reconstruct --refine`` end to end with the tiny model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from core.align import global_align
from core.cli import main as cli_main
from core.config import AlignConfig, InferenceConfig, ReconstructConfig, RefineConfig
from core.footage.align import align_shot, shot_align_config
from core.geometry.photo import PhotoCrop
from core.jobs.refine import refine_on_photos, refine_shot, with_refinement
from core.predictions import predictions_from_pairwise
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT
from tests.synthetic import alignment_estimate, evaluate, make_case

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photo_case(tmp_path_factory):
    """A room seen by 4 cameras: predictions at the 128x96 network size, the same views rendered at 256x192
    as the 'original photos' (the same cameras, twice the focal), written as PNG files."""
    net = make_case("room", n=4, noise=1.0, size=(128, 96), seed=5)
    photos = make_case("room", n=4, noise=1.0, size=(256, 192), seed=5, preds=False)
    folder = tmp_path_factory.mktemp("refine_photos")
    crop = PhotoCrop(photo_size=(256, 192), resized_size=(128, 96), crop_offset=(0, 0), net_size=(128, 96))
    images = []
    for k, rgb in enumerate(photos["images"]):
        path = folder / f"view_{k}.png"
        Image.fromarray(rgb).save(path)
        images.append(SimpleNamespace(path=path, crop=crop))
    aligned = global_align(predictions_from_pairwise(net), AlignConfig())
    return net, images, aligned


def test_refinement_on_the_photos_reports_photo_pixels_and_improves_the_cameras(photo_case):
    net, images, aligned = photo_case
    names = [f"view_{k}.png" for k in range(4)]
    on_photos = refine_on_photos(images, aligned, AlignConfig(), RefineConfig(enabled=True), names)
    assert on_photos.refined.all()
    # the matcher worked on the 256x192 photos: the refined network focals (128x96 units) come back through
    # the crop, and the cameras sit better on the views than the aligned ones
    before = evaluate(net, alignment_estimate(aligned), max_points=5000)
    after = evaluate(net, alignment_estimate(on_photos.alignment, on_photos.dist), max_points=5000)
    assert after["reproj_px_median"] < 0.7 * before["reproj_px_median"]
    assert after["focal_err_mean"] < before["focal_err_mean"]
    # solve errors are in photo pixels: the same correspondences measured on the network images would be
    # half as large; on the photos they are a fraction of a photo pixel
    assert np.isfinite(on_photos.solve_error_px).all() and on_photos.solve_error_px.max() < 1.0
    on_net = refine_on_photos(
        [SimpleNamespace(path=img.path, crop=img.crop) for img in images], aligned, AlignConfig(),
        RefineConfig(working_size=128), names,
    )  # fmt: skip
    assert on_net.solve_error_total_px > 1.2 * on_photos.solve_error_total_px


def test_with_refinement_fills_the_result_and_its_warnings(photo_case):
    from core.refine import Refinement
    from core.result import reconstruction_from_depth

    net, images, aligned = photo_case
    base = reconstruction_from_depth(
        [str(img.path) for img in images], aligned.world_from_cam, aligned.intrinsics(),
        [img.crop for img in images], aligned.depth, aligned.conf,
        [rgb.astype(np.float32) / 255 for rgb in net["images"]], pts3d=aligned.pts3d, warnings=("a pair left out",),
    )  # fmt: skip
    notes = ("refined", "refined", "refined", "kept: too few correspondences (3, needs 30)")
    refinement = Refinement(
        alignment=aligned, dist=np.tile([-0.1, 0.01], (4, 1)), solve_error_px=np.array([0.2, 0.3, 0.25, np.nan]),
        solve_error_total_px=0.26, uncertainty_px=np.array([0.1, 0.15, 0.12, 4.0]),
        refined=np.array([True, True, True, False]), notes=notes, warnings=("view_3.png: " + notes[3],),
        num_tracks=10, num_observations=30, track_lengths=np.array([0, 0, 5, 5]), seconds=1.0,
    )  # fmt: skip
    result = with_refinement(base, refinement)
    np.testing.assert_array_equal(result.dist, refinement.dist)
    np.testing.assert_allclose(result.uncertainty_px, [0.1, 0.15, 0.12, 4.0], rtol=1e-6)
    assert result.solve_error_total_px == pytest.approx(0.26) and result.refine_status == notes
    assert result.warnings[0] == "a pair left out"
    assert any("view_3.png" in w and w.startswith("refinement:") for w in result.warnings)


@pytest.fixture(scope="module")
def shot():
    case = make_case("arc", n=10, noise=1.0, size=(128, 96), seed=2, graph="logwin-4-noncyclic")
    preds = predictions_from_pairwise(case)
    frames = [SimpleNamespace(rgb=rgb) for rgb in case["images"]]
    return case, preds, frames


def test_footage_hook_refines_the_shot_with_one_lens(shot):
    case, preds, frames = shot
    config = AlignConfig()
    aligned = align_shot(preds, len(frames), config)
    unchanged = refine_shot(aligned, frames, shot_align_config(config, len(frames), None))
    assert unchanged.aligned is aligned and np.isnan(unchanged.solve_error_px).all()
    refined = refine_shot(
        aligned,
        frames,
        shot_align_config(config, len(frames), None),
        RefineConfig(enabled=True, distortion="k1"),
    )
    assert np.isfinite(refined.solve_error_px).all() and refined.solve_error_px.max() < 0.5
    assert np.ptp(refined.aligned.focals) == 0.0  # still one lens
    assert (
        refined.dist.shape == (10, 2) and np.ptp(refined.dist[:, 0]) == 0.0 and not refined.dist[:, 1].any()
    )
    before = evaluate(case, alignment_estimate(aligned), max_points=5000)
    after = evaluate(case, alignment_estimate(refined.aligned, refined.dist), max_points=5000)
    assert after["reproj_px_median"] < 0.8 * before["reproj_px_median"]
    assert after["rot_step_err_deg"] < before["rot_step_err_deg"]


def test_footage_hook_keeps_the_artists_focal(shot):
    case, preds, frames = shot
    focal = float(case["focals"][0]) * 1.01
    config = shot_align_config(AlignConfig(), len(frames), focal)
    aligned = align_shot(preds, len(frames), AlignConfig(), known_focal=focal)
    refined = refine_shot(aligned, frames, config, RefineConfig(enabled=True))
    assert np.isfinite(refined.solve_error_px).all()
    np.testing.assert_allclose(refined.aligned.focals, focal, rtol=1e-9)


def test_reconstruct_refine_end_to_end_with_the_tiny_model(tmp_path, capsys):
    """The tiny model's random weights give a meaningless alignment: the refinement may keep any view as
    aligned, but every view has a status, kept views are named in the warnings, and the CLI prints the solve
    error or says why there is none."""
    from core.jobs.photos import reconstruct
    from core.model.checkpoint import load_model

    config = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", precision="fp32"),
                               refine=RefineConfig(enabled=True))  # fmt: skip
    stages = []
    result = reconstruct(PHOTOS, None, config, progress=lambda s, f: stages.append((s, f)),
                         model=load_model(TINY_CHECKPOINT))  # fmt: skip
    assert len(result.refine_status) == 3 and all(result.refine_status)
    assert result.dist.shape == (3, 2) and result.solve_error_px.shape == (3,)
    for k, status in enumerate(result.refine_status):
        assert status == "refined" or status.startswith("kept: ")
        if status != "refined":
            assert any(w.startswith("refinement:") and PHOTOS[k].name in w for w in result.warnings)
    assert any(s == "Loading photos for refinement" for s, _ in stages)
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    out = tmp_path / "r.npz"
    args = [
        "reconstruct",
        "--checkpoint",
        str(TINY_CHECKPOINT),
        "--size",
        "224",
        "--device",
        "cpu",
        "--refine",
    ]
    assert cli_main([*args, "--images", *map(str, PHOTOS), "--out", str(out)]) == 0
    with np.load(out) as data:
        assert data["refine_status"].shape == (3,) and data["dist"].shape == (3, 2)
    printed = capsys.readouterr().out
    assert "refined" in printed and ("solve error" in printed or "no correspondences kept" in printed)


def test_reconstruct_footage_with_refine_keeps_the_given_lens(tmp_path):
    from dataclasses import replace

    from core.config import FootageConfig
    from core.jobs.footage import reconstruct_footage
    from core.model.checkpoint import load_model
    from tests.footage_support import shot_frames, write_sequence

    pytest.importorskip("av")
    paths = write_sequence(tmp_path / "p", shot_frames(n=4, size=(128, 96)), first=1)
    base = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", precision="fp32"))
    config = FootageConfig(reconstruct=replace(base, refine=RefineConfig(enabled=True)), focal_mm=24.0,
                           sensor_width_mm=24.0, fps=30.0)  # fmt: skip
    result = reconstruct_footage(paths, None, config, model=load_model(TINY_CHECKPOINT))
    recon = result.reconstruction
    np.testing.assert_allclose(recon.K_photo[:, 0, 0], 128.0)  # the artist's lens, through the refinement
    assert recon.dist.shape == (4, 2) and np.ptp(recon.dist, axis=0).max() == 0.0
    assert recon.solve_error_px.shape == (4,)


def test_refinement_on_the_photos_reports_progress_and_stops_on_cancel(photo_case):
    import threading

    from core.errors import Cancelled

    _, images, aligned = photo_case
    cancel = threading.Event()
    stages = []

    def progress(stage: str, fraction: float) -> None:
        stages.append((stage, fraction))
        if stage.startswith("Matching 2/"):
            cancel.set()

    with pytest.raises(Cancelled):
        refine_on_photos(images, aligned, AlignConfig(), RefineConfig(enabled=True), ["a", "b", "c", "d"],
                         progress, cancel)  # fmt: skip
    assert stages[0][0] == "Loading photos for refinement"
    assert [f for _, f in stages] == sorted(f for _, f in stages)
    assert not any(s == "Bundle adjustment" for s, _ in stages)
