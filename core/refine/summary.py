"""The sentence a user reads after a refinement: the solve error and the weakest camera.

``"solve error 0.21 px, worst camera 'img7' ±0.6 px (two-view tracks only)"``: the figure next to each camera is
max(solve error, uncertainty) (:attr:`core.refine.Refinement.reported_px`), and the weakest is named with why
it was kept when it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def reported_px(solve_error_px: np.ndarray, uncertainty_px: np.ndarray) -> np.ndarray:
    """``(N,)`` max(solve error, uncertainty) per view (NaN where both are NaN)."""
    return np.fmax(np.asarray(solve_error_px, np.float64), np.asarray(uncertainty_px, np.float64))


def refine_summary(
    solve_error_total_px: float,
    solve_error_px: np.ndarray,
    uncertainty_px: np.ndarray,
    status: Sequence[str],
    names: Sequence[str],
) -> str:
    """One line: the run's solve error and its weakest camera (name, ± figure, and why it was kept)."""
    figure = reported_px(solve_error_px, uncertainty_px)
    total = (
        f"{solve_error_total_px:.2f} px" if np.isfinite(solve_error_total_px) else "none (no view refined)"
    )
    if not np.isfinite(figure).any():
        return f"solve error {total}"
    worst = int(np.nanargmax(figure))
    line = f"solve error {total}, worst camera '{names[worst]}' ±{figure[worst]:.2g} px"
    note = str(status[worst]) if worst < len(status) else ""
    if note.startswith("kept: "):
        line += f" ({note[len('kept: ') :]})"
    return line
