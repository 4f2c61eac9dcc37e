"""Driver-side training and deployment: labels, blob upload, train/evaluate/deploy, model tables, the report."""

__all__: list[str] = []
