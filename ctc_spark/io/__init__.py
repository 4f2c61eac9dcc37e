"""Spark session factory, Delta table locations and MERGE helpers, and corpus readers."""

__all__: list[str] = []
