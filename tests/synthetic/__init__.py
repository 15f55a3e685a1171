"""The project's own synthetic multi-view cases: scenes with ground truth, DUSt3R-like pair predictions, metrics.

``from tests.synthetic import make_case, evaluate, gt_estimate`` (the repository root is on ``sys.path``;
``tests/conftest.py`` puts it there). Numpy only, plus ``core.geometry`` (rays, lens model) and
``core.graphs.photos`` (scene graphs); ``evaluate`` uses SciPy's k-d tree for the Chamfer distance.

Modules: ``scenes`` (primitives, materials, camera paths), ``render`` (ray casting, anti-aliased procedural
shading), ``predictions`` (pair predictions and their noise model), ``metrics`` (``evaluate``,
``gt_estimate``, ``alignment_estimate``), ``case`` (``make_case`` and the case layout, ``save_case``, ``load_case``).
"""

from .case import case_meta, load_case, make_case, save_case
from .metrics import alignment_estimate, evaluate, gt_estimate, gt_world_points, pose_fit, true_rays, umeyama
from .predictions import graph_edges
from .scenes import FOOTAGE, SCENES

__all__ = [
    "FOOTAGE",
    "SCENES",
    "alignment_estimate",
    "case_meta",
    "evaluate",
    "graph_edges",
    "gt_estimate",
    "gt_world_points",
    "load_case",
    "make_case",
    "pose_fit",
    "save_case",
    "true_rays",
    "umeyama",
]
