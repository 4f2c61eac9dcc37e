"""Local processes for the embedded default (Azurite, the emulator), the synthetic corpus and the demo."""

__all__: list[str] = []
