"""Paths from users: ``resolve_path`` (absolute, a loop is a one-line error) and ``utf8_text`` (a file name
that is not UTF-8, made into text that every format and Blender can hold).

``Path.resolve`` raises ``RuntimeError`` on a symbolic-link loop (Python 3.11/3.12; ``OSError`` ELOOP later),
which would surface as a traceback; here it is a one-line :class:`~core.errors.ConfigError` naming the path.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def resolve_path(path: str | Path) -> Path:
    """``Path(path).expanduser().resolve()``, or a :class:`ConfigError` for a symbolic-link loop.

    Raises:
        ConfigError: ``path`` is (or passes through) a symbolic link that leads back to itself.
    """
    try:
        return Path(path).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: "Symlink loop from ..." (Python < 3.13)
        raise ConfigError(f"{path}: a symbolic link that leads back to itself (a loop): {exc}") from None


def utf8_text(text: str) -> str:
    """``text`` as valid UTF-8 text: a file name whose bytes are not UTF-8 (``café`` written in Latin-1,
    which Python hands over as ``caf\\udce9``) gets those bytes read as Latin-1, a readable guess.

    Used for the names an export gives its image files (COLMAP and nerfstudio files are UTF-8 text, and the
    exported file is then named exactly as the model says) and for Blender's datablock names.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("latin-1")
    return text
