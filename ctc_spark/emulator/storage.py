"""Training documents through the Azure Blob API: the emulator reads `.txt` blobs from a project's container."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

__all__ = ["BlobDocuments", "StorageProblem"]


@dataclass(frozen=True)
class StorageProblem:
    """One reason a document cannot be used: `code` is an Azure-style error code, `message` names the blob."""

    code: str
    message: str
    target: str


class BlobDocuments:
    """Reads and checks training blobs in one storage account (Azurite or Azure) given by a connection string."""

    def __init__(self, connection_string: str | None) -> None:
        # One account client (and its connection pool) for every import and training job.
        self._service = BlobServiceClient.from_connection_string(connection_string) if connection_string else None

    def __repr__(self) -> str:
        return f"BlobDocuments(configured={self._service is not None})"

    def _container(self, container: str) -> ContainerClient:
        if self._service is None:
            raise LookupError("the emulator has no storage connection string configured")
        return self._service.get_container_client(container)

    def check(self, container: str, locations: Iterable[str]) -> list[StorageProblem]:
        """Problems with the given blobs: no storage, missing container, missing, non-.txt or empty blobs."""
        names = list(locations)
        problems = [
            StorageProblem("InvalidDocument", f"document '{n}' is not a .txt file", n)
            for n in names
            if not n.lower().endswith(".txt")
        ]
        try:
            client = self._container(container)
            if not client.exists():
                return [*problems, _missing_container(container)]
            sizes = {b.name: int(b.size or 0) for b in client.list_blobs()}
        except LookupError as exc:
            return [*problems, StorageProblem("StorageNotConfigured", str(exc), container)]
        except AzureError as exc:
            return [*problems, _unreachable(container, exc)]
        for name in names:
            if name not in sizes:
                problems.append(
                    StorageProblem("DocumentNotFound", f"blob '{name}' not found in container '{container}'", name)
                )
            elif sizes[name] == 0:
                problems.append(StorageProblem("EmptyDocument", f"blob '{name}' in '{container}' is empty", name))
        return problems

    def read_texts(self, container: str, locations: Iterable[str]) -> dict[str, str]:
        """The UTF-8 text of each blob, keyed by location.

        Raises:
            LookupError: storage is not configured, or the container or a blob does not exist.
        """
        client = self._container(container)
        texts: dict[str, str] = {}
        for name in locations:
            try:
                data = client.download_blob(name).readall()
            except ResourceNotFoundError as exc:
                raise LookupError(f"blob '{name}' not found in container '{container}'") from exc
            texts[name] = bytes(data).decode("utf-8-sig", errors="replace")
        return texts


def _missing_container(container: str) -> StorageProblem:
    return StorageProblem(
        "StorageContainerNotFound", f"storage container '{container}' does not exist in the linked account", container
    )


def _unreachable(container: str, exc: Exception) -> StorageProblem:
    # The exception text can echo the account URL but never the key; keep only its class name to be safe.
    return StorageProblem("StorageUnreachable", f"cannot read container '{container}': {type(exc).__name__}", container)
