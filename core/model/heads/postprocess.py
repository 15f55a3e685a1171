"""Post-processing of a head's raw map into 3-D points and confidences (DUSt3R's ``exp`` modes)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def raw_to_pointmap(
    raw: Tensor, conf_vmin: float = 1.0, conf_vmax: float = math.inf
) -> tuple[Tensor, Tensor]:
    """Turn a raw head output into points and confidences, computed in float32.

    Args:
        raw: (B, 4, H, W), any float dtype; channels 0..2 are the point vector v, channel 3 the confidence logit.
        conf_vmin, conf_vmax: confidence range (``conf = vmin + exp(c)``, clipped at ``vmax``).

    Returns:
        pts3d (B, H, W, 3) float32 ``v / max(|v|, 1e-8) * expm1(|v|)``, conf (B, H, W) float32.
    """
    raw = raw.float()
    v = raw[:, 0:3]
    # Channel planes are contiguous in (B, C, H, W): the norm is cheaper before the permutation.
    d = (v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2]).sqrt().unsqueeze(1)
    pts3d = (v / d.clamp(min=1e-8) * torch.expm1(d)).permute(0, 2, 3, 1).contiguous()
    conf = raw[:, 3].exp()
    if math.isfinite(conf_vmax):
        conf = conf.clamp(max=conf_vmax - conf_vmin)
    return pts3d, conf + conf_vmin
