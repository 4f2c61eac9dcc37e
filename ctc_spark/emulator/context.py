"""Everything one emulator instance shares across requests: config, state, registry, quotas, faults, stats."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from ctc_spark.emulator.config import EmulatorConfig
from ctc_spark.emulator.faults import FaultInjector
from ctc_spark.emulator.lifecycle import TrainingConfigVersion, default_training_configs
from ctc_spark.emulator.quota import Quota
from ctc_spark.emulator.registry import Registry
from ctc_spark.emulator.stats import Stats
from ctc_spark.emulator.store import Store

__all__ = ["EmulatorContext"]


class EmulatorContext:
    """The emulator's shared state; handlers reach everything through it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.state_dir)
        self.registry = Registry(self.store)
        self.stats = Stats()
        self.clock: Callable[[], float] = config.clock
        self.rng = random.Random(config.seed)
        self.rng_lock = threading.Lock()
        self.faults = FaultInjector(config.faults, config.seed)
        self.quota = Quota(
            {
                "runtime": config.calls_per_minute,
                "authoring-post": config.authoring_posts_per_minute,
                "authoring-get": config.authoring_gets_per_minute,
            },
            burst_seconds=config.burst_seconds,
            clock=config.clock,
        )

    def training_configs(self) -> tuple[TrainingConfigVersion, ...]:
        """The training config versions listed now (the last is `latest`), dated against the emulator's clock."""
        return self.config.training_configs or default_training_configs(self.clock())

    def gauss(self) -> float:
        """A seeded standard-normal draw (thread-safe)."""
        with self.rng_lock:
            return self.rng.gauss(0.0, 1.0)

    def close(self) -> None:
        self.store.close()
