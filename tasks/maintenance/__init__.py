"""Housekeeping tasks: retention and the demo ping."""

from tasks.maintenance import demo, reaper

__all__ = ["demo", "reaper"]
