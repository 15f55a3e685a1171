"""The DUSt3R network in plain torch (CroCo ViT encoder, cross-attention decoders, linear/DPT heads).

Public API::

    from core.model import load_model, EncodedImages
    model = load_model("DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth", device="cpu")
    with torch.inference_mode():
        enc = [model.encode(img) for img in images]          # once per image
        out1, out2 = model.decode(enc[1], enc[0])             # any pair, any number of times

See ``docs/CONTRACTS.md`` (core/model) for shapes and frames.

The names are imported lazily, so ``core.model.configs`` (a torch-free registry) can be used without torch,
e.g. by the memory model of ``core.resources``.
"""

_CHECKPOINT = ("LoadReport", "load_model")
_CONFIGS = ("MODEL_CONFIGS", "ModelConfig", "get_config", "nearest_config_name")
_NETWORK = ("Dust3rModel", "EncodedImages", "build_model")


def __getattr__(name: str):
    # static relative imports (not import_module(name)): the layout test checks what core/ imports
    if name in _CHECKPOINT:
        from . import checkpoint as module
    elif name in _CONFIGS:
        from . import configs as module
    elif name in _NETWORK:
        from . import dust3r as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)


__all__ = [
    "MODEL_CONFIGS",
    "Dust3rModel",
    "EncodedImages",
    "LoadReport",
    "ModelConfig",
    "build_model",
    "get_config",
    "load_model",
    "nearest_config_name",
]
