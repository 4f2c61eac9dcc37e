"""The classification run: planning, packing, throttling, the executor task and the job ledger."""

__all__: list[str] = []
