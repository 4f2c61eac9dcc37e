"""Training documents as content-addressed `.txt` blobs, so uploads are idempotent."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ctc_spark.config import Secret

__all__ = ["UploadReport", "blob_name", "upload_documents"]


def blob_name(text: str) -> str:
    """The blob name for a text: its sha256 (letters and digits, as the service requires) plus `.txt`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + ".txt"


class UploadReport:
    """How many blobs were uploaded, and how many were already there."""

    def __init__(self, uploaded: int, existing: int) -> None:
        self.uploaded = uploaded
        self.existing = existing

    def __repr__(self) -> str:
        return f"UploadReport(uploaded={self.uploaded}, existing={self.existing})"


def _container(connection_string: Secret, container: str) -> Any:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string.reveal())
    client = service.get_container_client(container)
    with contextlib.suppress(ResourceExistsError):
        client.create_container()
    return client


def upload_documents(
    connection_string: Secret, container: str, texts: Iterable[str], *, threads: int = 8
) -> UploadReport:
    """Upload each distinct text once as `<sha256>.txt`; blobs that exist are left alone."""
    client = _container(connection_string, container)
    wanted = {blob_name(t): t for t in texts}
    existing = {b.name for b in client.list_blobs()} & wanted.keys()
    todo = [(n, t) for n, t in wanted.items() if n not in existing]

    def put(item: tuple[str, str]) -> None:
        client.upload_blob(item[0], item[1].encode("utf-8"), overwrite=True)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, todo))
    return UploadReport(len(todo), len(existing))
