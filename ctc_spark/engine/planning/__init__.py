"""What the driver decides before any call: input checks, the skip key, packing, the frozen plan and the dry-run estimate."""

__all__: list[str] = []
