"""Catalogue sync: the tick and sweeper, the planner and one module per periodic process."""

from tasks.catalogue import tasks

__all__ = ["tasks"]
