"""``python -m core align`` (refined by default) and the refinement's options: EST.npz fields, user errors,
config."""

from __future__ import annotations

import numpy as np
import pytest

from core.cli import EXIT_USER_ERROR, main
from core.cli.reconstruct_cmd import config_from_args
from core.config import ReconstructConfig, RefineConfig
from core.errors import ConfigError
from tests.cli_support import message_lines
from tests.synthetic import evaluate, make_case, save_case


@pytest.fixture(scope="module")
def case_file(tmp_path_factory):
    case = make_case("room", n=4, noise=1.0, size=(128, 96), seed=3)
    path = tmp_path_factory.mktemp("refine_cli") / "case.npz"
    save_case(case, path)
    return path, case


def test_align_refines_by_default_writes_the_interface_fields_and_improves_the_cameras(
    case_file, tmp_path, capsys
):
    path, case = case_file
    plain, refined, explicit = tmp_path / "plain.npz", tmp_path / "refined.npz", tmp_path / "explicit.npz"
    assert main(["align", "--input", str(path), "--output", str(plain), "--no-refine"]) == 0
    assert main(["align", "--input", str(path), "--output", str(refined)]) == 0
    out = capsys.readouterr().out
    assert "refined" in out and "solve error" in out and "worst camera 'view " in out
    assert main(["align", "--input", str(path), "--output", str(explicit), "--refine"]) == 0  # still accepted
    with np.load(explicit) as z, np.load(refined) as r:
        np.testing.assert_array_equal(z["cam2world"], r["cam2world"])
    with np.load(refined) as z:
        est = {k: z[k] for k in z.files}
    with np.load(plain) as z:
        before = {k: z[k] for k in z.files}
    assert est["dist"].shape == (4, 2) and not est["dist"].any()
    assert est["principal_points"].shape == (4, 2)
    assert est["solve_error_px"].shape == (4,) and np.isfinite(est["solve_error_px"]).all()
    assert est["solve_error_px"].max() < 0.5 and est["refine_status"].shape == (4,)
    assert est["uncertainty_px"].dtype == np.float32 and est["uncertainty_px"].shape == (4,)
    assert (est["uncertainty_px"] > 0).all()
    assert "dist" not in before and "solve_error_px" not in before
    assert list(before["refine_status"]) == ["kept: refinement off"] * 4
    assert (before["uncertainty_px"] > 1.0).all()  # the alignment's own: pixels, never sub-pixel
    m0 = evaluate(case, before, max_points=5000)
    m1 = evaluate(case, est, max_points=5000)
    assert m1["reproj_px_median"] < 0.8 * m0["reproj_px_median"]


def test_align_refine_user_errors_exit_2_with_one_line(case_file, tmp_path, capsys):
    path, case = case_file
    no_images = tmp_path / "no_images.npz"
    np.savez(no_images, **{k: case[k] for k in ("edges", "pred_i", "pred_j", "conf_i", "conf_j")})
    out = tmp_path / "est.npz"
    assert main(["align", "--input", str(no_images), "--output", str(out), "--refine"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert "images" in err and len(message_lines(err)) == 1
    # by default, a case without its images is aligned only
    assert main(["align", "--input", str(no_images), "--output", str(out)]) == 0
    assert "no 'images'" in capsys.readouterr().out
    with np.load(out) as z:
        assert list(z["refine_status"]) == ["kept: refinement off"] * 4
    assert (
        main(["align", "--input", str(path), "--output", str(out), "--distortion", "k1", "--no-refine"])
        == EXIT_USER_ERROR
    )
    assert "--no-refine" in capsys.readouterr().err


def test_reconstruct_options_reach_the_refine_config():
    from core.cli import build_parser

    base = ["reconstruct", "--checkpoint", "x.pth", "--images", "a.jpg", "--out", "r.npz"]
    args = build_parser().parse_args(base)
    assert config_from_args(args).refine == ReconstructConfig().refine
    assert config_from_args(args).refine.enabled is True  # on by default
    args = build_parser().parse_args(base + ["--no-refine"])
    assert config_from_args(args).refine.enabled is False
    args = build_parser().parse_args(base + ["--refine", "--distortion", "k1k2"])
    assert config_from_args(args).refine == RefineConfig(enabled=True, distortion="k1k2")
    with pytest.raises(ConfigError, match="--no-refine"):
        config_from_args(build_parser().parse_args(base + ["--no-refine", "--distortion", "k1"]))


@pytest.mark.parametrize(
    "kwargs",
    [{"distortion": "k3"}, {"loss": "l2"}, {"window": 8}, {"working_size": 10}, {"max_partners": 0},
     {"min_overlap": 1.5}, {"loss_scale_px": 0.0}, {"prior_weight_px": -1.0}],
)  # fmt: skip
def test_refine_config_refuses_bad_values(kwargs):
    with pytest.raises(ConfigError):
        RefineConfig(**kwargs)
