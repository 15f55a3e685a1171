"""Frozen configuration objects of the core. Defaults are the Blender operator's defaults.

Each dataclass validates itself and raises :class:`~core.errors.ConfigError` with a user-facing message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
IMAGE_SIZES = (512, 224)
FOCAL_PRIORS = ("none", "exif", "mm")
DISTORTION_MODELS = ("none", "k1", "k1k2")
ROBUST_LOSSES = ("soft_l1", "huber", "cauchy", "linear")
# Sane bounds of a typed focal length in mm (36 mm film back): from an extreme fisheye to a long telescope.
FOCAL_MM_RANGE = (1.0, 5000.0)


@dataclass(frozen=True)
class InferenceConfig:
    """How to run the network on the image pairs.

    Attributes:
        image_size: None (the default) for the model's own size, or 512 (long side to 512) or 224 (short side
            to 224, square crop), which must then be the model's. The model's checkpoint is the one source of
            truth: :func:`core.inference.predictor.choose_image_size` resolves None when the model is loaded.
        scene_graph: ``complete``, ``swin-K[-noncyclic]``, ``logwin-K[-noncyclic]`` or ``oneref-R``.
        device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
        half_precision: run the network in float16/bfloat16 on CUDA (results are stored as float32).
        batch_size: number of pairs decoded together (pairs of equal shapes only).
    """

    image_size: int | None = None
    scene_graph: str = "complete"
    device: str = "auto"
    half_precision: bool = False
    batch_size: int = 4

    def __post_init__(self) -> None:
        if self.image_size is not None and self.image_size not in IMAGE_SIZES:
            raise ConfigError(
                f"image size must be one of {IMAGE_SIZES} (or unset: the model's), got {self.image_size}"
            )
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")


@dataclass(frozen=True)
class AlignConfig:
    """How to align all pairs into one frame (paper section 3.4).

    Attributes:
        method: ``fast`` (our solver) or ``paper`` (Adam, cosine schedule, lr 0.01: the reference baseline).
        niter: iterations of the ``paper`` method (our ``fast`` method chooses its own unless this is set
            explicitly through ``fast_niter``).
        fast_niter: iteration budget of the ``fast`` method (it stops earlier once converged).
        fast_pixels: pixels per view (a regular subsample) on which the ``fast`` method estimates the
            cameras and pair similarities; depth maps are always computed at full resolution.
        fast_tol: the ``fast`` method stops when the objective's relative decrease stays below this.
        focal_mode: ``weiszfeld`` or ``median`` (focal initialisation, paper section 3.3).
        min_conf: pixels with a confidence at or below this are ignored by the alignment (finite, >= 0; the
            network's confidences are >= 1). A pair with (almost) no pixel above it is left out, with a
            warning.
        shared_focal: all photos share one focal length (video, one camera).
        known_focals: per view, a focal in NETWORK pixels to keep fixed, or None to estimate it.
        known_poses: per view, a 4x4 ``world_from_cam`` (OpenCV) to keep fixed, or None.
        optimize_pp: also estimate principal points (default: the network image centre).
    """

    method: str = "fast"
    niter: int = 300
    fast_niter: int = 100
    fast_pixels: int = 1024
    fast_tol: float = 1e-3
    focal_mode: str = "weiszfeld"
    min_conf: float = 3.0
    shared_focal: bool = False
    known_focals: tuple[float | None, ...] | None = None
    known_poses: tuple[object | None, ...] | None = None
    optimize_pp: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("fast", "paper"):
            raise ConfigError(f"alignment method must be 'fast' or 'paper', got {self.method!r}")
        if self.focal_mode not in ("weiszfeld", "median"):
            raise ConfigError(f"focal mode must be 'weiszfeld' or 'median', got {self.focal_mode!r}")
        if self.niter < 0 or self.fast_niter < 0:
            raise ConfigError("the number of iterations cannot be negative")
        if self.fast_pixels < 16:
            raise ConfigError(f"the fast method needs at least 16 pixels per view, got {self.fast_pixels}")
        if not self.fast_tol >= 0:
            raise ConfigError(f"the convergence tolerance cannot be negative, got {self.fast_tol}")
        if not (math.isfinite(self.min_conf) and self.min_conf >= 0):
            raise ConfigError(f"minimum confidence must be a finite number >= 0, got {self.min_conf}")
        if self.known_focals is not None:
            for f in self.known_focals:
                if f is not None and not (math.isfinite(f) and f > 0):
                    raise ConfigError(f"known focal lengths must be finite and positive, got {f}")


@dataclass(frozen=True)
class RefineConfig:
    """Sub-pixel refinement of the aligned cameras: image correspondences and a bundle adjustment.

    Attributes:
        enabled: run the refinement after the alignment.
        distortion: radial distortion to estimate: ``none``, ``k1`` or ``k1k2`` (one set for all views with a
            shared focal, else one per view).
        optimize_pp: also estimate the principal points.
        working_size: long side, in pixels, of the copy of each photo the matcher works on (the photo itself
            when it is smaller; 0: always the full photo).
        max_points: well-textured points per view at most.
        max_partners: other views each view is matched with at most (those that overlap it most).
        min_overlap: fraction of a view's points another view must see to be matched with it.
        window: side of the matched patches, pixels of the working copy (odd).
        min_matches: correspondences a view needs to be refined; with fewer it keeps its aligned camera.
        loss: robust loss of the bundle adjustment (``soft_l1``, ``huber``, ``cauchy`` or ``linear``).
        loss_scale_px: where the robust loss starts to down-weight a residual, pixels of the working copy.
        rounds: bundle adjustments, with outlier rejection between them.
        max_rotation_deg: a view whose rotation moves more than this is kept as aligned (a diverged solve).
        prior_weight_px: weight of a prior that keeps the cameras near the alignment where the images do not
            determine them: moving by one prior sigma (1 degree, 2 % of the scene depth, 2 % of the focal)
            costs as much as this many pixels of reprojection error (0: no prior).
    """

    enabled: bool = True
    distortion: str = "none"
    optimize_pp: bool = False
    working_size: int = 1600
    max_points: int = 1500
    max_partners: int = 8
    min_overlap: float = 0.05
    window: int = 9
    min_matches: int = 30
    loss: str = "soft_l1"
    loss_scale_px: float = 1.0
    rounds: int = 3
    max_rotation_deg: float = 30.0
    prior_weight_px: float = 0.3

    def __post_init__(self) -> None:
        if self.distortion not in DISTORTION_MODELS:
            raise ConfigError(f"distortion must be one of {DISTORTION_MODELS}, got {self.distortion!r}")
        if self.loss not in ROBUST_LOSSES:
            raise ConfigError(f"robust loss must be one of {ROBUST_LOSSES}, got {self.loss!r}")
        if self.window < 3 or self.window % 2 == 0:
            raise ConfigError(f"the patch window must be an odd number of pixels >= 3, got {self.window}")
        if self.working_size < 0 or 0 < self.working_size < 64:
            raise ConfigError(
                f"the working size must be 0 (full photo) or at least 64 pixels, got {self.working_size}"
            )
        for name in ("max_points", "max_partners", "min_matches", "rounds"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"refinement {name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}"
                )
        if not 0.0 <= self.min_overlap < 1.0:
            raise ConfigError(f"the minimum overlap must be in [0, 1), got {self.min_overlap}")
        if not self.prior_weight_px >= 0:
            raise ConfigError(f"the camera prior's weight cannot be negative, got {self.prior_weight_px}")
        if not self.loss_scale_px > 0 or not self.max_rotation_deg > 0:
            raise ConfigError("the loss scale and the largest rotation change must be positive")


@dataclass(frozen=True)
class ReconstructConfig:
    """The whole pipeline: inference, alignment and the photo-level priors.

    Attributes:
        focal_prior: ``none``, ``exif`` (EXIF ``FocalLengthIn35mmFilm`` where a photo has it: the 35 mm
            equivalent, defined on the 43.27 mm full-frame DIAGONAL) or ``mm``.
        focal_mm: for ``focal_prior="mm"``, the focal length in mm on a 36 mm film back on the photo's LONG
            side: the ``lens`` the Blender camera will show (for 3:2 photos also the 35 mm equivalent), within
            :data:`FOCAL_MM_RANGE`.
        clean_depth: drop points that other views see as occluded (the paper demo's clean-up).
        refine: sub-pixel refinement of the cameras on the photos (:class:`RefineConfig`).
    """

    inference: InferenceConfig = field(default_factory=InferenceConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    focal_prior: str = "none"
    focal_mm: float | None = None
    clean_depth: bool = True
    refine: RefineConfig = field(default_factory=RefineConfig)

    def __post_init__(self) -> None:
        if self.focal_prior not in FOCAL_PRIORS:
            raise ConfigError(f"focal prior must be one of {FOCAL_PRIORS}, got {self.focal_prior!r}")
        if self.focal_prior == "mm":
            low, high = FOCAL_MM_RANGE
            if self.focal_mm is None:
                raise ConfigError("a focal length in millimetres is needed when the focal prior is 'mm'")
            if not low <= self.focal_mm <= high:  # also refuses NaN
                raise ConfigError(
                    f"focal length must be between {low:g} and {high:g} mm (36 mm film back), "
                    f"got {self.focal_mm}"
                )
