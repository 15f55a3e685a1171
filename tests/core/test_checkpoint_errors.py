"""Bad checkpoints raise CheckpointError naming the problem; nothing stored in a file is ever executed."""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.errors import CheckpointError
from core.model.checkpoint import load_model

VENDORED = Path(__file__).resolve().parents[1] / "data" / "tiny_linear_224"
TINY_224_ARGS = (
    "AsymmetricCroCo3DStereo(pos_embed='RoPE100', img_size=(224, 224), head_type='linear', output_mode='pts3d', "
    "depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), enc_embed_dim=64, enc_depth=2, enc_num_heads=2, "
    "dec_embed_dim=48, dec_depth=2, dec_num_heads=2)"
)


class _CreatesMarker:
    """Unpickling this would call ``Path.touch(marker)``: the payload must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def weights():
    return load_file(str(VENDORED / "model.safetensors"))


def save_pth(path: Path, model_text: str, state_dict) -> Path:
    torch.save({"args": argparse.Namespace(model=model_text), "model": state_dict}, path)
    return path


def expect_error(path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_path(tmp_path):
    expect_error(tmp_path / "nope.pth", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    expect_error(path, "empty")


@pytest.mark.parametrize("keep", [0.5, 0.01])
def test_truncated_pth(tmp_path, keep):
    data = (VENDORED / "tiny_linear_224.pth").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: int(len(data) * keep)])
    expect_error(path, "truncated")


def test_truncated_safetensors(tmp_path):
    data = (VENDORED / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "config.json").write_bytes((VENDORED / "config.json").read_bytes())
    expect_error(tmp_path, "truncated")


@pytest.mark.parametrize("name", ["random.pth", "random.bin", "model.safetensors"])
def test_random_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(4096))
    (tmp_path / "config.json").write_bytes((VENDORED / "config.json").read_bytes())
    expect_error(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("this is not a checkpoint\n" * 20)
    expect_error(path, "not a PyTorch checkpoint")


@pytest.mark.parametrize("payload", [_CreatesMarker, _RunsShell])
@pytest.mark.parametrize("container", ["torch_zip", "raw_pickle", "inside_args"])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, weights, payload, container):
    marker = tmp_path / "PAYLOAD_RAN"
    path = tmp_path / "evil.pth"
    evil = payload(marker)
    if container == "torch_zip":
        torch.save({"args": argparse.Namespace(model=TINY_224_ARGS), "model": evil}, path)
    elif container == "raw_pickle":
        with path.open("wb") as f:
            pickle.dump({"args": evil, "model": dict(weights)}, f, protocol=2)
    else:
        torch.save({"args": argparse.Namespace(model=TINY_224_ARGS, extra=evil), "model": weights}, path)
    assert not marker.exists()
    expect_error(path, "refused", "nothing in it was executed")
    assert not marker.exists()


def test_malicious_constructor_string_is_not_executed(tmp_path, weights):
    marker = tmp_path / "PAYLOAD_RAN"
    text = f"AsymmetricCroCo3DStereo(enc_depth=__import__('os').system('touch {marker}'))"
    expect_error(save_pth(tmp_path / "evil_args.pth", text, weights), "non-literal")
    assert not marker.exists()


def test_shape_mismatch_is_reported(tmp_path, weights):
    text = TINY_224_ARGS.replace("enc_embed_dim=64", "enc_embed_dim=128")
    message = expect_error(
        save_pth(tmp_path / "wrong.pth", text, weights), "different shape", "patch_embed.proj.weight"
    )
    assert "checkpoint [64, 3, 16, 16] vs model [128, 3, 16, 16]" in message
    assert "\n" not in message  # one line for the CLI and the Blender report; the full list goes to the log


def test_missing_and_unexpected_keys_are_reported(tmp_path, weights):
    deeper = TINY_224_ARGS.replace("enc_depth=2", "enc_depth=3")
    expect_error(
        save_pth(tmp_path / "deeper.pth", deeper, weights), "missing from the checkpoint", "enc_blocks.2."
    )
    extra = dict(weights, **{"extra_module.weight": torch.zeros(2)})
    expect_error(
        save_pth(tmp_path / "extra.pth", TINY_224_ARGS, extra), "not used by the model", "extra_module.weight"
    )
    dpt_args = TINY_224_ARGS.replace("head_type='linear'", "head_type='dpt'").replace(
        "dec_depth=2", "dec_depth=12"
    )
    message = expect_error(
        save_pth(tmp_path / "dpt.pth", dpt_args, weights), "does not match the architecture"
    )
    assert "\n" not in message and "missing from the checkpoint (first: " in message


def test_mismatch_details_go_to_the_log(tmp_path, weights, caplog):
    deeper = TINY_224_ARGS.replace("enc_depth=2", "enc_depth=3")
    with caplog.at_level("INFO", logger="core.model.checkpoint"):
        expect_error(save_pth(tmp_path / "deeper.pth", deeper, weights), "missing from the checkpoint")
    assert "enc_blocks.2." in caplog.text and "weight(s) missing from the checkpoint" in caplog.text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("CroCoNet(enc_embed_dim=64)", "not a DUSt3R model"),
        (TINY_224_ARGS.replace("'RoPE100'", "'cosine'"), "RoPE"),
        (TINY_224_ARGS.replace("head_type='linear'", "head_type='mlp'"), "head type"),
        (
            TINY_224_ARGS.replace("depth_mode=('exp', -inf, inf)", "depth_mode=('square', 0, inf)"),
            "depth_mode",
        ),
        (TINY_224_ARGS.replace("enc_depth=2", "enc_depth='two'"), "enc_depth"),
        (TINY_224_ARGS.replace("enc_depth=2", "enc_depth=inf"), "enc_depth"),
        (TINY_224_ARGS.replace("enc_depth=2", "enc_depth=10**9"), "non-literal"),
        (TINY_224_ARGS.replace("enc_depth=2", "enc_depth=1000000000"), "plausible size"),
        (TINY_224_ARGS.replace("enc_depth=2", "enc_depth=-2"), "plausible size"),
        (TINY_224_ARGS[:-1] + ", mlp_ratio=1e9)", "mlp_ratio"),
    ],
)
def test_unsupported_architectures(tmp_path, weights, text, fragment):
    expect_error(save_pth(tmp_path / "arch.pth", text, weights), fragment)


def test_pth_without_architecture(tmp_path, weights):
    path = tmp_path / "bare.pth"
    torch.save(dict(weights), path)
    expect_error(path, "not a DUSt3R checkpoint")
    torch.save({"model": weights}, path)
    expect_error(path, "args.model")


def test_pth_with_non_tensor_weights(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"args": argparse.Namespace(model=TINY_224_ARGS), "model": {"a": 1}}, path)
    expect_error(path, "non-tensor")


def test_hf_folder_problems(tmp_path):
    expect_error(tmp_path, "not a checkpoint")
    (tmp_path / "model.safetensors").write_bytes((VENDORED / "model.safetensors").read_bytes())
    expect_error(tmp_path, "config.json")
    (tmp_path / "config.json").write_text("{not json")
    expect_error(tmp_path, "cannot read")
    (tmp_path / "config.json").write_text("[1, 2]")
    expect_error(tmp_path, "JSON object")
