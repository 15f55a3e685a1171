"""The datablocks one scene build creates, registered the moment they exist, removed again if it fails.

Every ``bpy.data`` datablock the builder makes goes through :class:`BuildRecord` (``record.new("meshes",
name)``, ``record.load_image(path)``, ``record.load_clip(path)``), which registers it before handing it back. So whatever fails next (a
photo Pillow refuses, an empty mesh, a bug), :meth:`BuildRecord.remove_all` finds everything and the file
is exactly as it was. Datablocks the build only reuses (a photo already loaded, the shared node group and
material of an earlier build) are not the build's and stay.
"""

from __future__ import annotations

import bpy


class BuildRecord:
    """Datablocks made by one build, in creation order."""

    def __init__(self) -> None:
        self._created: list[bpy.types.ID] = []

    def __len__(self) -> int:
        return len(self._created)

    def new(self, kind: str, *args, **kwargs) -> bpy.types.ID:
        """``bpy.data.<kind>.new(*args, **kwargs)``, registered before it is returned."""
        return self.register(getattr(bpy.data, kind).new(*args, **kwargs))

    def load_image(self, path: str) -> bpy.types.Image:
        """``bpy.data.images.load(path, check_existing=True)``; registered only when it was not loaded yet.

        Raises:
            RuntimeError: Blender cannot read the file.
        """
        before = {image.as_pointer() for image in bpy.data.images}
        image = bpy.data.images.load(path, check_existing=True)
        if image.as_pointer() not in before:
            self.register(image)
        return image

    def load_clip(self, path: str) -> bpy.types.MovieClip:
        """``bpy.data.movieclips.load(path)``, always a new clip of the build (its frame mapping and tracking
        camera are set by the build), registered at once.

        Raises:
            RuntimeError: Blender cannot open the file.
        """
        return self.register(bpy.data.movieclips.load(path, check_existing=False))

    def register(self, datablock: bpy.types.ID) -> bpy.types.ID:
        self._created.append(datablock)
        return datablock

    def remove_all(self) -> None:
        """Remove every registered datablock that still exists (also unlinking it from its users)."""
        alive = {}
        for datablock in self._created:
            try:
                alive[datablock.as_pointer()] = datablock
            except ReferenceError:  # already gone together with its owner
                continue
        bpy.data.batch_remove(list(alive.values()))
        self._created.clear()
