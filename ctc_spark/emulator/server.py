"""Run the emulator: in a background thread (tests, benches, notebooks) or in the foreground (the CLI)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from ctc_spark.emulator.app import build_app
from ctc_spark.emulator.config import EmulatorConfig, FaultProfile
from ctc_spark.emulator.context import EmulatorContext

__all__ = ["EmulatorServer", "serve"]


class EmulatorServer:
    """uvicorn serving one emulator on a loopback port, in a daemon thread."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.context = EmulatorContext(config)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = config.port

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def key(self) -> str:
        return self.config.keys[0]

    def __repr__(self) -> str:
        return f"EmulatorServer(endpoint={self.endpoint!r})"

    def start(self) -> EmulatorServer:
        """Start serving and return once the socket accepts connections.

        Raises:
            RuntimeError: the server did not start within 30 seconds.
        """
        import uvicorn

        uv = uvicorn.Config(
            build_app(self.context),
            host=self.config.host,
            port=self.config.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(uv)
        self._thread = threading.Thread(target=self._server.run, name="ctc-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the emulator did not start on {self.config.host}:{self.config.port}")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.context.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """The same counters as GET /emulator/stats."""
        return self.context.stats.snapshot()

    def reset_stats(self) -> None:
        self.context.stats.reset()

    def set_faults(self, faults: FaultProfile) -> None:
        self.context.faults.set(faults, self.config.seed)

    def seed_deployment(
        self,
        project: str,
        deployment: str,
        *,
        kind: Literal["single", "multi"],
        texts: Sequence[str],
        labels: Sequence[Sequence[str]],
        model_label: str | None = None,
    ) -> None:
        """Emulator-only shortcut: train on (texts, labels) and deploy it as project/deployment, no Blob or authoring.

        The model is labelled `model_label`, by default `<deployment>-seeded`.
        """
        seed_deployment(
            self.context, project, deployment, kind=kind, texts=texts, labels=labels, model_label=model_label
        )


def seed_deployment(
    ctx: EmulatorContext,
    project: str,
    deployment: str,
    *,
    kind: Literal["single", "multi"],
    texts: Sequence[str],
    labels: Sequence[Sequence[str]],
    model_label: str | None = None,
) -> None:
    """Train and deploy a model (labelled `model_label`, by default `<deployment>-seeded`) straight into the
    registry, creating the project if needed (authoring sees it)."""
    from ctc_spark.emulator.authoring_projects import KINDS, ProjectBook, parse_project
    from ctc_spark.emulator.classifier import train_classifier

    projects = ProjectBook(ctx.store, ctx.clock)
    if projects.get(project) is None:
        project_kind = next(name for name, short in KINDS.items() if short == kind)
        body = {"projectKind": project_kind, "storageInputContainerName": "seeded", "language": "en"}
        projects.put(parse_project(project, body, None, projects.now()))

    model = train_classifier(texts, labels, kind=kind, seed=ctx.config.seed)
    now = datetime.fromtimestamp(ctx.clock(), timezone.utc)
    label = model_label or f"{deployment}-seeded"
    config = ctx.training_configs()[-1]
    meta = {
        "label": label,
        "modelId": f"{label}-{now:%Y%m%dT%H%M%S}",
        "lastTrainedDateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastTrainingDurationInSeconds": 0,
        "modelExpirationDate": config.model_expiration.isoformat(),
        "modelTrainingConfigVersion": config.version,
        "hasSnapshot": True,
    }
    ctx.registry.put_model(project, label, model, meta)
    ctx.registry.deploy(project, deployment, label, expires=config.deployment_expiration.isoformat())


def serve(config: EmulatorConfig, *, log_level: str = "warning") -> None:
    """Serve in the foreground until interrupted."""
    import uvicorn

    ctx = EmulatorContext(config)
    try:
        uvicorn.run(
            build_app(ctx), host=config.host, port=config.port, log_level=log_level, access_log=False, lifespan="off"
        )
    finally:
        ctx.close()
