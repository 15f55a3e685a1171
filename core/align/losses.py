"""The robust alignment objective and its iteratively-reweighted-least-squares weights.

The paper's objective is ``sum C ||X_world - s_e (R_e X^{v,e} + t_e)||``: a confidence-weighted sum of
Euclidean distances (not squared), which is already robust to outliers. We minimise its smooth version
``sum w sqrt(|r|^2 + delta^2)`` (Charbonnier, equal to the paper's up to ``delta``) by majorise-minimise:
at the current residuals, ``sqrt(|r|^2 + delta^2) <= const + |r|^2 / (2 sqrt(|r0|^2 + delta^2))``, so each
round solves a weighted least-squares problem with weights :func:`irls_weights`, and the objective never
increases.
"""

from __future__ import annotations

import numpy as np

# delta of the Charbonnier loss, relative to the scene's median depth.
RELATIVE_DELTA = 1e-3


def irls_weights(base_weight: np.ndarray, sq_residual: np.ndarray, delta: float) -> np.ndarray:
    """``base_weight / sqrt(|r|^2 + delta^2)`` (same shape as the inputs; ``delta`` in world units)."""
    return base_weight / np.sqrt(sq_residual + delta * delta)


def robust_objective(base_weight: np.ndarray, sq_residual: np.ndarray) -> float:
    """The paper's objective normalised by the total weight: weighted mean distance (world units)."""
    total = float(np.sum(base_weight))
    return float(np.sum(base_weight * np.sqrt(sq_residual))) / max(total, 1e-300)
