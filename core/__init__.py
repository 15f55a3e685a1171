"""DUSt3R core: network, inference, global alignment and geometry. Never imports bpy.

Usable from plain Python (``import core`` from the repository root, or as a sub-package of the Blender
extension) and from the command line (``python -m core --help``). Importing this package is cheap: torch is
imported only by the sub-modules that need it.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
