"""Subcommand modules for the `ctc-spark` CLI; each exposes `register(subparsers)`."""
