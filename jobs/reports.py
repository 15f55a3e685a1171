"""Operator reports that accept any text: a message naming a file whose name is not UTF-8 (a Latin-1
``café.jpg``, which Python holds as ``caf\\udce9.jpg``) would make Blender's ``report`` raise, turning a
warning into a traceback. :meth:`TextReports.say` makes every message valid UTF-8 first. (Overriding
``report`` itself does not work: Blender resolves its RNA functions before a Python class's attributes.)"""

from __future__ import annotations

from ..scene.datablocks import blender_text


class TextReports:
    """Mixin for a ``bpy.types.Operator``: ``self.say(levels, message)`` is ``self.report`` with the message
    made valid UTF-8."""

    def say(self, levels: set[str], message: str) -> None:
        self.report(levels, blender_text(str(message)))
