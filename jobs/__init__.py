"""Blender-side jobs: the background-task runner, the task operator base, the estimate, photo listing, torch status."""
