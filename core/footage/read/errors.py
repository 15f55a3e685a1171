"""The footage reader's error: one clear message per problem (truncated video, unknown codec, gap, ...)."""

from __future__ import annotations

from ...errors import ImageError


class FootageError(ImageError):
    """A video or image sequence cannot be read as asked (its message says what and what to do)."""
