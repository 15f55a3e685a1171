"""Which photos a reconstruction uses: a folder (natural file-name order) or an explicit file selection."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def resolve_photos(directory: str, file_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The photos to reconstruct, as absolute paths, and warnings about skipped files.

    Args:
        directory: a folder (Blender path; ``//`` relative paths must be made absolute by the caller).
        file_names: names selected in that folder (Blender's ``files``); empty means every photo of it.

    Raises:
        ImageError: no folder, a missing file, or no photos at all.
        DependencyError: Pillow is not installed (it recognises the photo formats).
    """
    from ..core.errors import DependencyError, ImageError

    try:
        from ..core.inference.images import list_photos, natural_key
    except ImportError as exc:
        raise DependencyError(
            f"A Python package the add-on needs is missing ({exc.name}). Reinstall the DUSt3R extension."
        ) from exc

    names = [n for n in file_names if n]
    if not directory:
        raise ImageError("Choose a folder of photos first (the 'Photos' field of the DUSt3R panel).")
    folder = Path(directory).resolve()
    if names:
        paths = [folder / n for n in sorted(names, key=natural_key)]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise ImageError(f"Photo not found: {', '.join(missing[:3])} in {folder}. Choose existing files.")
        return [str(p) for p in paths], []
    listing = list_photos(folder)
    warnings = [f"Skipped {p.name}: {reason}" for p, reason in listing.skipped]
    if not listing.photos:
        raise ImageError(
            f"No photos found in {folder}. Put JPEG, PNG, WebP, TIFF or BMP photos in it, or choose another folder."
        )
    return [str(p) for p in listing.photos], warnings


def folder_photos(directory: str) -> tuple[list[str] | None, int]:
    """``(photos, skipped files)`` of ``directory`` for the sidebar (the photos' paths in reconstruction
    order); ``([], 0)`` when it is not a folder and ``(None, 0)`` when Pillow is missing (the photo formats
    cannot be recognised)."""
    try:
        from ..core.errors import ImageError
        from ..core.inference.images import list_photos
    except ImportError:
        return None, 0
    try:
        listing = list_photos(directory)
    except ImageError:
        return [], 0
    return [str(p) for p in listing.photos], len(listing.skipped)
