"""Sub-pixel refinement of aligned cameras: image correspondences, bundle adjustment, lens distortion.

``refine_alignment(aligned, images, config, ...) -> Refinement``. Modules, one job each: ``pyramid`` (grey
pyramids, bilinear sampling), ``keypoints`` (Shi-Tomasi on a grid), ``seeds`` (host points, first guesses by
reprojection, occlusion check, local affine maps), ``lucas_kanade`` (sub-pixel patch alignment), ``matches``
(all overlapping views), ``tracks``, ``bundle`` (the least-squares problem), ``solve`` (rounds, outlier
rejection, the never-worse rule), ``depth_fix`` (dense points on the refined rays), ``views`` (how a
refinement image maps to the network image, through :mod:`core.geometry.photo`), ``refiner`` (the entry point).
"""

from .refiner import Refinement, refine_alignment
from .solve import Priors
from .views import ImageFrame, identity_crop, resize_crop

__all__ = ["ImageFrame", "Priors", "Refinement", "identity_crop", "refine_alignment", "resize_crop"]
