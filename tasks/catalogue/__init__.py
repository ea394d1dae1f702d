"""Catalogue sync: the planner and one module per periodic process."""
