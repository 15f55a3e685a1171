"""The one way the core turns a user's path into an absolute one: ``resolve_path``.

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
