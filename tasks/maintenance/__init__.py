"""Housekeeping tasks: retention, the demo ping and the benchmark baseline."""

from tasks.maintenance import bench, demo, reaper

__all__ = ["bench", "demo", "reaper"]
