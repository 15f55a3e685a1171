"""Frozen configuration objects of the core. Defaults are the Blender operator's defaults.

Each dataclass validates itself and raises :class:`~core.errors.ConfigError` with a user-facing message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PAIR_STORAGES = ("auto", "ram", "disk")
IMAGE_SIZES = (512, 224)
FOCAL_PRIORS = ("none", "exif", "mm")


@dataclass(frozen=True)
class InferenceConfig:
    """How to run the network on the image pairs.

    Attributes:
        image_size: 512 (long side to 512) or 224 (short side to 224, square crop); must match the model.
        scene_graph: ``auto``, ``complete``, ``swin-K[-noncyclic]``, ``logwin-K[-noncyclic]``, ``oneref-R``
            or ``retrieval-K`` (see :mod:`core.inference.pairs`).
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

    image_size: int = 512
    scene_graph: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None
    pair_storage: str = "auto"
    check_memory: bool = True

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ConfigError(f"image size must be one of {IMAGE_SIZES}, got {self.image_size}")
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
        min_conf: pixels with a confidence at or below this are ignored by the alignment.
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
        if self.min_conf < 0:
            raise ConfigError(f"minimum confidence cannot be negative, got {self.min_conf}")
        if self.known_focals is not None:
            for f in self.known_focals:
                if f is not None and not f > 0:
                    raise ConfigError(f"known focal lengths must be positive, got {f}")


@dataclass(frozen=True)
class ReconstructConfig:
    """The whole pipeline: inference, alignment and the photo-level priors.

    Attributes:
        focal_prior: ``none``, ``exif`` (EXIF ``FocalLengthIn35mmFilm`` where a photo has it) or ``mm``.
        focal_mm: the 35 mm-equivalent focal length for ``focal_prior="mm"``.
        clean_depth: drop points that other views see as occluded (the paper demo's clean-up).
    """

    inference: InferenceConfig = field(default_factory=InferenceConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    focal_prior: str = "none"
    focal_mm: float | None = None
    clean_depth: bool = True

    def __post_init__(self) -> None:
        if self.focal_prior not in FOCAL_PRIORS:
            raise ConfigError(f"focal prior must be one of {FOCAL_PRIORS}, got {self.focal_prior!r}")
        if self.focal_prior == "mm" and (self.focal_mm is None or not self.focal_mm > 0):
            raise ConfigError("a focal length in millimetres (> 0) is needed when the focal prior is 'mm'")
