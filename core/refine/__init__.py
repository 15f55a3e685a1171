"""Sub-pixel refinement of aligned cameras: image correspondences, bundle adjustment, lens distortion.

``refine_alignment(aligned, images, config, ...) -> Refinement``. Modules, one job each: ``pyramid`` (grey
pyramids, bilinear sampling), ``keypoints`` (Shi-Tomasi on a grid), ``seeds`` (host points, first guesses by
reprojection, occlusion check, local affine maps), ``network_seeds`` (first guesses from the pair predictions'
reciprocal nearest neighbours), ``lucas_kanade`` (sub-pixel patch alignment), ``matches``
(all overlapping views), ``tracks`` (union-find over all pairs' matches), ``bundle`` (the least-squares problem), ``solve`` (rounds, outlier
rejection, the never-worse rule), ``depth_fix`` (dense points on the refined rays), ``views`` (how a
refinement image maps to the network image, through :mod:`core.geometry.photo`), ``refiner`` (the entry point).
"""

from .network_seeds import PairCorrespondences, pair_correspondences
from .refiner import Refinement, refine_alignment
from .solve import Priors
from .views import ImageFrame, identity_crop, resize_crop

__all__ = [
    "ImageFrame",
    "PairCorrespondences",
    "Priors",
    "Refinement",
    "identity_crop",
    "pair_correspondences",
    "refine_alignment",
    "resize_crop",
]
