"""The checkpoint's constructor string is parsed as literal keyword arguments and never executed."""

from __future__ import annotations

import math

import pytest

from core.errors import CheckpointError
from core.model.constructor_args import parse_constructor

OFFICIAL_512_DPT = (
    "AsymmetricCroCo3DStereo(pos_embed='RoPE100', patch_embed_cls='ManyAR_PatchEmbed', img_size=(512, 512), "
    "head_type='dpt', output_mode='pts3d', depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), "
    "enc_embed_dim=1024, enc_depth=24, enc_num_heads=16, dec_embed_dim=768, dec_depth=12, dec_num_heads=12)"
)
# The same model as a third-party repository spells it: other keyword order, other patch embedding.
REORDERED_512_DPT = (
    "AsymmetricCroCo3DStereo(enc_depth=24, dec_depth=12, enc_embed_dim=1024, dec_embed_dim=768, "
    "enc_num_heads=16, dec_num_heads=12, pos_embed='RoPE100', patch_embed_cls='PatchEmbedDust3R', "
    "img_size=(512, 512), head_type='dpt', output_mode='pts3d', depth_mode=('exp', -inf, inf), "
    "conf_mode=('exp', 1, inf))"
)


def test_parses_official_string_as_keywords():
    name, kwargs = parse_constructor(OFFICIAL_512_DPT)
    assert name == "AsymmetricCroCo3DStereo"
    assert kwargs["img_size"] == (512, 512)
    assert kwargs["depth_mode"] == ("exp", -math.inf, math.inf)
    assert kwargs["conf_mode"] == ("exp", 1, math.inf)
    assert kwargs["enc_embed_dim"] == 1024 and kwargs["head_type"] == "dpt"


def test_keyword_order_does_not_matter():
    _, official = parse_constructor(OFFICIAL_512_DPT)
    _, reordered = parse_constructor(REORDERED_512_DPT)
    official.pop("patch_embed_cls")
    reordered.pop("patch_embed_cls")
    assert official == reordered


def test_literals_of_all_kinds():
    _, kwargs = parse_constructor(
        "M(a=-1.5, b=+2, c=[1, (2, 3)], d={'x': None}, e=True, f=float('inf'), g=np.inf, h='RoPE100', landscape_only=False)"
    )
    assert kwargs == {
        "a": -1.5,
        "b": 2,
        "c": [1, (2, 3)],
        "d": {"x": None},
        "e": True,
        "f": math.inf,
        "g": math.inf,
        "h": "RoPE100",
        "landscape_only": False,
    }


@pytest.mark.parametrize(
    "text",
    [
        "M(img_size=__import__('os').getcwd())",
        "M(x=open('/etc/passwd'))",
        "M(x=lambda: 1)",
        "M(x=[i for i in range(3)])",
        "M(x=f'{1}')",
        "M(x=y)",
        "M(x=1 + 2)",
        "M(x=(1,)[0])",
        "os.system('true')",
        "M()()",
        "M(1, 2)",
        "M(**{'a': 1})",
        "M(a=1, a=2)",
        "M(a=1",
        "",
        "42",
        "M(a='" + "x" * 20_000 + "')",
    ],
)
def test_rejects_anything_but_literal_keywords(text):
    with pytest.raises(CheckpointError):
        parse_constructor(text)


def test_payload_in_constructor_is_not_executed(tmp_path):
    marker = tmp_path / "executed"
    text = f"AsymmetricCroCo3DStereo(img_size=__import__('pathlib').Path({str(marker)!r}).touch())"
    with pytest.raises(CheckpointError, match="non-literal"):
        parse_constructor(text)
    assert not marker.exists()


def test_non_string_is_rejected():
    with pytest.raises(CheckpointError):
        parse_constructor(None)  # type: ignore[arg-type]
