"""How uncertain an aligned camera is before any refinement: the one place that says it.

The global alignment's cameras reproject their points a few pixels off (measured on synthgen v2 at noise 1:
3 to 10 px at 256x192, about a degree at those focals). :data:`ALIGNMENT_SIGMA` states that uncertainty per
camera parameter; the refinement's covariance (:mod:`core.refine.uncertainty`) starts from it, and a camera
that no track measured reports :func:`aligned_uncertainty_px`.
"""

from __future__ import annotations

import numpy as np

# 1 sigma of an aligned camera: rotation in degrees, centre as a fraction of the scene depth, focal as a
# fraction, principal point as a fraction of the image's long side, distortion coefficients
ALIGNMENT_SIGMA = {"rotation_deg": 1.0, "position": 0.02, "focal": 0.02, "pp": 0.01, "dist": 0.3}


def aligned_uncertainty_px(K: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 the reprojection uncertainty of aligned cameras that no track measured: the rotation
    sigma through each view's focal (``K`` ``(N, 3, 3)``), in pixels of the image ``K`` belongs to."""
    return np.asarray(K, np.float64)[:, 0, 0] * np.tan(np.radians(ALIGNMENT_SIGMA["rotation_deg"]))
