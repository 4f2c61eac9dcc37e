"""The job ledger: its states and schemas, the driver-side server and the executor-side client."""

__all__: list[str] = []
