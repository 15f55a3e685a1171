"""``python -m core infer``: output layout, values, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from tests.cli_support import message_lines
from tests.reference_data import reference, subsample, vendored

REPO_ROOT = Path(__file__).resolve().parents[2]
VENDORED_CKPT = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"
REF = reference()  # the full ../shared/reference (3 photos) or the vendored subset (photos 0 and 1)
ARRAY_NAMES = {
    "pair",
    "true_shape1",
    "true_shape2",
    "pred1_pts3d",
    "pred1_conf",
    "pred2_pts3d_in_other_view",
    "pred2_conf",
}


@pytest.fixture()
def vendored_photos(tmp_path: Path) -> list[str]:
    """The two 224x224 network images of the vendored fixtures written back as PNG photos (exact round trip)."""
    inputs = vendored().inputs(224)
    paths = []
    for i in range(2):
        path = tmp_path / f"photo{i}.png"
        Image.fromarray(inputs[f"uint8_{i}"]).save(path)
        paths.append(str(path))
    return paths


def test_infer_vendored_pair_matches_golden(tmp_path: Path, vendored_photos: list[str]) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                "infer",
                "--checkpoint",
                str(VENDORED_CKPT),
                "--images",
                *vendored_photos,
                "--out",
                str(out),
                "--precision",
                "fp32",
            ]
        )  # fmt: skip
        == 0
    )
    assert {p.name for p in out.iterdir()} == {"pair_1_0.npz", "pair_0_1.npz"}
    ours = np.load(out / "pair_1_0.npz")
    golden = vendored().golden("tiny_linear_224", 1, 0).arrays
    assert set(ours.files) - {"origin"} == ARRAY_NAMES == set(golden)
    for key in ARRAY_NAMES:
        assert ours[key].dtype == golden[key].dtype and ours[key].shape == golden[key].shape, key
        np.testing.assert_allclose(ours[key], golden[key], rtol=1e-4, atol=1e-4, err_msg=key)


def _images() -> list[str]:
    return [str(p) for p in REF.images()]


def _tiny_linear() -> Path:
    """The 512 linear model: its .pth with the full reference, its Hugging Face folder in the subset."""
    return REF.model("tiny_linear", "pth") or REF.model("tiny_linear", "hf_folder")


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = message_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_infer_writes_reference_layout(tmp_path: Path, capsys) -> None:
    images = _images()
    n = len(images)  # 3 with the full reference, 2 in the vendored subset
    out = tmp_path / "pairs"
    rc = main(["infer", "--checkpoint", str(_tiny_linear()), "--images", *images, "--out", str(out),
               "--device", "cpu", "--batch-size", "2", "--precision", "fp32"])  # fmt: skip
    assert rc == 0
    assert f"{n * (n - 1)} pairs" in capsys.readouterr().out
    expected = {f"pair_{i}_{j}.npz" for i in range(n) for j in range(n) if i != j}
    assert {p.name for p in out.iterdir()} == expected
    compared = 0
    for i, j in [(1, 0), (0, 1)]:
        golden = REF.golden("tiny_linear", i, j)
        if golden is None:  # the vendored subset keeps pair (1, 0) only
            continue
        ours = np.load(out / f"pair_{i}_{j}.npz")
        assert set(ours.files) - {"origin"} == ARRAY_NAMES == set(golden.arrays)
        for key in ARRAY_NAMES:
            want = golden[key]
            got = subsample(ours[key], golden.stride) if want.ndim >= 2 else ours[key]
            assert got.dtype == want.dtype and got.shape == want.shape, key
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=key)
        compared += 1
    assert compared == (2 if REF.full else 1)


def test_infer_single_image_gives_self_pair(tmp_path: Path) -> None:
    ckpt = REF.model("tiny_linear_224", "hf_folder")  # Hugging Face folder
    rc = main(["infer", "--checkpoint", str(ckpt), "--images", _images()[0], "--out", str(tmp_path)])
    assert rc == 0
    data = np.load(tmp_path / "pair_0_0.npz")
    assert data["pred1_pts3d"].shape == (224, 224, 3)  # size taken from the model


def test_size_must_match_the_model(tmp_path: Path, vendored_photos: list[str], capsys) -> None:
    rc = main(["infer", "--checkpoint", str(VENDORED_CKPT), "--images", *vendored_photos, "--size", "512",
               "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 2
    assert "224" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"--images": ["missing.jpg"]}, "missing.jpg"),
        ({"--graph": "star-3"}, "scene graph"),
        ({"--checkpoint": "nowhere.pth"}, "nowhere.pth"),
        ({"--batch-size": "0"}, "batch size"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, capsys, change, needle) -> None:
    args = {
        "--checkpoint": str(_tiny_linear()),
        "--images": _images()[:2],
        "--graph": "complete",
        "--out": str(tmp_path / "o"),
    }
    args.update(change)
    argv = ["infer"]
    for key, value in args.items():
        argv += [key, *value] if isinstance(value, list) else [key, value]
    assert main(argv) == 2
    assert needle in _one_error_line(capsys)


def test_corrupt_image_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    argv = ["infer", "--checkpoint", str(VENDORED_CKPT), "--images", str(bad), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "bad.png" in _one_error_line(capsys)


def test_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["infer", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--checkpoint",
        "--images",
        "--size",
        "--graph",
        "--device",
        "--precision",
        "--half",
        "--batch-size",
        "--no-memory-check",
        "--out",
    ):
        assert option in text


def test_module_entry_point_reports_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "core", "infer", "--checkpoint", str(tmp_path / "x.pth"), "--images",
         str(tmp_path / "none.jpg"), "--out", str(tmp_path / "o")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert message_lines(proc.stderr) == [f"error: photo not found: {tmp_path / 'none.jpg'}"]
