"""Global alignment of pairwise pointmaps into one frame (paper section 3.4).

``global_align`` (N >= 2 views; ``method="fast"``: our solver, ``"paper"``: the reference's Adam loop),
``align_single_view`` (one image, the pair ``(0, 0)``) and their result type ``AlignmentResult``.
"""

from .aligner import global_align
from .result import AlignmentResult
from .two_view import align_single_view, align_two_views

__all__ = ["AlignmentResult", "align_single_view", "align_two_views", "global_align"]
