"""Frozen configuration objects of the core. Defaults are the Blender operator's defaults.

Each dataclass validates itself and raises :class:`~core.errors.ConfigError` with a user-facing message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import ConfigError
from .geometry.photo import FILM_LONG_SIDE_MM

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PAIR_STORAGES = ("auto", "ram", "disk")
ALIGN_MEMORIES = ("auto", "dense", "sparse")
IMAGE_SIZES = (512, 224)  # the network image sizes of the official checkpoints (long side / square)
DEFAULT_MIN_CONF = 3.0  # confidence threshold: alignment, exports, the points shown in Blender
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
        scene_graph: ``auto``, ``complete``, ``swin-K[-noncyclic]``, ``logwin-K[-noncyclic]``, ``oneref-R``
            or ``retrieval-K[-M]`` (see :mod:`core.graphs.photos`).
        device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
        precision: compute precision of the network: ``auto`` (the fastest this device computes well, see
            :mod:`core.inference.precision`), ``fp32``, ``bf16`` or ``fp16``. Results are stored as float32
            (or float16 in the aligner's compact store) whatever this is.
        batch_size: number of pairs decoded together (pairs of equal shapes only); None: 4 on the CPU and
            MPS, as many as fit in the free GPU memory on CUDA (up to 32), see
            :func:`core.inference.predictor.choose_batch_size`.
        pair_storage: where the pipeline keeps the pair predictions until alignment: ``ram``, ``disk`` (a
            scratch file in the temporary folder, removed afterwards) or ``auto`` (disk when RAM is short).
        check_memory: refuse a run whose estimated peak memory exceeds what the machine has left.
    """

    image_size: int | None = None
    scene_graph: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None
    pair_storage: str = "auto"
    check_memory: bool = True

    def __post_init__(self) -> None:
        if self.image_size is not None and self.image_size not in IMAGE_SIZES:
            raise ConfigError(
                f"image size must be one of {IMAGE_SIZES} (or unset: the model's), got {self.image_size}"
            )
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.pair_storage not in PAIR_STORAGES:
            raise ConfigError(f"pair storage must be one of {PAIR_STORAGES}, got {self.pair_storage!r}")
        if self.batch_size is not None and self.batch_size < 1:
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
        memory: how the ``fast`` method holds the predictions: ``dense`` (the solve's pixel subsample of every
            pair at once, depth maps from all of a view's pairs at full resolution), ``sparse`` (a fixed budget
            of confident anchor pixels per view and pair, depth maps streamed in row blocks: memory linear in
            the pairs and independent of the image size but for the output, :mod:`core.align.sparse`) or
            ``auto`` (sparse when the memory model says that dense would not fit in the free RAM).
        anchor_pixels: anchor pixels per view of the ``sparse`` path (the most confident pixel of each cell
            of a grid with about this many cells).
    """

    method: str = "fast"
    niter: int = 300
    fast_niter: int = 100
    fast_pixels: int = 1024
    fast_tol: float = 1e-3
    focal_mode: str = "weiszfeld"
    min_conf: float = DEFAULT_MIN_CONF
    shared_focal: bool = False
    known_focals: tuple[float | None, ...] | None = None
    known_poses: tuple[object | None, ...] | None = None
    optimize_pp: bool = False
    memory: str = "auto"
    anchor_pixels: int = 256

    def __post_init__(self) -> None:
        if self.method not in ("fast", "paper"):
            raise ConfigError(f"alignment method must be 'fast' or 'paper', got {self.method!r}")
        if self.memory not in ALIGN_MEMORIES:
            raise ConfigError(f"alignment memory must be one of {ALIGN_MEMORIES}, got {self.memory!r}")
        if self.anchor_pixels < 16:
            raise ConfigError(
                f"the sparse alignment needs at least 16 anchor pixels per view, got {self.anchor_pixels}"
            )
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
        enabled: run the refinement after the alignment (the default of every entry point: ``align``,
            ``reconstruct``, the Blender operators; ``--no-refine`` / ``refine=False`` skip it).
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
            costs as much as this many pixels of reprojection error (0: no prior). It holds in the rounds
            that reject outliers.
        final_prior_weight_px: the same prior's weight in the last round (with more than one round), on the
            kept observations: weaker, so that it holds only what the images barely determine.
        network_seeds: also take the matcher's first guesses from the network's pairwise correspondences
            (reciprocal nearest neighbours of each pair's pointmaps, ``core.refine.network_seeds``), not only
            from reprojection through the aligned cameras. Off by default: on the synthetic cases measured
            the pairwise correspondences were several times farther from the truth than the reprojection
            (docs/BENCHMARKS.md, "Camera refinement").
    """

    enabled: bool = True
    distortion: str = "none"
    optimize_pp: bool = False
    working_size: int = 1600
    max_points: int = 600
    max_partners: int = 8
    min_overlap: float = 0.05
    window: int = 9
    min_matches: int = 30
    loss: str = "soft_l1"
    loss_scale_px: float = 1.0
    rounds: int = 3
    max_rotation_deg: float = 30.0
    prior_weight_px: float = 0.3
    final_prior_weight_px: float = 0.0
    network_seeds: bool = False

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
        if not (self.prior_weight_px >= 0 and self.final_prior_weight_px >= 0):
            raise ConfigError(
                f"the camera prior's weights cannot be negative, got {self.prior_weight_px} and "
                f"{self.final_prior_weight_px}"
            )
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


