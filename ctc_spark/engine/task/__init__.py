"""What a streaming task does: its scheduler, throttle, read-ahead and settings. Imports no pyspark."""

__all__: list[str] = []
