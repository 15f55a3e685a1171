"""Pairwise network predictions: the data that flows from inference to alignment.

A leaf module (numpy and the atomic writer only) so that ``align`` does not depend on ``inference`` or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io.atomic import save_npz


@dataclass(frozen=True)
class PairPrediction:
    """The network's output for one ORDERED pair ``(i, j)`` (view1 = image ``i``, view2 = image ``j``).

    Both pointmaps are expressed in camera ``i``'s frame (OpenCV axes), in the network's arbitrary scale.
    Row ``r``, column ``c`` of a map is pixel (row ``r``, column ``c``) of that view's network image.

    Attributes:
        i, j: image indices.
        pts3d_i: ``(H_i, W_i, 3)`` float32, view ``i``'s points in camera ``i``'s frame.
        conf_i: ``(H_i, W_i)`` float32, confidence (>= 1) of ``pts3d_i``.
        pts3d_j: ``(H_j, W_j, 3)`` float32, view ``j``'s points in camera ``i``'s frame.
        conf_j: ``(H_j, W_j)`` float32.
    """

    i: int
    j: int
    pts3d_i: np.ndarray
    conf_i: np.ndarray
    pts3d_j: np.ndarray
    conf_j: np.ndarray

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """The arrays under the reference names of ``shared/reference/outputs/*.npz``."""
        return {
            "pair": np.array([self.i, self.j], dtype=np.int64),
            "true_shape1": np.array(self.pts3d_i.shape[:2], dtype=np.int32),
            "true_shape2": np.array(self.pts3d_j.shape[:2], dtype=np.int32),
            "pred1_pts3d": np.asarray(self.pts3d_i, dtype=np.float32),
            "pred1_conf": np.asarray(self.conf_i, dtype=np.float32),
            "pred2_pts3d_in_other_view": np.asarray(self.pts3d_j, dtype=np.float32),
            "pred2_conf": np.asarray(self.conf_j, dtype=np.float32),
        }

    @classmethod
    def from_npz_dict(cls, data) -> PairPrediction:
        """Inverse of :meth:`to_npz_dict` (accepts an ``np.load`` result)."""
        i, j = (int(v) for v in np.asarray(data["pair"]).reshape(2))
        return cls(
            i=i,
            j=j,
            pts3d_i=np.asarray(data["pred1_pts3d"], dtype=np.float32),
            conf_i=np.asarray(data["pred1_conf"], dtype=np.float32),
            pts3d_j=np.asarray(data["pred2_pts3d_in_other_view"], dtype=np.float32),
            conf_j=np.asarray(data["pred2_conf"], dtype=np.float32),
        )

    def save(self, path: str | Path) -> None:
        """Write ``path`` (``.npz``, uncompressed) with the reference array names, atomically
        (:func:`core.io.atomic.save_npz`: an interrupted write leaves the previous file intact)."""
        save_npz(path, self.to_npz_dict())


PAIRWISE_KEYS = ("edges", "pred_i", "pred_j", "conf_i", "conf_j")


def predictions_from_pairwise(arrays) -> list[PairPrediction]:
    """Ordered pair predictions from the pairwise layout of ``shared/tools/synthgen.py``.

    Args:
        arrays: a mapping (dict or ``np.load`` result) with ``edges`` ``(E, 2)`` int, ``pred_i``/``pred_j``
            ``(E, H, W, 3)`` and ``conf_i``/``conf_j`` ``(E, H, W)``; row ``e`` is the ordered pair
            ``edges[e] = (i, j)``, both pointmaps in camera ``i``'s frame.
    """
    edges = np.asarray(arrays["edges"]).reshape(-1, 2)
    return [
        PairPrediction(
            int(i),
            int(j),
            np.asarray(arrays["pred_i"][e], np.float32),
            np.asarray(arrays["conf_i"][e], np.float32),
            np.asarray(arrays["pred_j"][e], np.float32),
            np.asarray(arrays["conf_j"][e], np.float32),
        )
        for e, (i, j) in enumerate(edges)
    ]
