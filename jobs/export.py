"""The export job: the scene gathered on the main thread, written by the core's writers on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from . import tasks
from .task_operator import PollOutcome, TaskRequest


@dataclass(frozen=True)
class ExportRequest(TaskRequest):
    scene: object  # core.export.ExportScene
    fmt: str
    out: str
    overwrite: bool
    mesh: bool = False  # glb: per-view surfaces instead of the points
    cameras: bool = True  # glb: write the cameras

    label = "export"

    def work(self, progress, cancel, _log_line):
        from ..core.export import export_scene

        progress(f"Writing {self.fmt}", 0.0)
        options = {"mesh": self.mesh, "cameras": self.cameras} if self.fmt == "glb" else {}
        if self.fmt == "depth":
            options = {"progress": progress, "cancel": cancel}
        return export_scene(
            self.scene, self.fmt, self.out, overwrite=self.overwrite, option="The export folder", **options
        )

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        report = status.result
        messages = [("WARNING", w) for w in report.warnings]
        if report.format == "depth":
            done = f"{report.num_images} depth maps"
        elif report.format == "glb":
            drawn = "surfaces" if self.mesh else f"{report.num_points:,} points"
            done = f"{report.num_cameras} cameras and {drawn}"
        else:
            done = f"{report.num_images} images and {report.num_points:,} points"
        messages.append(("INFO", f"DUSt3R: exported {done} as {report.format} to {report.out}"))
        return PollOutcome(done=True, finished_ok=True, messages=messages, report=report)
