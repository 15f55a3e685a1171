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

    label = "export"

    def work(self, progress, cancel, _log_line):
        from ..core.export import export_scene

        progress(f"Writing {self.fmt}", 0.0)
        return export_scene(self.scene, self.fmt, self.out, overwrite=self.overwrite)

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        report = status.result
        messages = [("WARNING", w) for w in report.warnings]
        messages.append(
            (
                "INFO",
                f"DUSt3R: exported {report.num_images} images and {report.num_points:,} points as "
                f"{report.format} to {report.out}",
            )
        )
        return PollOutcome(done=True, finished_ok=True, messages=messages, report=report)
