"""The memory guard and the new network options in the pipeline and the command line."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.align.graph import connected_components
from core.cli import main as cli_main
from core.config import AlignConfig, InferenceConfig, ReconstructConfig
from core.errors import ResourceError
from core.resources import guard
from core.resources.hardware import MemoryInfo
from tests.cli_support import message_lines
from tests.pipeline_support import FAST_CONFIG as CONFIG
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def little_memory(monkeypatch):
    """The machine says 50 MB are free (far less than any run needs)."""
    monkeypatch.setattr(guard, "available_memory", lambda: MemoryInfo(8 * 10**9, 50 * 10**6, "test"))


def _one_error_line(capsys) -> str:
    err = message_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("command", ["reconstruct", "infer"])
def test_a_run_that_cannot_fit_is_refused_before_any_work(command, tmp_path, little_memory, capsys) -> None:
    """The checkpoint does not even exist: the refusal comes before the model is loaded."""
    out = tmp_path / ("r.npz" if command == "reconstruct" else "pairs")
    argv = [command, "--checkpoint", str(tmp_path / "absent.pth"), "--images", *map(str, PHOTOS),
            "--out", str(out), "--size", "224"]  # fmt: skip
    assert cli_main(argv) == 2
    line = _one_error_line(capsys)
    assert "needs about" in line and "50 MB are free" in line and "pairs" in line
    assert not out.exists()
    assert cli_main([*argv, "--no-memory-check"]) == 2  # now the (later) checkpoint error
    assert "absent.pth" in _one_error_line(capsys)


def test_pipeline_guard_uses_the_models_and_pairs_and_can_be_disabled(tiny_model, monkeypatch) -> None:
    from core.jobs.photos import reconstruct

    monkeypatch.setattr(guard, "available_memory", lambda: MemoryInfo(8 * 10**9, 10**6, "test"))  # 1 MB free

    with pytest.raises(ResourceError) as info:
        reconstruct(PHOTOS, None, CONFIG, model=tiny_model)
    assert info.value.estimate.num_pairs == 6 and info.value.estimate.num_photos == 3
    unchecked = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", check_memory=False))
    assert reconstruct(PHOTOS, None, unchecked, model=tiny_model).num_views == 3


def test_out_of_memory_in_the_alignment_is_a_resource_error(tiny_model, monkeypatch) -> None:
    import core.align
    from core.jobs.photos import reconstruct

    def explode(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(core.align, "global_align", explode)
    with pytest.raises(ResourceError, match="ran out of memory while aligning the views"):
        reconstruct(PHOTOS, None, CONFIG, model=tiny_model)


def test_disk_and_ram_pair_storage_give_the_same_reconstruction(tiny_model, tmp_path, monkeypatch) -> None:
    import tempfile

    from core.jobs.photos import reconstruct

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the scratch file's folder
    results = {}
    for storage in ("ram", "disk"):
        config = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", precision="fp32",
                                                             pair_storage=storage))  # fmt: skip
        results[storage] = reconstruct(PHOTOS, None, config, model=tiny_model)
        assert list(tmp_path.iterdir()) == []  # nothing left behind
    for a, b in zip(results["ram"].pts3d, results["disk"].pts3d, strict=True):
        np.testing.assert_array_equal(a, b)


def test_auto_graph_on_many_photos_uses_retrieval(tiny_model, tmp_path, caplog) -> None:
    from core.jobs.photos import reconstruct

    rng = np.random.default_rng(0)
    paths = []
    for k in range(22):
        low = rng.uniform(0, 255, (3, 3, 3)).astype(np.uint8)
        path = tmp_path / f"p{k:02d}.png"
        Image.fromarray(low).resize((64, 48), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    config = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", precision="fp32"),
                               align=AlignConfig(min_conf=1.0), clean_depth=False)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="core"):
        result = reconstruct(paths, None, config, model=tiny_model)
    assert result.num_views == 22
    assert "retrieval-5-5: " in caplog.text and "ordered pairs chosen by similarity" in caplog.text


def test_infer_retrieval_graph_writes_a_connected_symmetric_set(tmp_path, capsys) -> None:
    out = tmp_path / "pairs"
    argv = ["infer", "--checkpoint", str(TINY_CHECKPOINT), "--images", *map(str, PHOTOS), "--graph", "retrieval-1",
            "--out", str(out)]  # fmt: skip
    assert cli_main(argv) == 0
    pairs = {tuple(int(v) for v in p.stem.split("_")[1:]) for p in out.glob("pair_*.npz")}
    assert pairs == {(j, i) for i, j in pairs} and all(i != j for i, j in pairs)
    assert len(set(connected_components(np.array(sorted(pairs)), 3).tolist())) == 1
    assert f"{len(pairs)} pairs of 3 photos in {out}" in capsys.readouterr().out


def test_half_is_a_deprecated_alias_of_fp16(tmp_path, capsys, caplog) -> None:
    import argparse

    from core.cli.reconstruct_cmd import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    base = ["reconstruct", "--checkpoint", "x", "--images", "a.jpg", "--out", "r.npz"]
    with caplog.at_level(logging.WARNING):
        assert config_from_args(parser.parse_args([*base, "--half"])).inference.precision == "fp16"
    assert "deprecated" in caplog.text
    assert config_from_args(parser.parse_args(base)).inference.precision == "auto"
    assert config_from_args(parser.parse_args(base)).inference.scene_graph == "auto"
    assert config_from_args(parser.parse_args([*base, "--precision", "bf16"])).inference.precision == "bf16"
    argv = ["reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--no-refine", "--images", str(PHOTOS[0]), "--out",
            str(tmp_path / "r.npz"), "--half", "--precision", "bf16"]  # fmt: skip
    assert cli_main(argv) == 2
    assert "--half" in _one_error_line(capsys)
    with pytest.raises(SystemExit) as exc:
        cli_main([*argv[:-3], "--precision", "int8"])
    assert exc.value.code == 2


def test_reconstruct_help_lists_the_new_options(capsys) -> None:
    with pytest.raises(SystemExit):
        cli_main(["reconstruct", "--help"])
    text = capsys.readouterr().out
    for option in ("--precision", "--graph", "retrieval-K", "--pair-storage", "--no-memory-check", "--half"):
        assert option in text
