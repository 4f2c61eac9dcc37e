"""Subcommand modules for the `ctc-spark` CLI; each exposes `register(subparsers)`."""

__all__: list[str] = []