FILL_MODES = ("localise", "interpolate", "none")
DEFAULT_SENSOR_WIDTH_MM = FILM_LONG_SIDE_MM  # the film back when the footage does not say
# Footage pairs: each frame with the frames 1, 2, 4, ... 32 later (docs: core/graphs/temporal.py).
DEFAULT_TEMPORAL_OFFSETS = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class FootageConfig:
    """A shot (video file or image sequence) -> one camera per frame with one lens (``core.footage``).

    Attributes:
        reconstruct: network, alignment and clean-up settings as for photos; its ``focal_prior`` and
            ``focal_mm`` are not used (the lens is ``focal_mm`` / ``sensor_width_mm`` below) and the
            alignment always shares one focal length between the frames.
        start, end: source frame range, inclusive (None: the footage's first / last frame). Videos count
            frames from 1; image sequences use their file numbers.
        every: reconstruct every K-th frame of the range.
        max_frames: reconstruct at most N frames, spread evenly over the range (first and last kept).
        fill: what the frames of the range that are not reconstructed get: ``localise`` (their pose from
            the reconstruction, paper section 4.1), ``interpolate`` (SLERP + linear, fast) or ``none`` (they
            are left out of the result).
        focal_mm: the real focal length of the lens in mm, when known (fixed, not estimated).
        sensor_width_mm: the film back in mm along the frame's long side; None when unknown (then
            ``DEFAULT_SENSOR_WIDTH_MM`` is assumed, and the result says so).
        fps: frame rate of an image sequence (its files carry none; None: 24 is assumed and said). Videos
            use their own.
        allow_gaps: reconstruct a sequence with missing frames without them (default: a clear error).
        temporal_offsets: the pair graph pairs each frame with the frames this many frames later.
        loop_closure: add long-range pairs between frames that look alike (the camera came back).
        check_frames: flag black, blank and duplicated frames and keep them out of the reconstruction.
    """

    reconstruct: ReconstructConfig = field(default_factory=ReconstructConfig)
    start: int | None = None
    end: int | None = None
    every: int = 1
    max_frames: int | None = None
    fill: str = "localise"
    focal_mm: float | None = None
    sensor_width_mm: float | None = None
    fps: float | None = None
    allow_gaps: bool = False
    temporal_offsets: tuple[int, ...] = DEFAULT_TEMPORAL_OFFSETS
    loop_closure: bool = True
    check_frames: bool = True

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigError(f"every must be at least 1 (every K-th frame), got {self.every}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max frames must be at least 1, got {self.max_frames}")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ConfigError(f"the end frame {self.end} comes before the start frame {self.start}")
        if self.fill not in FILL_MODES:
            raise ConfigError(f"fill must be one of {FILL_MODES}, got {self.fill!r}")
        for name in ("focal_mm", "sensor_width_mm", "fps"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and value < float("inf")):
                raise ConfigError(f"{name.replace('_', ' ')} must be a positive number, got {value}")
        if not self.temporal_offsets or any(int(o) < 1 for o in self.temporal_offsets):
            raise ConfigError(f"temporal offsets must be positive frame counts, got {self.temporal_offsets}")
