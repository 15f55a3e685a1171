"""The pieces of a cluster submission that need no cluster: the command line of a config, the code package,
the progress lines, the address (issue 19, item 4; the submission itself: tests/blender/test_cluster_job.py)."""

from __future__ import annotations

import argparse
import io
import zipfile
from dataclasses import replace

import pytest

from core.cli.reconstruct_cmd import add_parser, config_from_args
from core.cluster.jobs_api import RayJobsClient, dashboard_url
from core.cluster.submit import code_package, parse_progress, reconstruct_argv
from core.config import AlignConfig, InferenceConfig, ReconstructConfig, RefineConfig
from core.errors import ClusterError

CONFIGS = [
    ReconstructConfig(),
    ReconstructConfig(
        inference=InferenceConfig(
            image_size=224, scene_graph="swin-4", precision="fp32", batch_size=3, check_memory=False
        ),
        align=AlignConfig(method="paper", niter=250, min_conf=2.5, shared_focal=True, focal_mode="median"),
        focal_prior="mm",
        focal_mm=35.0,
        clean_depth=False,
        refine=RefineConfig(enabled=True, distortion="k1k2"),
    ),  # fmt: skip
    ReconstructConfig(align=AlignConfig(fast_niter=40), focal_prior="exif"),
]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("-v", action="store_true")
    add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.mark.parametrize("config", CONFIGS)
def test_the_job_command_line_gives_back_the_config(config: ReconstructConfig) -> None:
    argv = reconstruct_argv(["/p/a.jpg", "/p/b c.jpg"], "/m/model.pth", config, "/out/R.npz", distribute=True)
    args = _parse(argv)
    assert (
        args.images == ["/p/a.jpg", "/p/b c.jpg"] and str(args.out) == "/out/R.npz" and args.backend == "ray"
    )
    back = config_from_args(args)
    device = replace(config.inference, device="auto")  # the cluster picks its own device
    assert back.inference == replace(device, pair_storage=back.inference.pair_storage)
    fields = ("method", "focal_mode", "min_conf", "shared_focal")
    assert [getattr(back.align, f) for f in fields] == [getattr(config.align, f) for f in fields]
    niter = "niter" if config.align.method == "paper" else "fast_niter"
    assert getattr(back.align, niter) == getattr(config.align, niter)
    assert (back.focal_prior, back.focal_mm, back.clean_depth) == (
        config.focal_prior, config.focal_mm, config.clean_depth)  # fmt: skip
    assert (back.refine.enabled, back.refine.distortion) == (config.refine.enabled, config.refine.distortion)
    assert "--backend" not in reconstruct_argv(["/a.jpg"], "/m", config, "/o.npz", distribute=False)


def test_the_code_package_is_the_core_package_and_stable() -> None:
    first, second = code_package(), code_package()
    assert first == second  # the same source gives the same package (and so the same name on the cluster)
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert "core/__main__.py" in names and "core/cluster/submit.py" in names
    assert all(n.startswith("core/") and "__pycache__" not in n for n in names)


def test_progress_comes_from_the_jobs_verbose_log() -> None:
    logs = "\n".join([
        "INFO core.jobs.plan: estimate: 6 pairs",
        "INFO core.cli.reconstruct_cmd:   6.0% Pairs 0/6",
        "INFO core.cli.reconstruct_cmd:  43.0% Pairs 3/6",
        "some other line",
    ])  # fmt: skip
    assert parse_progress(logs) == ("Pairs 3/6", pytest.approx(0.43))
    assert parse_progress("nothing yet") is None


@pytest.mark.parametrize(("given", "url"), [("head", "http://head:8265"), ("head:9000/", "http://head:9000"),
                                             ("https://h.example:443", "https://h.example:443")])  # fmt: skip
def test_dashboard_addresses(given: str, url: str) -> None:
    assert dashboard_url(given) == url


@pytest.mark.parametrize("bad", ["", "   ", "ftp://head:21"])
def test_a_bad_address_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ClusterError, match="address"):
        RayJobsClient(bad)


def test_ray_is_never_bundled_in_the_extension() -> None:
    """Ray is an optional dependency of the command line: neither a bundled wheel nor a manifest entry."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    manifest = tomllib.loads((root / "blender_manifest.toml").read_text())
    assert manifest["wheels"] and not [
        w for w in manifest["wheels"] if Path(w).name.lower().startswith("ray")
    ]
    build = (root / "wheels" / "build_wheels.py").read_text()
    bundled = build[build.index("BUNDLED = ") :].splitlines()[0]
    assert "scipy" in bundled and "ray" not in bundled


@pytest.mark.parametrize("content", [None, b"not a zip", b"PK\x03\x04 truncated"])
def test_a_result_this_computer_cannot_read_is_one_clear_error(content, tmp_path) -> None:
    from core.cluster.submit import _read_result

    out = tmp_path / "RESULT.npz"
    if content is not None:
        out.write_bytes(content)
    with pytest.raises(ClusterError, match="cannot be read on this computer.*same folder at the same path"):
        _read_result(out, "raysubmit_1")
